//! What one `collect` (or `backup`) is asked to collect: a gickup config file, one GitHub
//! account, or plain git URLs; where to; how many repositories at once. The command line
//! flattens these types (they derive clap's traits), so each option is defined once, here.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};

use super::config::{
    self, BackupJob, Config, ForgeKind, ForgeSource, LocalDestination, PlainGitSource, Source,
};
use crate::secret::Secret;

#[derive(Debug, Clone, clap::Args)]
pub struct CollectOptions {
    /// A gickup configuration file (accepted unchanged).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Destination folder: required for `github` and `url`; with --config it replaces the
    /// config's destination paths. Given before or after the source, it means the same.
    #[arg(long, global = true)]
    pub dest: Option<PathBuf>,
    /// Repositories mirrored at once.
    #[arg(long, global = true, default_value_t = 4)]
    pub parallel: usize,
    /// Repositories whose metadata (issues, pull requests, releases) is read at once, i.e.
    /// API requests in flight per run. 1 reads one request at a time; the default 8 stays far
    /// under GitHub's 100 concurrent requests, and a run that is told to slow down pauses as a
    /// whole.
    #[arg(long, global = true, default_value_t = 8, value_name = "N")]
    pub api_parallel: usize,
    /// Only this shard of the account: INDEX/COUNT, INDEX from 0 (a Kubernetes Indexed Job's
    /// JOB_COMPLETION_INDEX). Each repository belongs to one shard, by its full name.
    #[arg(
        long,
        global = true,
        value_name = "INDEX/COUNT",
        env = "FORGESAFE_SHARD"
    )]
    pub shard: Option<super::shard::Shard>,
    #[command(subcommand)]
    pub source: Option<SourceSpec>,
    /// Set by `serve`, which acts on the config's `cron` and `metrics` keys itself (so the notes
    /// for a command that runs once are not printed).
    #[arg(skip)]
    pub serving: bool,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum SourceSpec {
    /// A GitHub account: the token owner's repositories (private included) or a user's public ones.
    Github(GithubAccount),
    /// Plain git URLs or local paths.
    Url(GitUrls),
}

#[derive(Debug, Clone, clap::Args)]
pub struct GithubAccount {
    #[arg(long)]
    pub user: Option<String>,
    /// Name of the environment variable holding the token (never the token itself).
    #[arg(long)]
    pub token_env: Option<String>,
    /// GitHub Enterprise base URL.
    #[arg(long)]
    pub url: Option<String>,
    #[arg(long = "org")]
    pub orgs: Vec<String>,
    /// gickup's unstructured layout: `<dest>/<name>.git` instead of `<dest>/<host>/<owner>/<name>.git`.
    #[arg(long)]
    pub flat: bool,
    /// Also fetch the Git LFS objects every mirror refers to (gickup's `lfs: true`).
    #[arg(long)]
    pub lfs: bool,
    /// Skip issues, pull requests, releases, labels and milestones.
    #[arg(long)]
    pub no_metadata: bool,
    #[arg(long)]
    pub no_wiki: bool,
    /// Also download the files attached to releases (into `<repo>.metadata/release-assets/`).
    #[arg(long)]
    pub release_assets: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct GitUrls {
    #[arg(required = true)]
    pub urls: Vec<String>,
    #[arg(long)]
    pub flat: bool,
    /// Also fetch the Git LFS objects every mirror refers to (gickup's `lfs: true`).
    #[arg(long)]
    pub lfs: bool,
    /// Private key for ssh URLs (`ssh://…`, `git@host:…`).
    #[arg(long)]
    pub ssh_key: Option<PathBuf>,
}

/// A run's configuration, resolved from the options.
pub struct Resolved {
    pub config: Config,
    /// Replaces every destination path of the config.
    pub dest_override: Option<PathBuf>,
    /// Only the repositories of this shard.
    pub shard: Option<super::shard::Shard>,
    /// Keys of a config file that were read but are not acted on, one line each (for a command
    /// that runs once, also the keys only `serve` acts on).
    pub warnings: Vec<String>,
}

impl Resolved {
    /// The one folder a backup collects into and pushes: `--dest`, or the config's only
    /// destination.
    pub fn single_destination(&self) -> Result<PathBuf> {
        if let Some(dest) = &self.dest_override {
            return Ok(dest.clone());
        }
        let mut paths: Vec<&PathBuf> = self
            .config
            .jobs
            .iter()
            .flat_map(|job| job.destinations.iter().map(|d| &d.path))
            .collect();
        paths.dedup();
        match paths.as_slice() {
            [one] => Ok((*one).clone()),
            many => bail!(
                "backup pushes one destination, but the config has {}: give --dest",
                many.len()
            ),
        }
    }
}

impl CollectOptions {
    /// The configuration the options name: read (a config file, tokens from the environment)
    /// or built, and checked before any network call.
    pub fn resolve(&self) -> Result<Resolved> {
        match (&self.config, &self.source) {
            (Some(path), None) => {
                let loaded = config::load(path)?;
                let mut warnings = loaded.warnings;
                if !self.serving {
                    warnings.extend(loaded.serve_only);
                }
                Ok(Resolved { config: loaded.config, dest_override: self.dest.clone(), shard: self.shard, warnings })
            }
            (None, Some(source)) => {
                let dest = self.dest.as_deref().ok_or_else(|| anyhow!("`collect {}` needs --dest DIR: the folder the mirrors go to", source.name()))?;
                let config = match source {
                    SourceSpec::Github(account) => account.config(dest)?,
                    SourceSpec::Url(urls) => urls.config(dest)?,
                };
                Ok(Resolved { config, dest_override: None, shard: self.shard, warnings: Vec::new() })
            }
            (None, None) => bail!("nothing to collect: give --config FILE, or `collect github --user NAME --dest DIR`, or `collect url URL --dest DIR`"),
            (Some(_), Some(_)) => bail!("give either --config FILE or a source (github, url), not both"),
        }
    }
}

impl SourceSpec {
    fn name(&self) -> &'static str {
        match self {
            SourceSpec::Github(_) => "github",
            SourceSpec::Url(_) => "url",
        }
    }
}

