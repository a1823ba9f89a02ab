//! Splits a Go template into text and action pieces, and an action's inside
//! into tokens (text/template/parse/lex.go, simplified).

use super::error::SyntaxError;

/// A top-level piece of the template, with whitespace trimming already applied.
#[derive(Debug)]
pub enum Piece {
    Text(String),
    /// The inside of `{{ … }}` without delimiters/trim markers; `offset` is
    /// where that inside starts in the source.
    Action {
        inner: String,
        offset: usize,
    },
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// Cuts `src` into text and actions. Comments vanish; `{{- ` and ` -}}`
/// trim the neighbouring text's whitespace as Go does.
pub fn split_pieces(src: &str) -> Result<Vec<Piece>, SyntaxError> {
    let b = src.as_bytes();
    let mut pieces = Vec::new();
    let mut pos = 0;
    let mut trim_next_text = false;
    loop {
        let open = src[pos..].find("{{").map(|i| pos + i);
        let text_end = open.unwrap_or(src.len());
        let mut text = &src[pos..text_end];
        if trim_next_text {
            text = text.trim_start_matches(|c: char| c.is_ascii() && is_space(c as u8));
        }
        let Some(open) = open else {
            if !text.is_empty() {
                pieces.push(Piece::Text(text.to_string()));
            }
            return Ok(pieces);
        };
        let mut start = open + 2;
        if b.get(start) == Some(&b'-') && b.get(start + 1).is_some_and(|c| is_space(*c)) {
            text = text.trim_end_matches(|c: char| c.is_ascii() && is_space(c as u8));
            start += 2;
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text.to_string()));
        }
        // Go only recognises a comment directly after the delimiter (or trim
        // marker), closed by `*/` directly before `}}` or ` -}}`.
        let (close, is_comment) = if src[start..].starts_with("/*") {
            let end = src[start + 2..]
                .find("*/")
                .map(|i| start + 2 + i + 2)
                .ok_or_else(|| SyntaxError::at(src, open, "unclosed comment"))?;
            if src[end..].starts_with("}}") {
                (end, true)
            } else if b.get(end).is_some_and(|c| is_space(*c)) && src[end + 1..].starts_with("-}}")
            {
                (end + 2, true)
            } else {
                return Err(SyntaxError::at(
                    src,
                    open,
                    "comment ends before closing delimiter",
                ));
            }
        } else {
            let close = find_close(src, start)
                .ok_or_else(|| SyntaxError::at(src, open, "unclosed action"))?;
            (close, false)
        };
        // Right trim marker: one whitespace character, '-', then "}}".
        let trims_right = close >= start + 2 && b[close - 1] == b'-' && is_space(b[close - 2]);
        if !is_comment {
            let inner_end = if trims_right { close - 2 } else { close };
            pieces.push(Piece::Action {
                inner: src[start..inner_end].to_string(),
                offset: start,
            });
        }
        trim_next_text = trims_right;
        pos = close + 2;
    }
}

