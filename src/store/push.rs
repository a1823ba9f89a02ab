//! `location push`: a directory, a file or stdin into a new snapshot, within the quotas, then the
//! path's retention policy.

use super::cpu_affinity::ThreadCpuMask;
use super::errors::from_rustic;
use super::prefetch::{PrefetchedSource, MOST_ENTRIES_AHEAD};
use super::retention::{self, ForgetOutcome, ForgetRequest, KeepOptions};
use super::size::human;
use super::source::RecordingSource;
use super::{LockKind, Store, TAG};
use anyhow::{anyhow, bail, Context, Result};
use rustic_core::{
    BackupOptions, LocalSource, ReadSource, SnapshotGroupCriterion, SnapshotOptions, StdinSource,
};
use std::path::PathBuf;

pub enum PushSource {
    Path(PathBuf),
    Stdin,
}

/// riotkit's quotas: a push that would exceed one is refused and records no snapshot.
#[derive(Debug, Clone, Copy, Default)]
pub struct PushLimits {
    /// Most bytes this push may read from its source.
    pub max_snapshot_size: Option<u64>,
    /// Most bytes the repository may hold once this push is done.
    pub max_repository_size: Option<u64>,
}

pub struct PushRequest {
    pub source: PushSource,
    /// The `--path` name the snapshot is filed under.
    pub name: String,
    pub limits: PushLimits,
    /// The snapshot's time instead of now (restic's `backup --time`), e.g. `2026-11-30 10:00:00`.
    pub time: Option<String>,
    /// Retention for this path, applied (with a prune) right after a successful push.
    pub retention: Option<KeepOptions>,
    /// More tags for the snapshot (e.g. `shard:1/3`, `run:ID`), besides `forgesafe` and `path:NAME`.
    pub tags: Vec<String>,
}

impl PushRequest {
    /// A push of `source` under `name`, without quotas, a set time or retention.
    pub fn new(source: PushSource, name: impl Into<String>) -> Self {
        PushRequest {
            source,
            name: name.into(),
            limits: PushLimits::default(),
            time: None,
            retention: None,
            tags: Vec::new(),
        }
    }
}

#[derive(Debug)]
pub struct PushOutcome {
    pub snapshot_id: String,
    /// Bytes read from the source.
    pub logical_size: u64,
    /// Bytes this push added to the store (after dedup, compression and encryption).
    pub physical_size: u64,
    pub repository_created: bool,
    /// What the retention policy did, when one was given and could run.
    pub retention: Option<ForgetOutcome>,
}

/// kando's kopia `SnapshotInfo`, the value of the artifact line push prints (fields in Go's order).
#[derive(serde::Serialize)]
struct SnapshotInfo<'a> {
    id: &'a str,
    #[serde(rename = "logicalSize")]
    logical_size: u64,
    #[serde(rename = "physicalSize")]
    physical_size: u64,
}

impl PushOutcome {
    /// The artifact Kanister keeps for this push and passes back as `--kopia-snapshot`.
    pub fn artifact(&self) -> String {
        crate::phase_output::go_json(&SnapshotInfo {
            id: &self.snapshot_id,
            logical_size: self.logical_size,
            physical_size: self.physical_size,
        })
    }
}

pub fn push(store: &Store, request: &PushRequest) -> Result<PushOutcome> {
    if request.name.is_empty() {
        bail!("--path is empty: name what you push (e.g. --path backups/forge)");
    }
    let time = request.time.as_deref().map(parse_time).transpose()?;
    let source_path = match &request.source {
        PushSource::Path(p) => Some(std::fs::canonicalize(p).with_context(|| {
            format!(
                "cannot read source {}: check that it exists and is readable",
                p.display()
            )
        })?),
        PushSource::Stdin => None,
    };
    let mut outcome = archive(store, request, source_path, time)?;
    if let Some(keep) = request
        .retention
        .as_ref()
        .filter(|k| retention::has_policy(k))
    {
        outcome.retention = apply_retention(store, &request.name, keep);
    }
    Ok(outcome)
}

