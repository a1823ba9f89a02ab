//! Go template parser: pieces from the lexer → [`Ast`]. Checks at parse time
//! what Go's parser checks: unknown functions, undefined variables,
//! `break`/`continue` outside `range`, unbalanced `end`/`else`.

use super::ast::*;
use super::error::SyntaxError;
use super::functions::is_known_function;
use super::lexer::{split_pieces, tokenize, Piece, Tok};
use super::value::float_value;
use serde_json::Value;

pub fn parse(src: &str) -> Result<Ast, SyntaxError> {
    let pieces = split_pieces(src)?;
    let mut parser = Parser {
        src,
        pieces: pieces.into_iter(),
        scopes: vec!["$".to_string()],
        range_depth: 0,
    };
    let (nodes, end) = parser.list()?;
    match end {
        Terminator::Eof => Ok(Ast {
            source: src.to_string(),
            nodes,
        }),
        Terminator::End(at) => Err(SyntaxError::at(src, at, "unexpected {{end}}")),
        Terminator::Else(_, at) => Err(SyntaxError::at(src, at, "unexpected {{else}}")),
    }
}

/// What stopped a node list.
enum Terminator {
    Eof,
    End(usize),
    /// `{{else …}}` with the tokens after `else`.
    Else(Vec<(Tok, usize)>, usize),
}

struct Parser<'a> {
    src: &'a str,
    pieces: std::vec::IntoIter<Piece>,
    /// Variables in scope, innermost last (Go's `t.vars`).
    scopes: Vec<String>,
    range_depth: usize,
}

impl<'a> Parser<'a> {
    fn err(&self, at: usize, msg: impl AsRef<str>) -> SyntaxError {
        SyntaxError::at(self.src, at, msg.as_ref())
    }

    fn list(&mut self) -> Result<(Vec<Node>, Terminator), SyntaxError> {
        let mut nodes = Vec::new();
        while let Some(piece) = self.pieces.next() {
            let (inner, offset) = match piece {
                Piece::Text(t) => {
                    nodes.push(Node::Text(t));
                    continue;
                }
                Piece::Action { inner, offset } => (inner, offset),
            };
            let toks: Vec<(Tok, usize)> = tokenize(self.src, &inner, offset)?;
            let first = toks.iter().find(|t| t.0 != Tok::Space).cloned();
            let rest = |toks: &[(Tok, usize)]| -> Vec<(Tok, usize)> {
                let i = toks.iter().position(|t| t.0 != Tok::Space).unwrap_or(0);
                toks[i + 1..].to_vec()
            };
            match first {
                None => return Err(self.err(offset, "missing value for command")),
                Some((Tok::Ident(kw), at)) => match kw.as_str() {
                    "end" => {
                        self.expect_empty(&rest(&toks), "end")?;
                        return Ok((nodes, Terminator::End(at)));
                    }
                    "else" => return Ok((nodes, Terminator::Else(rest(&toks), at))),
                    "if" => nodes.push(Node::If(self.conditional("if", rest(&toks), at)?)),
                    "with" => nodes.push(Node::With(self.conditional("with", rest(&toks), at)?)),
                    "range" => nodes.push(self.range(rest(&toks), at)?),
                    "break" | "continue" => {
                        self.expect_empty(&rest(&toks), &kw)?;
                        if self.range_depth == 0 {
                            return Err(self.err(at, format!("{{{{{kw}}}}} outside {{{{range}}}}")));
                        }
                        nodes.push(if kw == "break" {
                            Node::Break
                        } else {
                            Node::Continue
                        });
                    }
                    "define" | "template" | "block" => {
                        return Err(
                            self.err(at, format!("{{{{{kw}}}}} is not supported by forgesafe"))
                        )
                    }
                    _ => nodes.push(Node::Output(self.pipeline(&toks, offset, true)?)),
                },
                Some(_) => nodes.push(Node::Output(self.pipeline(&toks, offset, true)?)),
            }
        }
        Ok((nodes, Terminator::Eof))
    }

