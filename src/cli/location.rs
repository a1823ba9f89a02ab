//! `forgesafe location push|pull|delete`, with kando's flags.

use super::RepoArgs;
use crate::store::{
    self, DeleteOutcome, KeepOptions, PullRequest, PullTarget, PushLimits, PushRequest, PushSource,
    SnapshotChoice,
};
use anyhow::{anyhow, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Args)]
pub struct LocationArgs {
    #[command(subcommand)]
    command: LocationCommand,
}

#[derive(Subcommand)]
enum LocationCommand {
    /// Snapshot SOURCE (a directory, a file, or - for stdin) and print the artifact line.
    Push(PushArgs),
    /// Restore a snapshot to TARGET (a directory, a file, or - for stdout).
    Pull(PullArgs),
    /// Forget a snapshot and reclaim the space no other snapshot uses.
    Delete(DeleteArgs),
}

#[derive(Args)]
struct PushArgs {
    source: String,
    #[command(flatten)]
    repo: RepoArgs,
    /// Name the snapshot is filed under.
    #[arg(short = 's', long)]
    path: String,
    /// Key of the printed phase output.
    #[arg(short = 'o', long, default_value = "kandoOutput")]
    output_name: String,
    #[command(flatten)]
    limits: LimitArgs,
    /// The snapshot's time instead of now (RFC 3339, or "YYYY-MM-DD HH:MM:SS" local time).
    #[arg(long)]
    time: Option<String>,
    #[command(flatten)]
    keep: KeepOptions,
}

/// The quotas of a push (riotkit's backup repository offers the same two).
#[derive(Args, Clone, Copy)]
pub struct LimitArgs {
    /// Refuse the push when the source holds more than SIZE (e.g. 10GiB).
    #[arg(long, value_name = "SIZE", value_parser = store::size::parse)]
    max_snapshot_size: Option<u64>,
    /// Refuse the push when the repository would hold more than SIZE after it.
    #[arg(long, value_name = "SIZE", value_parser = store::size::parse)]
    max_repository_size: Option<u64>,
}

impl From<LimitArgs> for PushLimits {
    fn from(a: LimitArgs) -> Self {
        PushLimits {
            max_snapshot_size: a.max_snapshot_size,
            max_repository_size: a.max_repository_size,
        }
    }
}

#[derive(Args)]
struct SnapshotArgs {
    /// The artifact JSON push printed, as Kanister passes it back.
    #[arg(short = 'k', long, conflicts_with = "snapshot")]
    kopia_snapshot: Option<String>,
    /// A snapshot id (or a unique prefix of one), or `latest`: the newest of --path.
    #[arg(long)]
    snapshot: Option<String>,
}

impl SnapshotArgs {
    fn choice(&self) -> Result<SnapshotChoice> {
        match (&self.kopia_snapshot, &self.snapshot) {
            (Some(json), _) => {
                SnapshotChoice::parse(Some(&crate::phase_output::snapshot_id_from_artifact(json)?))
            }
            (None, id) => SnapshotChoice::parse(id.as_deref()),
        }
    }
}

#[derive(Args)]
struct PullArgs {
    target: String,
    #[command(flatten)]
    repo: RepoArgs,
    #[arg(short = 's', long)]
    path: String,
    #[command(flatten)]
    snapshot: SnapshotArgs,
    /// Only this path inside the snapshot (relative to the pushed folder, as `forgesafe ls` shows it).
    #[arg(long, value_name = "PATH_IN_SNAPSHOT")]
    include: Option<String>,
}

#[derive(Args)]
struct DeleteArgs {
    #[command(flatten)]
    repo: RepoArgs,
    #[arg(short = 's', long)]
    path: String,
    #[command(flatten)]
    snapshot: SnapshotArgs,
}

pub fn run(args: LocationArgs) -> Result<()> {
    match args.command {
        LocationCommand::Push(a) => push(a),
        LocationCommand::Pull(a) => pull(a),
        LocationCommand::Delete(a) => delete(a),
    }
}

fn push(args: PushArgs) -> Result<()> {
    // Check the key before any work, so a typo does not cost a whole push.
    crate::phase_output::check_key(&args.output_name)?;
    let store = args.repo.store()?;
    let source = if args.source == "-" {
        PushSource::Stdin
    } else {
        PushSource::Path(PathBuf::from(&args.source))
    };
    let request = PushRequest {
        limits: args.limits.into(),
        time: args.time,
        retention: Some(args.keep),
        ..PushRequest::new(source, args.path)
    };
    let outcome = store::push(&store, &request)?;
    tracing::info!(
        snapshot = %outcome.snapshot_id, logical_bytes = outcome.logical_size, added_bytes = outcome.physical_size,
        location = %store.describe(), "pushed"
    );
    super::print_artifact(&args.output_name, &outcome)
}

fn pull(args: PullArgs) -> Result<()> {
    let snapshot = args.snapshot.choice()?;
    let store = args.repo.store()?;
    let target = if args.target == "-" {
        PullTarget::Stdout
    } else {
        PullTarget::Path(PathBuf::from(&args.target))
    };
    let outcome = store::pull(
        &store,
        &PullRequest {
            name: args.path,
            snapshot,
            target,
            include: args.include,
        },
        &mut std::io::stdout().lock(),
    )?;
    tracing::info!(snapshot = %outcome.snapshot_id, target = %args.target, "pulled");
    Ok(())
}

fn delete(args: DeleteArgs) -> Result<()> {
    if args.snapshot.kopia_snapshot.is_none() && args.snapshot.snapshot.is_none() {
        return Err(anyhow!("delete needs the snapshot: give --kopia-snapshot JSON, --snapshot ID, or --snapshot latest"));
    }
    let choice = args.snapshot.choice()?;
    let store = args.repo.store()?;
    match store::delete(&store, &args.path, &choice)? {
        DeleteOutcome::Deleted {
            snapshot_id,
            packs_removed,
        } => {
            tracing::info!(snapshot = %snapshot_id, packs_removed, "deleted");
        }
        DeleteOutcome::AlreadyGone => {
            tracing::warn!(path = %args.path, location = %store.describe(), "snapshot already gone (the repository lists no such snapshot); nothing to delete");
        }
    }
    Ok(())
}
