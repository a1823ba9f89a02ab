//! Repository care: `check` (nobody writes while it reads) and `unlock` (restic's, for the locks
//! a crashed process left behind).

use super::errors::from_rustic;
use super::lock::{self, UnlockOutcome};
use super::{LockKind, Store};
use anyhow::Result;

/// Verifies the repository's structure (and with `read_data`, every pack's content).
pub fn check(store: &Store, read_data: bool) -> Result<()> {
    let opened = store.open_locked(false, LockKind::Exclusive, "check")?;
    let opts = rustic_core::CheckOptions::default().read_data(read_data);
    let results = opened
        .repo
        .check(opts)
        .map_err(|e| from_rustic(e, &format!("cannot check the repository at {}", store.describe())))?;
    results
        .is_ok()
        .map_err(|e| from_rustic(e, &format!("the repository at {} has errors", store.describe())))
}

/// Removes stale locks (restic's rule), or with `remove_all` every lock. Takes no lock itself.
pub fn unlock(store: &Store, remove_all: bool) -> Result<UnlockOutcome> {
    let opened = store.open(false)?;
    lock::unlock(&store.locks(&opened.repo)?, remove_all)
}
