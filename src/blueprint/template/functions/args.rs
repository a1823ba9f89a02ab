//! Argument checks with Go's error texts (text/template `evalArg` and
//! `evalCall`).

use crate::blueprint::template::value::GoValue;
use serde_json::Value;

/// Exact arity; `{name}` is replaced by the function name by the caller.
pub fn arity(args: &[Value], want: usize) -> Result<(), String> {
    if args.len() != want {
        return Err(format!(
            "wrong number of args for {{name}}: want {want} got {}",
            args.len()
        ));
    }
    Ok(())
}

pub fn at_least(args: &[Value], want: usize) -> Result<(), String> {
    if args.len() < want {
        return Err(format!(
            "wrong number of args for {{name}}: want at least {want} got {}",
            args.len()
        ));
    }
    Ok(())
}

/// A `string` parameter: Go accepts only strings here, not `[]byte` or numbers.
pub fn string(v: &Value) -> Result<&str, String> {
    match GoValue::classify(v) {
        GoValue::String(s) => Ok(s),
        GoValue::Nil => Err("invalid value; expected string".into()),
        other => Err(format!(
            "wrong type for value; expected string; got {}",
            other.type_name()
        )),
    }
}
