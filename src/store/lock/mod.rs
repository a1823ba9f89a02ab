//! restic-compatible repository locks: taken before anything is written, refreshed while held,
//! removed when done (also on a signal or a panic), and honoured whoever wrote them.
//!
//! Acquiring follows restic: look at the other locks, write ours, wait 200 ms, look again, and
//! back out on a conflict (two processes that both wrote a lock at once see each other). A
//! non-exclusive lock conflicts with exclusive ones; an exclusive lock with every other lock.
//!
//! A non-exclusive lock takes its second look at once, without the wait: its only competitors
//! are exclusive lockers, and they (restic's and ours) wait 200 ms before their own second look.
//! If such a competitor's lock is not yet visible when we look again, it was written after ours
//! was, so its second look, 200 ms later, sees ours and it backs off; if it is visible, we back
//! off. Either way the two never both go on, and an unchanged re-push does not spend 200 ms of
//! its ~0.6 s on a timer (bench/retention.sh).
//! Unlike restic, a conflict is waited out for `--lock-wait`, and a stale lock that forgesafe
//! itself left behind (a killed push) is removed instead of blocking every later delete.

mod record;

pub use record::{process_exists, this_hostname, LockRecord, Unreadable, STALE_AFTER};

use super::sealed::RepoKey;
use super::storage::RepositoryFiles;
use anyhow::{anyhow, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

/// restic's folder of lock files.
const LOCKS: &str = "locks";
/// restic waits this long between writing its lock and looking for competitors again.
const SETTLE: Duration = Duration::from_millis(200);
/// How often a held lock is rewritten (restic: every 5 minutes).
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(5 * 60);
/// With no successful refresh for this long, the lock may look stale to others: stop writing
/// (restic gives up after the same 22.5 minutes).
const GIVE_UP_AFTER: Duration = Duration::from_secs(22 * 60 + 30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    /// push, pull, snapshots, stats: any number at once.
    Shared,
    /// delete, forget, prune, check, unlock-free maintenance: nobody else.
    Exclusive,
}

/// How to wait and refresh.
#[derive(Debug, Clone)]
pub struct LockSettings {
    /// How long to wait for a conflicting lock to go away before failing.
    pub wait: Duration,
    /// How often a held lock is rewritten.
    pub refresh: Duration,
}

impl Default for LockSettings {
    fn default() -> Self {
        LockSettings {
            wait: Duration::from_secs(5 * 60),
            refresh: DEFAULT_REFRESH,
        }
    }
}

/// A lock file of someone else's, as found in `locks/`.
#[derive(Debug, Clone)]
pub struct FoundLock {
    pub id: String,
    /// `Err` when the file cannot be read as a lock: it blocks like any lock (it may be one).
    pub record: Result<LockRecord, Unreadable>,
}

impl FoundLock {
    fn conflicts_with(&self, kind: LockKind) -> bool {
        match (&self.record, kind) {
            (_, LockKind::Exclusive) => true,
            (Ok(other), LockKind::Shared) => other.exclusive,
            (Err(_), LockKind::Shared) => true,
        }
    }

    fn is_own_stale(&self) -> bool {
        matches!(&self.record, Ok(r) if r.is_ours() && r.is_stale())
    }

    /// Stale by restic's rule (an unreadable file counts as stale only for `unlock --remove-all`).
    pub fn is_stale(&self) -> bool {
        matches!(&self.record, Ok(r) if r.is_stale())
    }

    pub fn describe(&self) -> String {
        match &self.record {
            Ok(r) => {
                let stale = if r.is_stale() {
                    " (it looks stale: that process seems gone)"
                } else {
                    ""
                };
                format!("{}{stale}", r.describe())
            }
            Err(why) => format!(
                "a lock file locks/{} that cannot be read ({why})",
                short(&self.id)
            ),
        }
    }
}

fn short(id: &str) -> &str {
    &id[..id.len().min(8)]
}

/// The repository's lock files, read with its key.
pub struct Locks {
    files: RepositoryFiles,
    key: RepoKey,
    location: String,
}

impl Locks {
    pub fn new(files: RepositoryFiles, key: RepoKey, location: String) -> Self {
        Locks {
            files,
            key,
            location,
        }
    }

    /// Every lock file but `except`, read and decrypted. Files that vanish while we read are skipped.
    pub fn list(&self, except: Option<&str>) -> Result<Vec<FoundLock>> {
        let mut found = Vec::new();
        for entry in self.files.list(LOCKS)? {
            if Some(entry.name.as_str()) == except {
                continue;
            }
            let Some(bytes) = self.files.read(&path_of(&entry.name))? else {
                continue;
            };
            match record::open(&entry.name, &bytes, &self.key) {
                Ok(Some(record)) => found.push(FoundLock {
                    id: entry.name,
                    record: Ok(record),
                }),
                Ok(None) => {} // empty: being written on a backend without atomic writes
                Err(why) => found.push(FoundLock {
                    id: entry.name,
                    record: Err(why),
                }),
            }
        }
        Ok(found)
    }

    pub fn remove(&self, id: &str) -> Result<()> {
        self.files.remove(&path_of(id))
    }

    fn write(&self, record: &LockRecord) -> Result<String> {
        let (id, bytes) = record::seal(record, &self.key)?;
        self.files.write(&path_of(&id), bytes)?;
        Ok(id)
    }

    /// Takes a lock of `kind`, waiting up to `settings.wait` for conflicting ones to go away.
    pub fn acquire(
        self,
        kind: LockKind,
        command: &str,
        settings: &LockSettings,
    ) -> Result<HeldLock> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(500);
        let mut reported: Option<String> = None;
        loop {
            let blocking = self.conflicts(kind, None)?;
            if blocking.is_empty() {
                let record = LockRecord::for_this_process(kind == LockKind::Exclusive, command);
                let id = self.write(&record)?;
                tracing::debug!(lock = %short(&id), elapsed_ms = started.elapsed().as_millis() as u64, "repository lock written");
                if kind == LockKind::Exclusive {
                    std::thread::sleep(SETTLE);
                }
                let checked = Instant::now();
                match self.conflicts(kind, Some(&id)) {
                    Ok(late) if late.is_empty() => {
                        tracing::debug!(lock = %short(&id), elapsed_ms = checked.elapsed().as_millis() as u64, "repository lock checked again");
                        return Ok(HeldLock::start(self, id, record, settings.refresh));
                    }
                    Ok(_) => self.remove(&id)?, // someone else wrote theirs at the same moment: back off, retry
                    Err(e) => {
                        let _ = self.remove(&id);
                        return Err(e);
                    }
                }
                continue;
            }
            let first = &blocking[0];
            if started.elapsed() >= settings.wait {
                let more = match blocking.len() {
                    1 => String::new(),
                    n => format!(" (and {} more)", n - 1),
                };
                let advice = if first.is_stale() || first.record.is_err() {
                    "if no such process is running, remove it with `forgesafe unlock` (`--remove-all` for unreadable or live-looking locks), then retry"
                } else {
                    "retry when it has finished, or wait longer with --lock-wait"
                };
                return Err(anyhow!(
                    "the repository at {} is locked by {}{more}; waited {}; {advice}",
                    self.location,
                    first.describe(),
                    humantime::format_duration(Duration::from_secs(settings.wait.as_secs())),
                ));
            }
            if reported.as_deref() != Some(first.id.as_str()) {
                tracing::info!(waiting_up_to = %humantime::format_duration(settings.wait), "the repository is locked by {}; waiting", first.describe());
                reported = Some(first.id.clone());
            }
            std::thread::sleep(
                pause
                    .min(settings.wait.saturating_sub(started.elapsed()))
                    .max(Duration::from_millis(50)),
            );
            pause = (pause * 2).min(Duration::from_secs(10));
        }
    }

    /// Locks that keep us from taking `kind`, after removing forgesafe's own stale ones.
    fn conflicts(&self, kind: LockKind, except: Option<&str>) -> Result<Vec<FoundLock>> {
        let mut blocking = Vec::new();
        for lock in self.list(except)? {
            // Removed even when it would not block us: it would block the next exclusive user
            // (a restic prune, a Kasten delete), and nobody else will ever remove it.
            if lock.is_own_stale() {
                tracing::info!("removing a stale lock left by {}", lock.describe());
                self.remove(&lock.id)?;
                continue;
            }
            if lock.conflicts_with(kind) {
                blocking.push(lock);
            }
        }
        Ok(blocking)
    }
}

