//! One collector run: for each destination of each job, plan (list the sources: `plan.rs`),
//! run (mirror the repositories and their wikis in parallel, bounded, while this thread writes
//! their metadata, serially per forge token as GitHub asks to stay clear of secondary rate
//! limits; then their Git LFS objects), and report (`report.rs`). One repository's failure
//! never stops the others; its last good mirror is kept.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};

use super::changes::ChangeReport;
use super::config::{BackupJob, Config, LocalDestination};
use super::forge::{MetadataOutcome, PageCache, RepoMetaState};
use super::lfs::sync_lfs;
use super::metadata::MetadataWriter;
use super::mirror::{is_not_found, layout, mirror_all_reporting, MirrorJob};
use super::options::CollectOptions;
use super::plan::{plan, DestinationPlan, MetadataPlan, RepoPlan};
use super::record::MirrorsRecord;
use super::report::{CollectReport, RepoOutcome, Step};
use super::state::CollectState;
use super::volume_lock::VolumeLock;

#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Replaces every destination path of the config (`--dest`).
    pub dest_override: Option<PathBuf>,
    /// Repositories mirrored at once.
    pub parallelism: usize,
    /// Repositories whose metadata is read at once (requests in flight per run).
    pub api_parallelism: usize,
    /// Only the repositories of this shard.
    pub shard: Option<super::shard::Shard>,
    /// How long to wait for another run that holds a destination.
    pub lock_wait: Duration,
}

/// `forgesafe collect`: what `options` name, collected, with the config's warnings and the
/// run's summary logged once each. Failed repositories are in the report (see
/// [`CollectReport::ensure_complete`]); an error means nothing could run. Each destination is
/// locked against other runs for as long as it is written, waiting up to `lock_wait`.
pub fn collect(options: &CollectOptions, lock_wait: Duration) -> Result<CollectReport> {
    let resolved = options.resolve()?;
    for warning in &resolved.warnings {
        warn_once(warning);
    }
    let settings = RunSettings {
        dest_override: resolved.dest_override,
        parallelism: options.parallel,
        api_parallelism: options.api_parallel,
        shard: resolved.shard,
        lock_wait,
    };
    let report = run_config(&resolved.config, &settings)?;
    report.log_summary();
    Ok(report)
}

/// A config warning is logged once per process, not on every run of `serve`.
fn warn_once(warning: &str) {
    static SEEN: std::sync::Mutex<std::collections::BTreeSet<String>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    if SEEN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(warning.to_string())
    {
        tracing::warn!("{warning}");
    }
}

/// Collects every job of `config` into its destinations.
pub fn run_config(config: &Config, settings: &RunSettings) -> Result<CollectReport> {
    let mut report = CollectReport::default();
    for job in &config.jobs {
        for destination in &destinations_of(job, settings)? {
            let dest = &destination.path;
            std::fs::create_dir_all(dest)
                .map_err(|e| anyhow!("cannot create the destination {}: {e}", dest.display()))?;
            let _lock = VolumeLock::acquire(dest, "collect", settings.lock_wait)?;
            report.destinations.push(dest.clone());
            let mut state = CollectState::load(dest);
            let plan = plan(job, destination, settings.shard, &mut state)?;
            report
                .repositories
                .extend(plan.unlisted_sources.iter().cloned());
            let mut outcomes = run_plan(&plan, settings, &mut state);
            MirrorsRecord::update(dest, &plan.repos, &outcomes)?;
            let newly_gone: Vec<String> = plan
                .no_longer_listed
                .iter()
                .filter(|name| !state.unlisted.contains(*name))
                .cloned()
                .collect();
            state.unlisted = plan.no_longer_listed.iter().cloned().collect();
            let mut changes = ChangeReport::from_run(dest, &plan.repos, &outcomes, newly_gone);
            if !changes.is_empty() {
                changes.write(dest)?;
            }
            report.changes.push(changes);
            if !job.forge_destinations.is_empty() {
                super::live_mirror::push_to_forges(
                    &job.forge_destinations,
                    &plan.repos,
                    &mut outcomes,
                );
            }
            report.repositories.extend(outcomes);
            report
                .no_longer_listed
                .extend(plan.no_longer_listed.iter().cloned());
            for forge in &plan.forges {
                report.api += forge.api_counts();
            }
            state.save(dest)?;
        }
    }
    Ok(report)
}

/// Where one job writes: its own destinations, or `--dest` with the config's settings (layout,
/// LFS) kept and only the folder changed.
fn destinations_of(job: &BackupJob, settings: &RunSettings) -> Result<Vec<LocalDestination>> {
    let destinations = match &settings.dest_override {
        Some(path) => {
            let base = job.destinations.first();
            let lfs = base.is_some_and(|d| d.lfs);
            let structured = base.is_none_or(|d| d.structured);
            vec![LocalDestination {
                path: path.clone(),
                structured,
                bare: true,
                mirror: true,
                lfs,
                zip: false,
                keep: None,
            }]
        }
        None => job.destinations.clone(),
    };
    if destinations.is_empty() {
        bail!("document {} of the config has no local destination: add destination.local[].path, or pass --dest", job.document + 1);
    }
    Ok(destinations)
}

