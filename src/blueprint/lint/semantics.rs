//! Checks that need the blueprint's meaning: phase functions and their
//! arguments, template syntax, and what templates reference (`.Phases`,
//! `.ArtifactsIn`, the workload object).
//!
//! Works on the raw YAML with recovery: an action whose body is a list is
//! read as its list of phases, so its templates are still checked.

use super::locate::Seg;
use super::schema::Problem;
use super::suggest::hint;
use crate::blueprint::executor::functions::{registry, Registry};
use crate::blueprint::template::{self, FieldRef, TemplateErrorKind};
use serde_yaml::Value;
use std::collections::BTreeMap;

/// A problem inside a template string: located by the string's path plus
/// the template-relative (1-based) line/col.
pub struct TemplateProblem {
    pub path: Vec<Seg>,
    pub is_key: bool,
    pub t_line: usize,
    pub t_col: usize,
    pub message: String,
}

pub enum Found {
    At(Problem),
    InTemplate(TemplateProblem),
}

struct PhaseView<'a> {
    name: Option<&'a str>,
    func: Option<&'a str>,
    body: &'a serde_yaml::Mapping,
    path: Vec<Seg>,
}

struct ActionView<'a> {
    name: &'a str,
    /// The object kind the action declares it is for (`kind:`), if any.
    kind: Option<&'a str>,
    phases: Vec<PhaseView<'a>>,
    defer: Option<PhaseView<'a>>,
    /// (artifact name, path of its body, body)
    outputs: Vec<(&'a str, Vec<Seg>, &'a Value)>,
    declared: Declared,
}

/// The names an action declares it needs from the ActionSet. An empty list
/// means "not declared", and then references are not checked against it.
#[derive(Default)]
struct Declared {
    secrets: Vec<String>,
    config_maps: Vec<String>,
    input_artifacts: Vec<String>,
}

fn names(map: Option<&serde_yaml::Mapping>, key: &str) -> Vec<String> {
    match map.and_then(|m| m.get(key)) {
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

/// Kanister's `param.TemplateParams` fields: the only names `.X` may start with.
const TEMPLATE_PARAMS: &[&str] = &[
    "ArtifactsIn",
    "ArtifactsOut",
    "ConfigMaps",
    "Deployment",
    "DeploymentConfig",
    "Namespace",
    "Object",
    "Options",
    "Phases",
    "PodAnnotations",
    "PodLabels",
    "PodOverride",
    "Profile",
    "PVC",
    "RepositoryServer",
    "Secrets",
    "StatefulSet",
    "Time",
];

/// What one artifact offers to `.ArtifactsIn`.
#[derive(Default)]
struct ArtifactShape {
    keys: Vec<String>,
    kopia_snapshot: bool,
}

/// Which context field holds the object for each object kind.
const WORKLOAD_FIELDS: &[(&str, &[&str])] = &[
    ("Deployment", &["deployment"]),
    ("StatefulSet", &["statefulset"]),
    ("DeploymentConfig", &["deploymentconfig"]),
    ("PVC", &["pvc", "persistentvolumeclaim"]),
    ("Namespace", &["namespace"]),
];

fn seg(k: &str) -> Seg {
    Seg::Key(k.to_string())
}

fn phase_view<'a>(v: &'a Value, path: Vec<Seg>) -> Option<PhaseView<'a>> {
    let Value::Mapping(body) = v else { return None };
    Some(PhaseView {
        name: body.get("name").and_then(Value::as_str),
        func: body.get("func").and_then(Value::as_str),
        body,
        path,
    })
}

fn actions(doc: &Value) -> Vec<ActionView<'_>> {
    let Some(Value::Mapping(actions)) = doc.get("actions") else {
        return Vec::new();
    };
    let mut views = Vec::new();
    for (name, body) in actions {
        let name = name.as_str().unwrap_or_default();
        let path = vec![seg("actions"), seg(name)];
        let (phase_list, phase_path, map) = match body {
            Value::Sequence(list) => (Some(list), path.clone(), None),
            Value::Mapping(m) => match m.get("phases") {
                Some(Value::Sequence(list)) => (
                    Some(list),
                    [path.clone(), vec![seg("phases")]].concat(),
                    Some(m),
                ),
                _ => (None, path.clone(), Some(m)),
            },
            _ => continue,
        };
        let phases = phase_list
            .into_iter()
            .flatten()
            .enumerate()
            .filter_map(|(i, p)| phase_view(p, [phase_path.clone(), vec![Seg::Index(i)]].concat()))
            .collect();
        let defer = map
            .and_then(|m| m.get("deferPhase"))
            .and_then(|d| phase_view(d, [path.clone(), vec![seg("deferPhase")]].concat()));
        let outputs = match map.and_then(|m| m.get("outputArtifacts")) {
            Some(Value::Mapping(arts)) => arts
                .iter()
                .filter_map(|(k, v)| {
                    let k = k.as_str()?;
                    Some((
                        k,
                        [path.clone(), vec![seg("outputArtifacts"), seg(k)]].concat(),
                        v,
                    ))
                })
                .collect(),
            _ => Vec::new(),
        };
        let declared = Declared {
            secrets: names(map, "secretNames"),
            config_maps: names(map, "configMapNames"),
            input_artifacts: names(map, "inputArtifactNames"),
        };
        let kind = map.and_then(|m| m.get("kind")).and_then(Value::as_str);
        views.push(ActionView {
            name,
            kind,
            phases,
            defer,
            outputs,
            declared,
        });
    }
    views
}