fn path_of(id: &str) -> String {
    format!("{LOCKS}/{id}")
}

/// What a held lock shares with its refresher thread and with the process-wide cleanup.
struct Shared {
    locks: Locks,
    current: Mutex<Option<String>>,
    record: LockRecord,
    lost: Arc<AtomicBool>,
    stop: (Mutex<bool>, Condvar),
}

impl Shared {
    /// Removes the lock file (once).
    fn release(&self) {
        let started = Instant::now();
        let id = self
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(id) = id {
            if let Err(e) = self.locks.remove(&id) {
                tracing::warn!("cannot remove the repository lock locks/{}: {e:#}; remove it with `forgesafe unlock`", short(&id));
            } else {
                tracing::debug!(lock = %short(&id), elapsed_ms = started.elapsed().as_millis() as u64, "repository lock released");
            }
        }
    }

    fn refresh_loop(&self, every: Duration) {
        let mut last_success = Instant::now();
        let mut wait = every;
        loop {
            let (stopped, cv) = &self.stop;
            let guard = stopped.lock().unwrap_or_else(|e| e.into_inner());
            let (guard, _) = cv
                .wait_timeout_while(guard, wait, |stop| !*stop)
                .unwrap_or_else(|e| e.into_inner());
            if *guard {
                return;
            }
            drop(guard);
            match self.refresh_once() {
                Ok(()) => {
                    last_success = Instant::now();
                    wait = every;
                }
                Err(e) => {
                    tracing::warn!("cannot refresh the repository lock: {e:#}");
                    if self.lost.load(Ordering::SeqCst) || last_success.elapsed() > GIVE_UP_AFTER {
                        self.lost.store(true, Ordering::SeqCst);
                        tracing::error!("the repository lock is lost; nothing more is written");
                        return;
                    }
                    wait = (every / 5).max(Duration::from_secs(1));
                }
            }
        }
    }

