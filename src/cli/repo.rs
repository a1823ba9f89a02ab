//! Repository care: init, snapshots, check, forget, stats, health, unlock.

use super::RepoArgs;
use crate::store::{self, ForgetRequest, HealthRequest, KeepOptions};
use anyhow::Result;
use clap::Args;
use std::time::Duration;

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
    /// The runs of `backup --shard` under this --path, each with its shards' snapshots.
    #[arg(long, value_name = "PATH", conflicts_with = "path")]
    shards_of: Option<String>,
}

#[derive(Args)]
pub struct CheckArgs {
    #[command(flatten)]
    repo: RepoArgs,
    /// Also read and verify every pack.
    #[arg(long)]
    read_data: bool,
}

#[derive(Args)]
pub struct ForgetArgs {
    #[command(flatten)]
    repo: RepoArgs,
    /// The --path whose snapshots the policy applies to (no other path is touched).
    #[arg(short = 's', long)]
    path: String,
    #[command(flatten)]
    keep: KeepOptions,
    /// Also remove the data no remaining snapshot uses.
    #[arg(long)]
    prune: bool,
    /// Show what would be forgotten; change nothing.
    #[arg(long, short = 'n')]
    dry_run: bool,
    /// Print the verdict on every snapshot as JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct StatsArgs {
    #[command(flatten)]
    repo: RepoArgs,
    /// JSON on stdout instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct HealthArgs {
    #[command(flatten)]
    repo: RepoArgs,
    #[arg(short = 's', long)]
    path: String,
    /// Healthy when the newest snapshot of --path is at most this old (e.g. 26h).
    #[arg(long, value_parser = humantime::parse_duration)]
    max_age: Duration,
    /// JSON on stdout instead of a line.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct UnlockArgs {
    #[command(flatten)]
    repo: RepoArgs,
    /// Remove every lock, not only stale ones (only when nothing else uses the repository).
    #[arg(long)]
    remove_all: bool,
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
    let text = match &args.shards_of {
        Some(base) => serde_json::to_string_pretty(&store::shard_runs(&store, base)?)?,
        None => {
            serde_json::to_string_pretty(&store::list_snapshots(&store, args.path.as_deref())?)?
        }
    };
    println!("{text}");
    Ok(())
}

pub fn check(args: CheckArgs) -> Result<()> {
    let store = args.repo.store()?;
    store::check(&store, args.read_data)?;
    tracing::info!(location = %store.describe(), "repository is consistent");
    Ok(())
}

pub fn forget(args: ForgetArgs) -> Result<()> {
    let store = args.repo.store()?;
    let outcome = store::forget(
        &store,
        &ForgetRequest {
            name: args.path,
            keep: args.keep,
            prune: args.prune,
            dry_run: args.dry_run,
        },
    )?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    }
    let verb = if outcome.dry_run {
        "would forget"
    } else {
        "forgot"
    };
    tracing::info!(path = %outcome.path, kept = outcome.keep.len(), packs_removed = outcome.packs_removed, "{verb} {} snapshot(s)", outcome.remove.len());
    Ok(())
}

pub fn stats(args: StatsArgs) -> Result<()> {
    let store = args.repo.store()?;
    let stats = store::stats(&store)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&stats)?);
        return Ok(());
    }
    println!(
        "{}: {} in {} snapshot(s)",
        stats.location,
        store::size::human(stats.repository_size),
        stats.snapshots
    );
    for (path, p) in &stats.paths {
        println!(
            "  {path}: {} snapshot(s), newest {} ({}, {})",
            p.snapshots,
            &p.newest_id[..8],
            p.newest,
            store::size::human(p.newest_logical_size)
        );
    }
    Ok(())
}

/// Exit 0 when healthy, 1 when the newest snapshot is too old or missing, 69 when the repository
/// cannot be read.
pub fn health(args: HealthArgs) -> Result<()> {
    let store = args.repo.store()?;
    let health = store::health(
        &store,
        &HealthRequest {
            name: args.path,
            max_age: args.max_age,
        },
    )?;
    let text = if args.json {
        serde_json::to_string_pretty(&health)?
    } else {
        health.summary()
    };
    if health.healthy {
        println!("{text}");
        Ok(())
    } else {
        Err(crate::ExitStatus {
            code: 1,
            message: text,
        }
        .into())
    }
}

pub fn unlock(args: UnlockArgs) -> Result<()> {
    let store = args.repo.store()?;
    let outcome = store::unlock(&store, args.remove_all)?;
    tracing::info!(removed = outcome.removed.len(), kept = outcome.kept.len(), location = %store.describe(), "unlock done");
    Ok(())
}