/// Every string under `v` (map keys included) with its path.
fn strings<'a>(v: &'a Value, path: Vec<Seg>, out: &mut Vec<(Vec<Seg>, &'a str, bool)>) {
    match v {
        Value::String(s) => out.push((path, s, false)),
        Value::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                strings(item, [path.clone(), vec![Seg::Index(i)]].concat(), out);
            }
        }
        Value::Mapping(m) => {
            for (k, item) in m {
                let Some(k) = k.as_str() else { continue };
                let p = [path.clone(), vec![seg(k)]].concat();
                out.push((p.clone(), k, true));
                strings(item, p, out);
            }
        }
        Value::Tagged(t) => strings(&t.value, path, out),
        _ => {}
    }
}

pub fn check(doc: &Value, object_kind: Option<&str>) -> Vec<Found> {
    let actions = actions(doc);
    let mut artifacts: BTreeMap<&str, ArtifactShape> = BTreeMap::new();
    for action in &actions {
        for (name, _, body) in &action.outputs {
            let shape = artifacts.entry(name).or_default();
            if let Some(Value::Mapping(kv)) = body.get("keyValue") {
                shape
                    .keys
                    .extend(kv.keys().filter_map(|k| k.as_str().map(String::from)));
            }
            shape.kopia_snapshot |= body.get("kopiaSnapshot").is_some();
        }
    }
    let mut c = Checker {
        found: Vec::new(),
        functions: registry(),
        artifacts,
        object_kind,
    };
    for action in &actions {
        c.action(action);
    }
    c.found
}

struct Checker<'a> {
    found: Vec<Found>,
    functions: Registry,
    artifacts: BTreeMap<&'a str, ArtifactShape>,
    object_kind: Option<&'a str>,
}

/// Which phases a template may reference through `.Phases`.
struct PhaseScope<'s> {
    action: &'s str,
    /// The object kind templates will see: the action's own `kind`, else
    /// the kind lint was given.
    object_kind: Option<&'s str>,
    allowed: Vec<&'s str>,
    all: Vec<&'s str>,
    declared: &'s Declared,
}

impl<'a> Checker<'a> {
    fn action(&mut self, action: &ActionView) {
        let all: Vec<&str> = action
            .phases
            .iter()
            .chain(action.defer.iter())
            .filter_map(|p| p.name)
            .collect();
        // `.Phases.<name>` needs phase names to be unique within the action.
        let mut seen = Vec::new();
        for phase in action.phases.iter().chain(action.defer.iter()) {
            if let Some(name) = phase.name {
                if seen.contains(&name) {
                    self.found.push(Found::At(Problem {
                        path: [phase.path.clone(), vec![seg("name")]].concat(),
                        message: format!(
                            "action {:?} has more than one phase named {name:?}",
                            action.name
                        ),
                    }));
                }
                seen.push(name);
            }
        }
        // Each phase may read the outputs of the phases before it; the deferred phase runs
        // after all of them.
        let deferred = action.defer.as_ref().map(|d| (action.phases.len(), d));
        for (earlier, phase) in action.phases.iter().enumerate().chain(deferred) {
            let allowed = action.phases[..earlier]
                .iter()
                .filter_map(|p| p.name)
                .collect();
            self.phase(
                phase,
                &PhaseScope {
                    action: action.name,
                    object_kind: action.kind.or(self.object_kind),
                    allowed,
                    all: all.clone(),
                    declared: &action.declared,
                },
            );
        }
        // Output artifacts are rendered once the action's phases have run.
        let scope = PhaseScope {
            action: action.name,
            object_kind: action.kind.or(self.object_kind),
            allowed: all.clone(),
            all: all.clone(),
            declared: &action.declared,
        };
        for (_, path, body) in &action.outputs {
            let mut found = Vec::new();
            strings(body, path.clone(), &mut found);
            // keyValue keys are plain names; only values are templates.
            for (p, text, is_key) in found {
                if !is_key {
                    self.template(&p, text, false, &scope);
                }
            }
        }
    }

    fn phase(&mut self, phase: &PhaseView, scope: &PhaseScope) {
        if let Some(func) = phase.func {
            match self.functions.find(func) {
                None => self.found.push(Found::At(Problem {
                    path: [phase.path.clone(), vec![seg("func")]].concat(),
                    message: format!(
                        "unknown phase function {func:?}{}",
                        hint(func, self.functions.names())
                    ),
                })),
                Some(f) => {
                    let args = phase.body.get("args").and_then(Value::as_mapping);
                    for required in f.required_args {
                        if !args.is_some_and(|a| a.contains_key(*required)) {
                            self.found.push(Found::At(Problem {
                                path: phase.path.clone(),
                                message: format!(
                                    "phase {:?} ({func}) is missing required arg `{required}`",
                                    phase.name.unwrap_or("?")
                                ),
                            }));
                        }
                    }
                }
            }
        }
        for part in ["args", "objects"] {
            if let Some(v) = phase.body.get(part) {
                let mut found = Vec::new();
                strings(
                    v,
                    [phase.path.clone(), vec![seg(part)]].concat(),
                    &mut found,
                );
                for (p, text, is_key) in found {
                    self.template(&p, text, is_key, scope);
                }
            }
        }
    }

