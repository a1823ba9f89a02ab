//! One collector run: for each destination of each job, plan (list the sources: `plan.rs`),
//! run (mirror the repositories and their wikis in parallel, bounded, while this thread writes
//! their metadata, serially per forge token as GitHub asks to stay clear of secondary rate
//! limits; then their Git LFS objects), and report (`report.rs`). One repository's failure
//! never stops the others; its last good mirror is kept.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};

use super::config::{Config, LocalDestination};
use super::forge::MetadataOutcome;
use super::lfs::sync_lfs;
use super::metadata::MetadataWriter;
use super::mirror::{is_not_found, layout, mirror_all_reporting, MirrorJob};
use super::options::CollectOptions;
use super::plan::{plan, DestinationPlan, MetadataPlan, RepoPlan};
use super::report::{CollectReport, RepoOutcome, Step};
use super::state::CollectState;

#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Replaces every destination path of the config (`--dest`).
    pub dest_override: Option<PathBuf>,
    /// Repositories mirrored at once.
    pub parallelism: usize,
    /// Only the repositories of this shard.
    pub shard: Option<super::shard::Shard>,
}

/// `forgesafe collect`: what `options` name, collected, with the config's warnings and the
/// run's summary logged once each. Failed repositories are in the report (see
/// [`CollectReport::ensure_complete`]); an error means nothing could run.
pub fn collect(options: &CollectOptions) -> Result<CollectReport> {
    let resolved = options.resolve()?;
    for warning in &resolved.warnings {
        tracing::warn!("{warning}");
    }
    let settings = RunSettings { dest_override: resolved.dest_override, parallelism: options.parallel, shard: resolved.shard };
    let report = run_config(&resolved.config, &settings)?;
    report.log_summary();
    Ok(report)
}

/// Collects every job of `config` into its destinations.
pub fn run_config(config: &Config, settings: &RunSettings) -> Result<CollectReport> {
    let mut report = CollectReport::default();
    for job in &config.jobs {
        let destinations: Vec<LocalDestination> = match &settings.dest_override {
            // The config's own settings (layout, lfs) still apply; only the folder changes.
            Some(path) => {
                let base = job.destinations.first();
                let lfs = base.is_some_and(|d| d.lfs);
                let structured = base.is_none_or(|d| d.structured);
                vec![LocalDestination { path: path.clone(), structured, bare: true, mirror: true, lfs, zip: false, keep: None }]
            }
            None => job.destinations.clone(),
        };
        if destinations.is_empty() {
            bail!("document {} of the config has no local destination: add destination.local[].path, or pass --dest", job.document + 1);
        }
        for destination in &destinations {
            let dest = &destination.path;
            std::fs::create_dir_all(dest).map_err(|e| anyhow!("cannot create the destination {}: {e}", dest.display()))?;
            report.destinations.push(dest.clone());
            let mut state = CollectState::load(dest);
            let plan = plan(job, destination, settings.shard, &mut state)?;
            report.repositories.extend(plan.unlisted_sources.iter().cloned());
            report.repositories.extend(run_plan(&plan, settings.parallelism, &mut state));
            report.no_longer_listed.extend(plan.no_longer_listed.iter().cloned());
            for forge in &plan.forges {
                report.api += forge.api_counts();
            }
            state.save(dest)?;
        }
    }
    Ok(report)
}

/// Mirrors run on a bounded pool while this thread writes metadata; then each repository's
/// results are read in plan order, and its LFS objects fetched once its mirror is up to date.
fn run_plan(plan: &DestinationPlan, parallelism: usize, state: &mut CollectState) -> Vec<RepoOutcome> {
    // Each repository's mirror, then its wiki's: results come back in this order.
    let jobs: Vec<MirrorJob> = plan.repos.iter().flat_map(|repo| std::iter::once(repo.git.clone()).chain(repo.wiki.clone())).collect();
    let bar = crate::progress::counter("mirroring", jobs.len() as u64);
    let on_done = |job: &MirrorJob, _: &Result<_>| {
        bar.set_message(job.url.clone());
        bar.inc(1);
    };
    let (mirrored, metadata) = std::thread::scope(|scope| {
        let mirrors = scope.spawn(|| mirror_all_reporting(jobs, parallelism, &on_done));
        let metadata: Vec<Option<Result<MetadataOutcome>>> =
            plan.repos.iter().map(|repo| repo.metadata.as_ref().map(|wanted| sync_metadata(plan, repo, wanted, state))).collect();
        (mirrors.join().expect("the mirror pool does not panic"), metadata)
    });
    bar.finish_and_clear();

    let mut mirrored = mirrored.into_iter().map(|(_job, result)| result);
    plan.repos
        .iter()
        .zip(metadata)
        .map(|(repo, metadata)| {
            let git = mirrored.next().expect("one result per mirror job");
            let wiki = repo.wiki.as_ref().map(|_| mirrored.next().expect("one result per mirror job"));
            let git_is_current = git.is_ok();
            let mut outcome = RepoOutcome::mirrored(repo.name.clone(), git);
            match wiki {
                Some(Ok(wiki)) => outcome.wiki = Some(wiki),
                // Forges create a wiki's repository only with its first page.
                Some(Err(err)) if is_not_found(&err) => tracing::debug!(repo = %repo.name, "no wiki"),
                Some(Err(err)) => outcome.fail(Step::Wiki, &err),
                None => {}
            }
            match metadata {
                Some(Ok(metadata)) => outcome.metadata = Some(metadata),
                Some(Err(err)) => outcome.fail(Step::Metadata, &err),
                None => {}
            }
            if let (true, Some(lfs)) = (git_is_current, &repo.lfs) {
                let credentials = lfs.credentials.as_ref().map(|(user, token)| (user.as_str(), token));
                match sync_lfs(&repo.git.dest, &lfs.url, credentials) {
                    Ok(lfs) => outcome.lfs = Some(lfs),
                    Err(err) => outcome.fail(Step::Lfs, &err),
                }
            }
            outcome
        })
        .collect()
}

/// A repository's metadata, then (last, so a failed download does not hold up the issues)
/// its release assets, checked even when the release list is unchanged: an earlier run may
/// have failed mid-download. What the sync remembers is kept only when all of it succeeded.
fn sync_metadata(plan: &DestinationPlan, repo: &RepoPlan, wanted: &MetadataPlan, state: &mut CollectState) -> Result<MetadataOutcome> {
    let forge = &plan.forges[wanted.forge];
    let writer = MetadataWriter::new(layout::metadata_dir(&repo.git.dest));
    // Keyed by API as well: a GitHub and a GitLab repository may share `owner/name`.
    let state_key = format!("{}|{}", forge.api_base(), wanted.repo.full_name);
    let mut repo_state = state.repos.get(&state_key).cloned().unwrap_or_default();
    let mut synced = forge.sync_metadata(&mut state.pages, &wanted.repo, &writer, &mut repo_state)?;
    if wanted.release_assets {
        let assets = forge
            .sync_release_assets(&synced.releases, &writer)
            .with_context(|| format!("{}: release assets", wanted.repo.full_name))?;
        synced.outcome.assets_downloaded += assets.downloaded;
        synced.outcome.asset_bytes += assets.bytes;
    }
    state.repos.insert(state_key, repo_state);
    Ok(synced.outcome)
}
