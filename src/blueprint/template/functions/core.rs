//! Field access and iteration with Go's rules.

use crate::blueprint::template::gofmt::sprint;
use crate::blueprint::template::structs;
use crate::blueprint::template::value::{int_value, visible_entries, GoValue};
use serde_json::Value;

/// `.A.B…` on `v` with `missingkey=error` (text/template exec.go `evalField`).
pub fn field(v: &Value, names: &[Value]) -> Result<Value, String> {
    let mut cur = v;
    for name in names {
        let name = name.as_str().unwrap_or_default();
        cur = match GoValue::classify(cur) {
            GoValue::Map(m) => m
                .get(name)
                .ok_or_else(|| format!("map has no entry for key \"{name}\""))?,
            GoValue::Struct(go_type, m) => struct_field(go_type, m, name)
                .ok_or_else(|| format!("can't evaluate field {name} in type {go_type}"))?,
            GoValue::Nil => return Err(format!("nil pointer evaluating interface {{}}.{name}")),
            GoValue::NilPtr(t) => return Err(format!("nil pointer evaluating {t}.{name}")),
            other => {
                return Err(format!(
                    "can't evaluate field {name} in type {}",
                    other.type_name()
                ))
            }
        };
    }
    Ok(cur.clone())
}

static NULL: Value = Value::Null;

/// A Go struct field by Go field name: the struct table maps it to its JSON
/// key; for structs the table does not describe, the JSON key whose name
/// matches case-insensitively (Go field `Bucket` ↔ JSON tag `bucket`).
fn struct_field<'a>(
    go_type: &str,
    m: &'a serde_json::Map<String, Value>,
    name: &str,
) -> Option<&'a Value> {
    if let Some(def) = structs::find(go_type) {
        if let Some(key) = def.json_key(name) {
            return Some(m.get(key).unwrap_or(&NULL));
        }
    }
    if let Some(v) = m.get(name) {
        return Some(v);
    }
    visible_entries(m)
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// `range` items as `[key, value]` pairs: lists by index, maps in sorted key
/// order, an int n as 0..n (Go 1.22); nil ranges zero times.
pub fn range_pairs(v: &Value) -> Result<Value, String> {
    let pairs: Vec<Value> = match GoValue::classify(v) {
        GoValue::List(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| Value::Array(vec![Value::from(i), item.clone()]))
            .collect(),
        GoValue::Map(m) => visible_entries(m)
            .into_iter()
            .map(|(k, item)| Value::Array(vec![Value::String(k.clone()), item.clone()]))
            .collect(),
        GoValue::Bytes(b) => b
            .iter()
            .enumerate()
            .map(|(i, x)| Value::Array(vec![Value::from(i), Value::from(*x)]))
            .collect(),
        GoValue::Int(n) => (0..n.max(0))
            .map(|i| Value::Array(vec![int_value(i), int_value(i)]))
            .collect(),
        GoValue::Nil => Vec::new(),
        _ => return Err(format!("range can't iterate over {}", sprint(v))),
    };
    Ok(Value::Array(pairs))
}
