//! The repository: rustic_core and rustic_backend live here and only here.
//!
//! One repository per location (bucket + prefix, or a local directory), shared by everything
//! pushed there, so data deduplicates across pushes and across `--path` names. A snapshot
//! carries its `--path` name as its label (exact) and as a `path:NAME` tag (visible to restic).

mod backend;
mod delete;
pub mod errors;
mod pull;
mod push;
mod source;
mod tar_stream;
pub mod target;

pub use delete::{delete, DeleteOutcome};
pub use pull::{pull, PullOutcome, PullRequest, PullTarget};
pub use push::{push, PushOutcome, PushRequest, PushSource};

use crate::profile::Location;
use crate::secret::Secret;
use anyhow::{anyhow, Result};
use backend::{BackendSpec, GateState};
use rustic_core::{ConfigOptions, Credentials, KeyOptions, OpenStatus, Repository, RepositoryOptions, repofile::SnapshotFile};
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
}

/// How the repository was reached.
pub struct Opened {
    pub repo: Repository<OpenStatus>,
    pub gate: Arc<GateState>,
    pub created: bool,
}

impl Store {
    pub fn new(location: &Location, password: Secret, cache_dir: Option<PathBuf>) -> Result<Self> {
        if password.is_empty() {
            return Err(anyhow!("the repository password is empty: give a non-empty password"));
        }
        Ok(Store {
            spec: BackendSpec::from_location(location)?,
            description: location.describe(),
            password,
            cache_dir,
            is_local: matches!(location, Location::Local { .. }),
        })
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

    /// Opens the repository; with `create_if_missing`, an empty location is initialised first.
    pub fn open(&self, create_if_missing: bool) -> Result<Opened> {
        let gate = Arc::new(GateState::default());
        let backends = self.spec.to_backends(gate.clone())?;
        let doing = format!("cannot open the repository at {}", self.description);
        let repo = Repository::new_with_progress(&self.options(), &backends, crate::progress::TerminalBars).map_err(|e| errors::from_rustic(e, &doing))?;
        let exists = repo.config_id().map_err(|e| errors::from_rustic(e, &doing))?.is_some();
        let credentials = Credentials::password(self.password.expose());
        if exists {
            let repo = repo.open(&credentials).map_err(|e| errors::from_rustic(e, &doing))?;
            return Ok(Opened { repo, gate, created: false });
        }
        if !create_if_missing {
            return Err(anyhow!(
                "no repository at {}: push to it first (or run forgesafe init), and check the profile's bucket and prefix",
                self.description
            ));
        }
        tracing::info!(location = %self.description, "initialising a new repository");
        let repo = repo
            .init(&credentials, &KeyOptions::default(), &config_options()?)
            .map_err(|e| errors::from_rustic(e, &format!("cannot initialise a repository at {}", self.description)))?;
        Ok(Opened { repo, gate, created: true })
    }
}

/// Repository-wide settings chosen at init. `FORGESAFE_COMPRESSION` sets the zstd level (1–22,
/// negative for the fast levels; default: zstd's 3) for a repository created from now on.
fn config_options() -> Result<ConfigOptions> {
    let mut opts = ConfigOptions::default();
    if let Ok(level) = std::env::var("FORGESAFE_COMPRESSION") {
        let level: i32 = level.parse().map_err(|_| anyhow!("FORGESAFE_COMPRESSION is {level:?}: give a zstd level such as 1 or 3"))?;
        opts = opts.set_compression(level);
    }
    Ok(opts)
}

/// Finds the snapshot to act on: the given id (full or unique prefix), else the newest one
/// pushed under `name`.
pub(crate) fn select_snapshot(repo: &Repository<OpenStatus>, name: &str, id: Option<&str>, location: &str) -> Result<Option<SnapshotFile>> {
    match id {
        Some(id) => {
            let found = repo.get_snapshot_from_str(id, |_| true);
            match found {
                Ok(snap) => {
                    if snap.label != name {
                        tracing::warn!(
                            snapshot = %snap.id, pushed_as = %snap.label, asked = %name,
                            "the snapshot was pushed under another --path name; using it as its id says"
                        );
                    }
                    Ok(Some(snap))
                }
                Err(_) => {
                    // Distinguish "no such snapshot" from a broken repository by listing.
                    let all = repo.get_all_snapshots().map_err(|e| errors::from_rustic(e, &format!("cannot list snapshots at {location}")))?;
                    if all.iter().any(|s| full_id(&s.id).starts_with(id)) {
                        Err(anyhow!("snapshot id {id} is ambiguous at {location}: give more of its digits"))
                    } else {
                        Ok(None)
                    }
                }
            }
        }
        None => {
            let snaps = repo
                .get_matching_snapshots(|s| s.label == name)
                .map_err(|e| errors::from_rustic(e, &format!("cannot list snapshots at {location}")))?;
            Ok(snaps.into_iter().max_by(|a, b| a.time.cmp(&b.time)))
        }
    }
}

/// The full 64-digit id (rustic's Display shows only the first 8).
pub(crate) fn full_id(id: &rustic_core::repofile::SnapshotId) -> String {
    id.to_hex().as_str().to_string()
}

/// One line per snapshot, for `forgesafe snapshots`.
#[derive(Debug, serde::Serialize)]
pub struct SnapshotSummaryLine {
    pub id: String,
    pub path: String,
    pub time: String,
    pub hostname: String,
    #[serde(rename = "logicalSize")]
    pub logical_size: u64,
}

pub fn list_snapshots(store: &Store, name: Option<&str>) -> Result<Vec<SnapshotSummaryLine>> {
    let opened = store.open(false)?;
    let mut snaps = opened
        .repo
        .get_all_snapshots()
        .map_err(|e| errors::from_rustic(e, &format!("cannot list snapshots at {}", store.describe())))?;
    snaps.sort_by(|a, b| a.time.cmp(&b.time));
    Ok(snaps
        .into_iter()
        .filter(|s| name.is_none_or(|n| s.label == n))
        .map(|s| SnapshotSummaryLine {
            id: full_id(&s.id),
            path: s.label.clone(),
            time: s.time.to_string(),
            hostname: s.hostname.clone(),
            logical_size: s.summary.as_ref().map_or(0, |m| m.total_bytes_processed),
        })
        .collect())
}

/// Verifies the repository's structure (and with `read_data`, every pack's content).
pub fn check(store: &Store, read_data: bool) -> Result<()> {
    let opened = store.open(false)?;
    let opts = rustic_core::CheckOptions::default().read_data(read_data);
    let results = opened
        .repo
        .check(opts)
        .map_err(|e| errors::from_rustic(e, &format!("cannot check the repository at {}", store.describe())))?;
    results
        .is_ok()
        .map_err(|e| errors::from_rustic(e, &format!("the repository at {} has errors", store.describe())))
}
