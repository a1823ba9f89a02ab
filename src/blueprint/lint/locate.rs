//! Source positions for YAML paths.
//!
//! serde_yaml 0.9 reports positions only for syntax errors, not for values.
//! So we find a value by walking the source text along its path: for each
//! key, the first line below the parent whose key column is the parent's
//! child column and whose text starts with `key:`; for each list index, the
//! n-th `- ` item of the block. This handles block-style YAML (what
//! blueprints use); for flow style (`{a: b}`) we fall back to the closest
//! enclosing key that was found.

/// One step of a path into the YAML document.
#[derive(Debug, Clone, PartialEq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

pub struct SourceMap<'a> {
    lines: Vec<&'a str>,
}

/// Where a value sits: its line/column, and for scalars whether it is a
/// block scalar (`|`/`>`) whose text starts on the next line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    pub line: usize,
    pub col: usize,
    /// Column where the value's text begins on `line` (after `key: ` or `- `
    /// and an opening quote), if it is on that line.
    value_col: Option<usize>,
    block_scalar: bool,
    /// The key itself is quoted (`"{{ … }}": v`).
    key_quoted: bool,
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn is_blank(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

/// Column (0-based) where the line's key or scalar starts, after any `- `.
fn content_col(line: &str) -> usize {
    let mut col = indent_of(line);
    while line[col..].starts_with("- ") || &line[col..] == "-" {
        col += 2;
        col += indent_of(&line[col.min(line.len())..]);
    }
    col.min(line.len())
}

fn key_matches(text: &str, key: &str) -> Option<usize> {
    for quoted in [
        format!("{key}:"),
        format!("\"{key}\":"),
        format!("'{key}':"),
    ] {
        if text.starts_with(&quoted) {
            return Some(quoted.len());
        }
    }
    None
}

impl<'a> SourceMap<'a> {
    pub fn new(text: &'a str) -> Self {
        SourceMap {
            lines: text.lines().collect(),
        }
    }

    /// Finds `path`; returns the deepest position found (1-based line/col).
    pub fn locate(&self, path: &[Seg]) -> Position {
        let mut pos = Position {
            line: 1,
            col: 1,
            value_col: None,
            block_scalar: false,
            key_quoted: false,
        };
        // The block being searched: lines [start, end) whose parent sits at `parent_indent`.
        let (mut start, mut parent_indent): (usize, isize) = (0, -1);
        // Under a key, YAML allows a list at the key's own indentation.
        let mut parent_is_key = false;
        for seg in path {
            let end = self.block_end(start, parent_indent, parent_is_key);
            let found = match seg {
                Seg::Key(key) => self.find_key(start, end, key),
                Seg::Index(n) => self.find_item(start, end, *n, parent_indent),
            };
            let Some((line, col, value_col)) = found else {
                break;
            };
            let text = self.lines[line];
            let rest = text[value_col.min(text.len())..].trim();
            let block_scalar = rest.starts_with('|') || rest.starts_with('>');
            let inline_value = !rest.is_empty() && !block_scalar && !rest.starts_with('#');
            let quote = rest.starts_with('"') || rest.starts_with('\'');
            let value_start = value_col
                + (text[value_col.min(text.len())..].len()
                    - text[value_col.min(text.len())..].trim_start().len())
                + quote as usize;
            pos = Position {
                line: line + 1,
                col: col + 1,
                value_col: inline_value.then_some(value_start),
                block_scalar,
                key_quoted: text[col..].starts_with('"') || text[col..].starts_with('\''),
            };
            match seg {
                // The item's own keys start on the dash line itself.
                Seg::Index(_) => {
                    start = line;
                    parent_indent = col as isize;
                    parent_is_key = false;
                }
                Seg::Key(_) => {
                    start = line + 1;
                    parent_indent = col as isize;
                    parent_is_key = true;
                }
            }
        }
        pos
    }

    /// First line after `start` indented at or left of `parent_indent`
    /// (except, under a key, `- ` items at the key's own indentation).
    fn block_end(&self, start: usize, parent_indent: isize, parent_is_key: bool) -> usize {
        (start + 1..self.lines.len())
            .find(|&i| {
                let line = self.lines[i];
                let indent = indent_of(line) as isize;
                let indentless_item =
                    parent_is_key && indent == parent_indent && line.trim_start().starts_with('-');
                !is_blank(line) && indent <= parent_indent && !indentless_item
            })
            .unwrap_or(self.lines.len())
    }

    fn find_key(&self, start: usize, end: usize, key: &str) -> Option<(usize, usize, usize)> {
        let mut child_col = None;
        for i in start..end.min(self.lines.len()) {
            let line = self.lines[i];
            if is_blank(line) {
                continue;
            }
            let col = content_col(line);
            let child = *child_col.get_or_insert(col);
            if col == child {
                if let Some(len) = key_matches(&line[col..], key) {
                    return Some((i, col, col + len));
                }
            }
        }
        None
    }

    fn find_item(
        &self,
        start: usize,
        end: usize,
        n: usize,
        parent_indent: isize,
    ) -> Option<(usize, usize, usize)> {
        let mut dash_col = None;
        let mut count = 0;
        for i in start..end.min(self.lines.len()) {
            let line = self.lines[i];
            let indent = indent_of(line);
            let is_item = line[indent..].starts_with("- ") || &line[indent..] == "-";
            if is_blank(line) || !is_item || (indent as isize) < parent_indent {
                continue;
            }
            if *dash_col.get_or_insert(indent) != indent {
                continue;
            }
            if count == n {
                return Some((i, indent, indent + 2));
            }
            count += 1;
        }
        None
    }

    /// Position of a template's own line/col inside the map key at `pos`.
    pub fn inside_key(&self, pos: Position, t_col: usize) -> (usize, usize) {
        (pos.line, pos.col + t_col - 1 + pos.key_quoted as usize)
    }

    /// Position of a template's own (1-based) line/col inside the scalar at
    /// `pos`: block scalars start on the next line at its indentation;
    /// inline scalars start at the value column (escapes in double-quoted
    /// scalars are not accounted for).
    pub fn inside_scalar(&self, pos: Position, t_line: usize, t_col: usize) -> (usize, usize) {
        if pos.block_scalar {
            let first = pos.line; // 0-based index of the line after the key
            let indent = self.lines.get(first).map_or(0, |l| indent_of(l));
            (pos.line + t_line, indent + t_col)
        } else if let Some(vc) = pos.value_col {
            if t_line == 1 {
                (pos.line, vc + t_col)
            } else {
                (pos.line + t_line - 1, t_col)
            }
        } else {
            (pos.line, pos.col)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "a:\n  b:\n    - x: 1\n      y: \"v\"\n    - x: 2\n      s: |\n        line1\n        {{ bad }}\n  c: 3\n";

    fn key(k: &str) -> Seg {
        Seg::Key(k.into())
    }

    #[test]
    fn finds_keys_and_items() {
        let map = SourceMap::new(DOC);
        let p = map.locate(&[key("a"), key("c")]);
        assert_eq!((p.line, p.col), (9, 3));
        let p = map.locate(&[key("a"), key("b"), Seg::Index(1), key("x")]);
        assert_eq!((p.line, p.col), (5, 7));
        let p = map.locate(&[key("a"), key("b"), Seg::Index(0), key("y")]);
        assert_eq!((p.line, p.col), (4, 7));
        // "v" starts after `y: "` — template column 1 is column 11.
        assert_eq!(map.inside_scalar(p, 1, 1), (4, 11));
        let p = map.locate(&[key("a"), key("b"), Seg::Index(1), key("s")]);
        assert_eq!(map.inside_scalar(p, 2, 4), (8, 12));
        // A missing key stops at the deepest match.
        let p = map.locate(&[key("a"), key("nope")]);
        assert_eq!((p.line, p.col), (1, 1));
    }
}
