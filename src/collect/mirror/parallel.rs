//! Mirror many repositories with a bounded number of threads.

use std::path::PathBuf;

use anyhow::Result;

use super::{mirror, MirrorOptions, MirrorOutcome};
use crate::secret::Secret;

#[derive(Debug, Clone)]
pub struct MirrorJob {
    pub url: String,
    pub dest: PathBuf,
    /// `(user, token)`.
    pub credentials: Option<(String, Secret)>,
    pub options: MirrorOptions,
}

/// Run `jobs` on at most `parallelism` threads (at least one). Results come back in the
/// order of `jobs`; one failure does not stop the others.
pub fn mirror_all(
    jobs: Vec<MirrorJob>,
    parallelism: usize,
) -> Vec<(MirrorJob, Result<MirrorOutcome>)> {
    mirror_all_reporting(jobs, parallelism, &|_, _| {})
}

/// Like [`mirror_all`], calling `on_done` as each job ends (from the worker thread), e.g. to
/// advance a progress bar.
pub fn mirror_all_reporting(
    jobs: Vec<MirrorJob>,
    parallelism: usize,
    on_done: &(dyn Fn(&MirrorJob, &Result<MirrorOutcome>) + Sync),
) -> Vec<(MirrorJob, Result<MirrorOutcome>)> {
    crate::parallel::map_bounded(jobs, parallelism, |job| {
        let credentials = job
            .credentials
            .as_ref()
            .map(|(user, token)| (user.as_str(), token));
        // A stopping process (serve's SIGTERM) starts no new fetch; the mirror stays as it was.
        let result = if job
            .options
            .should_interrupt
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            Err(anyhow::anyhow!("not fetched: the process is stopping"))
        } else {
            mirror(&job.url, &job.dest, credentials, &job.options)
        };
        if let Err(err) = &result {
            tracing::warn!(url = %job.url, "mirror failed: {err:#}");
        }
        on_done(job, &result);
        result
    })
}
