//! The seam between the action runner and the phase functions: one rendered phase in, its
//! outputs out. A trait object, so tests (and a dry run) can put anything behind it.

use super::log_sink::LogSink;
use futures::future::BoxFuture;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A phase's outputs (`.Phases.<name>.Output.<key>`).
pub type Outputs = BTreeMap<String, Value>;

/// One phase, rendered, ready to run.
pub struct PhaseCall<'a> {
    pub action: &'a str,
    pub phase: &'a str,
    pub func: &'a str,
    pub args: &'a Map<String, Value>,
    pub objects: &'a Map<String, Value>,
    /// The raw template context as it stands (functions such as ScaleWorkload read the bound
    /// object from it).
    pub context: &'a Value,
    pub log: &'a LogSink,
}

pub trait PhaseFunctions: Send + Sync {
    fn run<'a>(&'a self, call: PhaseCall<'a>) -> BoxFuture<'a, anyhow::Result<Outputs>>;
}
