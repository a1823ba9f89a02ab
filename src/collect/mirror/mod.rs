//! Bare mirrors of remote git repositories, kept up to date incrementally with gix.
//!
//! # Why a killed run never breaks a mirror
//!
//! * **First run**: the clone is built in a staging folder beside `dest` and renamed into
//!   place only after it succeeded and was verified; before that `dest` does not exist.
//!   A killed clone leaves only a dot-named staging folder, removed by the next run.
//! * **Later runs**: gix writes the received pack (and a `.keep` file) to temporary files,
//!   renames the finished `.pack`/`.idx` into `objects/pack/`, and only *then* updates refs,
//!   each loose ref by writing `<ref>.lock` and renaming it over the old file. So at every
//!   instant each ref names either its old object (still present: we never delete objects)
//!   or its new one (already in a complete pack). A killed fetch leaves a mix of old and new
//!   refs at worst, which the next run sees as "moved" and completes. Pruning deletes refs
//!   only after the fetch, again through lock files. A killed fetch leaves `.tmp…` partial
//!   packs in `objects/pack` and maybe `*.lock` files beside refs; the next run deletes
//!   both (one writer per mirror is assumed: forgesafe never runs two syncs of one mirror).
//!
//! `tests/mirror_kill.rs` kills a child process while it receives a pack, and while it
//! rewrites thousands of refs, then checks with `git fsck` and against the remote.
//!
//! # Credentials
//!
//! Given to gix in memory through a credentials callback (see `credentials.rs`): never in the
//! URL, the mirror's `config`, a process argument, or a message.

mod checkout;
mod credentials;
mod errors;
pub mod layout;
pub mod objects;
mod parallel;
pub mod push;
mod refs;
mod session;
mod ssh;
pub mod verify;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};

pub use checkout::{make_working_clone, CheckedOut};
pub use errors::{is_not_found, retry_may_help, RemoteAuthFailed, RemoteFailed, RemoteNotFound};
pub use layout::MIRROR_REFSPEC;
pub use parallel::{mirror_all, mirror_all_reporting, MirrorJob};
pub use refs::{newest_commit_time, read_refs, MirrorRefs, RefRewrite};
pub use ssh::{is_ssh_url, SshSettings};
pub use verify::{is_ancestor, is_ancestor_hex, verify_mirror, MirrorCheck, MirrorDefect};

use crate::secret::Secret;

#[derive(Debug, Clone, Default)]
pub struct MirrorOptions {
    /// Set to `true` (e.g. from a signal handler) to abort a running fetch; gix checks it
    /// while receiving the pack. A collect run passes the process's stop flag (serve's SIGTERM).
    pub should_interrupt: Arc<AtomicBool>,
    /// How to reach `ssh://` and `user@host:path` remotes.
    pub ssh: SshSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MirrorChange {
    /// `dest` did not exist; a new mirror was cloned.
    New,
    /// Refs were added, moved or deleted upstream and the mirror followed.
    Updated { refs_changed: usize },
    /// The remote advertised exactly the refs we hold; nothing was fetched.
    Unchanged,
}

/// What one mirror run did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MirrorOutcome {
    pub change: MirrorChange,
    /// Size of the pack received.
    pub bytes_fetched: u64,
    /// Refs deleted because they vanished upstream.
    pub refs_pruned: usize,
    /// Refs force-pushed or deleted upstream since the last run, with their old tips.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rewritten: Vec<RefRewrite>,
    /// The mirror's refs after this run (for the volume's record; too long for a report).
    #[serde(skip)]
    pub refs: MirrorRefs,
}