/// The push itself, under a non-exclusive lock that is released before retention takes its
/// exclusive one.
fn archive(
    store: &Store,
    request: &PushRequest,
    source_path: Option<PathBuf>,
    time: Option<rustic_core::jiff::Zoned>,
) -> Result<PushOutcome> {
    let doing = format!("push to {} failed", store.describe());
    let mut opts = BackupOptions::default();
    // The walk of a directory needs no key: it starts now, while opening the repository derives
    // the key on this thread (prefetch.rs says why).
    let walk = match &source_path {
        Some(path) => {
            let local = LocalSource::new(
                opts.ignore_save_opts,
                &opts.excludes,
                &opts.ignore_filter_opts,
                std::slice::from_ref(path),
            )
            .map_err(|e| from_rustic(e, &doing))?;
            Some((path, PrefetchedSource::start(local, MOST_ENTRIES_AHEAD)))
        }
        None => None,
    };
    let opened = store.open_locked(true, LockKind::Shared, "push")?;
    let gate = opened.gate.clone();
    if let Some(limit) = request.limits.max_repository_size {
        let before = super::listing::repository_size(&opened.repo, &doing)?;
        if before >= limit {
            bail!(
                "push refused: the repository at {} already holds {}, at or over --max-repository-size {}; nothing was pushed. \
                 Forget old snapshots (forgesafe forget --prune) or raise the limit",
                store.describe(),
                human(before),
                human(limit)
            );
        }
        gate.limit_repository(before, limit);
    }
    if let Some(limit) = request.limits.max_snapshot_size {
        gate.limit_source(limit);
    }
    let _lock = opened.lock;
    let repo = opened
        .repo
        .to_indexed_ids()
        .map_err(|e| from_rustic(e, &doing))?;

    let mut snap_opts = SnapshotOptions::default().label(request.name.clone());
    if let Some(time) = time {
        snap_opts = snap_opts.time(time);
    }
    let mut snap = snap_opts
        .to_snapshot()
        .map_err(|e| from_rustic(e, &doing))?;
    snap.tags.add(TAG.to_string());
    // restic's CLI splits tags at commas; the label keeps the exact name.
    snap.tags
        .add(format!("path:{}", request.name.replace(',', "_")));
    for tag in &request.tags {
        snap.tags.add(tag.replace(',', "_"));
    }

    // The parent (for the fast unchanged-file check) is the newest snapshot of the same name and
    // source path, on any host: pods get a new hostname on every restart.
    let mut group = SnapshotGroupCriterion::new();
    group.hostname = false;
    group.label = true;
    group.paths = true;
    group.tags = false;
    opts.parent_opts.group_by = Some(group);

    let result = match walk {
        Some((path, local)) => {
            if let Some(limit) = request.limits.max_snapshot_size {
                // Refuse before anything is uploaded; the reader's count still guards files
                // that grow while they are read.
                let size = local
                    .size()
                    .map_err(|e| from_rustic(e, &doing))?
                    .unwrap_or(0);
                if size > limit {
                    bail!(
                        "push refused: {} holds {}, over --max-snapshot-size {}; nothing was pushed",
                        path.display(),
                        human(size),
                        human(limit)
                    );
                }
            }
            let mut src = RecordingSource::new(local, gate.clone());
            // A re-push (rustic will find a parent) is mostly entries handed between threads:
            // they share one CPU for it (cpu_affinity says why); this thread's mask is put back
            // when `_mask` drops, right after the archive.
            let _mask = ThreadCpuMask::save();
            if has_snapshot_named(&repo, &request.name) {
                src = src.pinning_pipeline();
            }
            repo.archive(&opts, &src, snap, std::slice::from_ref(path))
        }
        None => {
            let entry = stdin_entry_name(&request.name);
            opts.parent_opts.force = true;
            let src = RecordingSource::new(StdinSource::new(entry.clone()), gate.clone());
            repo.archive(&opts, &src, snap, &[entry])
        }
    };

    if let Some(why) = gate.refusal() {
        bail!(
            "push refused: {why}; no snapshot was recorded (the data it uploaded stays until the next prune: \
             forgesafe forget --prune, or a delete, removes it)"
        );
    }
    let source_errors = gate.source_errors();
    if !source_errors.is_empty() {
        let more = if source_errors.len() > 1 {
            format!(" (and {} more)", source_errors.len() - 1)
        } else {
            String::new()
        };
        bail!(
            "push not recorded: {}{more}; make every file readable by this user (or exclude it) and push again",
            source_errors[0]
        );
    }
    let snap = result.map_err(|e| from_rustic(e, &doing))?;
    let summary = snap
        .summary
        .as_ref()
        .ok_or_else(|| anyhow!("{doing}: rustic returned a snapshot without a summary"))?;
    Ok(PushOutcome {
        snapshot_id: super::full_id(&snap.id),
        logical_size: summary.total_bytes_processed,
        physical_size: summary.data_added_packed,
        repository_created: opened.created,
        retention: None,
    })
}