    fn template(&mut self, path: &[Seg], text: &str, is_key: bool, scope: &PhaseScope) {
        let problem = |t_line, t_col, message| {
            Found::InTemplate(TemplateProblem {
                path: path.to_vec(),
                is_key,
                t_line,
                t_col,
                message,
            })
        };
        let ast = match template::parse(text) {
            Ok(ast) => ast,
            Err(e) => {
                let (line, col) = match e.kind {
                    TemplateErrorKind::Syntax { line, col, .. } => (line, col),
                    _ => (1, 1),
                };
                self.found.push(problem(
                    line,
                    col,
                    format!("template syntax error: {}", e.message),
                ));
                return;
            }
        };
        for r in template::field_refs(&ast) {
            if let Some(message) = self.reference(&r, scope) {
                let (line, col) = line_col(text, r.offset);
                self.found.push(problem(line, col, message));
            }
        }
    }

    /// Why a field reference cannot resolve at run time, if it cannot.
    fn reference(&self, r: &FieldRef, scope: &PhaseScope) -> Option<String> {
        let head = r.path.first()?.as_str();
        if !TEMPLATE_PARAMS.contains(&head) {
            return Some(format!(
                ".{head} is not a Kanister template parameter{}",
                hint(head, TEMPLATE_PARAMS.iter().copied())
            ));
        }
        let undeclared = |list: &[String], key: &str| -> Option<String> {
            let name = r.path.get(1)?;
            (!list.is_empty() && !list.contains(name)).then(|| {
                format!(
                    ".{head}.{name}: action {:?} does not list {name:?} in {key}{}",
                    scope.action,
                    hint(name, list.iter().map(String::as_str))
                )
            })
        };
        match head {
            "Secrets" => undeclared(&scope.declared.secrets, "secretNames"),
            "ConfigMaps" => undeclared(&scope.declared.config_maps, "configMapNames"),
            "Phases" => {
                let name = r.path.get(1)?;
                if scope.allowed.contains(&name.as_str()) {
                    None
                } else if scope.all.contains(&name.as_str()) {
                    Some(format!(".Phases.{name} refers to phase {name:?}, which does not run before this point in action {:?}", scope.action))
                } else {
                    Some(format!(
                        ".Phases.{name}: action {:?} has no phase named {name:?}{}",
                        scope.action,
                        hint(name, scope.all.iter().copied())
                    ))
                }
            }
            "ArtifactsIn" => {
                let name = r.path.get(1)?;
                if let Some(message) =
                    undeclared(&scope.declared.input_artifacts, "inputArtifactNames")
                {
                    return Some(message);
                }
                let Some(shape) = self.artifacts.get(name.as_str()) else {
                    return Some(format!(
                        ".ArtifactsIn.{name}: no action of this blueprint outputs artifact {name:?}{}",
                        hint(name, self.artifacts.keys().copied())
                    ));
                };
                match r.path.get(2).map(String::as_str) {
                    None => None,
                    Some("KeyValue") => {
                        let k = r.path.get(3)?;
                        (!shape.keys.contains(k)).then(|| {
                            format!(
                                ".ArtifactsIn.{name}.KeyValue.{k}: artifact {name:?} has no keyValue key {k:?}{}",
                                hint(k, shape.keys.iter().map(String::as_str))
                            )
                        })
                    }
                    Some("KopiaSnapshot") => (!shape.kopia_snapshot)
                        .then(|| format!(".ArtifactsIn.{name}.KopiaSnapshot: artifact {name:?} has no kopiaSnapshot")),
                    Some(other) => Some(format!(
                        ".ArtifactsIn.{name}.{other}: an artifact has only KeyValue and KopiaSnapshot{}",
                        hint(other, ["KeyValue", "KopiaSnapshot"])
                    )),
                }
            }
            _ => workload(head, scope.object_kind),
        }
    }
}

/// `.Deployment` in a blueprint run against a StatefulSet (and so on).
fn workload(field: &str, object_kind: Option<&str>) -> Option<String> {
    let kind = object_kind?.to_ascii_lowercase();
    let (_, kinds) = WORKLOAD_FIELDS.iter().find(|(f, _)| *f == field)?;
    if kinds.contains(&kind.as_str()) {
        return None;
    }
    let right = WORKLOAD_FIELDS
        .iter()
        .find(|(_, ks)| ks.contains(&kind.as_str()))
        .map_or(String::new(), |(f, _)| format!(" (use .{f})"));
    Some(format!(
        ".{field} is not set when the blueprint runs against a {}{right}",
        object_kind?
    ))
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}
