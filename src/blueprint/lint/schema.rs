//! Structural checks: the keys and value kinds a Blueprint may have.
//! Works on the raw YAML tree so one mistake does not hide the others.

use super::locate::Seg;
use super::suggest::hint;
use crate::blueprint::model::{API_VERSION, KIND};
use serde_yaml::Value;

/// A problem at a YAML path (located in the source later).
pub struct Problem {
    pub path: Vec<Seg>,
    pub message: String,
}

const TOP_KEYS: &[&str] = &["apiVersion", "kind", "metadata", "actions"];
const ACTION_KEYS: &[&str] = &[
    "name",
    "kind",
    "configMapNames",
    "secretNames",
    "inputArtifactNames",
    "outputArtifacts",
    "phases",
    "deferPhase",
];
const PHASE_KEYS: &[&str] = &["func", "name", "objects", "args"];
const ARTIFACT_KEYS: &[&str] = &["keyValue", "kopiaSnapshot"];
const OBJECT_KEYS: &[&str] = &[
    "kind",
    "name",
    "namespace",
    "apiVersion",
    "group",
    "resource",
];

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

fn with(path: &[Seg], seg: Seg) -> Vec<Seg> {
    let mut p = path.to_vec();
    p.push(seg);
    p
}

fn key(k: &str) -> Seg {
    Seg::Key(k.to_string())
}

pub fn check(doc: &Value) -> Vec<Problem> {
    let mut c = Checker {
        problems: Vec::new(),
    };
    c.blueprint(doc);
    c.problems
}

struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    fn report(&mut self, path: Vec<Seg>, message: String) {
        self.problems.push(Problem { path, message });
    }

    /// Reports keys of `map` not in `allowed`; returns the mapping if `v` is one.
    fn keys<'v>(
        &mut self,
        v: &'v Value,
        path: &[Seg],
        what: &str,
        allowed: &[&str],
    ) -> Option<&'v serde_yaml::Mapping> {
        let Value::Mapping(map) = v else {
            self.report(
                path.to_vec(),
                format!("{what} must be a mapping, but is {}", kind_of(v)),
            );
            return None;
        };
        for k in map.keys() {
            let name = k.as_str().unwrap_or_default();
            if !allowed.contains(&name) {
                self.report(
                    with(path, key(name)),
                    format!(
                        "unknown key `{name}` in {what}{}",
                        hint(name, allowed.iter().copied())
                    ),
                );
            }
        }
        Some(map)
    }

    fn string(
        &mut self,
        map: &serde_yaml::Mapping,
        path: &[Seg],
        name: &str,
        what: &str,
        required: bool,
    ) {
        match map.get(name) {
            None if required => self.report(path.to_vec(), format!("{what} has no `{name}`")),
            None | Some(Value::String(_)) => {}
            Some(other) => self.report(
                with(path, key(name)),
                format!(
                    "`{name}` of {what} must be a string, but is {}",
                    kind_of(other)
                ),
            ),
        }
    }

    fn blueprint(&mut self, doc: &Value) {
        let Some(map) = self.keys(doc, &[], "the blueprint", TOP_KEYS) else {
            return;
        };
        self.string(map, &[], "apiVersion", "the blueprint", true);
        self.string(map, &[], "kind", "the blueprint", true);
        if let Some(Value::String(v)) = map.get("apiVersion") {
            if v != API_VERSION {
                self.report(
                    vec![key("apiVersion")],
                    format!("apiVersion is {v:?}, expected {API_VERSION:?}"),
                );
            }
        }
        if let Some(Value::String(k)) = map.get("kind") {
            if k != KIND {
                self.report(
                    vec![key("kind")],
                    format!("kind is {k:?}, expected {KIND:?}"),
                );
            }
        }
        match map.get("actions") {
            None => self.report(vec![], "the blueprint has no `actions`".into()),
            Some(Value::Mapping(actions)) => {
                for (name, action) in actions {
                    let name = name.as_str().unwrap_or_default();
                    self.action(name, action, &[key("actions"), key(name)]);
                }
            }
            Some(other) => self.report(
                vec![key("actions")],
                format!(
                    "`actions` must be a mapping of action names, but is {}",
                    kind_of(other)
                ),
            ),
        }
    }

    fn action(&mut self, name: &str, v: &Value, path: &[Seg]) {
        let what = format!("action {name:?}");
        if let Value::Sequence(_) = v {
            self.report(
                path.to_vec(),
                format!("{what} has no `phases`: its body is a list; put the list under a `phases:` key"),
            );
            return;
        }
        let Some(map) = self.keys(v, path, &what, ACTION_KEYS) else {
            return;
        };
        self.string(map, path, "name", &what, false);
        self.string(map, path, "kind", &what, false);
        for list in ["configMapNames", "secretNames", "inputArtifactNames"] {
            if let Some(v) = map.get(list) {
                if !matches!(v, Value::Sequence(items) if items.iter().all(Value::is_string)) {
                    self.report(
                        with(path, key(list)),
                        format!("`{list}` of {what} must be a list of strings"),
                    );
                }
            }
        }
        match map.get("phases") {
            None => self.report(path.to_vec(), format!("{what} has no `phases`")),
            Some(Value::Sequence(phases)) => {
                for (i, phase) in phases.iter().enumerate() {
                    self.phase(
                        phase,
                        &with(&with(path, key("phases")), Seg::Index(i)),
                        &format!("phase {} of {what}", i + 1),
                    );
                }
            }
            Some(other) => self.report(
                with(path, key("phases")),
                format!(
                    "`phases` of {what} must be a list, but is {}",
                    kind_of(other)
                ),
            ),
        }
        if let Some(defer) = map.get("deferPhase") {
            self.phase(
                defer,
                &with(path, key("deferPhase")),
                &format!("deferPhase of {what}"),
            );
        }
        if let Some(outputs) = map.get("outputArtifacts") {
            let out_path = with(path, key("outputArtifacts"));
            match outputs {
                Value::Mapping(m) => {
                    for (art, body) in m {
                        let art = art.as_str().unwrap_or_default();
                        let art_path = with(&out_path, key(art));
                        let art_what = format!("output artifact {art:?}");
                        if let Some(am) = self.keys(body, &art_path, &art_what, ARTIFACT_KEYS) {
                            self.string(am, &art_path, "kopiaSnapshot", &art_what, false);
                            if let Some(kv) = am.get("keyValue") {
                                if !matches!(kv, Value::Mapping(m) if m.values().all(Value::is_string))
                                {
                                    self.report(
                                        with(&art_path, key("keyValue")),
                                        format!(
                                            "`keyValue` of {art_what} must map keys to strings"
                                        ),
                                    );
                                }
                            }
                        }
                    }
                }
                other => self.report(
                    out_path,
                    format!(
                        "`outputArtifacts` of {what} must be a mapping, but is {}",
                        kind_of(other)
                    ),
                ),
            }
        }
    }

    fn phase(&mut self, v: &Value, path: &[Seg], what: &str) {
        let Some(map) = self.keys(v, path, what, PHASE_KEYS) else {
            return;
        };
        self.string(map, path, "func", what, true);
        self.string(map, path, "name", what, true);
        if let Some(args) = map.get("args") {
            if !matches!(args, Value::Mapping(_)) {
                self.report(
                    with(path, key("args")),
                    format!(
                        "`args` of {what} must be a mapping, but is {}",
                        kind_of(args)
                    ),
                );
            }
        }
        if let Some(objects) = map.get("objects") {
            match objects {
                Value::Mapping(m) => {
                    for (name, obj) in m {
                        let name = name.as_str().unwrap_or_default();
                        let obj_path = with(&with(path, key("objects")), key(name));
                        let obj_what = format!("object {name:?} of {what}");
                        if let Some(om) = self.keys(obj, &obj_path, &obj_what, OBJECT_KEYS) {
                            for k in OBJECT_KEYS {
                                self.string(om, &obj_path, k, &obj_what, false);
                            }
                        }
                    }
                }
                other => self.report(
                    with(path, key("objects")),
                    format!(
                        "`objects` of {what} must be a mapping, but is {}",
                        kind_of(other)
                    ),
                ),
            }
        }
    }
}