/// Whether `name` already has a snapshot. rustic's own parent search reads the snapshot files
/// again: from its cache on an object store, from disk (a few small files) on a local one. A
/// failure only means no pinning: the push goes on.
fn has_snapshot_named<S: rustic_core::Open>(repo: &rustic_core::Repository<S>, name: &str) -> bool {
    match repo.get_matching_snapshots(|s| s.label == name) {
        Ok(snapshots) => !snapshots.is_empty(),
        Err(e) => {
            tracing::debug!(error = %e.display_log(), "could not list the snapshots to tell a re-push");
            false
        }
    }
}

/// The path's retention after a successful push. The push stands whatever happens here: a
/// failure (e.g. the exclusive lock not coming free in time) is a warning, and the next push
/// applies the policy again.
fn apply_retention(store: &Store, name: &str, keep: &KeepOptions) -> Option<ForgetOutcome> {
    let request = ForgetRequest {
        name: name.to_string(),
        keep: keep.clone(),
        prune: true,
        dry_run: false,
    };
    match retention::forget(store, &request) {
        Ok(outcome) => {
            tracing::info!(path = %name, kept = outcome.keep.len(), forgotten = outcome.remove.len(), "retention applied");
            Some(outcome)
        }
        Err(e) => {
            tracing::warn!(path = %name, "the push is recorded, but its retention policy was not applied ({e:#}); the next push tries again");
            None
        }
    }
}

/// restic's `--time` forms: RFC 3339, or `YYYY-MM-DD HH:MM:SS` in the local time zone.
fn parse_time(text: &str) -> Result<rustic_core::jiff::Zoned> {
    use rustic_core::jiff::{civil::DateTime, tz::TimeZone, Timestamp};
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Ok(ts.to_zoned(TimeZone::system()));
    }
    text.parse::<DateTime>()
        .ok()
        .and_then(|dt| dt.to_zoned(TimeZone::system()).ok())
        .ok_or_else(|| anyhow!("--time {text:?} is not a time: give RFC 3339 (2026-11-30T10:00:00Z) or \"2026-11-30 10:00:00\""))
}

/// The file name stdin is stored under: the last part of the `--path` name, so a restic user
/// who restores the snapshot gets a file with a meaningful name.
fn stdin_entry_name(name: &str) -> PathBuf {
    let last = name.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    let cleaned: String = last.chars().filter(|c| !c.is_control()).collect();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        PathBuf::from("stdin")
    } else {
        PathBuf::from(cleaned)
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_time, stdin_entry_name};

    #[test]
    fn stdin_entries_are_named_after_the_path() {
        assert_eq!(
            stdin_entry_name("bucket/db/dump.sql"),
            std::path::PathBuf::from("dump.sql")
        );
        assert_eq!(stdin_entry_name("x/"), std::path::PathBuf::from("x"));
        assert_eq!(stdin_entry_name("/"), std::path::PathBuf::from("stdin"));
        assert_eq!(stdin_entry_name(".."), std::path::PathBuf::from("stdin"));
    }

    #[test]
    fn times_take_restics_forms() {
        assert_eq!(
            parse_time("2026-11-30T10:00:00Z")
                .unwrap()
                .timestamp()
                .as_second(),
            1_796_032_800
        );
        assert!(parse_time("2026-11-30 10:00:00").is_ok());
        assert!(parse_time("yesterday")
            .unwrap_err()
            .to_string()
            .contains("--time"));
    }
}
