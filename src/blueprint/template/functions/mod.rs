//! The Go template functions, registered into tera.
//!
//! Every Go function `f` becomes the tera function `go_f(a0=…, a1=…, at=…)`:
//! tera only has named arguments, so positional Go arguments are passed as
//! `a0`, `a1`, …, and `at` carries the Go-style `<…>` description of the call
//! for error messages. The `go_` prefix keeps names clear of tera keywords
//! (`and`, `or`, `not`) and builtins (`now`, `range`).
//!
//! Besides the functions a template can name, four helpers (prefixed `__`
//! so they cannot clash with a Go function name) implement Go
//! semantics that tera's own expressions do not have: `__field` (field
//! access with `missingkey=error`), `__print` (Go's value printing),
//! `__truth` (Go truthiness) and `__range` (Go's iteration order).

mod args;
mod builtins;
mod core;
mod sprig;

use serde_json::Value;
use std::collections::HashMap;

/// A Go function over already-evaluated arguments; `Err` is Go's error text.
pub type GoFn = fn(&[Value]) -> Result<Value, String>;

/// Every function a template may call, by its Go name. Functions not listed
/// here are rejected at parse time exactly like Go's `function "x" not defined`.
pub const FUNCTIONS: &[(&str, GoFn)] = &[
    // text/template builtins
    ("and", builtins::and),
    ("or", builtins::or),
    ("not", builtins::not),
    ("len", builtins::len),
    ("index", builtins::index),
    ("eq", builtins::eq),
    ("ne", builtins::ne),
    ("lt", builtins::lt),
    ("le", builtins::le),
    ("gt", builtins::gt),
    ("ge", builtins::ge),
    ("printf", builtins::printf),
    ("print", builtins::print),
    ("println", builtins::println),
    // sprig
    ("toJson", sprig::to_json),
    ("toString", sprig::to_string),
    ("quote", sprig::quote),
    ("default", sprig::default),
    ("upper", sprig::upper),
    ("lower", sprig::lower),
    ("replace", sprig::replace),
    ("trim", sprig::trim),
    ("b64enc", sprig::b64enc),
    ("b64dec", sprig::b64dec),
    ("date", sprig::date),
    ("toDate", sprig::to_date),
    ("now", sprig::now),
    ("list", sprig::list),
    ("dict", sprig::dict),
    ("join", sprig::join),
    ("split", sprig::split),
    ("contains", sprig::contains),
    ("hasPrefix", sprig::has_prefix),
    ("hasSuffix", sprig::has_suffix),
];

pub fn is_known_function(name: &str) -> bool {
    FUNCTIONS.iter().any(|(n, _)| *n == name)
}

/// Marks our error messages inside tera's error chain so `render` can pull
/// out Go's text and the location: `MARK offset AT_SEP <…> SEP message`.
pub const ERROR_MARK: char = '\u{1}';
pub const ERROR_SEP: char = '\u{2}';
pub const AT_SEP: char = '\u{3}';

fn go_error(at: &Value, message: String) -> tera::Error {
    tera::Error::msg(format!(
        "{ERROR_MARK}{}{ERROR_SEP}{message}",
        at.as_str().unwrap_or("")
    ))
}

/// `a0, a1, …` back into a positional list.
fn positional(kwargs: &HashMap<String, Value>) -> Vec<Value> {
    (0..)
        .map_while(|i| kwargs.get(&format!("a{i}")).cloned())
        .collect()
}

pub fn register_all(tera: &mut tera::Tera) {
    for (name, f) in FUNCTIONS {
        let (name, f) = (*name, *f);
        tera.register_function(
            &format!("go_{name}"),
            move |kwargs: &HashMap<String, Value>| {
                let at = kwargs.get("at").cloned().unwrap_or(Value::Null);
                f(&positional(kwargs)).map_err(|m| go_error(&at, m.replace("{name}", name)))
            },
        );
    }
    tera.register_function("__field", |kw: &HashMap<String, Value>| {
        let at = kw.get("at").cloned().unwrap_or(Value::Null);
        let names = kw
            .get("names")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        core::field(kw.get("v").unwrap_or(&Value::Null), &names).map_err(|m| go_error(&at, m))
    });
    tera.register_function("__range", |kw: &HashMap<String, Value>| {
        let at = kw.get("at").cloned().unwrap_or(Value::Null);
        core::range_pairs(kw.get("v").unwrap_or(&Value::Null)).map_err(|m| go_error(&at, m))
    });
    tera.register_function("__print", |kw: &HashMap<String, Value>| {
        Ok(Value::String(super::gofmt::print_action(
            kw.get("v").unwrap_or(&Value::Null),
        )))
    });
    tera.register_function("__truth", |kw: &HashMap<String, Value>| {
        Ok(Value::Bool(
            super::value::GoValue::classify(kw.get("v").unwrap_or(&Value::Null)).is_true(),
        ))
    });
}
