//! The Masterminds sprig functions Kanister blueprints use
//! (sprig v3: strings.go, defaults.go, date.go, dict.go, list.go, crypto.go).

use super::args::{arity, at_least, string};
use crate::blueprint::template::gofmt::{go_quote, sprint};
use crate::blueprint::template::gojson;
use crate::blueprint::template::timefmt;
use crate::blueprint::template::value::{time_value, GoValue};
use base64::Engine;
use serde_json::{Map, Value};

/// sprig `strval`: strings and `[]byte` as text, everything else via `%v`.
pub fn strval(v: &Value) -> String {
    match GoValue::classify(v) {
        GoValue::String(s) => s.to_string(),
        GoValue::Bytes(b) => String::from_utf8_lossy(&b).into_owned(),
        _ => sprint(v),
    }
}

/// `json.Marshal`, errors swallowed into "" as sprig does.
pub fn to_json(args: &[Value]) -> Result<Value, String> {
    arity(args, 1)?;
    Ok(Value::String(gojson::marshal(&args[0]).unwrap_or_default()))
}

pub fn to_string(args: &[Value]) -> Result<Value, String> {
    arity(args, 1)?;
    Ok(Value::String(strval(&args[0])))
}

/// Each non-nil argument `%q`-quoted, joined by spaces.
pub fn quote(args: &[Value]) -> Result<Value, String> {
    let parts: Vec<String> = args
        .iter()
        .filter(|a| !a.is_null())
        .map(|a| go_quote(&strval(a)))
        .collect();
    Ok(Value::String(parts.join(" ")))
}

/// sprig `empty`: zero values are empty; structs and times never are.
fn is_empty(v: &Value) -> bool {
    !GoValue::classify(v).is_true()
}

/// `default DEFAULT GIVEN`: GIVEN unless it is empty.
pub fn default(args: &[Value]) -> Result<Value, String> {
    at_least(args, 1)?;
    match args.get(1) {
        Some(given) if !is_empty(given) => Ok(given.clone()),
        _ => Ok(args[0].clone()),
    }
}

/// Go's `unicode.ToUpper`/`ToLower` work rune by rune: a rune without a
/// single-rune mapping (e.g. 'ß') stays as it is, unlike Rust's String methods.
fn map_runes(s: &str, f: fn(char) -> Vec<char>) -> String {
    s.chars()
        .map(|c| match f(c).as_slice() {
            [one] => *one,
            _ => c,
        })
        .collect()
}

pub fn upper(args: &[Value]) -> Result<Value, String> {
    arity(args, 1)?;
    Ok(Value::String(map_runes(string(&args[0])?, |c| {
        c.to_uppercase().collect()
    })))
}

pub fn lower(args: &[Value]) -> Result<Value, String> {
    arity(args, 1)?;
    Ok(Value::String(map_runes(string(&args[0])?, |c| {
        c.to_lowercase().collect()
    })))
}

/// `replace OLD NEW SRC`: all occurrences.
pub fn replace(args: &[Value]) -> Result<Value, String> {
    arity(args, 3)?;
    let (old, new, src) = (string(&args[0])?, string(&args[1])?, string(&args[2])?);
    Ok(Value::String(src.replace(old, new)))
}

/// `strings.TrimSpace`.
pub fn trim(args: &[Value]) -> Result<Value, String> {
    arity(args, 1)?;
    Ok(Value::String(string(&args[0])?.trim().to_string()))
}

pub fn b64enc(args: &[Value]) -> Result<Value, String> {
    arity(args, 1)?;
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(string(&args[0])?),
    ))
}

/// Invalid input yields Go's error *text* as the result, as sprig does.
pub fn b64dec(args: &[Value]) -> Result<Value, String> {
    arity(args, 1)?;
    let input = string(&args[0])?;
    Ok(Value::String(
        match base64::engine::general_purpose::STANDARD.decode(input) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => {
                let at = match e {
                    base64::DecodeError::InvalidByte(i, _)
                    | base64::DecodeError::InvalidLastSymbol(i, _) => i,
                    _ => input.len() / 4 * 4,
                };
                format!("illegal base64 data at input byte {at}")
            }
        },
    ))
}

