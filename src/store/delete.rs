//! `location delete`: forget one snapshot of a path and reclaim the space no other snapshot uses.

use super::errors::from_rustic;
use super::select::{select, OtherPath, Selected, SnapshotChoice};
use super::{LockKind, Store};
use anyhow::Result;

#[derive(Debug)]
pub enum DeleteOutcome {
    Deleted {
        snapshot_id: String,
        packs_removed: u64,
    },
    /// Kasten retries deletes: a snapshot the listing proves gone is success, with a warning.
    AlreadyGone,
}

pub fn delete(store: &Store, name: &str, choice: &SnapshotChoice) -> Result<DeleteOutcome> {
    // Exclusive: a prune must never overlap a push, which may be about to reference the packs
    // the prune would remove.
    let opened = store.open_locked(false, LockKind::Exclusive, "delete")?;
    let repo = &opened.repo;
    let snap = match select(repo, name, choice, OtherPath::Refuse, store.describe())? {
        Selected::Found(snap) => snap,
        Selected::Absent if *choice == SnapshotChoice::Latest => {
            anyhow::bail!(
                "nothing was pushed under --path {name:?} at {}: nothing was deleted",
                store.describe()
            )
        }
        Selected::Absent => return Ok(DeleteOutcome::AlreadyGone),
    };
    let doing = format!("cannot delete snapshot {} at {}", snap.id, store.describe());
    repo.delete_snapshots(&[snap.id])
        .map_err(|e| from_rustic(e, &doing))?;
    let doing = format!(
        "snapshot {} is deleted, but reclaiming its space at {} failed (the next delete retries)",
        snap.id,
        store.describe()
    );
    let packs_removed = super::retention::prune_now(repo, &doing)?;
    Ok(DeleteOutcome::Deleted {
        snapshot_id: super::full_id(&snap.id),
        packs_removed,
    })
}
