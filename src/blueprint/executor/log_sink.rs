//! Where the executor's human-readable lines go (rendered commands, streamed command output).
//! Every line passes through `secret::redact` here, in one place, so no caller can forget it.

use crate::secret;
use std::sync::Arc;

/// Receives finished, already redacted lines.
pub type LogSink = Arc<dyn Fn(&str) + Send + Sync>;

/// The default sink: our stderr (stdout of `forgesafe` stays free for phase outputs).
pub fn stderr_sink() -> LogSink {
    Arc::new(|line: &str| eprintln!("{line}"))
}

/// The CLI's sink: the process's log, so lines come out as JSON in a pod and as text on a terminal.
pub fn tracing_sink() -> LogSink {
    Arc::new(|line: &str| tracing::info!(target: "forgesafe::blueprint::run", "{line}"))
}

/// Redacts `line` and hands it to `sink`.
pub fn emit(sink: &LogSink, line: &str) {
    sink(&secret::redact(line));
}
