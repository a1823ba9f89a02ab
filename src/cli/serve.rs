//! `forgesafe serve`: the sidecar's long-running process (health endpoints; schedule to come).

use clap::Args;
use std::net::SocketAddr;

#[derive(Args)]
pub struct ServeArgs {
    /// Address of the HTTP endpoints (/healthz, /readyz); port 0 picks a free port.
    #[arg(long, default_value = "0.0.0.0:8080", env = "FORGESAFE_LISTEN")]
    listen: SocketAddr,
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    crate::serve::run(crate::serve::ServeOptions { listen: args.listen })
}
