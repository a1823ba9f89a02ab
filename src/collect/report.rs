//! Step 3 of a run: what happened, per repository and in total. One [`RepoOutcome`] per
//! repository (or per source whose listing failed); the whole [`CollectReport`] serialises to
//! JSON, so a status page can show failed repositories by name and reason, bytes fetched and
//! counts. The summary and the failure lines go through `tracing`, so `--quiet` and the log
//! format apply to them.

use std::fmt;
use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};
use serde::Serialize;

use super::forge::{http_status, ApiCounts, MetadataOutcome};
use super::lfs::{LfsIncomplete, LfsOutcome, ObjectFailure};
use super::mirror::{self, MirrorChange, MirrorOutcome};
use crate::secret::redact;

/// The run summary: every repository's outcome, and what concerns the whole run.
#[derive(Debug, Default, Clone, Serialize)]
pub struct CollectReport {
    pub repositories: Vec<RepoOutcome>,
    /// Mirrors on disk whose repository the forge no longer lists: kept, never deleted.
    pub no_longer_listed: Vec<String>,
    /// The destination folders written.
    pub destinations: Vec<PathBuf>,
    /// Requests to the forges' APIs.
    pub api: ApiCounts,
    /// What upstream rewrote or removed, one report per destination.
    pub changes: Vec<super::changes::ChangeReport>,
}

/// The counts of a run, as the summary line shows them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub new: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub failed: u64,
    /// Git packs, release assets and Git LFS objects.
    pub bytes_fetched: u64,
    pub api_requests: u64,
    pub api_not_modified: u64,
    pub metadata_items_fetched: u64,
    pub metadata_files_changed: u64,
    pub assets_downloaded: u64,
    pub lfs_objects_downloaded: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RepoStatus {
    New,
    Updated,
    Unchanged,
    /// Something of it could not be collected; its last good mirror is kept.
    Failed,
}

/// What happened to one repository. Each part is `None` when it was not collected (not
/// wanted, or failed: then `failures` says why).
#[derive(Debug, Clone, Serialize)]
pub struct RepoOutcome {
    /// `owner/name`, or `<forge>:<user>` for a source whose listing failed.
    pub name: String,
    pub status: RepoStatus,
    pub failures: Vec<Failure>,
    pub git: Option<MirrorOutcome>,
    pub wiki: Option<MirrorOutcome>,
    pub metadata: Option<MetadataOutcome>,
    pub lfs: Option<LfsOutcome>,
    /// Where it was pushed (gickup's forge destinations), and what changed there.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pushed: Vec<super::publish::Published>,
}

/// What of a repository failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Listing,
    Repository,
    Wiki,
    Metadata,
    Lfs,
    /// Pushing to a forge destination (gickup's `gitea`, `gitlab`, `github`).
    Push,
}

#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub step: Step,
    /// The error, on one line, secrets starred.
    pub reason: String,
    /// Running again later may succeed without anyone changing anything (a server that was
    /// down, a rate limit); `false` also when that is not known.
    pub retry_may_help: bool,
}

impl Failure {
    pub fn of(step: Step, err: &anyhow::Error) -> Failure {
        Failure {
            step,
            reason: redact(&format!("{err:#}")),
            retry_may_help: retry_may_help(err),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = match self.step {
            Step::Listing => "",
            Step::Repository => "repository: ",
            Step::Wiki => "wiki: ",
            Step::Metadata => "metadata incomplete: ",
            Step::Lfs => "LFS incomplete: ",
            Step::Push => "",
        };
        write!(f, "{prefix}{}", self.reason)
    }
}

/// Whether running again may help, as far as the error's type tells.
fn retry_may_help(err: &anyhow::Error) -> bool {
    if let Some(hint) = mirror::retry_may_help(err) {
        return hint;
    }
    if let Some(status) = http_status(err) {
        return status == 429 || status >= 500;
    }
    if let Some(lfs) = err
        .chain()
        .find_map(|cause| cause.downcast_ref::<LfsIncomplete>())
    {
        // Missing or corrupt on the server stays so; a broken transfer may not.
        return lfs
            .failures
            .iter()
            .any(|(_, why)| matches!(why, ObjectFailure::Failed(_)));
    }
    false
}

impl RepoOutcome {
    /// The outcome of a repository whose git mirror ran: `git` is its result.
    pub fn mirrored(name: String, git: Result<MirrorOutcome>) -> RepoOutcome {
        let mut outcome = RepoOutcome::new(name, RepoStatus::Unchanged);
        match git {
            Ok(git) => {
                outcome.status = match git.change {
                    MirrorChange::New => RepoStatus::New,
                    MirrorChange::Updated { .. } => RepoStatus::Updated,
                    MirrorChange::Unchanged => RepoStatus::Unchanged,
                };
                outcome.git = Some(git);
            }
            Err(err) => outcome.fail(Step::Repository, &err),
        }
        outcome
    }

