//! Serde types for a Kanister Blueprint (`cr.kanister.io/v1alpha1`,
//! `kind: Blueprint`). Unknown keys are rejected so typos surface; `args`
//! stay free-form JSON values because each phase function defines its own.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const API_VERSION: &str = "cr.kanister.io/v1alpha1";
pub const KIND: &str = "Blueprint";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Blueprint {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub actions: BTreeMap<String, Action>,
}

/// Kubernetes object metadata; only the name matters to forgesafe, the rest
/// is kept as given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub name: String,
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Action {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The object kind the action applies to (e.g. Deployment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config_map_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub input_artifact_names: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub output_artifacts: BTreeMap<String, OutputArtifact>,
    /// Required: an action without phases is almost certainly a mistake
    /// (such as a list written where the action's mapping belongs).
    pub phases: Vec<Phase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defer_phase: Option<Phase>,
}

/// An artifact an action produces; its values are templates over `.Phases`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutputArtifact {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub key_value: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kopia_snapshot: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    pub func: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub objects: BTreeMap<String, ObjectReference>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, serde_json::Value>,
}

/// A Kubernetes object a phase needs; every field may be a template.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectReference {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl Blueprint {
    pub fn from_yaml(text: &str) -> anyhow::Result<Blueprint> {
        Ok(serde_yaml::from_str(text)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_complete_blueprint() {
        let bp = Blueprint::from_yaml(
            r#"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata: {name: bp, namespace: kanister}
actions:
  backup:
    kind: Deployment
    secretNames: [s]
    outputArtifacts:
      out: {keyValue: {path: "{{ .Phases.p.Output.path }}"}, kopiaSnapshot: snap}
    phases:
    - func: KubeTask
      name: p
      objects:
        cm: {kind: ConfigMap, name: c, namespace: ns}
      args: {image: busybox, command: [sh, -c, "echo"], replicas: 2}
    deferPhase: {func: ScaleWorkload, name: up, args: {replicas: 1}}
"#,
        )
        .unwrap();
        let action = &bp.actions["backup"];
        assert_eq!(bp.metadata.name, "bp");
        assert_eq!(action.phases[0].args["replicas"], serde_json::json!(2));
        assert_eq!(
            action.phases[0].objects["cm"].kind.as_deref(),
            Some("ConfigMap")
        );
        assert_eq!(
            action.output_artifacts["out"].kopia_snapshot.as_deref(),
            Some("snap")
        );
        assert_eq!(action.defer_phase.as_ref().unwrap().name, "up");
    }

    #[test]
    fn rejects_unknown_keys_and_missing_phases() {
        let typo =
            "apiVersion: v\nkind: Blueprint\nactions:\n  a:\n    phases: []\n    phaseses: []\n";
        assert!(Blueprint::from_yaml(typo)
            .unwrap_err()
            .to_string()
            .contains("unknown field `phaseses`"));
        let missing = "apiVersion: v\nkind: Blueprint\nactions:\n  a:\n    kind: Deployment\n";
        assert!(Blueprint::from_yaml(missing)
            .unwrap_err()
            .to_string()
            .contains("missing field `phases`"));
    }
}
