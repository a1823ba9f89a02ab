//! Git LFS objects of bare mirrors: find every LFS pointer a mirror holds and download the
//! objects they name into git-lfs's own layout, `<git_dir>/lfs/objects/ab/cd/<oid>`, so that
//! stock `git lfs` in (a clone of) the mirror finds them without the forge.
//!
//! One job per file:
//! * `pointer.rs` — strict parsing of pointer blobs;
//! * `scan.rs` + `scan_state.rs` — finding pointers in every pack and loose object, reading
//!   each pack only once across runs;
//! * `endpoint.rs` — which LFS server (git-lfs's discovery rules) and whether it may see the
//!   credentials (only on the clone URL's origin);
//! * `batch.rs` — the Batch API request and its answers;
//! * `download.rs` — parallel, verified downloads; `store.rs` — the on-disk layout;
//! * retries, backoff and the same-origin rule come from `crate::http`, shared with the forge APIs.
//!
//! # Guarantees
//! * An object is in `lfs/objects` only after its size and SHA-256 were verified; a killed run
//!   leaves at most a temporary file in `lfs/tmp`, removed by the next run.
//! * Objects already present are neither requested nor downloaded again; a run with nothing
//!   to fetch makes no request at all.
//! * An object the server lacks, or that arrives corrupt, fails the call with an
//!   [`LfsIncomplete`] error naming it, after every other object was stored.
//! * The credentials go to the batch endpoint only if it has the clone URL's scheme, host and
//!   port; never to a download href (which gets only the headers the server gave for it).
//!   Hrefs and header values are never logged.

mod batch;
mod download;
mod endpoint;
mod pointer;
mod scan;
mod scan_state;
mod store;

use std::fmt;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};

pub use pointer::{parse as parse_pointer, Pointer};
pub use scan::{find_pointers, ScanReport};
pub use scan_state::FILE_NAME as SCAN_STATE_FILE;

use crate::secret::Secret;
use batch::{Answer, LfsClient, MAX_OBJECTS_PER_BATCH};
use store::ObjectStore;

pub use download::Failure as ObjectFailure;

/// What one [`sync_lfs`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct LfsOutcome {
    /// Distinct LFS objects referenced by pointers anywhere in the mirror.
    pub pointers_found: u64,
    /// Objects downloaded and verified in this run.
    pub objects_downloaded: u64,
    pub bytes_downloaded: u64,
    /// Objects that were already in `lfs/objects` with the right size.
    pub objects_already_present: u64,
}

/// Some objects could not be stored; all others were. The repository's LFS content is
/// incomplete, so the caller must count the repository as failed.
///
/// Find it with `err.downcast_ref::<LfsIncomplete>()`; `outcome` counts what did succeed.
#[derive(Debug, Clone)]
pub struct LfsIncomplete {
    pub outcome: LfsOutcome,
    /// Each object that failed and why (the why never holds a URL or header).
    pub failures: Vec<(Pointer, ObjectFailure)>,
}

impl LfsIncomplete {
    /// Objects the server said it does not have.
    pub fn missing(&self) -> impl Iterator<Item = &Pointer> {
        self.failures
            .iter()
            .filter(|(_, why)| matches!(why, ObjectFailure::Missing(_)))
            .map(|(p, _)| p)
    }
}

impl fmt::Display for LfsIncomplete {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 10;
        let total = self.outcome.pointers_found;
        write!(
            f,
            "{} of {total} Git LFS objects could not be stored (the others are): ",
            self.failures.len()
        )?;
        for (i, (pointer, why)) in self.failures.iter().take(SHOWN).enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{pointer} {why}")?;
        }
        if self.failures.len() > SHOWN {
            write!(f, "; and {} more", self.failures.len() - SHOWN)?;
        }
        f.write_str(". Run again to retry; an object missing on the server must be pushed there again (git lfs push --all) or is lost upstream")
    }
}

impl std::error::Error for LfsIncomplete {}

/// Fetch every LFS object referenced by any object in the bare mirror at `git_dir` into
/// git-lfs's layout `<git_dir>/lfs/objects/<oid[0..2]>/<oid[2..4]>/<oid>`.
///
/// `clone_url` is the mirror's (credential-free) remote URL; it locates the LFS server unless
/// the repository's `HEAD:.lfsconfig` sets `lfs.url`. `credentials` is `(user, token)` as for
/// [`crate::collect::mirror::mirror`]: sent as HTTP basic auth, and only to an endpoint on the
/// clone URL's origin.
pub fn sync_lfs(
    git_dir: &Path,
    clone_url: &str,
    credentials: Option<(&str, &Secret)>,
) -> Result<LfsOutcome> {
    sync(git_dir, clone_url, credentials)
        .with_context(|| format!("Git LFS objects of the mirror {}", git_dir.display()))
}

