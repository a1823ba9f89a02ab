//! The parsed form of a Go `text/template`.

use serde_json::Value;

/// A parsed template: the source text and its node tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Ast {
    pub source: String,
    pub nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Text(String),
    /// `{{ pipeline }}`: prints the value unless the pipeline declares variables.
    Output(Pipeline),
    /// `if` and `with` share one shape: guarded branches (`else if`/`else with`)
    /// and an optional `else`.
    If(Conditional),
    With(Conditional),
    Range {
        pipe: Pipeline,
        body: Vec<Node>,
        otherwise: Option<Vec<Node>>,
    },
    Break,
    Continue,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Conditional {
    pub branches: Vec<(Pipeline, Vec<Node>)>,
    pub otherwise: Option<Vec<Node>>,
}

/// `$x := cmd | cmd …` — `decl` are the declared/assigned variables (with `$`).
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    pub decl: Vec<String>,
    /// `=` (assignment to existing variables) rather than `:=`.
    pub assign: bool,
    pub cmds: Vec<Command>,
    pub offset: usize,
}

/// One pipeline stage: a function and its arguments, or a single operand.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub args: Vec<Term>,
    pub offset: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    pub kind: TermKind,
    /// Byte offset of the term in the template source.
    pub offset: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TermKind {
    Dot,
    /// `$` or `$name` (stored with the `$`).
    Var(String),
    Func(String),
    /// String, number and bool constants.
    Lit(Value),
    Nil,
    Paren(Box<Pipeline>),
    /// `.A.B`, `$x.A`, `(pipe).A`: field names applied to a receiver.
    Field {
        receiver: Box<Term>,
        names: Vec<String>,
    },
}
