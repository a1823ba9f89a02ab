//! Repository housekeeping: init, snapshots, check.

use super::RepoArgs;
use anyhow::Result;
use clap::Args;

#[derive(Args)]
pub struct InitArgs {
    #[command(flatten)]
    repo: RepoArgs,
}

#[derive(Args)]
pub struct SnapshotsArgs {
    #[command(flatten)]
    repo: RepoArgs,
    /// Only snapshots pushed under this --path name.
    #[arg(short = 's', long)]
    path: Option<String>,
}

#[derive(Args)]
pub struct CheckArgs {
    #[command(flatten)]
    repo: RepoArgs,
    /// Also read and verify every pack.
    #[arg(long)]
    read_data: bool,
}

pub fn init(args: InitArgs) -> Result<()> {
    let store = args.repo.store()?;
    let opened = store.open(true)?;
    if opened.created {
        tracing::info!(location = %store.describe(), "repository created");
    } else {
        tracing::info!(location = %store.describe(), "repository already exists; the password opens it");
    }
    Ok(())
}

pub fn snapshots(args: SnapshotsArgs) -> Result<()> {
    let store = args.repo.store()?;
    let list = crate::store::list_snapshots(&store, args.path.as_deref())?;
    println!("{}", serde_json::to_string_pretty(&list)?);
    Ok(())
}

pub fn check(args: CheckArgs) -> Result<()> {
    let store = args.repo.store()?;
    crate::store::check(&store, args.read_data)?;
    tracing::info!(location = %store.describe(), "repository is consistent");
    Ok(())
}