    /// restic's refresh: write the lock anew (new time, new name), then remove the old file.
    fn refresh_once(&self) -> Result<()> {
        // Held throughout, so a release (a signal, the end of the command) never races a refresh
        // into leaving the new file behind.
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let Some(old) = current.clone() else {
            return Ok(());
        };
        if !self.locks.files.exists(&path_of(&old))? {
            // Someone removed it (`restic unlock --remove-all`): others may now prune under us.
            self.lost.store(true, Ordering::SeqCst);
            return Err(anyhow!(
                "our lock file locks/{} was removed by someone else",
                short(&old)
            ));
        }
        let new = self.locks.write(&self.record.refreshed())?;
        *current = Some(new.clone());
        self.locks.remove(&old)?;
        tracing::debug!(old = %short(&old), new = %short(&new), "repository lock refreshed");
        Ok(())
    }
}

/// Every lock this process holds, so a signal or a panic can remove them before exiting.
static HELD: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());

/// Removes every lock this process holds (a signal or a panic is about to end it).
pub fn release_all() {
    let held: Vec<Weak<Shared>> =
        std::mem::take(&mut *HELD.lock().unwrap_or_else(|e| e.into_inner()));
    for shared in held.iter().filter_map(Weak::upgrade) {
        shared.release();
    }
}

/// A lock this process holds. Dropping it stops the refresher and removes the file.
pub struct HeldLock {
    shared: Arc<Shared>,
    refresher: Option<std::thread::JoinHandle<()>>,
}

impl HeldLock {
    fn start(locks: Locks, id: String, record: LockRecord, refresh: Duration) -> HeldLock {
        let shared = Arc::new(Shared {
            locks,
            current: Mutex::new(Some(id)),
            record,
            lost: Arc::new(AtomicBool::new(false)),
            stop: (Mutex::new(false), Condvar::new()),
        });
        HELD.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::downgrade(&shared));
        let worker = shared.clone();
        let refresher = std::thread::Builder::new()
            .name("forgesafe-lock-refresh".into())
            .spawn(move || worker.refresh_loop(refresh))
            .ok();
        HeldLock { shared, refresher }
    }

    /// Set once the lock can no longer be trusted (refresh failing for too long, or removed by
    /// someone else); the snapshot gate then refuses every further write.
    pub fn lost_flag(&self) -> Arc<AtomicBool> {
        self.shared.lost.clone()
    }

    /// The current lock file's id (it changes at every refresh).
    pub fn id(&self) -> Option<String> {
        self.shared
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn is_exclusive(&self) -> bool {
        self.shared.record.exclusive
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        {
            let (stopped, cv) = &self.shared.stop;
            *stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
            cv.notify_all();
        }
        if let Some(handle) = self.refresher.take() {
            let _ = handle.join();
        }
        self.shared.release();
        let me = Arc::as_ptr(&self.shared);
        HELD.lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|w| w.as_ptr() != me && w.strong_count() > 0);
    }
}

/// What `forgesafe unlock` removed.
#[derive(Debug, Default, serde::Serialize)]
pub struct UnlockOutcome {
    pub removed: Vec<String>,
    /// Locks left in place because they are not stale (only with `remove_all == false`).
    pub kept: Vec<String>,
}

/// `restic unlock`: removes stale locks (any tool's); with `remove_all`, every lock.
pub fn unlock(locks: &Locks, remove_all: bool) -> Result<UnlockOutcome> {
    let mut outcome = UnlockOutcome::default();
    for lock in locks.list(None)? {
        if remove_all || lock.is_stale() {
            locks.remove(&lock.id)?;
            tracing::info!("removed {}", lock.describe());
            outcome.removed.push(lock.id);
        } else {
            tracing::info!(
                "kept {} (not stale; --remove-all removes it too)",
                lock.describe()
            );
            outcome.kept.push(lock.id);
        }
    }
    Ok(outcome)
}
