//! `forgesafe collect` (mirror forge accounts into a volume) and `forgesafe backup` (collect,
//! then push the volume and print the artifact line).

use super::RepoArgs;
use crate::collect::config::{self, BackupJob, Config, ForgeKind, ForgeSource, LocalDestination, PlainGitSource, Source};
use crate::collect::{collect, CollectOptions, CollectReport};
use crate::secret::Secret;
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct CollectArgs {
    #[command(flatten)]
    what: WhatToCollect,
}

#[derive(Args)]
pub struct WhatToCollect {
    /// A gickup configuration file (accepted unchanged).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Destination folder (replaces the config's destination paths).
    #[arg(long)]
    dest: Option<PathBuf>,
    /// Repositories mirrored at once.
    #[arg(long, default_value_t = 4)]
    parallel: usize,
    #[command(subcommand)]
    source: Option<SourceArgs>,
}

#[derive(Subcommand)]
enum SourceArgs {
    /// A GitHub account: the token owner's repositories (private included) or a user's public ones.
    Github {
        #[arg(long)]
        user: Option<String>,
        /// Name of the environment variable holding the token (never the token itself).
        #[arg(long)]
        token_env: Option<String>,
        /// GitHub Enterprise base URL.
        #[arg(long)]
        url: Option<String>,
        #[arg(long = "org")]
        orgs: Vec<String>,
        /// gickup's unstructured layout: `<dest>/<name>.git` instead of `<dest>/<host>/<owner>/<name>.git`.
        #[arg(long)]
        flat: bool,
        /// Also fetch the Git LFS objects every mirror refers to (gickup's `lfs: true`).
        #[arg(long)]
        lfs: bool,
        /// Skip issues, pull requests, releases, labels and milestones.
        #[arg(long)]
        no_metadata: bool,
        #[arg(long)]
        no_wiki: bool,
        /// Also download the files attached to releases (into `<repo>.metadata/release-assets/`).
        #[arg(long)]
        release_assets: bool,
        #[arg(long, required = true)]
        dest: PathBuf,
        #[arg(long, default_value_t = 4)]
        parallel: usize,
    },
    /// Plain git URLs or local paths.
    Url {
        #[arg(required = true)]
        urls: Vec<String>,
        #[arg(long, required = true)]
        dest: PathBuf,
        #[arg(long)]
        flat: bool,
        /// Also fetch the Git LFS objects every mirror refers to (gickup's `lfs: true`).
        #[arg(long)]
        lfs: bool,
        #[arg(long, default_value_t = 4)]
        parallel: usize,
        /// Private key for ssh URLs (`ssh://…`, `git@host:…`).
        #[arg(long)]
        ssh_key: Option<PathBuf>,
    },
}

#[derive(Args)]
pub struct BackupArgs {
    #[command(flatten)]
    what: WhatToCollect,
    #[command(flatten)]
    repo: RepoArgs,
    /// Name the snapshot is filed under (default: the destination folder's name).
    #[arg(short = 's', long)]
    path: Option<String>,
    #[arg(short = 'o', long, default_value = "kandoOutput")]
    output_name: String,
    /// Exit 0 even when some repositories failed (their last good mirrors are pushed either way).
    #[arg(long)]
    allow_partial: bool,
}

pub fn run_collect(args: CollectArgs) -> Result<()> {
    let report = collect_from(&args.what)?;
    finish(&report, false)
}

pub fn run_backup(args: BackupArgs) -> Result<()> {
    crate::phase_output::check_key(&args.output_name)?;
    let store = args.repo.store()?; // fail on a bad profile before any network work
    let report = collect_from(&args.what)?;
    let [dest] = report.destinations.as_slice() else {
        bail!("backup pushes one destination, but the config has {}: give --dest", report.destinations.len());
    };
    let name = args.path.clone().unwrap_or_else(|| dest.file_name().map_or("forge".into(), |n| n.to_string_lossy().into_owned()));
    let pushed = crate::store::push(&store, &crate::store::PushRequest::new(crate::store::PushSource::Path(dest.clone()), name))?;
    super::print_artifact(&args.output_name, &pushed)?;
    tracing::info!(snapshot = %pushed.snapshot_id, added_bytes = pushed.physical_size, "pushed the collected volume");
    finish(&report, args.allow_partial)
}

