//! Keeping the template context up to date while an action runs: `.Time` fixed once per action,
//! and `.Phases` / `.CurrentPhase` as phases run.

use super::phase_call::Outputs;
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
}
