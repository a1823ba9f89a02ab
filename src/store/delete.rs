//! `location delete`: forget one snapshot and reclaim the space no other snapshot uses.

use super::errors::from_rustic;
use super::{select_snapshot, Store};
use anyhow::Result;
use rustic_core::PruneOptions;

#[derive(Debug)]
pub enum DeleteOutcome {
    Deleted { snapshot_id: String, packs_removed: u64 },
    /// Kasten retries deletes: a snapshot that is already gone is success, with a warning.
    AlreadyGone,
}

pub fn delete(store: &Store, name: &str, snapshot_id: &str) -> Result<DeleteOutcome> {
    let opened = store.open(false)?;
    let repo = opened.repo;
    let Some(snap) = select_snapshot(&repo, name, Some(snapshot_id), store.describe())? else {
        return Ok(DeleteOutcome::AlreadyGone);
    };
    let doing = format!("cannot delete snapshot {} at {}", snap.id, store.describe());
    repo.delete_snapshots(&[snap.id]).map_err(|e| from_rustic(e, &doing))?;

    // Remove unused data at once rather than rustic's default of marking it for a later prune:
    // users delete to get space back. (See README: delete is not meant to run concurrently with
    // a push to the same location.)
    let doing = format!("snapshot {} is deleted, but reclaiming its space at {} failed (the next delete retries)", snap.id, store.describe());
    let opts = PruneOptions::default().instant_delete(true);
    let plan = repo.prune_plan(&opts).map_err(|e| from_rustic(e, &doing))?;
    let packs_removed = plan.stats.packs.unused + plan.stats.packs.repack;
    repo.prune(&opts, plan).map_err(|e| from_rustic(e, &doing))?;
    Ok(DeleteOutcome::Deleted { snapshot_id: super::full_id(&snap.id), packs_removed })
}