impl GithubAccount {
    fn config(&self, dest: &Path) -> Result<Config> {
        let token = match &self.token_env {
            Some(var) => Some(Secret::new(
                std::env::var(var).map_err(|_| anyhow!("--token-env {var}: that environment variable is not set: export the token in it"))?,
            )),
            None => None,
        };
        let forge = ForgeSource {
            kind: ForgeKind::Github,
            token,
            user: self.user.clone(),
            url: self.url.clone(),
            username: None,
            password: None,
            ssh: false,
            ssh_key: None,
            include: vec![],
            exclude: vec![],
            include_orgs: self.orgs.clone(),
            exclude_orgs: vec![],
            wiki: !self.no_wiki,
            issues: !self.no_metadata,
            starred: false,
            filter: Default::default(),
            release_assets: self.release_assets,
        };
        Ok(one_job(
            vec![Source::Forge(forge)],
            dest,
            !self.flat,
            self.lfs,
        ))
    }
}

impl GitUrls {
    fn config(&self, dest: &Path) -> Result<Config> {
        if let Some(key) = self.ssh_key.as_ref().filter(|k| !k.is_file()) {
            bail!(
                "--ssh-key {}: no such file; give the path of the private key",
                key.display()
            );
        }
        let sources = self
            .urls
            .iter()
            .map(|url| {
                Source::Plain(PlainGitSource {
                    url: url.clone(),
                    name: None,
                    username: None,
                    password: None,
                    token: None,
                    ssh_key: self.ssh_key.clone(),
                })
            })
            .collect();
        Ok(one_job(sources, dest, !self.flat, self.lfs))
    }
}

/// A config of one job: `sources` into `dest`.
pub fn one_job(sources: Vec<Source>, dest: &Path, structured: bool, lfs: bool) -> Config {
    Config {
        jobs: vec![BackupJob {
            document: 0,
            sources,
            destinations: vec![LocalDestination {
                path: dest.to_path_buf(),
                structured,
                bare: true,
                mirror: true,
                lfs,
                zip: false,
                keep: None,
            }],
            forge_destinations: Vec::new(),
            cron: None,
            metrics: Default::default(),
        }],
    }
}
