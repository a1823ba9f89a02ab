//! The repository: rustic_core and rustic_backend live here and only here.
//!
//! One repository per location (bucket + prefix, or a local directory), shared by everything
//! pushed there, so data deduplicates across pushes and across `--path` names. A snapshot
//! carries its `--path` name as its label (exact) and as a `path:NAME` tag (visible to restic).

mod backend;
mod browse;
mod cpu_affinity;
mod delete;
pub mod errors;
mod listing;
pub mod lock;
mod maintenance;
mod prefetch;
mod progress;
mod pull;
mod push;
mod restorer;
mod retention;
mod sealed;
mod select;
pub mod size;
mod source;
mod storage;
mod tar_stream;
pub mod target;

pub use browse::{clean_relative, read_file, Entry, EntryKind, FileInSnapshot, Piece, Snapshot};
pub use delete::{delete, DeleteOutcome};
pub use listing::{
    health, list_snapshots, shard_runs, stats, Health, HealthRequest, PathStats, RepositoryStats,
    ShardRun, SnapshotSummaryLine,
};
pub use lock::{LockKind, LockSettings};
pub use maintenance::{check, check_snapshot, unlock, SnapshotCheck};
pub use pull::{pull, PullOutcome, PullRequest, PullTarget};
pub use push::{push, PushLimits, PushOutcome, PushRequest, PushSource};
pub use retention::{forget, ForgetOutcome, ForgetRequest, KeepOptions, RetentionLine};
pub use select::SnapshotChoice;

use crate::profile::Location;
use crate::secret::Secret;
use anyhow::{anyhow, Result};
use backend::{BackendSpec, GateState};
use rustic_core::repofile::{KeyId, MasterKey};
use rustic_core::{
    ConfigOptions, Credentials, FileType, KeyOptions, OpenStatus, Repository, RepositoryOptions,
    WriteBackend,
};
use std::path::PathBuf;
use std::sync::Arc;

/// Tag every forgesafe snapshot carries, so restic users can tell them apart.
pub const TAG: &str = "forgesafe";

/// A repository location with the password that opens it.
pub struct Store {
    spec: BackendSpec,
    description: String,
    password: Secret,
    cache_dir: Option<PathBuf>,
    is_local: bool,
    locking: LockSettings,
    /// The master key the password opened the last time, so that later opens by this Store (the
    /// retention after a push, serve's next scheduled run) skip the key derivation: scrypt at
    /// rustic's N=2^17 costs ~0.3 s and 128 MiB every time, more than an unchanged re-push.
    derived: std::sync::Mutex<Option<DerivedKey>>,
    /// Password openings (key derivations) so far, for tests.
    derivations: std::sync::atomic::AtomicUsize,
}

/// A master key and the key file whose password opened it.
#[derive(Clone)]
struct DerivedKey {
    key: MasterKey,
    key_id: KeyId,
}

/// How the repository was reached. Fields drop in order: the repository before its lock.
pub struct Opened {
    pub repo: Repository<OpenStatus>,
    pub gate: Arc<GateState>,
    pub created: bool,
    /// The backend rustic_core reads and writes through (the gated one), for reading packs
    /// directly (see restorer.rs).
    pub backend: Arc<dyn WriteBackend>,
    /// The restic-compatible lock this command holds, if it takes one.
    pub lock: Option<lock::HeldLock>,
}

