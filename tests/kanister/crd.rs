//! Kanister's custom resources as its CRDs and controller define them, for checking manifests
//! offline (kubernetes-validate has no schema for these kinds and only warns).
//!
//! Field names and types are those of kanisterio/kanister `pkg/customresource/blueprint.yaml`,
//! `profile.yaml` and `actionset.yaml` (v1alpha1). Those schemas are structural: the API server
//! silently *prunes* any field they do not declare (e.g. `spec.actions` in a Blueprint, where
//! `actions` belongs at the top), so an unknown field is an error here. What must be set follows
//! what the controller reads: `pkg/validate/validate.go` (ProfileSchema, actionSpec) and the
//! phase runner (a phase needs `func`).

use serde_json::Value;

enum Shape {
    Str,
    Bool,
    /// Anything (`x-kubernetes-preserve-unknown-fields`, or metadata).
    Any,
    Obj(Vec<(&'static str, Shape)>),
    Map(Box<Shape>),
    List(Box<Shape>),
}

fn obj(fields: Vec<(&'static str, Shape)>) -> Shape {
    Shape::Obj(fields)
}

fn object_reference() -> Shape {
    obj(vec![
        ("apiVersion", Shape::Str),
        ("group", Shape::Str),
        ("kind", Shape::Str),
        ("name", Shape::Str),
        ("namespace", Shape::Str),
        ("resource", Shape::Str),
    ])
}

fn artifact() -> Shape {
    obj(vec![
        ("keyValue", Shape::Map(Box::new(Shape::Str))),
        ("kopiaSnapshot", Shape::Str),
    ])
}

fn phase() -> Shape {
    obj(vec![
        ("func", Shape::Str),
        ("name", Shape::Str),
        ("objects", Shape::Map(Box::new(object_reference()))),
        ("args", Shape::Any),
    ])
}

fn top(rest: Vec<(&'static str, Shape)>) -> Shape {
    let mut fields = vec![
        ("apiVersion", Shape::Str),
        ("kind", Shape::Str),
        ("metadata", Shape::Any),
    ];
    fields.extend(rest);
    obj(fields)
}

fn blueprint() -> Shape {
    let action = obj(vec![
        ("name", Shape::Str),
        ("kind", Shape::Str),
        ("configMapNames", Shape::List(Box::new(Shape::Str))),
        ("secretNames", Shape::List(Box::new(Shape::Str))),
        ("inputArtifactNames", Shape::List(Box::new(Shape::Str))),
        ("outputArtifacts", Shape::Map(Box::new(artifact()))),
        ("phases", Shape::List(Box::new(phase()))),
        ("deferPhase", phase()),
    ]);
    top(vec![("actions", Shape::Map(Box::new(action)))])
}

fn profile() -> Shape {
    top(vec![
        (
            "location",
            obj(vec![
                ("type", Shape::Str),
                ("bucket", Shape::Str),
                ("endpoint", Shape::Str),
                ("prefix", Shape::Str),
                ("region", Shape::Str),
            ]),
        ),
        (
            "credential",
            obj(vec![
                ("type", Shape::Str),
                (
                    "keyPair",
                    obj(vec![
                        ("idField", Shape::Str),
                        ("secretField", Shape::Str),
                        ("secret", object_reference()),
                    ]),
                ),
                ("secret", object_reference()),
                ("kopiaServerSecret", Shape::Any),
            ]),
        ),
        ("skipSSLVerify", Shape::Bool),
    ])
}

fn action_set() -> Shape {
    let action = obj(vec![
        ("name", Shape::Str),
        ("object", object_reference()),
        ("blueprint", Shape::Str),
        ("artifacts", Shape::Map(Box::new(artifact()))),
        ("configMaps", Shape::Map(Box::new(object_reference()))),
        ("secrets", Shape::Map(Box::new(object_reference()))),
        ("profile", object_reference()),
        ("podOverride", Shape::Any),
        ("options", Shape::Map(Box::new(Shape::Str))),
        ("preferredVersion", Shape::Str),
        ("podLabels", Shape::Map(Box::new(Shape::Str))),
        ("podAnnotations", Shape::Map(Box::new(Shape::Str))),
    ]);
    top(vec![
        (
            "spec",
            obj(vec![("actions", Shape::List(Box::new(action)))]),
        ),
        ("status", Shape::Any),
    ])
}

fn check_shape(value: &Value, shape: &Shape, path: &str, problems: &mut Vec<String>) {
    match (shape, value) {
        (Shape::Any, _) | (Shape::Str, Value::String(_)) | (Shape::Bool, Value::Bool(_)) => {}
        (Shape::Obj(fields), Value::Object(map)) => {
            for (key, child) in map {
                match fields.iter().find(|(name, _)| name == key) {
                    Some((_, shape)) => {
                        check_shape(child, shape, &format!("{path}.{key}"), problems)
                    }
                    None => problems.push(format!(
                        "{path}.{key}: not a field of the CRD (the API server would drop it)"
                    )),
                }
            }
        }
        (Shape::Map(inner), Value::Object(map)) => {
            for (key, child) in map {
                check_shape(child, inner, &format!("{path}.{key}"), problems);
            }
        }
        (Shape::List(inner), Value::Array(items)) => {
            for (i, child) in items.iter().enumerate() {
                check_shape(child, inner, &format!("{path}[{i}]"), problems);
            }
        }
        (_, other) => problems.push(format!("{path}: wrong type ({other})")),
    }
}

fn non_empty(value: &Value, pointer: &str) -> bool {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty())
}

/// Every problem of one Kanister object (empty: it is what Kanister accepts and acts on).
pub fn problems(object: &Value) -> Vec<String> {
    let kind = object["kind"].as_str().unwrap_or("");
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut problems = Vec::new();
    if object["apiVersion"] != "cr.kanister.io/v1alpha1" {
        problems.push(format!(
            "apiVersion must be cr.kanister.io/v1alpha1, is {}",
            object["apiVersion"]
        ));
    }
    if name.is_empty() && !non_empty(object, "/metadata/generateName") {
        problems.push("metadata.name (or generateName) is missing".into());
    }
    let shape = match kind {
        "Blueprint" => blueprint(),
        "Profile" => profile(),
        "ActionSet" => action_set(),
        other => return vec![format!("{other} is not a Kanister kind")],
    };
    check_shape(object, &shape, kind, &mut problems);
    match kind {
        "Blueprint" => {
            let actions = object["actions"].as_object();
            if actions.is_none_or(|a| a.is_empty()) {
                problems.push("Blueprint.actions: no actions".into());
            }
            for (action, body) in actions.into_iter().flatten() {
                let phases = body["phases"].as_array();
                if phases.is_none_or(|p| p.is_empty()) {
                    problems.push(format!("Blueprint.actions.{action}: no phases"));
                }
                for (i, phase) in phases.into_iter().flatten().enumerate() {
                    if !non_empty(phase, "/func") || !non_empty(phase, "/name") {
                        problems.push(format!(
                            "Blueprint.actions.{action}.phases[{i}]: func and name are required"
                        ));
                    }
                }
            }
        }
        "Profile" => {
            // validate.ProfileSchema
            for pointer in ["/location/type", "/location/bucket", "/credential/type"] {
                if !non_empty(object, pointer) {
                    problems.push(format!("Profile{}: required", pointer.replace('/', ".")));
                }
            }
            if !non_empty(object, "/location/endpoint") && !non_empty(object, "/location/region") {
                problems.push("Profile.location: endpoint or region is required".into());
            }
            if object.pointer("/credential/type").and_then(Value::as_str) == Some("keyPair") {
                for pointer in [
                    "/credential/keyPair/idField",
                    "/credential/keyPair/secretField",
                    "/credential/keyPair/secret/name",
                    "/credential/keyPair/secret/namespace",
                ] {
                    if !non_empty(object, pointer) {
                        problems.push(format!(
                            "Profile{}: required for a keyPair credential",
                            pointer.replace('/', ".")
                        ));
                    }
                }
            }
        }
        _ => {
            let actions = object.pointer("/spec/actions").and_then(Value::as_array);
            if actions.is_none_or(|a| a.is_empty()) {
                problems.push("ActionSet.spec.actions: no actions".into());
            }
            for (i, action) in actions.into_iter().flatten().enumerate() {
                for pointer in [
                    "/name",
                    "/blueprint",
                    "/object/kind",
                    "/object/name",
                    "/object/namespace",
                ] {
                    if !non_empty(action, pointer) {
                        problems.push(format!(
                            "ActionSet.spec.actions[{i}]{}: required",
                            pointer.replace('/', ".")
                        ));
                    }
                }
                // validate.actionSpec: other kinds need apiVersion and resource.
                let kind = action
                    .pointer("/object/kind")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_lowercase();
                let known = [
                    "statefulset",
                    "deployment",
                    "persistentvolumeclaim",
                    "namespace",
                ]
                .contains(&kind.as_str());
                if !known
                    && !(non_empty(action, "/object/apiVersion")
                        && non_empty(action, "/object/resource"))
                {
                    problems.push(format!("ActionSet.spec.actions[{i}].object: kind {kind} needs apiVersion and resource"));
                }
            }
        }
    }
    problems
}
