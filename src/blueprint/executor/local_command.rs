//! Runs a phase's command in this process's own container (when the target pod is us, or the
//! run is local): both streams captured for outputs and errors, and streamed line by line,
//! redacted, to the log as they arrive.

use super::captured::Captured;
use super::log_sink::{emit, LogSink};
use anyhow::{bail, Context as _, Result};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
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
    let (out, err, status) = tokio::join!(
        collect_lines(stdout, log, label, "stdout"),
        collect_lines(stderr, log, label, "stderr"),
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

/// Reads a stream to its end, logging each line; lines of any length are fine.
async fn collect_lines(
    stream: impl AsyncRead + Unpin,
    log: &LogSink,
    label: &str,
    name: &str,
) -> Result<String> {
    let mut reader = BufReader::new(stream);
    let mut all = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).await?;
        if n == 0 {
            break;
        }
        all.extend_from_slice(&line);
        let text = String::from_utf8_lossy(&line);
        emit(
            log,
            &format!("{label} {name}: {}", text.trim_end_matches(['\n', '\r'])),
        );
    }
    Ok(String::from_utf8_lossy(&all).into_owned())
}
