//! Retention (`forget`, and `--keep-*` after a push) with restic's semantics, applied to the
//! snapshots of one `--path` only: other paths sharing the repository are never touched.

use super::errors::from_rustic;
use super::{full_id, LockKind, Store};
use anyhow::{bail, Result};
use rustic_core::repofile::SnapshotFile;
use rustic_core::{OpenStatus, PruneOptions, Repository};

/// rustic's own retention options (and flags, with its `clap` feature): `--keep-last`,
/// `--keep-daily`, `--keep-within`, … as restic has them.
pub use rustic_core::KeepOptions;

pub struct ForgetRequest {
    /// The `--path` whose snapshots the policy applies to.
    pub name: String,
    pub keep: KeepOptions,
    /// Also remove the data no remaining snapshot uses (restic's `forget --prune`).
    pub prune: bool,
    /// Say what would be forgotten; change nothing.
    pub dry_run: bool,
}

/// One snapshot and the verdict on it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RetentionLine {
    pub id: String,
    pub time: String,
    /// Why it is kept (`last`, `daily`, …), as restic words it; empty when it is forgotten.
    pub reasons: Vec<String>,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct ForgetOutcome {
    pub path: String,
    pub keep: Vec<RetentionLine>,
    pub remove: Vec<RetentionLine>,
    pub dry_run: bool,
    /// Pack files removed or repacked by the prune, when one ran.
    pub packs_removed: Option<u64>,
}

/// Whether any `--keep-*` option was given (rustic refuses a policy without one; a push without
/// one simply applies no retention).
pub fn has_policy(keep: &KeepOptions) -> bool {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(keep) else {
        return false;
    };
    fields.values().any(|v| match v {
        serde_json::Value::Null | serde_json::Value::Bool(false) => false,
        serde_json::Value::Array(items) => !items.is_empty(),
        _ => true,
    })
}

pub fn forget(store: &Store, request: &ForgetRequest) -> Result<ForgetOutcome> {
    if !has_policy(&request.keep) {
        bail!("forget needs a policy: give at least one --keep-* option (e.g. --keep-last 10 or --keep-daily 7)");
    }
    // A dry run writes nothing but its lock, so it shares the repository like a read.
    let kind = if request.dry_run {
        LockKind::Shared
    } else {
        LockKind::Exclusive
    };
    let opened = store.open_locked(false, kind, "forget")?;
    apply(&opened.repo, store.describe(), request)
}

/// Applies the policy on an already locked (exclusively, unless a dry run) repository.
pub(crate) fn apply(
    repo: &Repository<OpenStatus>,
    location: &str,
    request: &ForgetRequest,
) -> Result<ForgetOutcome> {
    let doing = format!(
        "cannot apply the retention policy to --path {:?} at {location}",
        request.name
    );
    let snapshots: Vec<SnapshotFile> = repo
        .get_matching_snapshots(|s| s.label == request.name)
        .map_err(|e| from_rustic(e, &doing))?;
    // keep-within counts back from the newest snapshot, as restic does; `now` only matters for
    // snapshots carrying their own delete-after marks.
    let verdicts = request
        .keep
        .apply(snapshots, &rustic_core::jiff::Zoned::now())
        .map_err(|e| from_rustic(e, &doing))?;
    let mut outcome = ForgetOutcome {
        path: request.name.clone(),
        dry_run: request.dry_run,
        ..Default::default()
    };
    let mut forget_ids = Vec::new();
    for verdict in verdicts {
        let line = RetentionLine {
            id: full_id(&verdict.snapshot.id),
            time: verdict.snapshot.time.to_string(),
            reasons: if verdict.keep {
                verdict.reasons
            } else {
                Vec::new()
            },
        };
        if verdict.keep {
            outcome.keep.push(line);
        } else {
            forget_ids.push(verdict.snapshot.id);
            outcome.remove.push(line);
        }
    }
    if request.dry_run {
        return Ok(outcome);
    }
    if !forget_ids.is_empty() {
        repo.delete_snapshots(&forget_ids)
            .map_err(|e| from_rustic(e, &doing))?;
    }
    if request.prune {
        let doing = format!("the snapshots are forgotten, but reclaiming their space at {location} failed (the next prune retries)");
        outcome.packs_removed = Some(prune_now(repo, &doing)?);
    }
    Ok(outcome)
}

/// Removes the data no snapshot uses, at once. Only ever called under an exclusive lock: nobody
/// else can be writing, so rustic's default grace period for concurrent writers is not needed,
/// and users delete to get their space back. Returns the pack files removed or repacked.
pub(crate) fn prune_now(repo: &Repository<OpenStatus>, doing: &str) -> Result<u64> {
    let opts = PruneOptions::default().instant_delete(true);
    let plan = repo.prune_plan(&opts).map_err(|e| from_rustic(e, doing))?;
    let packs = plan.stats.packs.unused + plan.stats.packs.repack;
    repo.prune(&opts, plan).map_err(|e| from_rustic(e, doing))?;
    Ok(packs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_is_any_keep_option() {
        assert!(!has_policy(&KeepOptions::default()));
        assert!(has_policy(&KeepOptions::default().keep_last(3)));
        assert!(has_policy(&KeepOptions::default().keep_daily(7)));
    }
}
