//! The Go value model over `serde_json::Value`.
//!
//! Go templates see typed Go values; our context is JSON. A few Go types that
//! JSON cannot express are carried as *tagged objects* — a one-key object whose
//! key starts with U+0001, which no real Kubernetes/Kanister key does:
//!
//! * `{"\u{1}bytes": "<base64>"}` — a Go `[]byte` (Kubernetes Secret `Data` values);
//! * `{"\u{1}time": "<RFC3339Nano>"}` — a Go `time.Time` (from `now`/`toDate`);
//! * `{"\u{1}nil": "<Go pointer type>"}` — a nil pointer field of a Go struct
//!   (Go prints it `<nil>`, unlike a missing map value's `<no value>`);
//! * an object carrying `"\u{1}struct": "<Go type name>"` — a Go struct such as
//!   Kanister's `param.Profile`: fields are reached by Go field name while
//!   `toJson` prints JSON tags in declaration order (see `structs.rs`).
//!
//! Every function that prints, measures or iterates values goes through
//! [`GoValue::classify`], so the tags never leak into output.

use base64::Engine;
use serde_json::{Map, Value};

pub const BYTES_TAG: &str = "\u{1}bytes";
pub const TIME_TAG: &str = "\u{1}time";
pub const STRUCT_TAG: &str = "\u{1}struct";
pub const NIL_TAG: &str = "\u{1}nil";

/// A borrowed view of a JSON value as the Go value it stands for.
pub enum GoValue<'a> {
    Nil,
    Bool(bool),
    /// JSON integers (no fraction/exponent, fit i64/u64) behave as Go `int`.
    Int(i128),
    /// Every other JSON number behaves as Go `float64`.
    Float(f64),
    String(&'a str),
    Bytes(Vec<u8>),
    Time(chrono::DateTime<chrono::FixedOffset>),
    List(&'a [Value]),
    Map(&'a Map<String, Value>),
    Struct(&'a str, &'a Map<String, Value>),
    /// A typed nil pointer, e.g. `*param.KeyPair`.
    NilPtr(&'a str),
}

impl<'a> GoValue<'a> {
    pub fn classify(v: &'a Value) -> GoValue<'a> {
        match v {
            Value::Null => GoValue::Nil,
            Value::Bool(b) => GoValue::Bool(*b),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    GoValue::Int(i as i128)
                } else if let Some(u) = n.as_u64() {
                    GoValue::Int(u as i128)
                } else {
                    GoValue::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => GoValue::String(s),
            Value::Array(a) => GoValue::List(a),
            Value::Object(m) => {
                if m.len() == 1 {
                    if let Some(Value::String(b64)) = m.get(BYTES_TAG) {
                        let bytes = base64::engine::general_purpose::STANDARD
                            .decode(b64)
                            .unwrap_or_default();
                        return GoValue::Bytes(bytes);
                    }
                    if let Some(Value::String(t)) = m.get(NIL_TAG) {
                        return GoValue::NilPtr(t);
                    }
                    if let Some(Value::String(t)) = m.get(TIME_TAG) {
                        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(t) {
                            return GoValue::Time(t);
                        }
                    }
                }
                match m.get(STRUCT_TAG) {
                    Some(Value::String(name)) => GoValue::Struct(name, m),
                    _ => GoValue::Map(m),
                }
            }
        }
    }

    /// The Go type name used in error messages (as `reflect.Type.String()` prints it).
    pub fn type_name(&self) -> String {
        match self {
            GoValue::Nil => "<nil>".into(),
            GoValue::Bool(_) => "bool".into(),
            GoValue::Int(_) => "int".into(),
            GoValue::Float(_) => "float64".into(),
            GoValue::String(_) => "string".into(),
            GoValue::Bytes(_) => "[]uint8".into(),
            GoValue::Time(_) => "time.Time".into(),
            GoValue::List(_) => "[]interface {}".into(),
            GoValue::Map(_) => "map[string]interface {}".into(),
            GoValue::Struct(name, _) | GoValue::NilPtr(name) => name.to_string(),
        }
    }

    /// Go template truthiness (text/template `isTrue`): zero values are false;
    /// structs (and times) are always true.
    pub fn is_true(&self) -> bool {
        match self {
            GoValue::Nil | GoValue::NilPtr(_) => false,
            GoValue::Bool(b) => *b,
            GoValue::Int(i) => *i != 0,
            GoValue::Float(f) => *f != 0.0,
            GoValue::String(s) => !s.is_empty(),
            GoValue::Bytes(b) => !b.is_empty(),
            GoValue::Time(_) | GoValue::Struct(..) => true,
            GoValue::List(l) => !l.is_empty(),
            GoValue::Map(m) => !m.is_empty(),
        }
    }
}

/// Object entries without the struct tag, sorted by key (Go prints maps sorted).
pub fn visible_entries(m: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = m.iter().filter(|(k, _)| k.as_str() != STRUCT_TAG).collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

pub fn nil_pointer(go_type: &str) -> Value {
    let mut m = Map::new();
    m.insert(NIL_TAG.into(), Value::String(go_type.into()));
    Value::Object(m)
}

pub fn bytes_value(bytes: &[u8]) -> Value {
    let mut m = Map::new();
    m.insert(
        BYTES_TAG.into(),
        Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
    );
    Value::Object(m)
}

pub fn time_value(t: &chrono::DateTime<chrono::FixedOffset>) -> Value {
    let mut m = Map::new();
    m.insert(
        TIME_TAG.into(),
        Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)),
    );
    Value::Object(m)
}

pub fn int_value(i: i128) -> Value {
    if let Ok(v) = i64::try_from(i) {
        Value::from(v)
    } else if let Ok(v) = u64::try_from(i) {
        Value::from(v)
    } else {
        Value::from(i as f64)
    }
}

/// A JSON number that stays a Go `float64` even when integral.
pub fn float_value(f: f64) -> Value {
    serde_json::Number::from_f64(f)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}
