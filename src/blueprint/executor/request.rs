//! What a caller gives `run_action` and what it gets back.

use super::log_sink::{stderr_sink, LogSink};
use super::phase_call::{Outputs, PhaseFunctions};
use super::timeouts::default_timeout;
use crate::blueprint::model::Blueprint;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

pub struct RunRequest {
    pub blueprint: Blueprint,
    pub action: String,
    /// Kanister's template parameters by Go name (`Deployment`, `Object`, `ArtifactsIn`,
    /// `Profile`, `Options`, `Secrets`, `ConfigMaps`, `Time`, …). `Phases` and `CurrentPhase`
    /// are filled in while the action runs.
    pub context: Value,
    /// Runs the phase functions; `BuiltinFunctions` in production, anything in tests.
    pub functions: Arc<dyn PhaseFunctions>,
    /// For the main phases together; the deferPhase gets the same budget again, because it
    /// must still run (to scale a workload back up, say) when the phases used up theirs.
    pub timeout: Duration,
    pub log: LogSink,
}

impl RunRequest {
    /// A request with Kasten's default timeout for `action` and logs on stderr.
    pub fn new(
        blueprint: Blueprint,
        action: impl Into<String>,
        context: Value,
        functions: Arc<dyn PhaseFunctions>,
    ) -> Self {
        let action = action.into();
        RunRequest {
            timeout: default_timeout(&action),
            blueprint,
            action,
            context,
            functions,
            log: stderr_sink(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PhaseOutcome {
    pub name: String,
    pub func: String,
    pub output: Outputs,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RunOutcome {
    /// Main phases in the order they ran, then the deferPhase if there is one.
    pub phases: Vec<PhaseOutcome>,
    /// `{name: {"keyValue": {...}, "kopiaSnapshot": "..."}}`, Kanister's artifact JSON.
    pub artifacts: Value,
}