/// Finds the `}}` closing an action, skipping quoted strings, raw strings
/// and character constants (which may contain `}}`).
fn find_close(src: &str, from: usize) -> Option<usize> {
    let b = src.as_bytes();
    let mut i = from;
    while i < b.len() {
        match b[i] {
            b'"' | b'\'' => {
                let q = b[i];
                i += 1;
                while i < b.len() && b[i] != q {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    if b[i.min(b.len() - 1)] == b'\n' {
                        return None;
                    }
                    i += 1;
                }
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
            }
            b'}' if b.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Space,
    Field(String),
    Dot,
    Var(String),
    Ident(String),
    Str(String),
    Char(i64),
    Number(String),
    LParen,
    RParen,
    Pipe,
    Declare,
    Assign,
    Comma,
}

/// Tokens of an action's inside, each with its absolute source offset.
pub fn tokenize(src: &str, inner: &str, base: usize) -> Result<Vec<(Tok, usize)>, SyntaxError> {
    let b = inner.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    let err = |at: usize, msg: String| SyntaxError::at(src, base + at, &msg);
    while i < b.len() {
        let start = i;
        let c = b[i];
        let tok = if is_space(c) {
            while i < b.len() && is_space(b[i]) {
                i += 1;
            }
            Tok::Space
        } else if c == b'.' && !b.get(i + 1).is_some_and(|d| d.is_ascii_digit()) {
            i += 1;
            let n = ident_len(&inner[i..]);
            i += n;
            if n == 0 {
                Tok::Dot
            } else {
                Tok::Field(inner[start + 1..i].to_string())
            }
        } else if c == b'$' {
            i += 1;
            i += ident_len(&inner[i..]);
            Tok::Var(inner[start..i].to_string())
        } else if c == b'"' {
            let (s, len) = unquote_string(&inner[i..]).map_err(|m| err(start, m))?;
            i += len;
            Tok::Str(s)
        } else if c == b'`' {
            let end = inner[i + 1..]
                .find('`')
                .ok_or_else(|| err(start, "unterminated raw quoted string".into()))?;
            i += end + 2;
            Tok::Str(inner[start + 1..i - 1].to_string())
        } else if c == b'\'' {
            let end = inner[i + 1..]
                .find('\'')
                .ok_or_else(|| err(start, "unterminated character constant".into()))?;
            let body = &inner[i + 1..i + 1 + end];
            i += end + 2;
            let decoded = if body.starts_with('\\') {
                unquote_string(&format!("\"{body}\""))
                    .map_err(|m| err(start, m))?
                    .0
            } else {
                body.to_string()
            };
            let mut chars = decoded.chars();
            match (chars.next(), chars.next()) {
                (Some(ch), None) => Tok::Char(ch as i64),
                _ => {
                    return Err(err(
                        start,
                        format!("malformed character constant: '{body}'"),
                    ))
                }
            }
        } else if c.is_ascii_digit()
            || ((c == b'-' || c == b'+')
                && b.get(i + 1)
                    .is_some_and(|d| d.is_ascii_digit() || *d == b'.'))
            || (c == b'.')
        {
            i += 1;
            while i < b.len()
                && (b[i].is_ascii_alphanumeric()
                    || b[i] == b'.'
                    || b[i] == b'_'
                    || ((b[i] == b'+' || b[i] == b'-')
                        && matches!(b[i - 1], b'e' | b'E' | b'p' | b'P')))
            {
                i += 1;
            }
            Tok::Number(inner[start..i].to_string())
        } else if c == b'(' {
            i += 1;
            Tok::LParen
        } else if c == b')' {
            i += 1;
            Tok::RParen
        } else if c == b'|' {
            i += 1;
            Tok::Pipe
        } else if c == b',' {
            i += 1;
            Tok::Comma
        } else if c == b':' && b.get(i + 1) == Some(&b'=') {
            i += 2;
            Tok::Declare
        } else if c == b'=' {
            i += 1;
            Tok::Assign
        } else if ident_len(&inner[i..]) > 0 {
            i += ident_len(&inner[i..]);
            Tok::Ident(inner[start..i].to_string())
        } else {
            let ch = inner[i..].chars().next().unwrap_or('?');
            return Err(err(start, format!("unexpected {ch:?} in command")));
        };
        toks.push((tok, base + start));
    }
    Ok(toks)
}

fn ident_len(s: &str) -> usize {
    s.char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
        .map_or(s.len(), |(i, _)| i)
}

/// Decodes a Go interpreted string literal at the start of `s`; returns the
/// value and the literal's length in bytes.
fn unquote_string(s: &str) -> Result<(String, usize), String> {
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, i + 1)),
            '\n' => break,
            '\\' => {
                let (_, e) = chars.next().ok_or("unterminated quoted string")?;
                let mut hex = |n: usize| -> Result<u32, String> {
                    let digits: String = (0..n)
                        .filter_map(|_| chars.next().map(|(_, c)| c))
                        .collect();
                    u32::from_str_radix(&digits, 16)
                        .map_err(|_| format!("invalid syntax in escape \\{e}{digits}"))
                };
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'a' => out.push('\u{7}'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'v' => out.push('\u{b}'),
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    '\'' => out.push('\''),
                    'x' => out.push(char::from_u32(hex(2)?).unwrap_or('\u{FFFD}')),
                    'u' => out.push(char::from_u32(hex(4)?).ok_or("invalid unicode escape")?),
                    'U' => out.push(char::from_u32(hex(8)?).ok_or("invalid unicode escape")?),
                    '0'..='7' => {
                        let rest: String = (0..2)
                            .filter_map(|_| chars.next().map(|(_, c)| c))
                            .collect();
                        let v = u32::from_str_radix(&format!("{e}{rest}"), 8)
                            .map_err(|_| "invalid octal escape")?;
                        out.push(char::from_u32(v).unwrap_or('\u{FFFD}'));
                    }
                    other => {
                        return Err(format!("invalid syntax: unknown escape sequence \\{other}"))
                    }
                }
            }
            c => out.push(c),
        }
    }
    Err("unterminated quoted string".into())
}
