//! The parts of the template context the command line gives: a context file, `.Profile`,
//! `.Options` and `.ArtifactsIn`.

use crate::profile::{self, kanister::Profile};
use anyhow::{anyhow, Context as _, Result};
use serde_json::{json, Map, Value};
use std::path::Path;

/// Template parameters by their Go names from a JSON file (`--context`); `{}` without one.
pub fn load_context_file(path: Option<&Path>) -> Result<Value> {
    match path {
        None => Ok(json!({})),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read the context {}", p.display()))?;
            serde_json::from_str(&text)
                .map_err(|e| anyhow!("{}: not valid JSON ({e})", p.display()))
        }
    }
}

/// Adds `extra`'s top-level keys to `base` (`extra` wins: the cluster's view over a context file's).
pub fn merge_into(base: &mut Value, extra: Value) {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
}

/// `.Profile` from Profile JSON text, checked first (one clear line for a bad profile, before
/// any phase runs) and rendered as Kanister renders it, whatever casing the text used.
pub fn set_profile(ctx: &mut Value, text: &str, origin: &str) -> Result<()> {
    let parsed = Profile::from_json(text).with_context(|| origin.to_string())?;
    profile::location_of(&parsed).with_context(|| origin.to_string())?;
    ctx["Profile"] = parsed.to_value();
    Ok(())
}

/// ActionSet options, `KEY=VALUE` each, into `.Options`.
pub fn set_options(ctx: &mut Value, options: &[String]) -> Result<()> {
    for option in options {
        let (k, v) = option
            .split_once('=')
            .ok_or_else(|| anyhow!("--option {option:?} is not KEY=VALUE"))?;
        ctx["Options"][k] = Value::String(v.to_string());
    }
    Ok(())
}

/// Input artifacts (a file, or inline JSON) as `blueprint run` prints them, into `.ArtifactsIn`.
pub fn set_artifacts_in(ctx: &mut Value, file_or_json: &str) -> Result<()> {
    ctx["ArtifactsIn"] = artifacts_for_templates(&read_json_arg(file_or_json)?)?;
    Ok(())
}

/// Artifacts in Kanister's JSON (`keyValue`, `kopiaSnapshot`) become the template parameter
/// `.ArtifactsIn` (Go field names: `KeyValue`, `KopiaSnapshot`).
fn artifacts_for_templates(artifacts: &Value) -> Result<Value> {
    let map = artifacts
        .as_object()
        .ok_or_else(|| anyhow!("--artifacts-in must be a JSON object of artifacts by name"))?;
    let mut out = Map::new();
    for (name, artifact) in map {
        let get = |a: &str, b: &str| artifact.get(a).or_else(|| artifact.get(b)).cloned();
        let mut converted = Map::new();
        converted.insert(
            "KeyValue".into(),
            get("keyValue", "KeyValue").unwrap_or_else(|| json!({})),
        );
        if let Some(snapshot) = get("kopiaSnapshot", "KopiaSnapshot") {
            converted.insert("KopiaSnapshot".into(), snapshot);
        }
        out.insert(name.clone(), Value::Object(converted));
    }
    Ok(Value::Object(out))
}

fn read_json_arg(arg: &str) -> Result<Value> {
    let text = if arg.trim_start().starts_with('{') {
        arg.to_string()
    } else {
        std::fs::read_to_string(arg).with_context(|| format!("cannot read {arg}"))?
    };
    serde_json::from_str(&text).map_err(|e| anyhow!("{arg}: not valid JSON ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifacts_as_printed_become_go_fields_and_options_fill_options() {
        let mut ctx = json!({});
        set_artifacts_in(
            &mut ctx,
            r#"{"b": {"keyValue": {"k": "v"}, "kopiaSnapshot": "s"}, "c": {}}"#,
        )
        .unwrap();
        set_options(&mut ctx, &["volume=/data".into(), "x=a=b".into()]).unwrap();
        assert_eq!(
            ctx,
            json!({"ArtifactsIn": {"b": {"KeyValue": {"k": "v"}, "KopiaSnapshot": "s"}, "c": {"KeyValue": {}}},
                   "Options": {"volume": "/data", "x": "a=b"}})
        );
        assert!(set_options(&mut ctx, &["novalue".into()])
            .unwrap_err()
            .to_string()
            .contains("KEY=VALUE"));
    }

    #[test]
    fn a_profile_in_lower_case_reaches_templates_in_kanisters_casing() {
        let mut ctx = json!({});
        set_profile(
            &mut ctx,
            r#"{"location": {"type": "s3Compliant", "bucket": "b"}}"#,
            "--profile",
        )
        .unwrap();
        assert_eq!(ctx["Profile"]["Location"]["bucket"], "b");
        let e = set_profile(
            &mut ctx,
            r#"{"Location": {"type": "s3Compliant"}}"#,
            "--profile",
        )
        .unwrap_err();
        assert_eq!(
            format!("{e:#}"),
            "--profile: profile field Location.bucket is missing: give a value"
        );
    }
}
