//! The typed result of reading a gickup `conf.yml`: what the collector acts on.

use std::path::PathBuf;

use crate::secret::Secret;

/// A whole configuration file. gickup allows several YAML documents in one file, each
/// pairing its own sources with its own destinations; we keep that pairing.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub jobs: Vec<BackupJob>,
}

/// One YAML document: everything in `sources` goes to every one of `destinations`.
#[derive(Debug, Clone, PartialEq)]
pub struct BackupJob {
    /// 0-based position of the document in the file, for messages.
    pub document: usize,
    pub sources: Vec<Source>,
    pub destinations: Vec<LocalDestination>,
    /// gickup's `gitea`, `gitlab` and `github` destinations: kept as live mirrors of what the
    /// job collected, pushed after each collect.
    pub forge_destinations: Vec<ForgeDestination>,
    /// gickup's scheduler expression (standard cron): `forgesafe serve` runs on it.
    pub cron: Option<String>,
    /// gickup's `metrics` key: acted on by `forgesafe serve`.
    pub metrics: MetricsSettings,
}

/// gickup's `metrics:`: a Prometheus endpoint and heartbeat URLs (its `push` notifiers are not
/// acted on, with a warning).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsSettings {
    pub prometheus: Option<PrometheusSettings>,
    /// Requested with GET after every successful run (healthchecks.io, Dead Man's Snitch): the URL
    /// is often the secret itself, so it is kept as one.
    pub heartbeat_urls: Vec<Secret>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PrometheusSettings {
    /// gickup's default `/metrics`.
    pub endpoint: String,
    /// gickup's default `:6178` (Go's form: every interface).
    pub listen_addr: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// An account on a forge whose repositories are listed through its API.
    Forge(ForgeSource),
    /// A single repository given by URL or local path (gickup's `any`).
    Plain(PlainGitSource),
}

/// Forges the collector talks to. gickup also knows gogs, bitbucket, onedev and sourcehut;
/// those are accepted in a config but reported as not supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForgeKind {
    Github,
    Gitea,
    Gitlab,
}

impl ForgeKind {
    /// The key used in gickup's `source:` mapping.
    pub fn key(self) -> &'static str {
        match self {
            ForgeKind::Github => "github",
            ForgeKind::Gitea => "gitea",
            ForgeKind::Gitlab => "gitlab",
        }
    }

    /// The public service's web address (what a missing `url` means).
    pub fn public_url(self) -> &'static str {
        match self {
            ForgeKind::Github => "https://github.com",
            ForgeKind::Gitea => "https://gitea.com",
            ForgeKind::Gitlab => "https://gitlab.com",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ForgeSource {
    pub kind: ForgeKind,
    /// From `token` (environment variable name or literal) or `token_file`.
    pub token: Option<Secret>,
    /// The account whose repositories are backed up (`user`); `None` means the token's owner.
    pub user: Option<String>,
    /// Base URL of a self-hosted instance (`url`); `None` means the public service.
    pub url: Option<String>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub ssh: bool,
    pub ssh_key: Option<PathBuf>,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub include_orgs: Vec<String>,
    pub exclude_orgs: Vec<String>,
    pub wiki: bool,
    pub issues: bool,
    pub starred: bool,
    pub filter: Filter,
    /// Download the files attached to releases (`releaseassets: true`, forgesafe's own key);
    /// their metadata is always kept.
    pub release_assets: bool,
}

/// gickup's `filter:` block, applied to the repository list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub stars: Option<u64>,
    /// A duration such as `1y` or `30d`, kept as written (gickup's own syntax).
    pub last_activity: Option<String>,
    pub languages: Vec<String>,
    pub exclude_archived: bool,
    pub exclude_forks: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlainGitSource {
    /// A git URL (`https://…`, `ssh://…`, `git@host:…`) or a local path.
    pub url: String,
    /// Folder name for the mirror; by default derived from the URL.
    pub name: Option<String>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub token: Option<Secret>,
    /// Private key for an ssh URL (`sshkey`).
    pub ssh_key: Option<PathBuf>,
}

/// A forge account forgesafe pushes into: gickup's `destination: gitea|gitlab|github:` entry
/// (every repository the job collects is pushed there, force-pushes and deletions included,
/// created first when missing), or where `restore --to-forge` puts one repository back.
#[derive(Debug, Clone, PartialEq)]
pub struct ForgeDestination {
    pub kind: ForgeKind,
    /// Base URL of the instance (`url`); `None` means the public service.
    pub url: Option<String>,
    pub token: Secret,
    /// The user or organisation the repositories go under (`user`; GitHub's `organization`);
    /// `None` means the token's owner.
    pub owner: Option<String>,
    /// `visibility: {repositories: private|public}` for repositories it creates (default private).
    pub private: bool,
}

impl ForgeDestination {
    /// For messages: `gitea https://git.example.com (as ci-backup)`.
    pub fn label(&self) -> String {
        let url = self.url.as_deref().unwrap_or(self.kind.public_url());
        match &self.owner {
            Some(owner) => format!("{} {url}/{owner}", self.kind.key()),
            None => format!("{} {url}", self.kind.key()),
        }
    }
}

/// gickup's `destination: local:` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalDestination {
    pub path: PathBuf,
    /// Lay mirrors out as `<host>/<owner>/<repo>` rather than flat.
    pub structured: bool,
    pub bare: bool,
    pub mirror: bool,
    pub lfs: bool,
    pub zip: bool,
    pub keep: Option<u64>,
}
