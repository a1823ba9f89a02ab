//! `lint`: finds mistakes in a Blueprint before it runs, each reported as
//! `file:line:col: message`.
//!
//! Passes: YAML syntax (serde_yaml's own positions) → structure (`schema`)
//! → meaning (`semantics`); then, if those found nothing, a final
//! deserialisation into the model as a safety net. Positions of values come
//! from `locate` (text search along the YAML path, since serde_yaml 0.9 has
//! no value positions).

mod locate;
mod schema;
mod semantics;
mod suggest;

use locate::SourceMap;
use semantics::Found;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.col, self.message
        )
    }
}

/// Lints blueprint YAML. `object_kind` (e.g. "Deployment") is the kind of
/// object the blueprint will run against, when known.
pub fn lint(path_for_messages: &str, yaml_text: &str, object_kind: Option<&str>) -> Vec<Finding> {
    let finding = |line: usize, col: usize, message: String| Finding {
        file: path_for_messages.to_string(),
        line,
        col,
        message,
    };
    let doc: serde_yaml::Value = match serde_yaml::from_str(yaml_text) {
        Ok(doc) => doc,
        Err(e) => {
            let (line, col) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            return vec![finding(line, col, format!("YAML error: {e}"))];
        }
    };
    let map = SourceMap::new(yaml_text);
    let mut findings: Vec<Finding> = schema::check(&doc)
        .into_iter()
        .map(|p| {
            let pos = map.locate(&p.path);
            finding(pos.line, pos.col, p.message)
        })
        .collect();
    for found in semantics::check(&doc, object_kind) {
        findings.push(match found {
            Found::At(p) => {
                let pos = map.locate(&p.path);
                finding(pos.line, pos.col, p.message)
            }
            Found::InTemplate(t) => {
                let pos = map.locate(&t.path);
                let (line, col) = if t.is_key {
                    map.inside_key(pos, t.t_col)
                } else {
                    map.inside_scalar(pos, t.t_line, t.t_col)
                };
                finding(line, col, t.message)
            }
        });
    }
    if findings.is_empty() {
        if let Err(e) = serde_yaml::from_str::<super::model::Blueprint>(yaml_text) {
            let (line, col) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            findings.push(finding(line, col, format!("invalid blueprint: {e}")));
        }
    }
    findings.sort();
    findings.dedup();
    findings
}

#[cfg(test)]
mod tests;
