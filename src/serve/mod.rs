//! `forgesafe serve`: the long-running sidecar. Today it answers its health endpoints and waits
//! (the idle container Kasten and Kanister exec into); the schedule, metrics and drills of issue
//! 10 join here. The worker(s) and the HTTP server are started and joined in this one place.

mod http;
mod shutdown;
mod state;

pub use state::ServeState;

use anyhow::{Context, Result};
use std::net::SocketAddr;

/// Everything `serve` needs to start.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where the HTTP endpoints listen (`0.0.0.0:8080` in a pod; port 0 picks a free one).
    pub listen: SocketAddr,
}

/// Runs until SIGTERM or SIGINT, then returns Ok (exit 0): Kubernetes stops a pod with SIGTERM,
/// and an idle sidecar has nothing to finish.
pub fn run(options: ServeOptions) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(options))
}

async fn serve(options: ServeOptions) -> Result<()> {
    // Handlers first: a SIGTERM that arrives as soon as we say we listen must still exit 0.
    let stop = shutdown::signal()?;
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("cannot listen on {}; choose a free address with --listen", options.listen))?;
    let address = listener.local_addr().context("cannot read the listening address")?;
    let state = ServeState::new();
    // Up and answering: the repository check of a later step will gate readiness further.
    state.set_ready(true);
    tracing::info!(%address, "serving /healthz and /readyz");
    let server = http::serve(listener, state);
    tokio::select! {
        result = server => result.context("the HTTP server stopped")?,
        signal = stop => tracing::info!(signal, "stopping"),
    }
    Ok(())
}
