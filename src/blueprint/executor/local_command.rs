//! Runs a phase's command in this process's own container (when the target pod is us, or the
//! run is local): both streams captured for outputs and errors, and streamed line by line,
//! redacted, to the log as they arrive.

use super::log_sink::{emit, LogSink};
use crate::command_output::{read_lines, Captured, StreamKind};
use anyhow::{bail, Context as _, Result};
use std::process::Stdio;
use tokio::process::Command;

pub async fn run_local(argv: &[String], log: &LogSink, label: &str) -> Result<Captured> {
    let Some((program, rest)) = argv.split_first() else {
        bail!("empty command")
    };
    let mut child = Command::new(program)
        .args(rest)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A timed-out action drops this future; the command must not outlive it.
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {program:?}"))?;
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let on_line =
        |kind: StreamKind, line: &str| emit(log, &format!("{label} {}: {line}", kind.name()));
    let (out, err, status) = tokio::join!(
        read_lines(stdout, StreamKind::Stdout, &on_line),
        read_lines(stderr, StreamKind::Stderr, &on_line),
        child.wait()
    );
    let status = status.context("waiting for the command")?;
    Ok(Captured {
        stdout: out?,
        stderr: err?,
        exit_code: status.code(),
        error: None,
    })
}