    /// One failure and nothing else, e.g. a source that could not be listed.
    pub fn failed(name: String, step: Step, err: &anyhow::Error) -> RepoOutcome {
        let mut outcome = RepoOutcome::new(name, RepoStatus::Failed);
        outcome.fail(step, err);
        outcome
    }

    fn new(name: String, status: RepoStatus) -> RepoOutcome {
        RepoOutcome {
            name,
            status,
            failures: Vec::new(),
            git: None,
            wiki: None,
            metadata: None,
            lfs: None,
            pushed: Vec::new(),
        }
    }

    pub fn fail(&mut self, step: Step, err: &anyhow::Error) {
        self.failures.push(Failure::of(step, err));
        self.status = RepoStatus::Failed;
    }

    /// Git packs (repository and wiki), release assets and Git LFS objects.
    pub fn bytes_fetched(&self) -> u64 {
        let git = [&self.git, &self.wiki]
            .into_iter()
            .flatten()
            .map(|m| m.bytes_fetched)
            .sum::<u64>();
        git + self.metadata.as_ref().map_or(0, |m| m.asset_bytes)
            + self.lfs.map_or(0, |l| l.bytes_downloaded)
    }

    /// Every failure, as the FAILED line shows them.
    pub fn reasons(&self) -> String {
        self.failures
            .iter()
            .map(Failure::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl CollectReport {
    pub fn failed(&self) -> impl Iterator<Item = &RepoOutcome> {
        self.repositories
            .iter()
            .filter(|r| r.status == RepoStatus::Failed)
    }

    pub fn totals(&self) -> Totals {
        let mut totals = Totals {
            api_requests: self.api.requests,
            api_not_modified: self.api.not_modified,
            ..Totals::default()
        };
        for repo in &self.repositories {
            match repo.status {
                RepoStatus::New => totals.new += 1,
                RepoStatus::Updated => totals.updated += 1,
                RepoStatus::Unchanged => totals.unchanged += 1,
                RepoStatus::Failed => totals.failed += 1,
            }
            totals.bytes_fetched += repo.bytes_fetched();
            if let Some(metadata) = &repo.metadata {
                totals.metadata_items_fetched += metadata.items_fetched;
                totals.metadata_files_changed += metadata.files_changed;
                totals.assets_downloaded += metadata.assets_downloaded;
            }
            totals.lfs_objects_downloaded += repo.lfs.map_or(0, |l| l.objects_downloaded);
        }
        totals
    }

    /// The summary, one line per failed repository and per mirror no longer listed, through
    /// the log: the summary at info, failures at error (so `--quiet` still shows them).
    pub fn log_summary(&self) {
        let t = self.totals();
        tracing::info!(
            "forgesafe collect: {} new, {} updated, {} unchanged, {} failed; {} bytes fetched; {} API requests ({} answered 304); {} issues/pull requests fetched, {} metadata files changed",
            t.new, t.updated, t.unchanged, t.failed, t.bytes_fetched, t.api_requests, t.api_not_modified, t.metadata_items_fetched, t.metadata_files_changed
        );
        if t.assets_downloaded > 0 {
            tracing::info!(
                "forgesafe collect: {} release asset files downloaded",
                t.assets_downloaded
            );
        }
        if t.lfs_objects_downloaded > 0 {
            tracing::info!(
                "forgesafe collect: {} Git LFS objects downloaded",
                t.lfs_objects_downloaded
            );
        }
        for repo in self.failed() {
            tracing::error!(
                "forgesafe collect: FAILED {}: {}",
                repo.name,
                repo.reasons()
            );
        }
        for kept in &self.no_longer_listed {
            tracing::warn!("forgesafe collect: {kept} is no longer listed upstream (deleted, renamed or hidden); its mirror is kept");
        }
        for changes in &self.changes {
            changes.log_summary();
        }
    }

    /// The partial-failure policy: a failed repository fails the run, unless `allow_partial`.
    pub fn ensure_complete(&self, allow_partial: bool) -> Result<()> {
        let totals = self.totals();
        if totals.failed == 0 || allow_partial {
            return Ok(());
        }
        Err(anyhow!(
            "{} of {} repositories failed (listed above); the others were collected",
            totals.failed,
            totals.failed + totals.new + totals.updated + totals.unchanged
        ))
        .context("collect incomplete")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mirrored(change: MirrorChange, bytes: u64) -> Result<MirrorOutcome> {
        Ok(MirrorOutcome {
            change,
            bytes_fetched: bytes,
            refs_pruned: 0,
            rewritten: Vec::new(),
            refs: Default::default(),
        })
    }

    #[test]
    fn the_report_counts_and_serialises_failures_by_name_and_reason() {
        let mut app = RepoOutcome::mirrored("octo/app".into(), mirrored(MirrorChange::New, 100));
        app.lfs = Some(LfsOutcome {
            pointers_found: 1,
            objects_downloaded: 1,
            bytes_downloaded: 20,
            objects_already_present: 0,
        });
        let mut lib =
            RepoOutcome::mirrored("octo/lib".into(), mirrored(MirrorChange::Unchanged, 0));
        let unavailable = anyhow::Error::new(crate::collect::forge::HttpStatus(503))
            .context("GitHub: GET /issues failed (503 Service Unavailable)");
        lib.fail(
            Step::Metadata,
            &unavailable.context("octo/lib: cannot read issues"),
        );
        let gone = RepoOutcome::mirrored(
            "octo/gone".into(),
            Err(anyhow!(mirror::RemoteNotFound {
                url: "https://h/octo/gone.git".into()
            })),
        );
        let report = CollectReport {
            repositories: vec![app, lib, gone],
            api: ApiCounts {
                requests: 7,
                not_modified: 3,
            },
            ..Default::default()
        };

        let totals = report.totals();
        assert_eq!(
            (totals.new, totals.updated, totals.unchanged, totals.failed),
            (1, 0, 0, 2)
        );
        assert_eq!(
            (
                totals.bytes_fetched,
                totals.lfs_objects_downloaded,
                totals.api_requests
            ),
            (120, 1, 7)
        );
        let failed: Vec<(&str, String)> = report
            .failed()
            .map(|r| (r.name.as_str(), r.reasons()))
            .collect();
        assert_eq!(failed[0].0, "octo/lib");
        assert_eq!(failed[0].1, "metadata incomplete: octo/lib: cannot read issues: GitHub: GET /issues failed (503 Service Unavailable): HTTP 503");
        assert_eq!(
            failed[1],
            (
                "octo/gone",
                "repository: remote repository not found: https://h/octo/gone.git".into()
            )
        );

        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["repositories"][1]["status"], "failed");
        assert_eq!(json["repositories"][1]["failures"][0]["step"], "metadata");
        assert_eq!(
            json["repositories"][1]["failures"][0]["retry_may_help"], true,
            "a 503 may pass"
        );
        assert_eq!(
            json["repositories"][2]["failures"][0]["retry_may_help"], false,
            "a missing repository stays missing"
        );
        assert_eq!(json["repositories"][0]["git"]["change"], "new");
        assert_eq!(json["api"]["not_modified"], 3);

        let err = report.ensure_complete(false).unwrap_err();
        assert_eq!(format!("{err:#}"), "collect incomplete: 2 of 3 repositories failed (listed above); the others were collected");
        assert!(report.ensure_complete(true).is_ok());
    }
}