/// `date FORMAT TIME`: TIME may be a time or Unix seconds; anything else
/// (including a string such as `.Time`!) formats the current time, as sprig's
/// `dateInZone` does. Use `toDate` first to format a timestamp string. Like
/// sprig, the time is first converted to the local zone (UTC, see timefmt).
pub fn date(args: &[Value]) -> Result<Value, String> {
    arity(args, 2)?;
    let layout = string(&args[0])?;
    let utc = chrono::FixedOffset::east_opt(0).expect("zero offset");
    let t = match GoValue::classify(&args[1]) {
        GoValue::Time(t) => t.with_timezone(&utc),
        GoValue::Int(secs) => chrono::DateTime::from_timestamp(secs as i64, 0)
            .map(|t| t.with_timezone(&utc))
            .unwrap_or_else(timefmt::zero_time),
        _ => chrono::Utc::now().with_timezone(&utc),
    };
    Ok(Value::String(timefmt::format(&t, layout)))
}

/// `toDate LAYOUT STR`: parse errors give Go's zero time, as sprig ignores them.
pub fn to_date(args: &[Value]) -> Result<Value, String> {
    arity(args, 2)?;
    let t = timefmt::parse(string(&args[0])?, string(&args[1])?).unwrap_or_else(timefmt::zero_time);
    Ok(time_value(&t))
}

pub fn now(args: &[Value]) -> Result<Value, String> {
    arity(args, 0)?;
    let utc = chrono::FixedOffset::east_opt(0).expect("zero offset");
    Ok(time_value(&chrono::Utc::now().with_timezone(&utc)))
}

pub fn list(args: &[Value]) -> Result<Value, String> {
    Ok(Value::Array(args.to_vec()))
}

/// `dict k1 v1 k2 v2 …`: keys via `strval`; a key without value maps to "".
pub fn dict(args: &[Value]) -> Result<Value, String> {
    let mut m = Map::new();
    for pair in args.chunks(2) {
        let value = pair.get(1).cloned().unwrap_or(Value::String(String::new()));
        m.insert(strval(&pair[0]), value);
    }
    Ok(Value::Object(m))
}

/// sprig `strslice`: list elements via `strval`, nils dropped.
fn strslice(v: &Value) -> Vec<String> {
    match GoValue::classify(v) {
        GoValue::List(items) => items.iter().filter(|i| !i.is_null()).map(strval).collect(),
        GoValue::Bytes(b) => b.iter().map(|x| x.to_string()).collect(),
        GoValue::Nil => Vec::new(),
        _ => vec![strval(v)],
    }
}

/// `join SEP LIST`.
pub fn join(args: &[Value]) -> Result<Value, String> {
    arity(args, 2)?;
    Ok(Value::String(strslice(&args[1]).join(string(&args[0])?)))
}

/// `split SEP STR` returns a *map* `{_0: …, _1: …}` in sprig (`splitList`
/// is the list form).
pub fn split(args: &[Value]) -> Result<Value, String> {
    arity(args, 2)?;
    let (sep, s) = (string(&args[0])?, string(&args[1])?);
    let parts: Vec<String> = if sep.is_empty() {
        s.chars().map(String::from).collect() // Go splits into UTF-8 sequences
    } else {
        s.split(sep).map(String::from).collect()
    };
    let mut m = Map::new();
    for (i, p) in parts.into_iter().enumerate() {
        m.insert(format!("_{i}"), Value::String(p));
    }
    Ok(Value::Object(m))
}

/// `contains SUBSTR STR` (note the argument order).
pub fn contains(args: &[Value]) -> Result<Value, String> {
    arity(args, 2)?;
    Ok(Value::Bool(string(&args[1])?.contains(string(&args[0])?)))
}

/// `hasPrefix PREFIX STR`.
pub fn has_prefix(args: &[Value]) -> Result<Value, String> {
    arity(args, 2)?;
    Ok(Value::Bool(
        string(&args[1])?.starts_with(string(&args[0])?),
    ))
}

/// `hasSuffix SUFFIX STR`.
pub fn has_suffix(args: &[Value]) -> Result<Value, String> {
    arity(args, 2)?;
    Ok(Value::Bool(string(&args[1])?.ends_with(string(&args[0])?)))
}
