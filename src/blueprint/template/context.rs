//! Builds the template context from plain JSON the way Kanister's Go
//! `TemplateParams` would look to a template.
//!
//! * `.Secrets.<name>`: a Kubernetes Secret. Its `data` (or `Data`) values are
//!   base64 in JSON but `[]byte` in Go, so each becomes a tagged bytes value:
//!   `{{ .Secrets.s.Data.k | toString }}` gives the decoded text and
//!   `{{ .Secrets.s.Data.k }}` prints `[104 105]` as Go does. `type` and
//!   `metadata.name`/`namespace` are exposed as the Go fields `Type`, `Name`
//!   and `Namespace`.
//! * `.ConfigMaps.<name>`: a Kubernetes ConfigMap; `data` becomes the Go
//!   field `Data` (strings) and `binaryData` becomes `BinaryData` (bytes).
//! * `.Profile`: tagged as the Go struct `param.Profile` (recursively), so
//!   `.Profile.Location.Bucket` reads JSON key `bucket` and `toJson` prints
//!   fields in Go declaration order (see `structs.rs`).
//!
//! Preparing an already prepared context changes nothing.

use super::structs::{self, FieldKind};
use super::value::{bytes_value, nil_pointer, GoValue, STRUCT_TAG};
use base64::Engine;
use serde_json::{Map, Value};

/// Context JSON → the shape Kanister's Go templates see (see module docs).
pub fn prepare_context(raw: Value) -> Value {
    let Value::Object(mut root) = raw else {
        return raw;
    };
    // Kanister's TemplateParams holds these as Go maps: present (if nil) in every context, so
    // `index .Options "k"` gives "" rather than a missing-key error when none were given.
    for map_field in [
        "Options",
        "ArtifactsIn",
        "Phases",
        "ConfigMaps",
        "Secrets",
        "Object",
    ] {
        root.entry(map_field)
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if let Some(Value::Object(secrets)) = root.get_mut("Secrets") {
        for secret in secrets.values_mut() {
            if let Value::Object(s) = secret {
                prepare_secret(s);
            }
        }
    }
    if let Some(Value::Object(config_maps)) = root.get_mut("ConfigMaps") {
        for cm in config_maps.values_mut() {
            if let Value::Object(c) = cm {
                prepare_config_map(c);
            }
        }
    }
    if let Some(profile) = root.get_mut("Profile") {
        tag_struct(profile, "param.Profile");
    }
    Value::Object(root)
}

fn prepare_config_map(c: &mut Map<String, Value>) {
    if let Some(data) = c.remove("data") {
        c.entry("Data").or_insert(data);
    }
    if let Some(binary) = c.remove("binaryData") {
        c.entry("BinaryData").or_insert(binary);
    }
    decode_bytes_map(c, "BinaryData");
}

fn prepare_secret(s: &mut Map<String, Value>) {
    if let Some(data) = s.remove("data") {
        s.entry("Data").or_insert(data);
    }
    decode_bytes_map(s, "Data");
    if let Some(t) = s.remove("type") {
        s.entry("Type").or_insert(t);
    }
    let meta = s.get("metadata").cloned();
    for (json, go) in [("name", "Name"), ("namespace", "Namespace")] {
        if let Some(v) = meta.as_ref().and_then(|m| m.get(json)) {
            s.entry(go).or_insert_with(|| v.clone());
        }
    }
}

/// Turns the base64 strings of `obj[field]` into tagged bytes (Go `[]byte`);
/// values already tagged stay as they are.
fn decode_bytes_map(obj: &mut Map<String, Value>, field: &str) {
    let data = obj.remove(field);
    if let Some(Value::Object(entries)) = data {
        let decoded: Map<String, Value> = entries
            .into_iter()
            .map(|(k, v)| {
                let bytes = match &v {
                    Value::String(b64) => base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .unwrap_or_else(|_| b64.clone().into_bytes()),
                    // Already prepared, or not base64 text at all: leave it.
                    _ => return (k, v),
                };
                (k, bytes_value(&bytes))
            })
            .collect();
        obj.insert(field.into(), Value::Object(decoded));
    } else if let Some(other) = data {
        obj.insert(field.into(), other);
    }
}

/// Tags `v` and its nested struct-typed fields with their Go struct type,
/// and gives fields missing from the JSON their Go zero value (a Go struct
/// always has every field: `.Profile.Location.Prefix` is "" if unset).
fn tag_struct(v: &mut Value, go_type: &str) {
    if let GoValue::NilPtr(_) = GoValue::classify(v) {
        return; // prepared before
    }
    let Value::Object(m) = v else { return };
    m.insert(STRUCT_TAG.into(), Value::String(go_type.into()));
    let Some(def) = structs::find(go_type) else {
        return;
    };
    for (_, json_key, kind) in def.fields {
        let child = m.entry(json_key.to_string()).or_insert(Value::Null);
        match (kind, child.is_null()) {
            // A nil pointer keeps its Go type: it prints `<nil>`, not `<no value>`.
            (FieldKind::Ptr(t) | FieldKind::PtrStruct(t), true) => *child = nil_pointer(t),
            (FieldKind::Str, true) => *child = Value::String(String::new()),
            (FieldKind::Bool, true) => *child = Value::Bool(false),
            (FieldKind::Struct(t), true) => {
                *child = Value::Object(Map::new());
                tag_struct(child, t);
            }
            (FieldKind::Struct(t) | FieldKind::PtrStruct(t), false) => tag_struct(child, t),
            _ => {}
        }
    }
}