    fn expect_empty(&self, toks: &[(Tok, usize)], kw: &str) -> Result<(), SyntaxError> {
        match toks.iter().find(|t| t.0 != Tok::Space) {
            Some((_, at)) => Err(self.err(*at, format!("unexpected token in {{{{{kw}}}}}"))),
            None => Ok(()),
        }
    }

    /// `if`/`with` with their `else if`/`else with` chain and `else`.
    fn conditional(
        &mut self,
        kw: &str,
        toks: Vec<(Tok, usize)>,
        at: usize,
    ) -> Result<Conditional, SyntaxError> {
        let scope_mark = self.scopes.len();
        let mut branches = Vec::new();
        let mut otherwise = None;
        let mut pipe = self.pipeline(&toks, at, true)?;
        loop {
            let (body, end) = self.list()?;
            branches.push((pipe, body));
            match end {
                Terminator::End(_) => break,
                Terminator::Eof => {
                    return Err(self.err(
                        at,
                        format!("unexpected EOF: missing {{{{end}}}} for {{{{{kw}}}}}"),
                    ))
                }
                Terminator::Else(rest, else_at) => {
                    let first = rest.iter().position(|t| t.0 != Tok::Space);
                    match first.map(|i| &rest[i]) {
                        None => {
                            let (body, end) = self.list()?;
                            if !matches!(end, Terminator::End(_)) {
                                return Err(self.err(
                                    else_at,
                                    format!(
                                        "expected {{{{end}}}} after {{{{else}}}} of {{{{{kw}}}}}"
                                    ),
                                ));
                            }
                            otherwise = Some(body);
                            break;
                        }
                        Some((Tok::Ident(k), _)) if k == kw => {
                            let i = first.unwrap();
                            pipe = self.pipeline(&rest[i + 1..], else_at, true)?;
                        }
                        Some((_, tok_at)) => {
                            return Err(self.err(
                                *tok_at,
                                format!("unexpected token after {{{{else}}}} in {{{{{kw}}}}}"),
                            ))
                        }
                    }
                }
            }
        }
        self.scopes.truncate(scope_mark);
        Ok(Conditional {
            branches,
            otherwise,
        })
    }

    fn range(&mut self, toks: Vec<(Tok, usize)>, at: usize) -> Result<Node, SyntaxError> {
        let scope_mark = self.scopes.len();
        let pipe = self.pipeline(&toks, at, true)?;
        if pipe.decl.len() > 2 {
            return Err(self.err(at, "too many declarations in range"));
        }
        self.range_depth += 1;
        let (body, end) = self.list()?;
        self.range_depth -= 1;
        let otherwise = match end {
            Terminator::End(_) => None,
            Terminator::Eof => {
                return Err(self.err(at, "unexpected EOF: missing {{end}} for {{range}}"))
            }
            Terminator::Else(rest, else_at) => {
                self.expect_empty(&rest, "else")?;
                let (body, end) = self.list()?;
                if !matches!(end, Terminator::End(_)) {
                    return Err(self.err(else_at, "expected {{end}} after {{else}} of {{range}}"));
                }
                Some(body)
            }
        };
        self.scopes.truncate(scope_mark);
        Ok(Node::Range {
            pipe,
            body,
            otherwise,
        })
    }

