//! Go's `json.Marshal` as sprig's `toJson` uses it: compact, map keys sorted,
//! struct fields in declaration order, `[]byte` as base64, `time.Time` as
//! RFC3339Nano, and HTML-safe string escaping.

use super::gofmt::{format_float_json, struct_fields};
use super::timefmt;
use super::value::{visible_entries, GoValue};
use base64::Engine;
use serde_json::Value;

/// `None` where Go's Marshal fails (NaN/Inf); sprig then prints "".
pub fn marshal(v: &Value) -> Option<String> {
    let mut out = String::new();
    write(&mut out, v)?;
    Some(out)
}

fn write(out: &mut String, v: &Value) -> Option<()> {
    match GoValue::classify(v) {
        GoValue::Nil | GoValue::NilPtr(_) => out.push_str("null"),
        GoValue::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        GoValue::Int(i) => out.push_str(&i.to_string()),
        GoValue::Float(f) => out.push_str(&format_float_json(f)?),
        GoValue::String(s) => write_string(out, s),
        GoValue::Bytes(b) => {
            write_string(out, &base64::engine::general_purpose::STANDARD.encode(b))
        }
        GoValue::Time(t) => write_string(out, &timefmt::format(&t, timefmt::RFC3339_NANO)),
        GoValue::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(out, item)?;
            }
            out.push(']');
        }
        GoValue::Map(m) => {
            out.push('{');
            for (i, (k, item)) in visible_entries(m).into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write(out, item)?;
            }
            out.push('}');
        }
        GoValue::Struct(name, m) => {
            out.push('{');
            for (i, (_, key)) in struct_fields(name, m).into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, &key);
                out.push(':');
                write(out, m.get(&key).unwrap_or(&Value::Null))?;
            }
            out.push('}');
        }
    }
    Some(())
}

/// encoding/json `appendString` with `escapeHTML = true` (Go ≥ 1.22 writes
/// `\b` and `\f` short forms).
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}
