//! What a repository holds: its snapshots, its size, and whether a path is backed up recently
//! enough (`health`).

use super::errors::from_rustic;
use super::{full_id, LockKind, Store};
use anyhow::Result;
use rustic_core::repofile::SnapshotFile;
use std::collections::BTreeMap;
use std::time::Duration;

/// One line per snapshot, for `forgesafe snapshots`.
#[derive(Debug, serde::Serialize)]
pub struct SnapshotSummaryLine {
    pub id: String,
    pub path: String,
    pub time: String,
    pub hostname: String,
    #[serde(rename = "logicalSize")]
    pub logical_size: u64,
    /// `INDEX/COUNT` for a snapshot pushed by `backup --shard`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// The backup run it belongs to (`backup --run-id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
}

impl SnapshotSummaryLine {
    fn of(s: &SnapshotFile) -> Self {
        let tag = |prefix: &str| {
            s.tags
                .iter()
                .find_map(|t| t.strip_prefix(prefix).map(str::to_string))
        };
        SnapshotSummaryLine {
            id: full_id(&s.id),
            path: s.label.clone(),
            time: s.time.to_string(),
            hostname: s.hostname.clone(),
            logical_size: logical_size(s),
            shard: tag("shard:"),
            run: tag("run:"),
        }
    }
}

/// The shards of one backup run of a path (`backup --shard I/N` under `PATH/shard-I-of-N`).
#[derive(Debug, serde::Serialize)]
pub struct ShardRun {
    /// The run's id; snapshots pushed without one are grouped by shard count alone.
    pub run: Option<String>,
    pub count: u32,
    /// Each shard's snapshot (the newest of the run, should a shard have been pushed twice).
    pub shards: Vec<SnapshotSummaryLine>,
    /// Every shard of the run has a snapshot: a restore can pull them all.
    pub complete: bool,
}

/// The sharded runs of `base`, oldest first.
pub fn shard_runs(store: &Store, base: &str) -> Result<Vec<ShardRun>> {
    let prefix = format!("{}/shard-", base.trim_end_matches('/'));
    let lines = list_snapshots(store, None)?;
    let mut runs: BTreeMap<(Option<String>, u32), BTreeMap<String, SnapshotSummaryLine>> =
        BTreeMap::new();
    let mut order: Vec<(Option<String>, u32)> = Vec::new();
    for line in lines.into_iter().filter(|l| l.path.starts_with(&prefix)) {
        let Some((_, count)) = line.shard.as_deref().and_then(|s| s.split_once('/')) else {
            continue;
        };
        let Ok(count) = count.parse::<u32>() else {
            continue;
        };
        let key = (line.run.clone(), count);
        if !order.contains(&key) {
            order.push(key.clone());
        }
        // Lines come oldest first: a later push of the same shard replaces an earlier one.
        runs.entry(key)
            .or_default()
            .insert(line.shard.clone().unwrap_or_default(), line);
    }
    Ok(order
        .into_iter()
        .map(|key| {
            let shards: Vec<SnapshotSummaryLine> = runs
                .remove(&key)
                .unwrap_or_default()
                .into_values()
                .collect();
            ShardRun {
                complete: shards.len() == key.1 as usize,
                run: key.0,
                count: key.1,
                shards,
            }
        })
        .collect())
}

fn logical_size(s: &SnapshotFile) -> u64 {
    s.summary.as_ref().map_or(0, |m| m.total_bytes_processed)
}

pub fn list_snapshots(store: &Store, name: Option<&str>) -> Result<Vec<SnapshotSummaryLine>> {
    let opened = store.open_locked(false, LockKind::Shared, "snapshots")?;
    let mut snaps = opened
        .repo
        .get_matching_snapshots(|s| name.is_none_or(|n| s.label == n))
        .map_err(|e| from_rustic(e, &format!("cannot list snapshots at {}", store.describe())))?;
    snaps.sort_by(|a, b| a.time.cmp(&b.time));
    Ok(snaps.iter().map(SnapshotSummaryLine::of).collect())
}

/// `forgesafe stats`.
#[derive(Debug, serde::Serialize)]
pub struct RepositoryStats {
    pub location: String,
    /// Bytes of every file of the repository on the store.
    #[serde(rename = "repositorySize")]
    pub repository_size: u64,
    pub snapshots: usize,
    pub paths: BTreeMap<String, PathStats>,
}

