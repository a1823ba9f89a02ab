//! Renders an action's phases the way Kanister does before running them:
//! every string in `objects` and `args` is a template rendered on its own;
//! map keys are rendered too; lists and maps are walked recursively;
//! numbers, bools and null pass through (Kanister `param.render`).

use super::model::{Action, Blueprint, ObjectReference, Phase};
use super::template::{prepare_context, render};
use anyhow::{anyhow, Context as _, Result};
use serde_json::{json, Map, Value};

/// JSON of the action: `{"action", "phases": [...], "deferPhase"?, "outputArtifacts"}`
/// with every template rendered against `ctx`. Output artifacts use `.Phases`
/// from `ctx`, so render them once the phases' outputs are in the context.
pub fn render_action(bp: &Blueprint, action: &str, ctx: &Value) -> Result<Value> {
    let a: &Action = bp.actions.get(action).ok_or_else(|| {
        let known: Vec<&str> = bp.actions.keys().map(String::as_str).collect();
        anyhow!(
            "blueprint {:?} has no action {action:?} (actions: {})",
            bp.metadata.name,
            known.join(", ")
        )
    })?;
    let ctx = prepare_context(ctx.clone());
    let phases = a
        .phases
        .iter()
        .map(|p| render_phase(action, p, &ctx))
        .collect::<Result<Vec<_>>>()?;
    let mut out = json!({ "action": action, "phases": phases });
    if let Some(defer) = &a.defer_phase {
        out["deferPhase"] = render_phase(action, defer, &ctx)?;
    }
    // Output artifacts read the phases' outputs: render them only when the context holds some
    // (a dry render of an action before it ran has none to give).
    let has_phase_outputs = ctx
        .get("Phases")
        .and_then(Value::as_object)
        .is_some_and(|p| !p.is_empty());
    if has_phase_outputs || a.output_artifacts.is_empty() {
        out["outputArtifacts"] = render_output_artifacts(action, a, &ctx)?;
    }
    Ok(out)
}

/// One phase with its `objects` and `args` rendered.
pub fn render_phase(action: &str, phase: &Phase, ctx: &Value) -> Result<Value> {
    let where_ = |what: &str| format!("action {action:?}, phase {:?}, {what}", phase.name);
    let mut objects = Map::new();
    for (name, obj) in &phase.objects {
        objects.insert(
            name.clone(),
            render_object(obj, ctx).with_context(|| where_(&format!("object {name:?}")))?,
        );
    }
    let mut args = Map::new();
    for (name, value) in &phase.args {
        let rendered_name =
            render(name, ctx).with_context(|| where_(&format!("arg name {name:?}")))?;
        let rendered =
            render_value(value, ctx, name).with_context(|| where_(&format!("arg {name:?}")))?;
        args.insert(rendered_name, rendered);
    }
    Ok(json!({ "func": phase.func, "name": phase.name, "objects": objects, "args": args }))
}

fn render_object(obj: &ObjectReference, ctx: &Value) -> Result<Value> {
    let value = serde_json::to_value(obj)?;
    render_value(&value, ctx, "")
}