fn collect_from(what: &WhatToCollect) -> Result<CollectReport> {
    let (config, parallelism, dest) = match (&what.config, &what.source) {
        (Some(path), None) => {
            let loaded = config::load(path)?;
            for warning in &loaded.warnings {
                tracing::warn!("{warning}");
            }
            (loaded.config, what.parallel, what.dest.clone())
        }
        (None, Some(SourceArgs::Github { user, token_env, url, orgs, flat, lfs, no_metadata, no_wiki, release_assets, dest, parallel })) => {
            let token = match token_env {
                Some(var) => Some(Secret::new(std::env::var(var).map_err(|_| {
                    anyhow!("--token-env {var}: that environment variable is not set: export the token in it")
                })?)),
                None => None,
            };
            let forge = ForgeSource {
                kind: ForgeKind::Github,
                token,
                user: user.clone(),
                url: url.clone(),
                username: None,
                password: None,
                ssh: false,
                ssh_key: None,
                include: vec![],
                exclude: vec![],
                include_orgs: orgs.clone(),
                exclude_orgs: vec![],
                wiki: !no_wiki,
                issues: !no_metadata,
                starred: false,
                filter: Default::default(),
                release_assets: *release_assets,
            };
            (single_job(Source::Forge(forge), dest, !flat, *lfs), *parallel, None)
        }
        (None, Some(SourceArgs::Url { urls, dest, flat, lfs, parallel, ssh_key })) => {
            if let Some(key) = ssh_key.as_ref().filter(|k| !k.is_file()) {
                bail!("--ssh-key {}: no such file; give the path of the private key", key.display());
            }
            let sources = urls
                .iter()
                .map(|u| Source::Plain(PlainGitSource { url: u.clone(), name: None, username: None, password: None, token: None, ssh_key: ssh_key.clone() }))
                .collect();
            let mut config = single_job(Source::Plain(PlainGitSource { url: String::new(), name: None, username: None, password: None, token: None, ssh_key: None }), dest, !flat, *lfs);
            config.jobs[0].sources = sources;
            (config, *parallel, None)
        }
        (None, None) => bail!("nothing to collect: give --config FILE, or `collect github --user NAME --dest DIR`, or `collect url URL --dest DIR`"),
        (Some(_), Some(_)) => bail!("give either --config FILE or a source (github, url), not both"),
    };
    let report = collect(&config, &CollectOptions { dest_override: dest, parallelism: parallelism.max(1) })?;
    print_summary(&report);
    Ok(report)
}

fn single_job(source: Source, dest: &Path, structured: bool, lfs: bool) -> Config {
    Config {
        jobs: vec![BackupJob {
            document: 0,
            sources: vec![source],
            destinations: vec![LocalDestination { path: dest.to_path_buf(), structured, bare: true, mirror: true, lfs, zip: false, keep: None }],
            cron: None,
        }],
    }
}

fn print_summary(r: &CollectReport) {
    eprintln!(
        "forgesafe collect: {} new, {} updated, {} unchanged, {} failed; {} bytes fetched; {} API requests ({} answered 304); {} issues/pull requests fetched, {} metadata files changed",
        r.new, r.updated, r.unchanged, r.failed.len(), r.bytes_fetched, r.api_requests, r.api_not_modified, r.metadata_items_fetched, r.metadata_files_changed
    );
    if r.assets_downloaded > 0 {
        eprintln!("forgesafe collect: {} release asset files downloaded", r.assets_downloaded);
    }
    if r.lfs_objects_downloaded > 0 {
        eprintln!("forgesafe collect: {} Git LFS objects downloaded", r.lfs_objects_downloaded);
    }
    for (repo, why) in &r.failed {
        eprintln!("forgesafe collect: FAILED {repo}: {}", crate::secret::redact(why));
    }
    for kept in &r.no_longer_listed {
        eprintln!("forgesafe collect: {kept} is no longer listed upstream (deleted, renamed or hidden); its mirror is kept");
    }
}

fn finish(report: &CollectReport, allow_partial: bool) -> Result<()> {
    if report.failed.is_empty() || allow_partial {
        Ok(())
    } else {
        Err(anyhow!("{} of {} repositories failed (listed above); the others were collected", report.failed.len(),
            report.failed.len() as u64 + report.new + report.updated + report.unchanged))
            .context("collect incomplete")
    }
}
