//! Renders an action's `outputArtifacts` into Kanister's artifact JSON once all phases (and the
//! deferPhase) have succeeded, so their templates can read every phase's outputs.

use crate::blueprint::model::Action;
use crate::blueprint::template::render;
use anyhow::{Context as _, Result};
use serde_json::{Map, Value};

/// `{name: {"keyValue": {...}, "kopiaSnapshot": "..."}}`; empty parts are left out as Kanister's
/// `omitempty` does. `ctx` must already be prepared (`prepare_context`).
pub fn render_artifacts(action_name: &str, action: &Action, ctx: &Value) -> Result<Value> {
    let mut out = Map::new();
    for (name, artifact) in &action.output_artifacts {
        let where_ =
            |what: &str| format!("action {action_name:?}, output artifact {name:?}, {what}");
        let mut rendered = Map::new();
        if !artifact.key_value.is_empty() {
            let mut kv = Map::new();
            for (key, template) in &artifact.key_value {
                let value =
                    render(template, ctx).with_context(|| where_(&format!("keyValue {key:?}")))?;
                kv.insert(key.clone(), Value::String(value));
            }
            rendered.insert("keyValue".into(), Value::Object(kv));
        }
        if let Some(template) = &artifact.kopia_snapshot {
            let value = render(template, ctx).with_context(|| where_("kopiaSnapshot"))?;
            rendered.insert("kopiaSnapshot".into(), Value::String(value));
        }
        out.insert(name.clone(), Value::Object(rendered));
    }
    Ok(Value::Object(out))
}