/// Create or update the bare mirror of `url` at `dest`.
///
/// `credentials` is `(user, token)`; for GitHub/Gitea/GitLab tokens any non-empty user works
/// (GitHub's convention is `x-access-token`). A missing remote fails with [`RemoteNotFound`].
pub fn mirror(
    url: &str,
    dest: &Path,
    credentials: Option<(&str, &Secret)>,
    opts: &MirrorOptions,
) -> Result<MirrorOutcome> {
    refuse_credentials_in_url(url)?;
    let started = Instant::now();
    let outcome = if dest.exists() {
        update_existing(url, dest, credentials, opts)
    } else {
        clone_new(url, dest, credentials, opts)
    }?;
    tracing::info!(
        url,
        dest = %dest.display(),
        change = ?outcome.change,
        bytes = outcome.bytes_fetched,
        pruned = outcome.refs_pruned,
        seconds = started.elapsed().as_secs_f32(),
        "mirror done"
    );
    Ok(outcome)
}

fn clone_new(
    url: &str,
    dest: &Path,
    credentials: Option<(&str, &Secret)>,
    opts: &MirrorOptions,
) -> Result<MirrorOutcome> {
    layout::remove_stale_staging(dest)?;
    let staging = tempfile::Builder::new()
        .prefix(&layout::staging_prefix(dest)?)
        .tempdir_in(layout::parent_of(dest)?)
        .context("cannot create a staging folder beside the mirror")?;
    gix::init_bare(staging.path())
        .with_context(|| format!("cannot initialise {}", staging.path().display()))?;
    layout::write_origin_config(staging.path(), url)?;
    let repo = open(staging.path())?;
    // On error `staging` is dropped here and the half-made clone is deleted.
    let report = session::sync(&repo, url, credentials, opts)?;
    drop(repo);

    // The staging folder is created 0700 and keeps that mode as the mirror: mirrors of
    // private repositories should not be world-readable on the backup volume.
    let staged: PathBuf = staging.keep();
    if let Err(err) = std::fs::rename(&staged, dest) {
        let _ = std::fs::remove_dir_all(&staged);
        return Err(err)
            .with_context(|| format!("cannot move the new mirror into {}", dest.display()));
    }
    Ok(MirrorOutcome {
        change: MirrorChange::New,
        bytes_fetched: report.bytes_fetched,
        refs_pruned: 0,
        rewritten: Vec::new(),
        refs: report.after,
    })
}

fn update_existing(
    url: &str,
    dest: &Path,
    credentials: Option<(&str, &Secret)>,
    opts: &MirrorOptions,
) -> Result<MirrorOutcome> {
    if !layout::is_bare_repository(dest) {
        bail!(
            "{} exists but is not a bare git mirror; move it away or choose another path",
            dest.display()
        );
    }
    layout::remove_interrupted_pack_files(dest)?;
    layout::remove_stale_ref_locks(dest)?;
    layout::write_origin_config(dest, url)?;
    let repo = open(dest)?;
    let report = session::sync(&repo, url, credentials, opts)?;
    let change = if report.diff.is_empty() {
        MirrorChange::Unchanged
    } else {
        MirrorChange::Updated {
            refs_changed: report.diff.refs_changed(),
        }
    };
    Ok(MirrorOutcome {
        change,
        bytes_fetched: report.bytes_fetched,
        refs_pruned: report.diff.deleted.len(),
        rewritten: report.rewritten,
        refs: report.after,
    })
}

/// Open without the user's global/system git config: a backup must not change behaviour
/// because of someone's `~/.gitconfig` (url rewrites, credential helpers).
fn open(path: &Path) -> Result<gix::Repository> {
    gix::open_opts(path, gix::open::Options::isolated())
        .with_context(|| format!("cannot open the mirror at {}", path.display()))
}

fn refuse_credentials_in_url(url: &str) -> Result<()> {
    let parsed = gix::url::parse(gix::bstr::BStr::new(url))
        .with_context(|| "the remote URL cannot be parsed".to_string())?;
    if parsed.password().is_some() {
        // Say which host, never the URL itself: it holds the secret.
        bail!(
            "the remote URL for host {} carries a password; pass credentials separately, never in the URL",
            parsed.host().unwrap_or("?")
        );
    }
    Ok(())
}
