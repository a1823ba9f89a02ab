//! Translates a Go template [`Ast`] into tera source.
//!
//! Mapping (tera renders; Go semantics live in the registered `go_*` and
//! `__*` functions, see functions/mod.rs):
//! * text → `{% raw %}…{% endraw %}` (or a literal lookup if the text itself
//!   contains `endraw`);
//! * `{{ p }}` → `{{ __print(v=P) }}`; `{{ $x := p }}` → `{% set_global x = P %}`;
//! * `if`/`else if` → nested `{% if __truth(v=P) %}…{% else %}…{% endif %}`
//!   (nested rather than `elif` so a branch's variable declaration is
//!   evaluated only when Go would evaluate it);
//! * `with p` → `{% set_global dotN = P %}{% if __truth(v=dotN) %}` with dot = dotN;
//! * `range p` → `{% for pN in __range(v=P) %}` over `[key, value]` pairs,
//!   dot = `pN.1`; `else` → tera's for-`else`; `break`/`continue` as is;
//! * `and`/`or` → `set_global`/`if` statements before the action, because Go
//!   short-circuits them and tera evaluates all function arguments;
//! * literals (strings may hold any quote character, which tera string
//!   syntax cannot always express) live in the context array `__lits`;
//! * `$` is the context root `__root`; every Go variable declaration gets its
//!   own tera name, so Go's block scoping is resolved here rather than by
//!   tera.
//!
//! All variables are written with `set_global`: tera's `set` inside a for
//! loop writes that loop's frame, so Go's `$x = …` inside a `range` could not
//! reach an `$x` declared outside it. With unique names, one global frame
//! gives exactly Go's visibility, and reads from any loop depth find it.

use super::ast::*;
use super::error::SyntaxError;
use serde_json::Value;

pub struct Translation {
    pub tera_source: String,
    pub literals: Vec<Value>,
}

struct Binding {
    go_name: String,
    tera_name: String,
}

struct Translator<'a> {
    src: &'a str,
    out: String,
    literals: Vec<Value>,
    bindings: Vec<Binding>,
    counter: usize,
    dot: String,
}

pub fn translate(ast: &Ast) -> Result<Translation, SyntaxError> {
    let mut t = Translator {
        src: &ast.source,
        out: String::new(),
        literals: Vec::new(),
        bindings: Vec::new(),
        counter: 0,
        dot: "__root".into(),
    };
    t.nodes(&ast.nodes)?;
    Ok(Translation {
        tera_source: t.out,
        literals: t.literals,
    })
}

impl<'a> Translator<'a> {
    fn literal(&mut self, v: Value) -> String {
        self.literals.push(v);
        format!("__lits.{}", self.literals.len() - 1)
    }

