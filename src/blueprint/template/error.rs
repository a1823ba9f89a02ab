//! Errors from parsing or rendering a template. Both print as one line that
//! names the problem and quotes the template text.

use std::fmt;

/// A parse-time error at a byte offset of the template source.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub message: String,
    pub offset: usize,
    /// 1-based line and column (column counts characters).
    pub line: usize,
    pub col: usize,
}

impl SyntaxError {
    pub fn at(src: &str, offset: usize, message: &str) -> Self {
        let (line, col) = line_col(src, offset);
        SyntaxError {
            message: message.to_string(),
            offset,
            line,
            col,
        }
    }
}

pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let before = &src[..offset.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[derive(Debug, Clone, PartialEq)]
pub enum TemplateErrorKind {
    Syntax {
        line: usize,
        col: usize,
        offset: usize,
    },
    /// Execution failed; `at` is the Go-style `<…>` of the failing
    /// expression and `line`/`col` where it starts (when known).
    Exec {
        at: Option<String>,
        line: Option<usize>,
        col: Option<usize>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct TemplateError {
    pub kind: TemplateErrorKind,
    pub message: String,
    pub template: String,
}

impl TemplateError {
    pub fn syntax(e: SyntaxError, template: &str) -> Self {
        TemplateError {
            kind: TemplateErrorKind::Syntax {
                line: e.line,
                col: e.col,
                offset: e.offset,
            },
            message: e.message,
            template: template.to_string(),
        }
    }

    pub fn exec(
        message: String,
        at: Option<String>,
        offset: Option<usize>,
        template: &str,
    ) -> Self {
        let (line, col) = match offset.map(|o| line_col(template, o)) {
            Some((l, c)) => (Some(l), Some(c)),
            None => (None, None),
        };
        TemplateError {
            kind: TemplateErrorKind::Exec { at, line, col },
            message,
            template: template.to_string(),
        }
    }
}

/// The template quoted on one line, shortened when long.
fn quoted_template(t: &str) -> String {
    const MAX: usize = 160;
    if t.chars().count() <= MAX {
        format!("{t:?}")
    } else {
        let head: String = t.chars().take(MAX).collect();
        format!("{:?}…", head)
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            TemplateErrorKind::Syntax { line, col, .. } => write!(
                f,
                "template syntax error at {line}:{col}: {} in template {}",
                self.message,
                quoted_template(&self.template)
            ),
            TemplateErrorKind::Exec { at, line, col } => {
                write!(f, "template error")?;
                if let (Some(line), Some(col)) = (line, col) {
                    write!(f, " at {line}:{col}")?;
                }
                if let Some(at) = at {
                    write!(f, " {at}")?;
                }
                write!(
                    f,
                    ": {} in template {}",
                    self.message,
                    quoted_template(&self.template)
                )
            }
        }
    }
}

impl std::error::Error for TemplateError {}
