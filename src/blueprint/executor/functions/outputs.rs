//! Phase outputs from what a command printed: the `###Phase-output###` lines, as Kanister reads
//! them (`phase_output` holds the wire contract).

use crate::blueprint::executor::phase_call::Outputs;
use crate::phase_output::parse_outputs;
use anyhow::Result;
use serde_json::Value;

/// Outputs from a command's stdout (never its stderr: tools log there freely), or from a task
/// pod's logs.
pub fn outputs_from_stdout(stdout: &str) -> Result<Outputs> {
    Ok(parse_outputs(stdout)?
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect())
}
