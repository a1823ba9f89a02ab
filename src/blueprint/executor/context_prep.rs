//! Getting the template context ready: `.Time` fixed once per action, secrets registered for
//! redaction before anything runs, and `.Phases` / `.CurrentPhase` kept up to date.

use super::phase_call::Outputs;
use crate::secret;
use base64::Engine;
use serde_json::{json, Map, Value};

/// Sets `.Time` (RFC3339Nano, UTC, Go's format: trailing zeros of the fraction dropped) unless
/// the caller gave one; every phase of the action then sees the same instant.
pub fn fix_time(ctx: &mut Value) {
    let root = ensure_object(ctx);
    if !root.contains_key("Time") {
        let now = chrono::Utc::now();
        root.insert("Time".into(), Value::String(rfc3339_nano(now)));
    }
}

fn rfc3339_nano(t: chrono::DateTime<chrono::Utc>) -> String {
    let base = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = format!("{:09}", t.timestamp_subsec_nanos());
    let fraction = nanos.trim_end_matches('0');
    if fraction.is_empty() {
        format!("{base}Z")
    } else {
        format!("{base}.{fraction}Z")
    }
}

/// Registers every value under `.Secrets.*.Data.*` (decoded, and as given) and the secret values
/// of `.Profile.Credential` (its key pair, and its Kubernetes Secret's data) with the redaction
/// list, so rendered commands and streamed output never show them. Only values: registering
/// field names or types (`keyPair`, `Secret`) would star those words out of every log line.
pub fn register_secrets(ctx: &Value) {
    if let Some(Value::Object(secrets)) = ctx.get("Secrets") {
        secrets.values().for_each(register_secret_object_data);
    }
    if let Some(credential) = ctx.get("Profile").and_then(|p| field(p, "Credential")) {
        if let Some(Value::Object(key_pair)) = field(credential, "KeyPair") {
            key_pair.values().for_each(register_secret_value);
        }
        if let Some(secret) = field(credential, "Secret") {
            register_secret_object_data(secret);
        }
    }
}

/// The `data`/`stringData` values of a Kubernetes Secret object.
fn register_secret_object_data(secret: &Value) {
    for name in ["data", "Data", "stringData"] {
        if let Some(Value::Object(data)) = secret.get(name) {
            data.values().for_each(register_secret_value);
        }
    }
}

/// A field by its Go name, in any casing (the Profile CR uses lower case).
fn field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

fn register_secret_value(v: &Value) {
    if let Value::String(text) = v {
        secret::register(text);
        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(text) {
            if let Ok(decoded) = String::from_utf8(bytes) {
                secret::register(&decoded);
            }
        }
    }
}

/// Records a finished phase's outputs under `.Phases.<name>.Output`.
pub fn record_phase(ctx: &mut Value, phase: &str, outputs: &Outputs) {
    let root = ensure_object(ctx);
    let phases = root.entry("Phases").or_insert_with(|| json!({}));
    let phases = ensure_object(phases);
    let output: Map<String, Value> = outputs
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    phases.insert(phase.into(), json!({ "Name": phase, "Output": output }));
}

/// Sets `.CurrentPhase` to the phase about to run.
pub fn set_current_phase(ctx: &mut Value, phase: &str) {
    ensure_object(ctx).insert("CurrentPhase".into(), json!({ "Name": phase }));
}

fn ensure_object(v: &mut Value) -> &mut Map<String, Value> {
    if !v.is_object() {
        *v = json!({});
    }
    v.as_object_mut().expect("just made an object")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn time_is_go_rfc3339_nano() {
        let t = chrono::Utc
            .timestamp_opt(1_700_000_000, 120_000_000)
            .unwrap();
        assert_eq!(rfc3339_nano(t), "2023-11-14T22:13:20.12Z");
        let whole = chrono::Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        assert_eq!(rfc3339_nano(whole), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn given_time_is_kept_and_phases_accumulate() {
        let mut ctx = json!({"Time": "2020-01-01T00:00:00Z"});
        fix_time(&mut ctx);
        assert_eq!(ctx["Time"], "2020-01-01T00:00:00Z");
        record_phase(&mut ctx, "a", &Outputs::from([("k".into(), json!("v"))]));
        record_phase(&mut ctx, "b", &Outputs::new());
        assert_eq!(ctx["Phases"]["a"]["Output"]["k"], "v");
        assert!(ctx["Phases"]["b"]["Output"].is_object());
    }

    #[test]
    fn secrets_and_credentials_are_registered() {
        // "c2VjcmV0LXZhbHVlLTE=" is base64 of "secret-value-1".
        let ctx = json!({
            "Secrets": {"s": {"data": {"k": "c2VjcmV0LXZhbHVlLTE="}}},
            "Profile": {"Credential": {"KeyPair": {"ID": "key-id-22", "Secret": "profile-secret-33"}}}
        });
        register_secrets(&ctx);
        let text = secret::redact("a secret-value-1 b profile-secret-33 c key-id-22");
        assert_eq!(text, "a *** b *** c ***");
    }
}
