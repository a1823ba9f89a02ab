//! A local source whose walk starts before the repository is open.
//!
//! Opening a repository derives its key (scrypt at rustic's N=2^17: ~0.3 s of one CPU) and the
//! archive cannot start before that. The walk of the source (a stat and a node per entry) needs
//! no key, so a second thread walks ahead during the derivation and hands what it has to the
//! archive, which then goes on walking where that thread stopped. On the forge volume (30,400
//! files) the whole walk fits in the derivation and leaves the archive's pinned pipeline (see
//! [`super::cpu_affinity`]). The entries and their order are exactly the walker's own.
//!
//! The thread stops as soon as the archive asks for the entries, so it holds only what one
//! derivation's time could walk, and never more than [`MOST_ENTRIES_AHEAD`]. Entries walked
//! longer than [`FRESH_FOR`] before the archive asks (it waited for another process's lock) are
//! dropped and the walk starts again: a node records a file's size and times as they were when
//! walked, and the archive reads the file's content later.

use rustic_core::{LocalSource, ReadSource, ReadSourceEntry, RusticResult};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The most entries walked ahead (~850 bytes each, measured: ~55 MB at most).
pub const MOST_ENTRIES_AHEAD: usize = 65_536;

/// How long entries walked ahead stay usable: a key derivation takes well under a second.
pub const FRESH_FOR: Duration = Duration::from_secs(10);

// rustic_core names these types only through the trait.
type OpenFile = <LocalSource as ReadSource>::Open;
type LocalSourceWalker = <LocalSource as ReadSource>::Iter;
type Entry = RusticResult<ReadSourceEntry<OpenFile>>;

/// What the walking thread hands over: the entries it walked and the walk, to go on with.
type Ahead = (Vec<Entry>, LocalSourceWalker);

pub struct PrefetchedSource {
    local: LocalSource,
    ahead: Mutex<Option<JoinHandle<Ahead>>>,
    stop: Arc<AtomicBool>,
    started: Instant,
    fresh_for: Duration,
}

impl PrefetchedSource {
    /// Starts walking `local` on a new thread, up to `most` entries ahead.
    pub fn start(local: LocalSource, most: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let mut walk = local.entries();
        let stopped = stop.clone();
        let handle = std::thread::Builder::new()
            .name("walk-ahead".into())
            .spawn(move || {
                let mut entries = Vec::new();
                while entries.len() < most && !stopped.load(Ordering::Relaxed) {
                    match walk.next() {
                        Some(entry) => entries.push(entry),
                        None => break,
                    }
                }
                (entries, walk)
            });
        // Without a thread (the system refused one) the archive simply walks it all itself.
        let ahead = handle
            .inspect_err(|e| tracing::debug!(error = %e, "no thread to walk the source ahead"))
            .ok();
        PrefetchedSource {
            local,
            ahead: Mutex::new(ahead),
            stop,
            started: Instant::now(),
            fresh_for: FRESH_FOR,
        }
    }

    /// Whether the walking thread is done (for tests, which wait for it without a time bound).
    #[cfg(test)]
    fn walked_ahead(&self) -> bool {
        let ahead = self.ahead.lock().unwrap();
        ahead.as_ref().is_none_or(|handle| handle.is_finished())
    }

    #[cfg(test)]
    fn fresh_for(mut self, fresh_for: Duration) -> Self {
        self.fresh_for = fresh_for;
        self
    }
}

impl Drop for PrefetchedSource {
    /// A push that fails before its archive (a wrong password, a held lock) stops the walk.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl ReadSource for PrefetchedSource {
    type Open = OpenFile;
    type Iter = std::iter::Chain<std::vec::IntoIter<Entry>, LocalSourceWalker>;

    fn size(&self) -> RusticResult<Option<u64>> {
        self.local.size()
    }

