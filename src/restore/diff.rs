//! `forgesafe diff`: what changed between two snapshots of one `--path`, per repository: refs
//! added, moved (fast-forward), force-pushed (the old tip is not an ancestor of the new) and
//! deleted, and repositories added or gone. Refs come from the snapshots' records or ref files;
//! only a repository with moved refs has its newer mirror restored (into a scratch folder) to
//! tell a fast-forward from a force-push.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use serde::Serialize;

use super::inventory::{self, RepoInSnapshot};
use crate::collect::mirror;
use crate::store::{Piece, Snapshot, SnapshotChoice, Store};

#[derive(Debug, Clone)]
pub struct DiffRequest {
    pub name: String,
    /// The older snapshot.
    pub from: SnapshotChoice,
    /// The newer snapshot.
    pub to: SnapshotChoice,
    /// Where scratch copies of mirrors go (default: the system's temporary folder).
    pub work_dir: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SnapshotDiff {
    pub path: String,
    pub from: String,
    pub to: String,
    pub repositories_added: Vec<String>,
    pub repositories_gone: Vec<String>,
    /// Repositories in both snapshots whose refs differ.
    pub repositories: Vec<RepositoryDiff>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RepositoryDiff {
    pub repository: String,
    pub refs_added: Vec<RefChange>,
    pub refs_moved: Vec<RefChange>,
    pub refs_force_pushed: Vec<RefChange>,
    pub refs_deleted: Vec<RefChange>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RefChange {
    #[serde(rename = "ref")]
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
}

impl SnapshotDiff {
    pub fn is_empty(&self) -> bool {
        self.repositories_added.is_empty()
            && self.repositories_gone.is_empty()
            && self.repositories.is_empty()
    }

    /// One line per change, for a terminal: what may be an attack or an accident first
    /// (force-pushes, deleted refs, repositories gone), then ordinary progress.
    pub fn lines(&self) -> Vec<String> {
        let short = |id: &Option<String>| {
            id.as_deref()
                .map_or("?".to_string(), |id| id[..id.len().min(12)].to_string())
        };
        let each = |pick: fn(&RepositoryDiff) -> &Vec<RefChange>,
                    line: &dyn Fn(&str, &RefChange) -> String|
         -> Vec<String> {
            self.repositories
                .iter()
                .flat_map(|repo| {
                    pick(repo)
                        .iter()
                        .map(|c| line(&repo.repository, c))
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        let mut lines = Vec::new();
        lines.extend(each(|r| &r.refs_force_pushed, &|r, c| {
            format!(
                "{r}: {} FORCE-PUSHED {} -> {}",
                c.name,
                short(&c.old),
                short(&c.new)
            )
        }));
        lines.extend(each(|r| &r.refs_deleted, &|r, c| {
            format!("{r}: {} DELETED (was {})", c.name, short(&c.old))
        }));
        lines.extend(
            self.repositories_gone
                .iter()
                .map(|r| format!("{r}: repository GONE")),
        );
        lines.extend(each(|r| &r.refs_moved, &|r, c| {
            format!(
                "{r}: {} moved {} -> {}",
                c.name,
                short(&c.old),
                short(&c.new)
            )
        }));
        lines.extend(each(|r| &r.refs_added, &|r, c| {
            format!("{r}: {} added at {}", c.name, short(&c.new))
        }));
        lines.extend(
            self.repositories_added
                .iter()
                .map(|r| format!("{r}: repository added")),
        );
        lines
    }
}

pub fn diff(store: &Store, request: &DiffRequest) -> Result<SnapshotDiff> {
    let older = Snapshot::open(store, &request.name, &request.from, "diff")?;
    let newer = Snapshot::open(store, &request.name, &request.to, "diff")?;
    let before = inventory::by_path(inventory::repositories(&older, true)?);
    let after = inventory::by_path(inventory::repositories(&newer, true)?);
    let mut report = SnapshotDiff {
        path: request.name.clone(),
        from: older.id(),
        to: newer.id(),
        ..Default::default()
    };
    drop(older);
    report.repositories_added = after
        .iter()
        .filter(|(p, _)| !before.contains_key(*p))
        .map(|(_, r)| r.full_name())
        .collect();
    report.repositories_gone = before
        .iter()
        .filter(|(p, _)| !after.contains_key(*p))
        .map(|(_, r)| r.full_name())
        .collect();

    let parent = request.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    for (path, new) in &after {
        let Some(old) = before.get(path) else {
            continue;
        };
        let changes = compare(old, new, &newer, &parent)?;
        if !(changes.refs_added.is_empty()
            && changes.refs_moved.is_empty()
            && changes.refs_force_pushed.is_empty()
            && changes.refs_deleted.is_empty())
        {
            report.repositories.push(changes);
        }
    }
    Ok(report)
}

fn compare(
    old: &RepoInSnapshot,
    new: &RepoInSnapshot,
    newer: &Snapshot,
    scratch_parent: &std::path::Path,
) -> Result<RepositoryDiff> {
    let (old_refs, new_refs) = (&old.ref_map.refs, &new.ref_map.refs);
    let names: BTreeSet<&String> = old_refs.keys().chain(new_refs.keys()).collect();
    let mut changes = RepositoryDiff {
        repository: new.full_name(),
        ..Default::default()
    };
    let mut moved = Vec::new();
    for name in names {
        let change = RefChange {
            name: name.clone(),
            old: old_refs.get(name).cloned(),
            new: new_refs.get(name).cloned(),
        };
        match (&change.old, &change.new) {
            (None, Some(_)) => changes.refs_added.push(change),
            (Some(_), None) => changes.refs_deleted.push(change),
            (Some(a), Some(b)) if a != b => moved.push(change),
            _ => {}
        }
    }
    if moved.is_empty() {
        return Ok(changes);
    }
    // Ancestry needs the objects: the newer mirror holds both tips (a mirror never drops objects).
    let scratch = crate::shutdown::ScratchDir::new_in(scratch_parent, ".forgesafe-diff-")
        .with_context(|| {
            format!(
                "cannot create a scratch folder in {}: give --work-dir on a writable volume",
                scratch_parent.display()
            )
        })?;
    newer.restore_pieces(
        &[Piece {
            in_snapshot: new.path.clone(),
            to: "mirror.git".into(),
        }],
        scratch.path(),
    )?;
    let git_dir = scratch.path().join("mirror.git");
    for change in moved {
        let (Some(old_id), Some(new_id)) = (&change.old, &change.new) else {
            continue;
        };
        let fast_forward =
            mirror::is_ancestor_hex(&git_dir, old_id, new_id).with_context(|| {
                format!(
                    "{}: cannot tell whether {} was force-pushed",
                    new.full_name(),
                    change.name
                )
            })?;
        if fast_forward {
            changes.refs_moved.push(change);
        } else {
            changes.refs_force_pushed.push(change);
        }
    }
    Ok(changes)
}
