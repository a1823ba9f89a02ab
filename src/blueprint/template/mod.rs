//! Kanister's Go templates (`text/template` + sprig, `missingkey=error`)
//! rendered with tera.
//!
//! Pipeline: [`parse`] (lexer → parser → [`Ast`]) → `translate` (Ast → tera
//! source + literal table) → tera renders, calling the `go_*` functions in
//! `functions/` that carry Go's semantics (field access, printing, truth,
//! comparison, sprig). `value.rs` maps JSON onto Go values; `gofmt.rs`,
//! `gojson.rs` and `timefmt.rs` reproduce Go's fmt, encoding/json and time
//! layouts byte for byte; `printf.rs` is Go's `Sprintf` subset.
//!
//! Numbers: a JSON integer acts as a Go `int` (as Kanister's typed structs
//! give), any other JSON number as a `float64` (`1e6` prints `1e+06`).
//!
//! Known differences from Go (by design or not yet done):
//! * only the functions in `functions::FUNCTIONS` exist (the brief's sprig
//!   subset plus `print`/`println`); `define`/`template`/`block` are rejected;
//! * the local time zone is UTC (Go uses the process's zone);
//! * `Time.String()` omits Go's monotonic-clock suffix (`m=+0.01`) for `now`;
//! * a non-nil pointer nested in a struct prints `&{…}` (Go: an address);
//!   `eq` on nil pointers is an error (Go compares them);
//! * `strconv.Quote`'s notion of printable characters is approximated;
//! * `nil` given to `eq`/`len`/… is rejected when parsing (Go: when executed).

mod ast;
mod context;
mod error;
mod functions;
mod gofmt;
mod gojson;
mod lexer;
mod parser;
mod printf;
mod refs;
mod structs;
mod timefmt;
mod translate;
mod value;

#[cfg(test)]
mod tests;

pub use ast::Ast;
pub use context::prepare_context;
pub use error::{TemplateError, TemplateErrorKind};
pub use refs::{field_refs, FieldRef};

use serde_json::Value;

/// Parses Go template text; syntax errors carry line, column and offset.
pub fn parse(template: &str) -> Result<Ast, TemplateError> {
    parser::parse(template).map_err(|e| TemplateError::syntax(e, template))
}

/// Renders `template` against `context` (prepared with [`prepare_context`]
/// here, which is idempotent) exactly as Kanister's Go renderer would.
pub fn render(template: &str, context: &Value) -> Result<String, TemplateError> {
    let ast = parse(template)?;
    let translation = translate::translate(&ast).map_err(|e| TemplateError::syntax(e, template))?;
    tracing::trace!(template, tera = %translation.tera_source, "Go template translated to tera");
    let mut tera = tera::Tera::default();
    functions::register_all(&mut tera);
    tera.add_raw_template("go", &translation.tera_source)
        .map_err(|e| {
            TemplateError::exec(
                format!(
                    "internal error: translated template rejected by tera: {}",
                    chain(&e)
                ),
                None,
                None,
                template,
            )
        })?;
    let mut ctx = tera::Context::new();
    ctx.insert("__root", &prepare_context(context.clone()));
    ctx.insert("__lits", &translation.literals);
    tera.render("go", &ctx)
        .map_err(|e| exec_error(&e, template))
}

/// All messages of an error and its sources.
fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        parts.push(s.to_string());
        cur = s.source();
    }
    parts.join(": ")
}

/// Pulls Go's message (and `<…>` location) out of tera's error chain.
fn exec_error(e: &tera::Error, template: &str) -> TemplateError {
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        if let Some(rest) = text.strip_prefix(functions::ERROR_MARK) {
            let (at, message) = rest.split_once(functions::ERROR_SEP).unwrap_or(("", rest));
            let (offset, at) = at.split_once(functions::AT_SEP).unwrap_or(("", at));
            let at = (!at.is_empty()).then(|| at.to_string());
            return TemplateError::exec(message.to_string(), at, offset.parse().ok(), template);
        }
        cur = err.source();
    }
    TemplateError::exec(
        format!("internal error: {}", chain(e)),
        None,
        None,
        template,
    )
}