fn sync(
    git_dir: &Path,
    clone_url: &str,
    credentials: Option<(&str, &Secret)>,
) -> Result<LfsOutcome> {
    let started = Instant::now();
    let scan = scan::find_pointers(git_dir)?;
    let store = ObjectStore::new(git_dir);
    let (present, wanted): (Vec<Pointer>, Vec<Pointer>) = scan
        .pointers
        .iter()
        .cloned()
        .partition(|p| store.is_present(p));
    let mut outcome = LfsOutcome {
        pointers_found: scan.pointers.len() as u64,
        objects_already_present: present.len() as u64,
        ..LfsOutcome::default()
    };
    if wanted.is_empty() {
        log_done(git_dir, &outcome, 0, started);
        return Ok(outcome);
    }

    store.prepare()?;
    let lfsconfig =
        crate::collect::mirror::objects::MirrorObjects::open(git_dir)?.head_file(".lfsconfig")?;
    let endpoint = endpoint::discover(lfsconfig.as_deref(), clone_url)?;
    let client = LfsClient::new(endpoint, credentials, crate::http::RetryPolicy::lfs())?;
    if credentials.is_some() && !client.sends_credentials() {
        tracing::info!(
            endpoint = %client.endpoint,
            "the repository's .lfsconfig names an LFS server on another host; asking it without the forge credentials"
        );
    }
    tracing::debug!(endpoint = %client.endpoint, from = ?client.endpoint.source, objects = wanted.len(), "fetching Git LFS objects");

    let mut failures: Vec<(Pointer, ObjectFailure)> = Vec::new();
    // One batch, then its downloads, then the next batch: download links expire (often within
    // minutes to an hour), so they are used right after they were handed out.
    for chunk in wanted.chunks(MAX_OBJECTS_PER_BATCH) {
        let mut jobs = Vec::new();
        for (pointer, answer) in client.batch(chunk)? {
            match answer {
                Answer::Download(action) => jobs.push((pointer, action)),
                Answer::Error { code, message } => {
                    let failure = match code {
                        404 | 410 => {
                            ObjectFailure::Missing(format!("batch API error {code}: {message}"))
                        }
                        0 => ObjectFailure::Failed(message),
                        _ => ObjectFailure::Failed(format!("batch API error {code}: {message}")),
                    };
                    failures.push((pointer, failure));
                }
            }
        }
        for (pointer, result) in download::download_all(&client, &store, jobs) {
            match result {
                Ok(bytes) => {
                    tracing::debug!(oid = %pointer.oid, size = pointer.size, "Git LFS object stored");
                    outcome.objects_downloaded += 1;
                    outcome.bytes_downloaded += bytes;
                }
                Err(failure) => failures.push((pointer, failure)),
            }
        }
    }
    for (pointer, why) in &failures {
        tracing::warn!(oid = %pointer.oid, size = pointer.size, reason = %why, "Git LFS object not stored");
    }
    log_done(git_dir, &outcome, failures.len(), started);
    if failures.is_empty() {
        Ok(outcome)
    } else {
        Err(LfsIncomplete { outcome, failures }.into())
    }
}

fn log_done(git_dir: &Path, outcome: &LfsOutcome, failed: usize, started: Instant) {
    if outcome.pointers_found == 0 {
        // Most repositories have no LFS content: one quiet line, not one per repository at info.
        tracing::debug!(git_dir = %git_dir.display(), seconds = started.elapsed().as_secs_f32(), "no Git LFS pointers");
        return;
    }
    tracing::info!(
        git_dir = %git_dir.display(),
        pointers = outcome.pointers_found,
        present = outcome.objects_already_present,
        downloaded = outcome.objects_downloaded,
        bytes = outcome.bytes_downloaded,
        failed,
        seconds = started.elapsed().as_secs_f32(),
        "Git LFS sync done"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_names_each_object_and_what_to_do() {
        let missing = Pointer {
            oid: "a".repeat(64),
            size: 5,
        };
        let err = LfsIncomplete {
            outcome: LfsOutcome {
                pointers_found: 3,
                objects_downloaded: 2,
                bytes_downloaded: 10,
                objects_already_present: 0,
            },
            failures: vec![(
                missing.clone(),
                ObjectFailure::Missing("batch API error 404: Object does not exist".into()),
            )],
        };
        let text = err.to_string();
        assert!(
            text.starts_with("1 of 3 Git LFS objects could not be stored"),
            "{text}"
        );
        assert!(
            text.contains(&missing.oid)
                && text.contains("missing on the LFS server")
                && text.contains("Run again"),
            "{text}"
        );
        assert!(!text.contains('\n'));
        assert_eq!(err.missing().collect::<Vec<_>>(), vec![&missing]);
    }
}
