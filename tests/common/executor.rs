//! Runs blueprint actions in-process for the executor tests: the blueprint from YAML, the real
//! built-in phase functions (configured by the caller), and every line the executor logged.

use super::{blueprint, capture_sink};
use forgesafe::blueprint::executor::{run_action, BuiltinFunctions, RunOutcome, RunRequest};
use std::sync::Arc;
use std::time::Duration;

/// How a run is set up beyond its blueprint and context.
pub struct RunSetup {
    pub functions: BuiltinFunctions,
    /// The action's time limit; `None` keeps Kasten's default for the action.
    pub timeout: Option<Duration>,
}

impl RunSetup {
    /// Every command runs in this process (`local: true`): no cluster involved.
    pub fn local() -> RunSetup {
        RunSetup {
            functions: BuiltinFunctions::new().local(true),
            timeout: None,
        }
    }

    pub fn with(functions: BuiltinFunctions) -> RunSetup {
        RunSetup {
            functions,
            timeout: None,
        }
    }

    pub fn timeout(mut self, timeout: Duration) -> RunSetup {
        self.timeout = Some(timeout);
        self
    }
}

/// Runs `action` of the blueprint `yaml` against `ctx`; returns its outcome and the log lines
/// (joined by newlines).
pub async fn run_phases(
    yaml: &str,
    action: &str,
    ctx: serde_json::Value,
    setup: RunSetup,
) -> (anyhow::Result<RunOutcome>, String) {
    let mut request = RunRequest::new(blueprint(yaml), action, ctx, Arc::new(setup.functions));
    if let Some(timeout) = setup.timeout {
        request.timeout = timeout;
    }
    let (sink, lines) = capture_sink();
    request.log = sink;
    let result = run_action(request).await;
    let log = lines.lock().unwrap().join("\n");
    (result, log)
}