impl Store {
    pub fn new(location: &Location, password: Secret, cache_dir: Option<PathBuf>) -> Result<Self> {
        if password.is_empty() {
            return Err(anyhow!(
                "the repository password is empty: give a non-empty password"
            ));
        }
        Ok(Store {
            spec: BackendSpec::from_location(location)?,
            description: location.describe(),
            password,
            cache_dir,
            is_local: matches!(location, Location::Local { .. }),
            locking: LockSettings::default(),
            derived: std::sync::Mutex::new(None),
            derivations: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// How long to wait for another process's lock, and how often to refresh ours.
    pub fn with_locking(mut self, locking: LockSettings) -> Self {
        self.locking = locking;
        self
    }

    pub fn describe(&self) -> &str {
        &self.description
    }

    fn options(&self) -> RepositoryOptions {
        // A local repository gains nothing from a cache; a remote one saves re-reading index
        // and snapshot files on every push.
        let opts = RepositoryOptions::default();
        match (&self.cache_dir, self.is_local) {
            (_, true) => opts.no_cache(true),
            (Some(dir), false) => opts.cache_dir(dir.clone()),
            (None, false) => opts,
        }
    }

    /// Opens the repository and takes a lock of `kind` for `command` before anything is written
    /// (with `create_if_missing`, only the repository's own creation comes first, as with restic,
    /// whose `init` takes no lock either).
    pub fn open_locked(
        &self,
        create_if_missing: bool,
        kind: LockKind,
        command: &str,
    ) -> Result<Opened> {
        let mut opened = self.open(create_if_missing)?;
        let held = self
            .locks(&opened.repo)?
            .acquire(kind, command, &self.locking)?;
        opened.gate.watch_lock(&held);
        opened.lock = Some(held);
        Ok(opened)
    }

    /// The repository's lock files, read and written with its key.
    pub fn locks(&self, repo: &Repository<OpenStatus>) -> Result<lock::Locks> {
        let key = sealed::RepoKey::from_master(&repo.key())?;
        Ok(lock::Locks::new(
            self.spec.repository_files()?,
            key,
            self.description.clone(),
        ))
    }

    /// Reads file contents straight from the packs of what `opened` opened, in bounded memory.
    pub(crate) fn pack_reader(&self, opened: &Opened) -> Result<restorer::PackReader> {
        let key = sealed::RepoKey::from_master(&opened.repo.key())?;
        Ok(restorer::PackReader::new(
            opened.backend.clone(),
            key,
            !self.is_local,
        ))
    }

    /// Whether the location answers: `Ok(true)` with a repository there, `Ok(false)` empty (a
    /// first push creates it). Reads only the config file's presence: no key derivation, no lock,
    /// nothing written, so a readiness probe can call it every minute.
    pub fn probe(&self) -> Result<bool> {
        let backends = self.spec.to_backends(Arc::new(GateState::default()))?;
        let doing = format!("cannot reach the repository at {}", self.description);
        let repo = Repository::new(&RepositoryOptions::default().no_cache(true), &backends)
            .map_err(|e| errors::from_rustic(e, &doing))?;
        Ok(repo
            .config_id()
            .map_err(|e| errors::from_rustic(e, &doing))?
            .is_some())
    }

    /// Opens the repository without a lock (init, health, unlock); with `create_if_missing`, an
    /// empty location is initialised first.
    pub fn open(&self, create_if_missing: bool) -> Result<Opened> {
        let gate = Arc::new(GateState::default());
        let backends = self.spec.to_backends(gate.clone())?;
        let backend = backends.repository();
        let doing = format!("cannot open the repository at {}", self.description);
        let repo =
            Repository::new_with_progress(&self.options(), &backends, progress::TerminalBars)
                .map_err(|e| errors::from_rustic(e, &doing))?;
        let exists = repo
            .config_id()
            .map_err(|e| errors::from_rustic(e, &doing))?
            .is_some();
        let credentials = Credentials::password(self.password.expose());
        if exists {
            if let Some(repo) = self.open_with_derived_key(&repo, backend.as_ref(), &doing)? {
                return Ok(Opened {
                    repo,
                    gate,
                    created: false,
                    backend,
                    lock: None,
                });
            }
            self.derivations
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let repo = match repo.clone().open(&credentials) {
                Ok(repo) => repo,
                // A first push that lost the race to create this repository (see the init branch
                // below) wrote a key and removes it a moment later: rustic may open that key (it
                // stops at the first key the password opens) or list it and find it gone. Wait
                // for it to go and open again.
                Err(e) if a_losers_key_is_in_the_way(&e) => {
                    open_after_a_losers_key_is_gone(&repo, &credentials, &doing)?
                }
                Err(e) => return Err(errors::from_rustic(e, &doing)),
            };
            self.remember_key(&repo);
            return Ok(Opened {
                repo,
                gate,
                created: false,
                backend,
                lock: None,
            });
        }
        if !create_if_missing {
            return Err(anyhow!(
                "no repository at {}: push to it first (or run forgesafe init), and check the profile's bucket and prefix",
                self.description
            ));
        }
        tracing::info!(location = %self.description, "initialising a new repository");
        self.derivations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match repo.init(&credentials, &KeyOptions::default(), &config_options()?) {
            Ok(repo) => {
                self.remember_key(&repo);
                Ok(Opened {
                    repo,
                    gate,
                    created: true,
                    backend,
                    lock: None,
                })
            }
            Err(_) if gate.config_taken() => {
                // Another process created the repository first (the config is written only if
                // absent): the key this one wrote belongs to no config; remove it and use theirs.
                let files = self.spec.repository_files()?;
                for id in gate.keys_written() {
                    files.remove(&format!("keys/{}", id.to_hex().as_str()))?;
                }
                tracing::info!(location = %self.description, "another process created the repository at the same moment; using it");
                self.open(false)
            }
            Err(e) => Err(errors::from_rustic(
                e,
                &format!("cannot initialise a repository at {}", self.description),
            )),
        }
    }

    /// Opens with the master key an earlier open derived, if there is one and the key file its
    /// password opened is still there: removing that file (`restic key remove`) revokes the
    /// password, which the master key alone would not notice. One listing of keys/, no scrypt.
    fn open_with_derived_key(
        &self,
        repo: &Repository<()>,
        backend: &dyn WriteBackend,
        doing: &str,
    ) -> Result<Option<Repository<OpenStatus>>> {
        let Some(derived) = self.derived.lock().expect("derived key").clone() else {
            return Ok(None);
        };
        let keys = backend
            .list(FileType::Key)
            .map_err(|e| errors::from_rustic(e, doing))?;
        let still_there = keys.iter().any(|id| *id == *derived.key_id);
        let opened = if still_there {
            repo.clone().open(&Credentials::Masterkey(derived.key)).ok()
        } else {
            None
        };
        if opened.is_none() {
            *self.derived.lock().expect("derived key") = None;
        }
        Ok(opened)
    }

    fn remember_key(&self, repo: &Repository<OpenStatus>) {
        if let Some(key_id) = *repo.key_id() {
            *self.derived.lock().expect("derived key") = Some(DerivedKey {
                key: repo.key(),
                key_id,
            });
        }
    }

    /// How many times this Store derived a key from its password.
    #[cfg(test)]
    fn key_derivations(&self) -> usize {
        self.derivations.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// rustic's code for data that failed to decrypt (its `C001`); while opening, only the config is
/// decrypted after the key, so it means a key that does not belong to the config.
const CONFIG_KEY_MISMATCH: &str = "C001";

/// Whether opening an existing repository failed the way a losing first push's key makes it
/// fail: the key opened with our password but the config would not decrypt with it (the code
/// sits on the cause, under "error processing Config"), or the key was listed and then removed
/// before it was read (not found, though the config is there).
fn a_losers_key_is_in_the_way(error: &rustic_core::RusticError) -> bool {
    if matches!(
        errors::classify(error),
        Some(errors::StoreFailure::NotFound)
    ) {
        return true;
    }
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = next {
        // A cause is kept either as the error itself or as its box, depending on how it was attached.
        let rustic = current
            .downcast_ref::<rustic_core::RusticError>()
            .or_else(|| {
                current
                    .downcast_ref::<Box<rustic_core::RusticError>>()
                    .map(|b| &**b)
            });
        if rustic.is_some_and(|e| e.is_code(CONFIG_KEY_MISMATCH)) {
            return true;
        }
        next = current.source();
    }
    false
}

/// Opens again, a few times over about ten seconds, while a losing first push removes its key.
fn open_after_a_losers_key_is_gone(
    repo: &Repository<()>,
    credentials: &Credentials,
    doing: &str,
) -> Result<Repository<OpenStatus>> {
    let mut wait = std::time::Duration::from_millis(50);
    for _ in 0..8 {
        std::thread::sleep(wait);
        wait *= 2;
        match repo.clone().open(credentials) {
            Ok(repo) => return Ok(repo),
            Err(e) if a_losers_key_is_in_the_way(&e) => continue,
            Err(e) => return Err(errors::from_rustic(e, doing)),
        }
    }
    Err(anyhow!(
        "{doing}: a key in keys/ opens with this password but does not fit the repository's config, or keys vanish as they are read; remove the stray key (restic key list, restic key remove) and retry"
    ))
}

/// Repository-wide settings chosen at init. `FORGESAFE_COMPRESSION` sets the zstd level (1–22,
/// negative for the fast levels; default: zstd's 3) for a repository created from now on.
fn config_options() -> Result<ConfigOptions> {
    let mut opts = ConfigOptions::default();
    if let Ok(level) = std::env::var("FORGESAFE_COMPRESSION") {
        let level: i32 = level.parse().map_err(|_| {
            anyhow!("FORGESAFE_COMPRESSION is {level:?}: give a zstd level such as 1 or 3")
        })?;
        opts = opts.set_compression(level);
    }
    Ok(opts)
}

/// The full 64-digit id (rustic's Display shows only the first 8).
pub(crate) fn full_id(id: &rustic_core::repofile::SnapshotId) -> String {
    id.to_hex().as_str().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local_store(dir: &std::path::Path, password: &str) -> Store {
        let location = crate::profile::parse(
            &serde_json::json!({"Location": {"type": "local", "path": dir}}).to_string(),
        )
        .unwrap();
        Store::new(&location, Secret::new(password.to_string()), None).unwrap()
    }

    #[test]
    fn a_store_derives_its_key_once_and_honours_a_revoked_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let repo_dir = dir.path().join("repo");
        let store = local_store(&repo_dir, "first password");
        drop(store.open(true).unwrap());
        drop(store.open(false).unwrap());
        drop(store.open(false).unwrap());
        assert_eq!(
            store.key_derivations(),
            1,
            "the second and third opens reuse the derived key"
        );

        // Rotate: a new password's key file in, the first one's out (restic key add / key remove).
        let opened = store.open(false).unwrap();
        let keys: Vec<_> = std::fs::read_dir(repo_dir.join("keys"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(keys.len(), 1);
        opened
            .repo
            .add_key("second password", &KeyOptions::default())
            .unwrap();
        drop(opened);
        std::fs::remove_file(&keys[0]).unwrap();

        let err = store
            .open(false)
            .err()
            .expect("the revoked password must not open the repository")
            .to_string();
        assert!(err.contains("password"), "{err}");
        assert_eq!(
            store.key_derivations(),
            2,
            "the revoked key file sent it back to the password"
        );
        let rotated = local_store(&repo_dir, "second password");
        assert!(rotated.open(false).is_ok());
    }
}