    /// The entries walked ahead, then the rest of the same walk. A second call (rustic makes
    /// one per archive) walks afresh.
    fn entries(&self) -> Self::Iter {
        self.stop.store(true, Ordering::Relaxed);
        let handle = self.ahead.lock().unwrap_or_else(|e| e.into_inner()).take();
        let waited = self.started.elapsed();
        match handle.map(JoinHandle::join) {
            Some(Ok(_)) if waited > self.fresh_for => {
                tracing::debug!(
                    waited_ms = waited.as_millis() as u64,
                    "the source is walked again: the entries walked ahead are stale"
                );
                Vec::new().into_iter().chain(self.local.entries())
            }
            Some(Ok((entries, rest))) => {
                tracing::debug!(
                    walked_ahead = entries.len(),
                    "source entries walked during the key derivation"
                );
                entries.into_iter().chain(rest)
            }
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => Vec::new().into_iter().chain(self.local.entries()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PrefetchedSource;
    use rustic_core::{BackupOptions, LocalSource, ReadSource};
    use std::path::PathBuf;

    /// The source a push walks (push.rs makes it from the same defaults).
    fn local(root: &std::path::Path) -> LocalSource {
        let opts = BackupOptions::default();
        LocalSource::new(
            opts.ignore_save_opts,
            &opts.excludes,
            &opts.ignore_filter_opts,
            &[root.to_path_buf()],
        )
        .unwrap()
    }

    fn walked(
        entries: impl Iterator<Item = super::Entry>,
    ) -> Vec<(PathBuf, std::ffi::OsString, u64)> {
        entries
            .map(|e| {
                let e = e.unwrap();
                (e.path, e.node.name().into_owned(), e.node.meta.size)
            })
            .collect()
    }

    #[test]
    fn the_entries_walked_ahead_and_the_rest_are_the_walk_itself_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        for d in 0..4 {
            let dir = tmp.path().join(format!("d{d}")).join("sub");
            std::fs::create_dir_all(&dir).unwrap();
            for f in 0..5 {
                std::fs::write(dir.join(format!("f{f}")), vec![b'x'; d * 10 + f]).unwrap();
            }
        }
        let straight = walked(local(tmp.path()).entries());
        assert_eq!(straight.len(), 4 * 2 + 4 * 5);
        // Stopped after 3 entries: 3 handed over, the rest walked by the archive's thread.
        let source = PrefetchedSource::start(local(tmp.path()), 3);
        while !source.walked_ahead() {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(walked(source.entries()), straight);
        // A second archive of the same source walks it all again.
        assert_eq!(walked(source.entries()), straight);
        // Stopped at once (asked before the thread walked anything), and never stopped.
        assert_eq!(
            walked(PrefetchedSource::start(local(tmp.path()), 0).entries()),
            straight
        );
        assert_eq!(
            walked(PrefetchedSource::start(local(tmp.path()), usize::MAX).entries()),
            straight
        );
    }

    #[test]
    fn entries_walked_too_long_before_the_archive_are_walked_again() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("issue.json");
        std::fs::write(&file, b"{}").unwrap();
        let size_seen = |source: &PrefetchedSource| {
            let entries = walked(source.entries());
            entries.iter().find(|e| e.1 == "issue.json").unwrap().2
        };
        // Both walk ahead at once; the file grows before the archive asks (a lock wait).
        let fresh = PrefetchedSource::start(local(tmp.path()), usize::MAX);
        let stale = PrefetchedSource::start(local(tmp.path()), usize::MAX)
            .fresh_for(std::time::Duration::ZERO);
        while !(fresh.walked_ahead() && stale.walked_ahead()) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        std::fs::write(&file, b"{\"title\": \"grown\"}").unwrap();
        assert_eq!(
            size_seen(&fresh),
            2,
            "within its time the walk ahead is used as it was"
        );
        assert_eq!(
            size_seen(&stale),
            18,
            "past its time the source is walked again"
        );
    }
}
