//! `forgesafe backup`: collect, push the collected volume into the repository, print the
//! artifact line a Kanister phase parses. The failed repositories' last good mirrors are
//! pushed either way; the run then fails unless partial results are allowed.
//!
//! Steps are added here as fields of [`BackupOptions`] (the push's quotas and retention are).

use std::io::Write;

use anyhow::{bail, Result};

use crate::collect::{self, CollectOptions, CollectReport};
use crate::store::{self, KeepOptions, PushLimits, PushOutcome, PushRequest, PushSource, Store};

#[derive(Debug, Clone)]
pub struct BackupOptions {
    pub collect: CollectOptions,
    /// Name the snapshot is filed under; by default the destination folder's name.
    pub snapshot_name: Option<String>,
    /// Key of the artifact line (`kandoOutput` for kando's blueprints).
    pub artifact_key: String,
    /// Succeed even when some repositories failed.
    pub allow_partial: bool,
    /// Quotas of the push.
    pub limits: PushLimits,
    /// Retention for the snapshot's path, applied right after the push.
    pub retention: Option<KeepOptions>,
    /// Names the backup run the snapshot belongs to (the shards of one Indexed Job share it), as
    /// the tag `run:ID`.
    pub run_id: Option<String>,
}

/// What a backup did.
#[derive(Debug)]
pub struct BackedUp {
    pub collected: CollectReport,
    pub pushed: PushOutcome,
}

/// Collects into one destination, pushes it into `store`, and writes the artifact line to
/// `out`. Open `store` before calling, so a bad profile fails before any network work.
pub fn backup(store: &Store, options: &BackupOptions, out: &mut impl Write) -> Result<BackedUp> {
    crate::phase_output::check_key(&options.artifact_key)?;
    let collected = collect::collect(&options.collect)?;
    let [dest] = collected.destinations.as_slice() else {
        bail!("backup pushes one destination, but the config has {}: give --dest", collected.destinations.len());
    };
    let mut name = options.snapshot_name.clone().unwrap_or_else(|| dest.file_name().map_or("forge".into(), |n| n.to_string_lossy().into_owned()));
    let mut tags: Vec<String> = options.run_id.iter().map(|id| format!("run:{id}")).collect();
    // Each shard has its own path, so shards never select (or forget) each other's snapshots.
    if let Some(shard) = options.collect.shard {
        name = shard.path_of(&name);
        tags.push(format!("shard:{shard}"));
    }
    let request = PushRequest { limits: options.limits, retention: options.retention.clone(), tags, ..PushRequest::new(PushSource::Path(dest.clone()), name) };
    let pushed = store::push(store, &request)?;
    crate::phase_output::write_line(out, &options.artifact_key, &pushed.artifact())?;
    tracing::info!(snapshot = %pushed.snapshot_id, added_bytes = pushed.physical_size, "pushed the collected volume");
    collected.ensure_complete(options.allow_partial)?;
    Ok(BackedUp { collected, pushed })
}