    /// `[$a[, $b] (:=|=)] command ('|' command)*`
    fn pipeline(
        &mut self,
        toks: &[(Tok, usize)],
        at: usize,
        allow_decl: bool,
    ) -> Result<Pipeline, SyntaxError> {
        let mut cur = Cursor { toks, pos: 0 };
        let mut decl = Vec::new();
        let mut assign = false;
        if allow_decl {
            let save = cur.pos;
            let mut vars = Vec::new();
            while let Some((Tok::Var(name), _)) = cur.peek() {
                vars.push(name.clone());
                cur.next();
                if matches!(cur.peek(), Some((Tok::Comma, _))) {
                    cur.next();
                    continue;
                }
                break;
            }
            match cur.peek() {
                Some((Tok::Declare, _)) if !vars.is_empty() => {
                    cur.next();
                    decl = vars;
                }
                Some((Tok::Assign, a)) if !vars.is_empty() => {
                    let a = *a;
                    cur.next();
                    for v in &vars {
                        if !self.scopes.contains(v) {
                            return Err(self.err(a, format!("undefined variable \"{v}\"")));
                        }
                    }
                    decl = vars;
                    assign = true;
                }
                _ => cur.pos = save,
            }
        }
        let start = cur.peek().map_or(at, |t| t.1);
        let mut cmds = Vec::new();
        loop {
            let cmd = self.command(&mut cur)?;
            if cmd.args.is_empty() {
                let where_ = cur.peek().map_or(at, |t| t.1);
                return Err(self.err(
                    where_,
                    if cmds.is_empty() {
                        "missing value for command"
                    } else {
                        "missing command after |"
                    },
                ));
            }
            cmds.push(cmd);
            match cur.next() {
                Some((Tok::Pipe, _)) => continue,
                None => break,
                Some((_, a)) => return Err(self.err(a, "unexpected token in pipeline")),
            }
        }
        // Go reports these when executing; they can never succeed, so we
        // report them when parsing.
        for cmd in &cmds {
            if cmd.args[0].kind == TermKind::Nil {
                return Err(self.err(cmd.args[0].offset, "nil is not a command"));
            }
            if let TermKind::Func(f) = &cmd.args[0].kind {
                let nil_arg = cmd.args[1..].iter().find(|a| a.kind == TermKind::Nil);
                if let (true, Some(arg)) = (takes_reflect_values(f), nil_arg) {
                    return Err(self.err(arg.offset, "cannot assign nil to reflect.Value"));
                }
            }
        }
        for (i, cmd) in cmds.iter().enumerate().skip(1) {
            if !matches!(cmd.args[0].kind, TermKind::Func(_)) {
                return Err(self.err(
                    cmd.offset,
                    format!("non executable command in pipeline stage {}", i + 1),
                ));
            }
        }
        if !assign {
            self.scopes.extend(decl.iter().cloned());
        }
        Ok(Pipeline {
            decl,
            assign,
            cmds,
            offset: start,
        })
    }

    /// Operands up to `|`, `)` or the end.
    fn command(&mut self, cur: &mut Cursor) -> Result<Command, SyntaxError> {
        let offset = cur.peek().map_or(0, |t| t.1);
        let mut args = Vec::new();
        while let Some((tok, _)) = cur.peek() {
            if matches!(tok, Tok::Pipe | Tok::RParen) {
                break;
            }
            args.push(self.operand(cur)?);
        }
        if args.len() > 1 && !matches!(args[0].kind, TermKind::Func(_)) {
            return Err(self.err(args[1].offset, "can't give argument to non-function"));
        }
        Ok(Command { args, offset })
    }

    /// A term followed by fields attached without space (`$x.A`, `(p).B`).
    fn operand(&mut self, cur: &mut Cursor) -> Result<Term, SyntaxError> {
        let mut term = self.term(cur)?;
        let mut names = Vec::new();
        while let Some((Tok::Field(name), _)) = cur.peek_attached() {
            names.push(name.clone());
            cur.pos += 1;
        }
        if !names.is_empty() {
            if let TermKind::Func(f) = &term.kind {
                return Err(self.err(term.offset, format!("unexpected . after term {f:?}")));
            }
            term = match term.kind {
                TermKind::Field {
                    receiver,
                    names: mut first,
                } => {
                    first.extend(names);
                    Term {
                        kind: TermKind::Field {
                            receiver,
                            names: first,
                        },
                        offset: term.offset,
                    }
                }
                kind => Term {
                    offset: term.offset,
                    kind: TermKind::Field {
                        receiver: Box::new(Term {
                            kind,
                            offset: term.offset,
                        }),
                        names,
                    },
                },
            };
        }
        Ok(term)
    }

