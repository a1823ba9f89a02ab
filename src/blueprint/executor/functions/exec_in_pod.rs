//! Runs one command in one pod's container: locally when that pod is us (or the run is local),
//! else through the API's `exec` subresource. Either way both streams are captured and streamed
//! to the log, redacted, as they come.

use super::FunctionEnv;
use crate::blueprint::executor::local_command::run_local;
use crate::blueprint::executor::log_sink::{emit, LogSink};
use crate::command_output::{Captured, StreamKind};
use crate::kube;
use anyhow::Result;

pub async fn exec_in_pod(
    env: &FunctionEnv,
    namespace: &str,
    pod: &str,
    container: Option<&str>,
    command: &[String],
    log: &LogSink,
) -> Result<Captured> {
    let label = match container {
        Some(c) => format!("{namespace}/{pod}/{c}"),
        None => format!("{namespace}/{pod}"),
    };
    if env.runs_locally(pod) {
        emit(
            log,
            &format!("{label}: running locally: {}", command.join(" ")),
        );
        return run_local(command, log, &label).await;
    }
    emit(log, &format!("{label}: exec: {}", command.join(" ")));
    let cluster = env.cluster().await?;
    let on_line =
        |kind: StreamKind, line: &str| emit(log, &format!("{label} {}: {line}", kind.name()));
    kube::exec(cluster, namespace, pod, container, command, &on_line).await
}
