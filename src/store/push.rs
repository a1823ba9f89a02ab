//! `location push`: a directory, a file or stdin into a new snapshot.

use super::errors::from_rustic;
use super::source::RecordingSource;
use super::{Store, TAG};
use anyhow::{anyhow, bail, Context, Result};
use rustic_core::{
    BackupOptions, LocalSource, SnapshotGroupCriterion, SnapshotOptions, StdinSource,
};
use std::path::PathBuf;

pub enum PushSource {
    Path(PathBuf),
    Stdin,
}

pub struct PushRequest {
    pub source: PushSource,
    /// The `--path` name the snapshot is filed under.
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct PushOutcome {
    pub snapshot_id: String,
    /// Bytes read from the source.
    pub logical_size: u64,
    /// Bytes this push added to the store (after dedup, compression and encryption).
    pub physical_size: u64,
    pub repository_created: bool,
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
    let source_path = match &request.source {
        PushSource::Path(p) => Some(
            std::fs::canonicalize(p)
                .with_context(|| format!("cannot read source {}: check that it exists and is readable", p.display()))?,
        ),
        PushSource::Stdin => None,
    };
    let opened = store.open(true)?;
    let gate = opened.gate.clone();
    let doing = format!("push to {} failed", store.describe());
    let repo = opened.repo.to_indexed_ids().map_err(|e| from_rustic(e, &doing))?;

    let mut snap = SnapshotOptions::default()
        .label(request.name.clone())
        .to_snapshot()
        .map_err(|e| from_rustic(e, &doing))?;
    snap.tags.add(TAG.to_string());
    // restic's CLI splits tags at commas; the label keeps the exact name.
    snap.tags.add(format!("path:{}", request.name.replace(',', "_")));

    let mut opts = BackupOptions::default();
    // The parent (for the fast unchanged-file check) is the newest snapshot of the same name and
    // source path, on any host: pods get a new hostname on every restart.
    let mut group = SnapshotGroupCriterion::new();
    group.hostname = false;
    group.label = true;
    group.paths = true;
    group.tags = false;
    opts.parent_opts.group_by = Some(group);

    let result = match &source_path {
        Some(path) => {
            let local = LocalSource::new(
                opts.ignore_save_opts,
                &opts.excludes,
                &opts.ignore_filter_opts,
                std::slice::from_ref(path),
            )
            .map_err(|e| from_rustic(e, &doing))?;
            let src = RecordingSource::new(local, gate.clone());
            repo.archive(&opts, &src, snap, std::slice::from_ref(path))
        }
        None => {
            let entry = stdin_entry_name(&request.name);
            opts.parent_opts.force = true;
            let src = RecordingSource::new(StdinSource::new(entry.clone()), gate.clone());
            repo.archive(&opts, &src, snap, &[entry])
        }
    };

    let source_errors = gate.source_errors();
    if !source_errors.is_empty() {
        let more = if source_errors.len() > 1 { format!(" (and {} more)", source_errors.len() - 1) } else { String::new() };
        bail!(
            "push not recorded: {}{more}; make every file readable by this user (or exclude it) and push again",
            source_errors[0]
        );
    }
    let snap = result.map_err(|e| from_rustic(e, &doing))?;
    let summary = snap.summary.as_ref().ok_or_else(|| anyhow!("{doing}: rustic returned a snapshot without a summary"))?;
    Ok(PushOutcome {
        snapshot_id: super::full_id(&snap.id),
        logical_size: summary.total_bytes_processed,
        physical_size: summary.data_added_packed,
        repository_created: opened.created,
    })
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
    use super::stdin_entry_name;

    #[test]
    fn stdin_entries_are_named_after_the_path() {
        assert_eq!(stdin_entry_name("bucket/db/dump.sql"), std::path::PathBuf::from("dump.sql"));
        assert_eq!(stdin_entry_name("x/"), std::path::PathBuf::from("x"));
        assert_eq!(stdin_entry_name("/"), std::path::PathBuf::from("stdin"));
        assert_eq!(stdin_entry_name(".."), std::path::PathBuf::from("stdin"));
    }
}