    fn term(&mut self, cur: &mut Cursor) -> Result<Term, SyntaxError> {
        let (tok, at) = cur.next().expect("caller checked a token is there");
        let kind = match tok {
            Tok::Field(name) => TermKind::Field {
                receiver: Box::new(Term {
                    kind: TermKind::Dot,
                    offset: at,
                }),
                names: vec![name],
            },
            Tok::Dot => TermKind::Dot,
            Tok::Var(name) => {
                if !self.scopes.contains(&name) {
                    return Err(self.err(at, format!("undefined variable \"{name}\"")));
                }
                TermKind::Var(name)
            }
            Tok::Ident(name) => match name.as_str() {
                "true" => TermKind::Lit(Value::Bool(true)),
                "false" => TermKind::Lit(Value::Bool(false)),
                "nil" => TermKind::Nil,
                _ if is_known_function(&name) => TermKind::Func(name),
                _ => return Err(self.err(at, format!("function \"{name}\" not defined"))),
            },
            Tok::Str(s) => TermKind::Lit(Value::String(s)),
            Tok::Char(c) => TermKind::Lit(Value::from(c)),
            Tok::Number(text) => TermKind::Lit(
                parse_number(&text)
                    .ok_or_else(|| self.err(at, format!("bad number syntax: \"{text}\"")))?,
            ),
            Tok::LParen => {
                let mut depth = 0;
                let start = cur.pos;
                let mut end = None;
                for (i, (t, _)) in cur.toks.iter().enumerate().skip(start) {
                    match t {
                        Tok::LParen => depth += 1,
                        Tok::RParen if depth == 0 => {
                            end = Some(i);
                            break;
                        }
                        Tok::RParen => depth -= 1,
                        _ => {}
                    }
                }
                let end = end.ok_or_else(|| self.err(at, "unclosed left paren"))?;
                let inner = &cur.toks[start..end];
                cur.pos = end + 1;
                TermKind::Paren(Box::new(self.pipeline(inner, at, false)?))
            }
            Tok::RParen => return Err(self.err(at, "unexpected right paren")),
            other => return Err(self.err(at, format!("unexpected {other:?} in operand"))),
        };
        Ok(Term { kind, offset: at })
    }
}

/// text/template builtins declared with `reflect.Value` parameters.
fn takes_reflect_values(f: &str) -> bool {
    matches!(
        f,
        "eq" | "ne" | "lt" | "le" | "gt" | "ge" | "and" | "or" | "not" | "len" | "index"
    )
}

/// Go number constants: ints (decimal, 0x, 0o, 0b, `_` separators) stay
/// ints; anything with a fraction or exponent is a float64.
fn parse_number(text: &str) -> Option<Value> {
    let clean = text.replace('_', "");
    let (neg, body) = match clean.strip_prefix('-') {
        Some(b) => (true, b.to_string()),
        None => (false, clean.trim_start_matches('+').to_string()),
    };
    let lower = body.to_ascii_lowercase();
    let radix_int = if let Some(h) = lower.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = lower.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(b) = lower.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()
    } else if lower.len() > 1 && lower.starts_with('0') && lower.bytes().all(|c| c.is_ascii_digit())
    {
        i64::from_str_radix(&lower[1..], 8).ok()
    } else {
        lower.parse::<i64>().ok()
    };
    if let Some(i) = radix_int {
        return Some(Value::from(if neg { -i } else { i }));
    }
    if lower.starts_with("0x") {
        return None;
    }
    let f: f64 = lower.parse().ok()?;
    Some(float_value(if neg { -f } else { f }))
}

/// Walks an action's tokens, skipping spaces except where attachment matters.
struct Cursor<'t> {
    toks: &'t [(Tok, usize)],
    pos: usize,
}

impl<'t> Cursor<'t> {
    fn skip_space(&mut self) {
        while self.pos < self.toks.len() && self.toks[self.pos].0 == Tok::Space {
            self.pos += 1;
        }
    }
    fn peek(&mut self) -> Option<&'t (Tok, usize)> {
        self.skip_space();
        self.toks.get(self.pos)
    }
    /// The next token only if no space precedes it.
    fn peek_attached(&self) -> Option<&'t (Tok, usize)> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<(Tok, usize)> {
        self.skip_space();
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
}
