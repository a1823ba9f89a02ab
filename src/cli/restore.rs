//! Restoring one piece: ls, repos, diff, restore.

use super::{RepoArgs, SnapshotOfPath};
use crate::restore::{self, DiffRequest, ListRequest, RestoreRequest};
use crate::store::SnapshotChoice;
use anyhow::Result;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

#[derive(Args)]
pub struct LsArgs {
    #[command(flatten)]
    repo: RepoArgs,
    #[command(flatten)]
    of: SnapshotOfPath,
    /// Only the entries of this folder, without their sub-folders' content.
    #[arg(long)]
    shallow: bool,
    /// JSON lines instead of text.
    #[arg(long)]
    json: bool,
    /// A path inside the snapshot (relative to the pushed folder); the whole snapshot by default.
    #[arg(value_name = "PATH_IN_SNAPSHOT", default_value = "")]
    under: String,
}

#[derive(Args)]
pub struct ReposArgs {
    #[command(flatten)]
    repo: RepoArgs,
    #[command(flatten)]
    of: SnapshotOfPath,
    /// JSON (an array) instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct DiffArgs {
    #[command(flatten)]
    repo: RepoArgs,
    #[arg(short = 's', long)]
    path: String,
    /// The older snapshot (id, unique prefix).
    from: String,
    /// The newer snapshot (id, unique prefix, or `latest`).
    #[arg(default_value = "latest")]
    to: String,
    /// Where a mirror is restored for a moment to tell a fast-forward from a force-push.
    #[arg(long)]
    work_dir: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    repo: RepoArgs,
    #[command(flatten)]
    of: SnapshotOfPath,
    /// The repository: OWNER/NAME, or HOST/OWNER/NAME when several forges share the volume.
    #[arg(long = "repo", value_name = "[HOST/]OWNER/NAME")]
    repository: String,
    /// Also its wiki (to TARGET/NAME.wiki.git).
    #[arg(long)]
    wiki: bool,
    /// Also its metadata folder: issues, pull requests, releases (to TARGET/NAME.metadata).
    #[arg(long)]
    metadata: bool,
    /// A working clone checked out at REF (a branch, tag or commit; the mirror's HEAD without
    /// one) instead of a bare mirror.
    #[arg(long, value_name = "REF", num_args = 0..=1, default_missing_value = "")]
    checkout: Option<String>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Where it goes; replaced only once the restore is complete.
    target: PathBuf,
}

pub fn ls(args: LsArgs) -> Result<()> {
    let request = ListRequest { snapshot: args.of.choice()?, name: args.of.path, under: args.under, shallow: args.shallow, json: args.json };
    let store = args.repo.store()?;
    let mut out = std::io::stdout().lock();
    restore::list(&store, &request, &mut out)?;
    Ok(out.flush()?)
}

pub fn repos(args: ReposArgs) -> Result<()> {
    let store = args.repo.store()?;
    let (snapshot_id, repos) = restore::inventory::list(&store, &args.of.path, &args.of.choice()?)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&repos)?)?;
    } else {
        writeln!(out, "snapshot {} of {}: {} repositories", &snapshot_id[..8], args.of.path, repos.len())?;
        for repo in &repos {
            writeln!(out, "{}", repo.summary_line())?;
        }
    }
    Ok(out.flush()?)
}

pub fn diff(args: DiffArgs) -> Result<()> {
    let request = DiffRequest {
        name: args.path,
        from: SnapshotChoice::parse(Some(&args.from))?,
        to: SnapshotChoice::parse(Some(&args.to))?,
        work_dir: args.work_dir,
    };
    let store = args.repo.store()?;
    let report = restore::diff(&store, &request)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else if report.is_empty() {
        writeln!(out, "no change between {} and {}", &report.from[..8], &report.to[..8])?;
    } else {
        for line in report.lines() {
            writeln!(out, "{line}")?;
        }
    }
    Ok(out.flush()?)
}

pub fn restore(args: RestoreArgs) -> Result<()> {
    let request = RestoreRequest {
        snapshot: args.of.choice()?,
        name: args.of.path,
        repo: args.repository,
        wiki: args.wiki,
        metadata: args.metadata,
        checkout: args.checkout.map(|r| Some(r).filter(|r| !r.is_empty())),
        target: args.target,
    };
    let store = args.repo.store()?;
    let report = restore::restore(&store, &request)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    tracing::info!(snapshot = %&report.snapshot_id[..8], repository = %report.repository, target = %report.target.display(),
        pieces = report.pieces.len(), pack_bytes_read = report.pack_bytes_read, "restored");
    if let Some(checkout) = &report.checkout {
        tracing::info!(branch = ?checkout.branch, commit = %checkout.commit, files = checkout.files, "checked out");
    }
    Ok(())
}
