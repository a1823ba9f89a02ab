//! Repository care: `check` (nobody writes while it reads) and `unlock` (restic's, for the locks
//! a crashed process left behind).

use super::errors::from_rustic;
use super::lock::{self, UnlockOutcome};
use super::select::{select, OtherPath, Selected, SnapshotChoice};
use super::{LockKind, Store};
use anyhow::{bail, Result};

/// Verifies the repository's structure (and with `read_data`, every pack's content).
pub fn check(store: &Store, read_data: bool) -> Result<()> {
    let opened = store.open_locked(false, LockKind::Exclusive, "check")?;
    let opts = rustic_core::CheckOptions::default().read_data(read_data);
    let results = opened.repo.check(opts).map_err(|e| {
        from_rustic(
            e,
            &format!("cannot check the repository at {}", store.describe()),
        )
    })?;
    results.is_ok().map_err(|e| {
        from_rustic(
            e,
            &format!("the repository at {} has errors", store.describe()),
        )
    })
}

/// Removes stale locks (restic's rule), or with `remove_all` every lock. Takes no lock itself.
pub fn unlock(store: &Store, remove_all: bool) -> Result<UnlockOutcome> {
    let opened = store.open(false)?;
    lock::unlock(&store.locks(&opened.repo)?, remove_all)
}

/// What reading one snapshot's data found: nothing (it restores), or one line per problem, each
/// naming the pack (rustic's `check --read-data`, limited to the packs that snapshot uses).
#[derive(Debug)]
pub struct SnapshotCheck {
    pub snapshot_id: String,
    pub errors: Vec<String>,
}

/// Reads and verifies every pack the snapshot `choice` of `name` uses, under a shared lock (it only
/// reads). A restore drill runs it first: rustic's restorer cannot report a corrupt pack, it stops.
pub fn check_snapshot(store: &Store, name: &str, choice: &SnapshotChoice) -> Result<SnapshotCheck> {
    let opened = store.open_locked(false, LockKind::Shared, "drill")?;
    let snap = match select(
        &opened.repo,
        name,
        choice,
        OtherPath::Warn,
        store.describe(),
    )? {
        Selected::Found(snap) => snap,
        Selected::Absent => bail!(
            "no snapshot {} under --path {name:?} at {}: list them with `forgesafe snapshots`",
            choice_text(choice),
            store.describe()
        ),
    };
    let opts = rustic_core::CheckOptions::default().read_data(true);
    let doing = format!(
        "cannot check snapshot {} at {}",
        &super::full_id(&snap.id)[..8],
        store.describe()
    );
    let results = opened
        .repo
        .check_with_trees(opts, vec![snap.tree])
        .map_err(|e| from_rustic(e, &doing))?;
    // rustic does not export its level type: the derived name of the variant tells errors from
    // warnings (a pack a concurrent push has not indexed yet is only a warning).
    let errors = results
        .0
        .iter()
        .filter(|(level, _)| format!("{level:?}") == "Error")
        .map(|(_, error)| super::errors::one_line(&without_report_tail(&error.to_string())))
        .collect();
    Ok(SnapshotCheck {
        snapshot_id: super::full_id(&snap.id),
        errors,
    })
}

/// rustic's rendered errors end with a documentation link, context and (with RUST_BACKTRACE) a
/// backtrace; the finding is what comes before.
fn without_report_tail(text: &str) -> String {
    let end = [
        " For more information",
        "\nFor more information",
        "Some additional details",
        "Backtrace:",
    ]
    .iter()
    .filter_map(|m| text.find(m))
    .min()
    .unwrap_or(text.len());
    text[..end].trim_end().to_string()
}

fn choice_text(choice: &SnapshotChoice) -> String {
    match choice {
        SnapshotChoice::Latest => "(the newest)".into(),
        SnapshotChoice::Id(id) => id.clone(),
    }
}