/// Mirrors run on a bounded pool while metadata is read on another; then each repository's
/// results are read in plan order, and its LFS objects fetched once its mirror is up to date.
fn run_plan(
    plan: &DestinationPlan,
    settings: &RunSettings,
    state: &mut CollectState,
) -> Vec<RepoOutcome> {
    let parallelism = settings.parallelism;
    // Each repository's mirror, then its wiki's: results come back in this order.
    let jobs: Vec<MirrorJob> = plan
        .repos
        .iter()
        .flat_map(|repo| std::iter::once(repo.git.clone()).chain(repo.wiki.clone()))
        .collect();
    let bar = crate::progress::counter("mirroring", jobs.len() as u64);
    let on_done = |job: &MirrorJob, _: &Result<_>| {
        bar.set_message(job.url.clone());
        bar.inc(1);
    };
    let (mirrored, metadata) = std::thread::scope(|scope| {
        let mirrors = scope.spawn(|| mirror_all_reporting(jobs, parallelism, &on_done));
        let metadata = read_all_metadata(plan, settings.api_parallelism, state);
        (
            mirrors.join().expect("the mirror pool does not panic"),
            metadata,
        )
    });
    bar.finish_and_clear();

    let mut mirrored = mirrored.into_iter().map(|(_job, result)| result);
    plan.repos
        .iter()
        .zip(metadata)
        .map(|(repo, metadata)| {
            let git = mirrored.next().expect("one result per mirror job");
            let wiki = repo
                .wiki
                .as_ref()
                .map(|_| mirrored.next().expect("one result per mirror job"));
            let git_is_current = git.is_ok();
            let mut outcome = RepoOutcome::mirrored(repo.name.clone(), git);
            match wiki {
                Some(Ok(wiki)) => outcome.wiki = Some(wiki),
                // Forges create a wiki's repository only with its first page.
                Some(Err(err)) if is_not_found(&err) => {
                    tracing::debug!(repo = %repo.name, "no wiki")
                }
                Some(Err(err)) => outcome.fail(Step::Wiki, &err),
                None => {}
            }
            match metadata {
                Some(Ok(metadata)) => outcome.metadata = Some(metadata),
                Some(Err(err)) => outcome.fail(Step::Metadata, &err),
                None => {}
            }
            if let (true, Some(lfs)) = (git_is_current, &repo.lfs) {
                let credentials = lfs
                    .credentials
                    .as_ref()
                    .map(|(user, token)| (user.as_str(), token));
                match sync_lfs(&repo.git.dest, &lfs.url, credentials) {
                    Ok(lfs) => outcome.lfs = Some(lfs),
                    Err(err) => outcome.fail(Step::Lfs, &err),
                }
            }
            outcome
        })
        .collect()
}

/// Every repository's metadata, `parallelism` repositories at a time (a no-change run is
/// nothing but conditional requests, so far from the forge its time is requests × latency ÷
/// parallelism). Results come in plan order; what each sync remembers is stored afterwards.
fn read_all_metadata(
    plan: &DestinationPlan,
    parallelism: usize,
    state: &mut CollectState,
) -> Vec<Option<Result<MetadataOutcome>>> {
    let wanted: Vec<(usize, RepoMetaState)> = plan
        .repos
        .iter()
        .enumerate()
        .filter_map(|(i, repo)| {
            repo.metadata.as_ref().map(|m| {
                (
                    i,
                    state
                        .repos
                        .get(&state_key(plan, m))
                        .cloned()
                        .unwrap_or_default(),
                )
            })
        })
        .collect();
    let pages = &state.pages;
    let synced = crate::parallel::map_bounded(wanted, parallelism, |(i, repo_state)| {
        let repo = &plan.repos[*i];
        let wanted = repo
            .metadata
            .as_ref()
            .expect("only repositories with metadata are queued");
        if crate::shutdown::stop_requested() {
            return Err(anyhow!("not read: the process is stopping"));
        }
        let mut repo_state = repo_state.clone();
        sync_metadata(plan, repo, wanted, pages, &mut repo_state)
            .map(|outcome| (outcome, repo_state))
    });
    let mut results: Vec<Option<Result<MetadataOutcome>>> =
        plan.repos.iter().map(|_| None).collect();
    for ((i, _), result) in synced {
        let wanted = plan.repos[i]
            .metadata
            .as_ref()
            .expect("queued with metadata");
        results[i] = Some(result.map(|(outcome, repo_state)| {
            // Kept only when all of the sync succeeded.
            state.repos.insert(state_key(plan, wanted), repo_state);
            outcome
        }));
    }
    results
}

/// Keyed by API as well: a GitHub and a GitLab repository may share `owner/name`.
fn state_key(plan: &DestinationPlan, wanted: &MetadataPlan) -> String {
    format!(
        "{}|{}",
        plan.forges[wanted.forge].api_base(),
        wanted.repo.full_name
    )
}

/// A repository's metadata, then (last, so a failed download does not hold up the issues)
/// its release assets, checked even when the release list is unchanged: an earlier run may
/// have failed mid-download.
fn sync_metadata(
    plan: &DestinationPlan,
    repo: &RepoPlan,
    wanted: &MetadataPlan,
    pages: &PageCache,
    repo_state: &mut RepoMetaState,
) -> Result<MetadataOutcome> {
    let forge = &plan.forges[wanted.forge];
    let writer = MetadataWriter::new(layout::metadata_dir(&repo.git.dest));
    let mut synced = forge.sync_metadata(pages, &wanted.repo, &writer, repo_state)?;
    if wanted.release_assets {
        let assets = forge
            .sync_release_assets(&synced.releases, &writer)
            .with_context(|| format!("{}: release assets", wanted.repo.full_name))?;
        synced.outcome.assets_downloaded += assets.downloaded;
        synced.outcome.asset_bytes += assets.bytes;
    }
    Ok(synced.outcome)
}
