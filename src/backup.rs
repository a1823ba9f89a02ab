//! `forgesafe backup`: collect, push the collected volume into the repository, print the
//! artifact line a Kanister phase parses. The failed repositories' last good mirrors are
//! pushed either way; the run then fails unless partial results are allowed.
//!
//! Steps are added here as fields of [`BackupOptions`] (the push's quotas and retention are).

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::collect::changes::EarlierSnapshot;
use crate::collect::record::MirrorsRecord;
use crate::collect::volume_lock::VolumeLock;
use crate::collect::{self, ChangeReport, CollectOptions, CollectReport};
use crate::store::{
    self, KeepOptions, PushLimits, PushOutcome, PushRequest, PushSource, SnapshotChoice, Store,
};

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
    /// How long each step took: the collect (every forge read and mirror fetch), and the push
    /// (snapshot and retention). serve reports both, so a slow run says which side is slow.
    pub collect_seconds: f64,
    pub push_seconds: f64,
}

/// Collects into one destination, pushes it into `store`, and writes the artifact line to
/// `out`. Open `store` before calling, so a bad profile fails before any network work. The
/// destination stays locked against other runs from the collect to the end of the push (waiting
/// up to `lock_wait` for one that holds it).
pub fn backup(
    store: &Store,
    options: &BackupOptions,
    lock_wait: Duration,
    out: &mut impl Write,
) -> Result<BackedUp> {
    crate::phase_output::check_key(&options.artifact_key)?;
    let dest = options.collect.resolve()?.single_destination()?;
    let _volume = VolumeLock::acquire(&dest, "backup", lock_wait)?;
    let collect_clock = Instant::now();
    let mut collected = collect::collect(&options.collect, lock_wait)?;
    let collect_seconds = collect_clock.elapsed().as_secs_f64();
    if crate::shutdown::stop_requested() {
        bail!("stopped before the push: the process is shutting down (the mirrors are kept; nothing was pushed)");
    }
    let [dest] = collected.destinations.as_slice() else {
        bail!(
            "backup pushes one destination, but the config has {}: give --dest",
            collected.destinations.len()
        );
    };
    let dest = dest.clone();
    let mut name = options.snapshot_name.clone().unwrap_or_else(|| {
        dest.file_name()
            .map_or("forge".into(), |n| n.to_string_lossy().into_owned())
    });
    let mut tags: Vec<String> = options
        .run_id
        .iter()
        .map(|id| format!("run:{id}"))
        .collect();
    // Each shard has its own path, so shards never select (or forget) each other's snapshots.
    if let Some(shard) = options.collect.shard {
        name = shard.path_of(&name);
        tags.push(format!("shard:{shard}"));
    }
    for changes in collected.changes.iter_mut().filter(|c| !c.is_empty()) {
        name_earlier_snapshot(store, &name, changes, &dest);
    }
    let request = PushRequest {
        limits: options.limits,
        retention: options.retention.clone(),
        tags,
        ..PushRequest::new(PushSource::Path(dest.clone()), name)
    };
    let push_clock = Instant::now();
    let pushed = store::push(store, &request)?;
    let push_seconds = push_clock.elapsed().as_secs_f64();
    crate::phase_output::write_line(out, &options.artifact_key, &pushed.artifact())?;
    tracing::info!(snapshot = %pushed.snapshot_id, added_bytes = pushed.physical_size, collect_seconds, push_seconds, "pushed the collected volume");
    collected.ensure_complete(options.allow_partial)?;
    Ok(BackedUp {
        collected,
        pushed,
        collect_seconds,
        push_seconds,
    })
}

/// Adds to a change report (and its file in the volume, before the push carries it) the newest
/// earlier snapshot of `name`, and whether its mirrors record holds every old tip the report
/// names: the snapshot to restore a rewritten ref from. A failure here never stops the backup.
fn name_earlier_snapshot(
    store: &Store,
    name: &str,
    changes: &mut ChangeReport,
    dest: &std::path::Path,
) {
    let found = match store::read_file(
        store,
        name,
        &SnapshotChoice::Latest,
        collect::record::RELATIVE_PATH,
    ) {
        Ok(found) => found,
        Err(err) => {
            tracing::warn!("cannot tell which earlier snapshot holds the rewritten refs ({err:#})");
            return;
        }
    };
    let Some(found) = found else { return };
    let holds_old_tips = found
        .bytes
        .as_deref()
        .and_then(|bytes| MirrorsRecord::parse(bytes).ok())
        .is_some_and(|record| {
            changes.old_tips().all(|(mirror, name, old)| {
                record
                    .mirrors
                    .get(mirror)
                    .and_then(|m| m.refs.get(name))
                    .is_some_and(|id| id == old)
            })
        });
    changes.earlier_snapshot = Some(EarlierSnapshot {
        id: found.snapshot_id,
        time: found.snapshot_time,
        holds_old_tips,
    });
    if let Err(err) = changes.write(dest) {
        tracing::warn!("cannot update the change report ({err:#})");
    }
    if let Some(earlier) = &changes.earlier_snapshot {
        let verdict = if earlier.holds_old_tips {
            "holds every old tip"
        } else {
            "does not hold every old tip (an older one may)"
        };
        tracing::warn!(
            "forgesafe backup: snapshot {} of {name} {verdict}: restore a rewritten ref from it",
            &earlier.id[..8]
        );
    }
}