    /// The `at` argument of a call: where it is in the source and what it
    /// looks like, for execution errors (see `functions::ERROR_MARK`).
    fn at(&mut self, offset: usize, what: String) -> String {
        self.literal(Value::String(format!(
            "{offset}{}{what}",
            super::functions::AT_SEP
        )))
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}{}", self.counter)
    }

    fn nodes(&mut self, nodes: &[Node]) -> Result<(), SyntaxError> {
        for node in nodes {
            self.node(node)?;
        }
        Ok(())
    }

    /// Runs `f` in a Go variable scope: bindings made inside vanish after.
    fn scoped<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, SyntaxError>,
    ) -> Result<T, SyntaxError> {
        let mark = self.bindings.len();
        let saved_dot = self.dot.clone();
        let r = f(self);
        self.bindings.truncate(mark);
        self.dot = saved_dot;
        r
    }

    fn node(&mut self, node: &Node) -> Result<(), SyntaxError> {
        match node {
            Node::Text(text) => {
                if text.contains("endraw") {
                    let lit = self.literal(Value::String(text.clone()));
                    self.out.push_str(&format!("{{{{ {lit} }}}}"));
                } else {
                    self.out
                        .push_str(&format!("{{% raw %}}{text}{{% endraw %}}"));
                }
            }
            Node::Output(pipe) if pipe.decl.is_empty() => {
                let e = self.pipeline(pipe)?;
                self.out.push_str(&format!("{{{{ __print(v={e}) }}}}"));
            }
            Node::Output(pipe) => {
                let e = self.pipeline(pipe)?;
                self.bind(pipe, &pipe.decl[0], &e)?;
            }
            Node::If(cond) => self.scoped(|t| t.conditional(cond, 0, false))?,
            Node::With(cond) => self.scoped(|t| t.conditional(cond, 0, true))?,
            Node::Range {
                pipe,
                body,
                otherwise,
            } => self.range(pipe, body, otherwise.as_deref())?,
            Node::Break => self.out.push_str("{% break %}"),
            Node::Continue => self.out.push_str("{% continue %}"),
        }
        Ok(())
    }

    /// Emits the `set_global` that declares or assigns Go variable `go_name`.
    fn bind(&mut self, pipe: &Pipeline, go_name: &str, expr: &str) -> Result<(), SyntaxError> {
        let tera_name = if pipe.assign {
            self.lookup(go_name, pipe.offset)?.tera_name.clone()
        } else {
            let name = self.fresh("v_");
            self.bindings.push(Binding {
                go_name: go_name.into(),
                tera_name: name.clone(),
            });
            name
        };
        self.out
            .push_str(&format!("{{% set_global {tera_name} = {expr} %}}"));
        Ok(())
    }

    fn lookup(&self, go_name: &str, offset: usize) -> Result<&Binding, SyntaxError> {
        self.bindings
            .iter()
            .rev()
            .find(|b| b.go_name == go_name)
            .ok_or_else(|| {
                SyntaxError::at(
                    self.src,
                    offset,
                    &format!("undefined variable \"{go_name}\""),
                )
            })
    }

    /// `if`/`with` branch `i` and, nested in its else, the branches after it.
    fn conditional(
        &mut self,
        cond: &Conditional,
        i: usize,
        is_with: bool,
    ) -> Result<(), SyntaxError> {
        let (pipe, body) = &cond.branches[i];
        let value = self.pipeline(pipe)?;
        let subject = if is_with || !pipe.decl.is_empty() {
            let name = self.fresh("dot_");
            self.out
                .push_str(&format!("{{% set_global {name} = {value} %}}"));
            if let Some(var) = pipe.decl.first() {
                if pipe.assign {
                    self.bind(pipe, var, &name)?;
                } else {
                    self.bindings.push(Binding {
                        go_name: var.clone(),
                        tera_name: name.clone(),
                    });
                }
            }
            name
        } else {
            value
        };
        self.out
            .push_str(&format!("{{% if __truth(v={subject}) %}}"));
        let saved_dot = self.dot.clone();
        if is_with {
            self.dot = subject;
        }
        self.nodes(body)?;
        self.dot = saved_dot;
        let has_more = i + 1 < cond.branches.len();
        if has_more || cond.otherwise.is_some() {
            self.out.push_str("{% else %}");
            if has_more {
                self.conditional(cond, i + 1, is_with)?;
            } else if let Some(otherwise) = &cond.otherwise {
                self.nodes(otherwise)?;
            }
        }
        self.out.push_str("{% endif %}");
        Ok(())
    }

    fn range(
        &mut self,
        pipe: &Pipeline,
        body: &[Node],
        otherwise: Option<&[Node]>,
    ) -> Result<(), SyntaxError> {
        let items = self.pipeline(pipe)?;
        let at = self.at(pipe.offset, format!("<range {}>", describe_pipeline(pipe)));
        let pair = self.fresh("p_");
        self.out.push_str(&format!(
            "{{% for {pair} in __range(v={items}, at={at}) %}}"
        ));
        self.scoped(|t| {
            let (key, value) = (format!("{pair}.0"), format!("{pair}.1"));
            let vars: Vec<(&String, &String)> = match pipe.decl.as_slice() {
                [v] => vec![(v, &value)],
                [k, v] => vec![(k, &key), (v, &value)],
                _ => vec![],
            };
            for (go_name, source) in vars {
                let tera_name = t.fresh("v_");
                t.out
                    .push_str(&format!("{{% set_global {tera_name} = {source} %}}"));
                t.bindings.push(Binding {
                    go_name: go_name.clone(),
                    tera_name,
                });
            }
            t.dot = value;
            t.nodes(body)
        })?;
        if let Some(otherwise) = otherwise {
            self.out.push_str("{% else %}");
            self.scoped(|t| t.nodes(otherwise))?;
        }
        self.out.push_str("{% endfor %}");
        Ok(())
    }

    /// A pipeline as one tera expression: each stage's result becomes the
    /// last argument of the next stage's function. (May first emit
    /// statements, see `short_circuit`; callers translate a pipeline before
    /// writing the tag that uses it.)
    fn pipeline(&mut self, pipe: &Pipeline) -> Result<String, SyntaxError> {
        let mut acc: Option<String> = None;
        for cmd in &pipe.cmds {
            let mut args = Vec::new();
            for term in &cmd.args[1..] {
                args.push(self.term(term)?);
            }
            acc = Some(match &cmd.args[0].kind {
                TermKind::Func(name)
                    if (name == "and" || name == "or") && !(args.is_empty() && acc.is_none()) =>
                {
                    self.short_circuit(name == "and", args, acc.take())
                }
                TermKind::Func(name) => {
                    args.extend(acc.take());
                    let at = self.at(cmd.args[0].offset, format!("<{name}>"));
                    let kwargs: Vec<String> = args
                        .iter()
                        .enumerate()
                        .map(|(i, a)| format!("a{i}={a}"))
                        .collect();
                    let sep = if kwargs.is_empty() { "" } else { ", " };
                    format!("go_{name}({}{sep}at={at})", kwargs.join(", "))
                }
                _ => self.term(&cmd.args[0])?,
            });
        }
        Ok(acc.expect("the parser guarantees every pipeline has a command"))
    }

    /// Go 1.18+ `and`/`or` stop evaluating at the first argument that
    /// decides the result, so a later argument's error (e.g. a missing key)
    /// never happens. Tera functions get all arguments evaluated, so we
    /// emit statements before the action instead:
    /// `{% set_global r = A %}{% if __truth(v=r) %}{% set_global r = B %}{% endif %}` and
    /// return `r`. (Arguments still arrive here as unevaluated tera
    /// expressions; a piped-in value is evaluated first, as in Go.)
    fn short_circuit(
        &mut self,
        is_and: bool,
        mut args: Vec<String>,
        piped: Option<String>,
    ) -> String {
        if let Some(p) = piped {
            let name = self.fresh("pipe_");
            self.out
                .push_str(&format!("{{% set_global {name} = {p} %}}"));
            args.push(name);
        }
        let result = self.fresh("sc_");
        let test = if is_and { "" } else { "not " };
        let mut closes = 0;
        for (i, arg) in args.iter().enumerate() {
            if i > 0 {
                self.out
                    .push_str(&format!("{{% if {test}__truth(v={result}) %}}"));
                closes += 1;
            }
            self.out
                .push_str(&format!("{{% set_global {result} = {arg} %}}"));
        }
        self.out.push_str(&"{% endif %}".repeat(closes));
        result
    }

    fn term(&mut self, term: &Term) -> Result<String, SyntaxError> {
        Ok(match &term.kind {
            TermKind::Dot => self.dot.clone(),
            TermKind::Var(name) if name == "$" => "__root".into(),
            TermKind::Var(name) => self.lookup(name, term.offset)?.tera_name.clone(),
            TermKind::Func(name) => {
                let at = self.at(term.offset, format!("<{name}>"));
                format!("go_{name}(at={at})")
            }
            TermKind::Lit(v) => self.literal(v.clone()),
            TermKind::Nil => self.literal(Value::Null),
            TermKind::Paren(p) => self.pipeline(p)?,
            TermKind::Field { receiver, names } => {
                let recv = self.term(receiver)?;
                let names_lit = self.literal(Value::Array(
                    names.iter().cloned().map(Value::String).collect(),
                ));
                let at = self.at(term.offset, format!("<{}>", describe(term)));
                format!("__field(v={recv}, names={names_lit}, at={at})")
            }
        })
    }
}

/// Go-like source form of a term, for `at <…>` in error messages.
pub fn describe(term: &Term) -> String {
    match &term.kind {
        TermKind::Dot => ".".into(),
        TermKind::Var(n) | TermKind::Func(n) => n.clone(),
        TermKind::Lit(Value::String(s)) => format!("{s:?}"),
        TermKind::Lit(v) => v.to_string(),
        TermKind::Nil => "nil".into(),
        TermKind::Paren(p) => format!("({})", describe_pipeline(p)),
        TermKind::Field { receiver, names } => {
            let base = match receiver.kind {
                TermKind::Dot => String::new(),
                _ => describe(receiver),
            };
            format!("{base}.{}", names.join("."))
        }
    }
}

fn describe_pipeline(p: &Pipeline) -> String {
    p.cmds
        .iter()
        .map(|c| c.args.iter().map(describe).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(" | ")
}