/// Renders strings (and map keys) anywhere inside `v`. `path` names the
/// element for errors, e.g. `command[6]`.
fn render_value(v: &Value, ctx: &Value, path: &str) -> Result<Value> {
    Ok(match v {
        Value::String(s) => Value::String(render(s, ctx).with_context(|| path_label(path))?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| render_value(item, ctx, &format!("{path}[{i}]")))
                .collect::<Result<_>>()?,
        ),
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, item) in m {
                let key =
                    render(k, ctx).with_context(|| path_label(&format!("{path}.{k} (key)")))?;
                out.insert(key, render_value(item, ctx, &format!("{path}.{k}"))?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

fn path_label(path: &str) -> String {
    if path.is_empty() {
        "value".to_string()
    } else {
        format!("at {path}")
    }
}

/// `{name: {"keyValue": {...}, "kopiaSnapshot": "..."}}`, Kanister's artifact JSON; empty parts
/// are left out as Kanister's `omitempty` does. `ctx` must already be prepared (`prepare_context`).
pub fn render_output_artifacts(action: &str, a: &Action, ctx: &Value) -> Result<Value> {
    let mut out = Map::new();
    for (name, art) in &a.output_artifacts {
        let where_ = |what: &str| format!("action {action:?}, output artifact {name:?}, {what}");
        let mut rendered = Map::new();
        if !art.key_value.is_empty() {
            let mut kv = Map::new();
            for (k, t) in &art.key_value {
                kv.insert(
                    k.clone(),
                    Value::String(
                        render(t, ctx).with_context(|| where_(&format!("keyValue {k:?}")))?,
                    ),
                );
            }
            rendered.insert("keyValue".into(), Value::Object(kv));
        }
        if let Some(t) = &art.kopia_snapshot {
            rendered.insert(
                "kopiaSnapshot".into(),
                Value::String(render(t, ctx).with_context(|| where_("kopiaSnapshot"))?),
            );
        }
        out.insert(name.clone(), Value::Object(rendered));
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed blueprint with its `restore` list moved under `phases:`.
    fn fixed_seed() -> Blueprint {
        let seed = include_str!("testdata/gickup-blueprint.yaml");
        let fixed = seed.replace(
            "  restore:\n    - func",
            "  restore:\n    phases:\n    - func",
        );
        Blueprint::from_yaml(&fixed).unwrap()
    }

    fn ctx() -> Value {
        json!({
            "Deployment": {"Namespace": "gickup", "Pods": ["gickup-0"]},
            "Phases": {"backupToStore": {"Output": {"kopiaOutput": "k1"}}},
            "ArtifactsIn": {"ghBackup": {"KopiaSnapshot": "k1"}},
            "Profile": {"Location": {"type": "s3Compliant", "bucket": "b", "endpoint": "e", "prefix": "p", "region": "r"},
                "Credential": {"Type": "keyPair", "KeyPair": {"ID": "AK", "Secret": "SK"}, "Secret": null, "KopiaServerSecret": null},
                "SkipSSLVerify": false}
        })
    }

    #[test]
    fn renders_backup_action() {
        let out = render_action(&fixed_seed(), "backup", &ctx()).unwrap();
        let phase = &out["phases"][0];
        assert_eq!(phase["func"], "KubeExec");
        assert_eq!(phase["args"]["namespace"], "gickup");
        assert_eq!(phase["args"]["pod"], "gickup-0");
        assert_eq!(phase["args"]["command"][0], "bash");
        let script = phase["args"]["command"][6].as_str().unwrap();
        assert!(script.contains("--path \"b/gickup-backups\""), "{script}");
        assert!(
            script.contains(r#"--profile '{"Location":{"type":"s3Compliant","bucket":"b","#),
            "{script}"
        );
        assert_eq!(out["outputArtifacts"]["ghBackup"]["kopiaSnapshot"], "k1");
    }

    #[test]
    fn renders_keys_objects_and_passes_non_strings() {
        let bp = Blueprint::from_yaml(
            "apiVersion: cr.kanister.io/v1alpha1\nkind: Blueprint\nactions:\n  a:\n    phases:\n    - func: ScaleWorkload\n      name: s\n      objects:\n        o: {kind: Deployment, name: \"{{ .Deployment.Name }}\"}\n      args:\n        replicas: 0\n        flag: true\n        \"{{ .Deployment.Name }}-key\": [\"{{ .Deployment.Namespace }}\", 3]\n",
        )
        .unwrap();
        let out = render_action(
            &bp,
            "a",
            &json!({"Deployment": {"Name": "web", "Namespace": "ns"}}),
        )
        .unwrap();
        let phase = &out["phases"][0];
        assert_eq!(
            phase["objects"]["o"],
            json!({"kind": "Deployment", "name": "web"})
        );
        assert_eq!(
            phase["args"],
            json!({"replicas": 0, "flag": true, "web-key": ["ns", 3]})
        );
    }

    #[test]
    fn errors_name_action_phase_arg_and_template() {
        let mut bp = fixed_seed();
        // Make restore refer to a missing artifact, as the seed's typo does.
        let err = render_action(&bp, "restore", &json!({"Deployment": {"Namespace": "n", "Pods": ["p"]}, "ArtifactsIn": {}, "Profile": {}}))
            .unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("action \"restore\", phase \"restoreFromStore\", arg \"command\""),
            "{text}"
        );
        assert!(text.contains("at command[6]"), "{text}");
        assert!(
            text.contains("map has no entry for key \"esBackup\""),
            "{text}"
        );
        assert!(
            text.contains("kopia_snap='{{ .ArtifactsIn.esBackup.KopiaSnapshot }}'"),
            "{text}"
        );
        bp.actions.clear();
        assert!(render_action(&bp, "backup", &ctx())
            .unwrap_err()
            .to_string()
            .contains("has no action \"backup\""));
    }
}
