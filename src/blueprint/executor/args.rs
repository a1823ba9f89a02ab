//! Reading a phase's rendered args. Kanister decodes args with mapstructure's weak typing, so a
//! template that rendered `"0"` still satisfies an int argument, and `"true"` a bool one.

use anyhow::{anyhow, bail, Result};
use serde_json::{Map, Value};

pub type Args = Map<String, Value>;

pub fn required_str(args: &Args, name: &str) -> Result<String> {
    optional_str(args, name)?.ok_or_else(|| anyhow!("missing required argument {name:?}"))
}

/// A scalar as text; absent or null is `None`.
pub fn optional_str(args: &Args, name: &str) -> Result<Option<String>> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(v.to_string())),
        Some(other) => bail!("argument {name:?} must be a string, got {other}"),
    }
}

/// A list of strings, e.g. `command`; numbers and bools inside are turned into text.
pub fn required_list(args: &Args, name: &str) -> Result<Vec<String>> {
    let Some(v) = args.get(name) else {
        bail!("missing required argument {name:?}")
    };
    let Value::Array(items) = v else {
        bail!("argument {name:?} must be a list, got {v}")
    };
    if items.is_empty() {
        bail!("argument {name:?} must not be empty");
    }
    items
        .iter()
        .map(|item| match item {
            Value::String(s) => Ok(s.clone()),
            Value::Number(_) | Value::Bool(_) => Ok(item.to_string()),
            other => bail!("argument {name:?} must hold strings, got {other}"),
        })
        .collect()
}

/// A space-separated list such as KubeExecAll's `pods` and `containers`.
pub fn required_words(args: &Args, name: &str) -> Result<Vec<String>> {
    let text = required_str(args, name)?;
    let words: Vec<String> = text.split_whitespace().map(str::to_string).collect();
    if words.is_empty() {
        bail!("argument {name:?} must name at least one item");
    }
    Ok(words)
}

/// An integer given as a number or as text (`"0"` → 0).
pub fn required_i64(args: &Args, name: &str) -> Result<i64> {
    match args.get(name) {
        None | Some(Value::Null) => bail!("missing required argument {name:?}"),
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| anyhow!("argument {name:?} must be an integer, got {n}")),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| anyhow!("argument {name:?} must be an integer, got {s:?}")),
        Some(other) => bail!("argument {name:?} must be an integer, got {other}"),
    }
}

/// A bool given as a bool or as text (`"true"`, `"false"`, also Go's `"1"`/`"0"`).
pub fn optional_bool(args: &Args, name: &str) -> Result<Option<bool>> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => match s.trim() {
            "true" | "True" | "TRUE" | "1" | "t" | "T" => Ok(Some(true)),
            "false" | "False" | "FALSE" | "0" | "f" | "F" | "" => Ok(Some(false)),
            _ => bail!("argument {name:?} must be a bool, got {s:?}"),
        },
        Some(Value::Number(n)) => Ok(Some(n.as_i64() != Some(0))),
        Some(other) => bail!("argument {name:?} must be a bool, got {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Args {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn strings_convert_like_kanister() {
        let a = args(json!({"r": "0", "n": 3, "b": "true", "cmd": ["sh", 1], "w": " a  b "}));
        assert_eq!(required_i64(&a, "r").unwrap(), 0);
        assert_eq!(required_i64(&a, "n").unwrap(), 3);
        assert_eq!(optional_bool(&a, "b").unwrap(), Some(true));
        assert_eq!(required_list(&a, "cmd").unwrap(), vec!["sh", "1"]);
        assert_eq!(required_words(&a, "w").unwrap(), vec!["a", "b"]);
        assert_eq!(required_str(&a, "n").unwrap(), "3");
    }

    #[test]
    fn errors_name_the_argument() {
        let a = args(json!({"r": "x", "cmd": "ls"}));
        assert!(required_i64(&a, "r")
            .unwrap_err()
            .to_string()
            .contains("\"r\""));
        assert!(required_list(&a, "cmd")
            .unwrap_err()
            .to_string()
            .contains("must be a list"));
        assert!(required_str(&a, "pod")
            .unwrap_err()
            .to_string()
            .contains("missing required argument \"pod\""));
    }
}
