//! `forgesafe location push|pull|delete`, with kando's flags.

use super::RepoArgs;
use crate::store::{self, DeleteOutcome, PullRequest, PullTarget, PushRequest, PushSource};
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
}

#[derive(Args)]
struct SnapshotChoice {
    /// The artifact JSON push printed, as Kanister passes it back.
    #[arg(short = 'k', long, conflicts_with = "snapshot")]
    kopia_snapshot: Option<String>,
    /// A snapshot id (or a unique prefix of one).
    #[arg(long)]
    snapshot: Option<String>,
}

impl SnapshotChoice {
    fn id(&self) -> Result<Option<String>> {
        match (&self.kopia_snapshot, &self.snapshot) {
            (Some(json), _) => snapshot_id_from_artifact(json).map(Some),
            (None, Some(id)) => Ok(Some(id.trim().to_string())),
            (None, None) => Ok(None),
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
    choice: SnapshotChoice,
}

#[derive(Args)]
struct DeleteArgs {
    #[command(flatten)]
    repo: RepoArgs,
    #[arg(short = 's', long)]
    path: String,
    #[command(flatten)]
    choice: SnapshotChoice,
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
    let source = if args.source == "-" { PushSource::Stdin } else { PushSource::Path(PathBuf::from(&args.source)) };
    let outcome = store::push(&store, &PushRequest { source, name: args.path.clone() })?;
    tracing::info!(
        snapshot = %outcome.snapshot_id, logical_bytes = outcome.logical_size, added_bytes = outcome.physical_size,
        location = %store.describe(), "pushed"
    );
    super::print_artifact(&args.output_name, &outcome)
}

fn pull(args: PullArgs) -> Result<()> {
    let snapshot = args.choice.id()?;
    let store = args.repo.store()?;
    let target = if args.target == "-" { PullTarget::Stdout } else { PullTarget::Path(PathBuf::from(&args.target)) };
    let outcome = store::pull(&store, &PullRequest { name: args.path, snapshot, target }, &mut std::io::stdout().lock())?;
    tracing::info!(snapshot = %outcome.snapshot_id, target = %args.target, "pulled");
    Ok(())
}

fn delete(args: DeleteArgs) -> Result<()> {
    let id = args.choice.id()?.ok_or_else(|| anyhow!("delete needs the snapshot: give --kopia-snapshot JSON or --snapshot ID"))?;
    let store = args.repo.store()?;
    match store::delete(&store, &args.path, &id)? {
        DeleteOutcome::Deleted { snapshot_id, packs_removed } => {
            tracing::info!(snapshot = %snapshot_id, packs_removed, "deleted");
        }
        DeleteOutcome::AlreadyGone => {
            tracing::warn!(snapshot = %id, location = %store.describe(), "snapshot already gone; nothing to delete");
        }
    }
    Ok(())
}

/// Accepts what blueprints pass back: the artifact JSON push printed (`{"id":…}`), the whole
/// phase-output object (`{"key":…,"value":"{\"id\":…}"}`), or a bare id.
fn snapshot_id_from_artifact(text: &str) -> Result<String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(anyhow!("--kopia-snapshot is empty: pass the artifact push printed (did the backup's output artifact render empty?)"));
    }
    if !text.starts_with('{') {
        return Ok(text.to_string());
    }
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| anyhow!("--kopia-snapshot is not valid JSON ({e}): pass the artifact push printed, e.g. {{\"id\":\"…\"}}"))?;
    if let Some(id) = value.get("id").and_then(|v| v.as_str()) {
        return Ok(id.to_string());
    }
    if let Some(inner) = value.get("value").and_then(|v| v.as_str()) {
        return snapshot_id_from_artifact(inner);
    }
    Err(anyhow!("--kopia-snapshot has no \"id\" field: pass the artifact push printed, e.g. {{\"id\":\"…\"}}"))
}

#[cfg(test)]
mod tests {
    use super::snapshot_id_from_artifact as id;

    #[test]
    fn artifact_forms_all_yield_the_id() {
        assert_eq!(id(r#"{"id":"abc","logicalSize":1,"physicalSize":2}"#).unwrap(), "abc");
        assert_eq!(id(r#"{"key":"k","value":"{\"id\":\"abc\",\"logicalSize\":1}"}"#).unwrap(), "abc");
        assert_eq!(id(" abc \n").unwrap(), "abc");
        assert!(id("").is_err());
        assert!(id(r#"{"ID":"x"#).is_err());
        assert!(id(r#"{"other":1}"#).unwrap_err().to_string().contains("no \"id\""));
    }
}
