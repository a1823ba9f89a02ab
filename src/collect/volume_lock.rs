//! One writer per volume: a collect (alone, inside `backup`, or a run of `serve`) holds an
//! exclusive advisory lock on `<dest>/.forgesafe/run.lock` for as long as it writes there. So a
//! `forgesafe backup` someone execs into the sidecar while `serve` runs its schedule waits for it
//! (up to its `--lock-wait`) instead of fetching into the same mirrors at once.
//!
//! The lock is the kernel's (`flock` through std's `File::lock`): it dies with the process, so a
//! killed run never leaves a stale lock on the volume. The file's text (who holds or last held it)
//! is only for the message a waiting command prints. Within one process the lock is re-entrant: `backup`
//! holds it across collect and push, and the collect inside takes it again for free.

use std::collections::HashMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Where the lock lives in a volume.
pub fn lock_file(dest: &Path) -> PathBuf {
    dest.join(".forgesafe").join("run.lock")
}

/// Held while alive; dropping the last holder in this process unlocks the volume.
#[must_use = "the volume is unlocked when this is dropped"]
pub struct VolumeLock {
    key: PathBuf,
}

struct Held {
    file: File,
    holders: usize,
}

fn held() -> &'static Mutex<HashMap<PathBuf, Held>> {
    static HELD: OnceLock<Mutex<HashMap<PathBuf, Held>>> = OnceLock::new();
    HELD.get_or_init(Default::default)
}

impl VolumeLock {
    /// Locks `dest` for `command`, waiting up to `wait` for another process that holds it.
    pub fn acquire(dest: &Path, command: &str, wait: Duration) -> Result<VolumeLock> {
        let path = lock_file(dest);
        let dir = path.parent().expect("the lock file has a parent");
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let key = std::fs::canonicalize(dir)
            .with_context(|| format!("cannot resolve {}", dir.display()))?;
        let mut table = held().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = table.get_mut(&key) {
            entry.holders += 1;
            return Ok(VolumeLock { key });
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open the volume lock {}", path.display()))?;
        let started = Instant::now();
        let mut told = false;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    let holder = read_holder(&mut file);
                    if started.elapsed() >= wait {
                        bail!(
                            "{} is in use by another run ({holder}); nothing was changed: wait for it to finish, or give a longer --lock-wait",
                            dest.display()
                        );
                    }
                    if !told {
                        tracing::info!(volume = %dest.display(), "waiting for another run to finish ({holder})");
                        told = true;
                    }
                    std::thread::sleep(
                        Duration::from_millis(200)
                            .min(wait.saturating_sub(started.elapsed()))
                            .max(Duration::from_millis(10)),
                    );
                }
                Err(TryLockError::Error(err)) => {
                    return Err(err).with_context(|| format!("cannot lock {}", path.display()));
                }
            }
        }
        write_holder(&mut file, command);
        table.insert(key.clone(), Held { file, holders: 1 });
        Ok(VolumeLock { key })
    }
}

impl Drop for VolumeLock {
    fn drop(&mut self) {
        let mut table = held().lock().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = table.get_mut(&self.key) else {
            return;
        };
        entry.holders -= 1;
        if entry.holders == 0 {
            if let Some(entry) = table.remove(&self.key) {
                // The holder's line stays: the file is part of the volume a push just snapshotted,
                // and it only counts while the kernel lock is held.
                let _ = entry.file.unlock();
            }
        }
    }
}

fn write_holder(file: &mut File, command: &str) {
    let text = format!(
        "{command}, pid {} on {}, since {}\n",
        std::process::id(),
        hostname::get()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "?".into()),
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
    );
    // Only informs a waiting process; the kernel lock is what counts.
    let _ = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| file.write_all(text.as_bytes()));
}

fn read_holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.rewind().and_then(|()| file.read_to_string(&mut text));
    let line = text.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        "holder unknown".to_string()
    } else {
        line.chars().filter(|c| !c.is_control()).take(200).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_is_reentrant_in_one_process_and_released_with_the_last_holder() {
        let dir = tempfile::tempdir().unwrap();
        let outer = VolumeLock::acquire(dir.path(), "backup", Duration::ZERO).unwrap();
        let inner = VolumeLock::acquire(dir.path(), "collect", Duration::ZERO).unwrap();
        drop(inner);
        // Still held: another open file description of the same file cannot take it.
        let other = File::open(lock_file(dir.path())).unwrap();
        assert!(matches!(other.try_lock(), Err(TryLockError::WouldBlock)));
        drop(outer);
        assert!(other.try_lock().is_ok(), "released with the last holder");
    }

    #[test]
    fn a_held_volume_is_refused_after_the_wait_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".forgesafe")).unwrap();
        let mut foreign = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(lock_file(dir.path()))
            .unwrap();
        foreign.lock().unwrap();
        write_holder(&mut foreign, "serve (scheduled run)");
        let err = VolumeLock::acquire(dir.path(), "backup", Duration::from_millis(50))
            .err()
            .expect("refused")
            .to_string();
        assert!(
            err.contains("is in use by another run (serve (scheduled run), pid "),
            "{err}"
        );
        assert!(err.contains("nothing was changed"), "{err}");
        foreign.unlock().unwrap();
        let _ok = VolumeLock::acquire(dir.path(), "backup", Duration::ZERO).unwrap();
    }
}
