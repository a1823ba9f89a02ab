//! The signals that stop `serve`: SIGTERM (Kubernetes stopping the pod) and SIGINT (Ctrl-C).

use anyhow::{Context, Result};
use std::future::Future;
use tokio::signal::unix::{signal as unix_signal, SignalKind};

/// Installs the handlers now (so a signal that arrives while the server starts is not lost) and
/// returns a future that completes with the name of the first signal received.
pub fn signal() -> Result<impl Future<Output = &'static str>> {
    let mut term = unix_signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = unix_signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    })
}