#[derive(Debug, serde::Serialize)]
pub struct PathStats {
    pub snapshots: usize,
    pub newest: String,
    #[serde(rename = "newestId")]
    pub newest_id: String,
    /// What the newest snapshot holds (bytes read by its push).
    #[serde(rename = "newestLogicalSize")]
    pub newest_logical_size: u64,
}

pub fn stats(store: &Store) -> Result<RepositoryStats> {
    let opened = store.open_locked(false, LockKind::Shared, "stats")?;
    let doing = format!("cannot read the repository at {}", store.describe());
    let snaps = opened
        .repo
        .get_all_snapshots()
        .map_err(|e| from_rustic(e, &doing))?;
    let mut paths: BTreeMap<String, Vec<&SnapshotFile>> = BTreeMap::new();
    for s in &snaps {
        paths.entry(s.label.clone()).or_default().push(s);
    }
    let paths = paths
        .into_iter()
        .map(|(path, of_path)| {
            let newest = of_path
                .iter()
                .max_by(|a, b| a.time.cmp(&b.time))
                .expect("a group is never empty");
            let stats = PathStats {
                snapshots: of_path.len(),
                newest: newest.time.to_string(),
                newest_id: full_id(&newest.id),
                newest_logical_size: logical_size(newest),
            };
            (path, stats)
        })
        .collect();
    Ok(RepositoryStats {
        location: store.describe().to_string(),
        repository_size: repository_size(&opened.repo, &doing)?,
        snapshots: snaps.len(),
        paths,
    })
}

/// Bytes of every file the repository has on the store.
pub(crate) fn repository_size(
    repo: &rustic_core::Repository<rustic_core::OpenStatus>,
    doing: &str,
) -> Result<u64> {
    let infos = repo.infos_files().map_err(|e| from_rustic(e, doing))?;
    Ok(infos.repo.iter().map(|info| info.size).sum())
}

pub struct HealthRequest {
    pub name: String,
    pub max_age: Duration,
}

/// The answer of `forgesafe health`.
#[derive(Debug, serde::Serialize)]
pub struct Health {
    pub path: String,
    pub healthy: bool,
    /// The newest snapshot of the path, if any.
    pub snapshot: Option<String>,
    pub time: Option<String>,
    #[serde(rename = "ageSeconds")]
    pub age_seconds: Option<u64>,
    #[serde(rename = "maxAgeSeconds")]
    pub max_age_seconds: u64,
}

impl Health {
    /// One line for people: what is wrong, or that all is well.
    pub fn summary(&self) -> String {
        let max = humantime::format_duration(Duration::from_secs(self.max_age_seconds));
        match (&self.snapshot, self.age_seconds) {
            (Some(id), Some(age)) => {
                let age = humantime::format_duration(Duration::from_secs(age));
                let verdict = if self.healthy { "healthy" } else { "too old" };
                format!("{verdict}: the newest snapshot of --path {:?} is {} from {age} ago (limit {max})", self.path, &id[..8.min(id.len())])
            }
            _ => format!(
                "missing: nothing was pushed under --path {:?} (limit {max})",
                self.path
            ),
        }
    }
}

/// Reads the snapshots only: takes no lock and writes nothing, so a probe can never get in the way
/// of a backup or a prune.
pub fn health(store: &Store, request: &HealthRequest) -> Result<Health> {
    let opened = store.open(false)?;
    let snaps = opened
        .repo
        .get_matching_snapshots(|s| s.label == request.name)
        .map_err(|e| from_rustic(e, &format!("cannot list snapshots at {}", store.describe())))?;
    let newest = snaps.iter().max_by(|a, b| a.time.cmp(&b.time));
    let age = newest.map(|s| {
        let now = rustic_core::jiff::Timestamp::now();
        let seconds = now.as_second() - s.time.timestamp().as_second();
        u64::try_from(seconds).unwrap_or(0)
    });
    let max_age_seconds = request.max_age.as_secs();
    Ok(Health {
        path: request.name.clone(),
        healthy: age.is_some_and(|a| a <= max_age_seconds),
        snapshot: newest.map(|s| full_id(&s.id)),
        time: newest.map(|s| s.time.to_string()),
        age_seconds: age,
        max_age_seconds,
    })
}
