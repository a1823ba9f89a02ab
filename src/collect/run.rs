//! One collector run: list each source's repositories, mirror them (in parallel, bounded) and
//! their wikis, and write their metadata (serially per forge token: GitHub asks for that to
//! stay clear of secondary rate limits), then report. One repository's failure never stops
//! the others; its last good mirror is kept.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use anyhow::{anyhow, bail, Result};

use super::config::{BackupJob, Config, ForgeKind, ForgeSource, LocalDestination, PlainGitSource, Source};
use super::github::{fetch_gitlab_metadata, fetch_repo_metadata, wiki_url_of, Flavor, MetadataOptions, select_repos, GithubClient, RepoListing, RepoSummary, PUBLIC_API};
use super::metadata::MetadataWriter;
use super::lfs::sync_lfs;
use super::mirror::{is_not_found, mirror_all_reporting, MirrorChange, MirrorJob, MirrorOptions, SshSettings};
use super::state::CollectState;
use crate::secret::Secret;

#[derive(Debug, Clone)]
pub struct CollectOptions {
    /// Replaces every destination path of the config (`--dest`).
    pub dest_override: Option<PathBuf>,
    /// Repositories mirrored at once.
    pub parallelism: usize,
}

/// The run summary.
#[derive(Debug, Default, Clone)]
pub struct CollectReport {
    pub new: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// `(repository, reason)`.
    pub failed: Vec<(String, String)>,
    pub bytes_fetched: u64,
    pub api_requests: u64,
    pub api_not_modified: u64,
    pub metadata_items_fetched: u64,
    pub metadata_files_changed: u64,
    /// Release asset files downloaded (their bytes count in `bytes_fetched`).
    pub assets_downloaded: u64,
    /// Git LFS objects downloaded (their bytes count in `bytes_fetched`).
    pub lfs_objects_downloaded: u64,
    /// Mirrors on disk whose repository the forge no longer lists: kept, never deleted.
    pub no_longer_listed: Vec<String>,
    /// The destination folders written.
    pub destinations: Vec<PathBuf>,
}

/// One repository to collect.
struct Target {
    /// `owner/name`, for messages.
    label: String,
    clone_url: String,
    wiki_url: Option<String>,
    credentials: Option<(String, Secret)>,
    git_dir: PathBuf,
    wiki_dir: PathBuf,
    metadata: Option<(usize, RepoSummary, MetadataOptions)>, // (client index, repo, options) when metadata is wanted
    /// Private key for an ssh clone URL.
    ssh_key: Option<PathBuf>,
    /// Where the LFS server is found (an https URL even when git goes over ssh) and the
    /// credentials for it.
    lfs_remote: (String, Option<(String, Secret)>),
}

pub fn collect(config: &Config, opts: &CollectOptions) -> Result<CollectReport> {
    let mut report = CollectReport::default();
    for job in &config.jobs {
        let destinations: Vec<LocalDestination> = match &opts.dest_override {
            // The config's own settings (layout, lfs) still apply; only the folder changes.
            Some(path) => {
                let base = job.destinations.first().cloned();
                let lfs = base.as_ref().is_some_and(|d| d.lfs);
                let structured = base.as_ref().is_none_or(|d| d.structured);
                vec![LocalDestination { path: path.clone(), structured, bare: true, mirror: true, lfs, zip: false, keep: None }]
            }
            None => job.destinations.clone(),
        };
        if destinations.is_empty() {
            bail!("document {} of the config has no local destination: add destination.local[].path, or pass --dest", job.document + 1);
        }
        for destination in &destinations {
            collect_into(job, destination, opts, &mut report)?;
        }
    }
    Ok(report)
}

fn collect_into(job: &BackupJob, destination: &LocalDestination, opts: &CollectOptions, report: &mut CollectReport) -> Result<()> {
    let dest = &destination.path;
    std::fs::create_dir_all(dest).map_err(|e| anyhow!("cannot create the destination {}: {e}", dest.display()))?;
    report.destinations.push(dest.clone());
    let mut state = CollectState::load(dest);
    let mut clients: Vec<GithubClient> = Vec::new();
    let mut targets: Vec<Target> = Vec::new();

    for source in &job.sources {
        match source {
            Source::Forge(forge) => {
                let client = github_client(forge)?;
                match list_github(&client, forge, &mut state) {
                    Ok(repos) => {
                        note_unlisted(dest, destination.structured, &repos, report);
                        let index = clients.len();
                        for repo in repos {
                            targets.push(github_target(dest, destination.structured, forge, &repo, index)?);
                        }
                        clients.push(client);
                    }
                    Err(e) => report.failed.push((
                        format!("{}:{}", forge.kind.key(), forge.user.as_deref().unwrap_or("(token owner)")),
                        format!("{e:#}"),
                    )),
                }
            }
            Source::Plain(plain) => targets.push(plain_target(dest, destination.structured, plain)?),
        }
    }

    // Mirrors run on a bounded pool while this thread writes metadata.
    let mut jobs = Vec::new();
    for (index, t) in targets.iter().enumerate() {
        // Host keys of ssh remotes are pinned on the volume, beside the collector's state.
        let ssh = SshSettings { key: t.ssh_key.clone(), known_hosts: Some(dest.join(".forgesafe").join("known_hosts")) };
        let options = MirrorOptions { ssh, ..Default::default() };
        jobs.push((index, false, MirrorJob { url: t.clone_url.clone(), dest: t.git_dir.clone(), credentials: t.credentials.clone(), options: options.clone() }));
        if let Some(wiki) = &t.wiki_url {
            jobs.push((index, true, MirrorJob { url: wiki.clone(), dest: t.wiki_dir.clone(), credentials: t.credentials.clone(), options }));
        }
    }
    let (keys, mirror_jobs): (Vec<(usize, bool)>, Vec<MirrorJob>) = jobs.into_iter().map(|(i, w, j)| ((i, w), j)).unzip();
    // Besides the git data: what else of a repository failed (metadata, LFS objects).
    let mut incomplete: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let bar = crate::progress::counter("mirroring", mirror_jobs.len() as u64);
    let on_done = |job: &MirrorJob, _: &Result<_>| {
        bar.set_message(job.url.clone());
        bar.inc(1);
    };
    let results = std::thread::scope(|scope| {
        let mirrors = scope.spawn(|| mirror_all_reporting(mirror_jobs, opts.parallelism, &on_done));
        for (index, t) in targets.iter().enumerate() {
            let Some((client_index, repo, options)) = &t.metadata else { continue };
            let writer = MetadataWriter::new(t.git_dir.with_extension("metadata"));
            let client = &clients[*client_index];
            // Keyed by API as well: a GitHub and a GitLab repository may share `owner/name`.
            let state_key = format!("{}|{}", client.api_base(), repo.full_name);
            let mut repo_state = state.repos.get(&state_key).cloned().unwrap_or_default();
            let fetched = match client.flavor() {
                Flavor::Gitlab => fetch_gitlab_metadata(client, &mut state.pages, repo, &writer, &mut repo_state),
                Flavor::Github | Flavor::Gitea => fetch_repo_metadata(client, &mut state.pages, repo, &writer, &mut repo_state, *options),
            };
            match fetched {
                Ok(outcome) => {
                    report.metadata_items_fetched += outcome.items_fetched;
                    report.metadata_files_changed += outcome.files_changed;
                    report.assets_downloaded += outcome.assets_downloaded;
                    report.bytes_fetched += outcome.asset_bytes;
                    state.repos.insert(state_key, repo_state);
                }
                Err(e) => {
                    incomplete.entry(index).or_default().push(format!("metadata incomplete: {e:#}"));
                }
            }
        }
        mirrors.join().expect("the mirror pool does not panic")
    });
    bar.finish_and_clear();

    let mut outcome_of: BTreeMap<usize, Result<MirrorChange, String>> = BTreeMap::new();
    for ((index, is_wiki), (_job, result)) in keys.into_iter().zip(results) {
        match (is_wiki, result) {
            (false, Ok(o)) => {
                report.bytes_fetched += o.bytes_fetched;
                outcome_of.insert(index, Ok(o.change));
                // Git LFS objects, now that the mirror is up to date.
                if destination.lfs {
                    let (url, credentials) = &targets[index].lfs_remote;
                    match sync_lfs(&targets[index].git_dir, url, credentials.as_ref().map(|(u, s)| (u.as_str(), s))) {
                        Ok(lfs) => {
                            report.lfs_objects_downloaded += lfs.objects_downloaded;
                            report.bytes_fetched += lfs.bytes_downloaded;
                        }
                        Err(e) => incomplete.entry(index).or_default().push(format!("LFS incomplete: {e:#}")),
                    }
                }
            }
            (true, Ok(o)) => report.bytes_fetched += o.bytes_fetched,
            (true, Err(e)) if is_not_found(&e) => tracing::debug!(repo = %targets[index].label, "no wiki"),
            (_, Err(e)) => {
                let what = if is_wiki { "wiki" } else { "repository" };
                let previous = outcome_of.remove(&index).and_then(|r| r.err());
                let message = [previous, Some(format!("{what}: {e:#}"))].into_iter().flatten().collect::<Vec<_>>().join("; ");
                outcome_of.insert(index, Err(message));
            }
        }
    }
    for (index, target) in targets.iter().enumerate() {
        let mirror_result = outcome_of.remove(&index).unwrap_or(Err("not mirrored".into()));
        let mut reasons: Vec<String> = mirror_result.as_ref().err().cloned().into_iter().collect();
        reasons.extend(incomplete.remove(&index).unwrap_or_default());
        match mirror_result {
            Ok(MirrorChange::New) if reasons.is_empty() => report.new += 1,
            Ok(MirrorChange::Updated { .. }) if reasons.is_empty() => report.updated += 1,
            Ok(MirrorChange::Unchanged) if reasons.is_empty() => report.unchanged += 1,
            _ => report.failed.push((target.label.clone(), reasons.join("; "))),
        }
    }
    for client in &clients {
        report.api_requests += client.requests.load(Ordering::Relaxed);
        report.api_not_modified += client.not_modified.load(Ordering::Relaxed);
    }
    state.save(dest)?;
    Ok(())
}

fn github_client(forge: &ForgeSource) -> Result<GithubClient> {
    if forge.kind == ForgeKind::Gitlab {
        let base = forge.url.as_deref().map(|u| u.trim_end_matches('/')).filter(|u| !u.is_empty()).unwrap_or("https://gitlab.com");
        let api_base = if base.ends_with("/api/v4") { base.to_string() } else { format!("{base}/api/v4") };
        return GithubClient::new_gitlab(&api_base, forge.token.clone());
    }
    if forge.kind == ForgeKind::Gitea {
        let base = forge.url.as_deref().map(|u| u.trim_end_matches('/')).filter(|u| !u.is_empty()).unwrap_or("https://gitea.com");
        let api_base = if base.ends_with("/api/v1") { base.to_string() } else { format!("{base}/api/v1") };
        return GithubClient::new_gitea(&api_base, forge.token.clone());
    }
    let api_base = match forge.url.as_deref().map(|u| u.trim_end_matches('/')) {
        None | Some("") => PUBLIC_API.to_string(),
        Some(u) if u.contains("api.github.com") || u.ends_with("/api/v3") => u.to_string(),
        // GitHub Enterprise: the REST API lives under /api/v3 of the instance.
        Some(u) => format!("{u}/api/v3"),
    };
    GithubClient::new(&api_base, forge.token.clone())
}

/// The repositories a GitHub source selects: the token owner's (private included) or a user's
/// public ones, plus `includeorgs` organisations and, with `starred`, starred repositories.
fn list_github(client: &GithubClient, forge: &ForgeSource, state: &mut CollectState) -> Result<Vec<RepoSummary>> {
    let mut listings = Vec::new();
    match (&forge.token, &forge.user) {
        (Some(_), Some(user)) if token_owner(client)?.eq_ignore_ascii_case(user) => listings.push(RepoListing::Authenticated),
        (Some(_), None) => listings.push(RepoListing::Authenticated),
        (_, Some(user)) => listings.push(RepoListing::User(user.clone())),
        (None, None) => bail!("a github source needs a user or a token: add `user:` or `token:`"),
    }
    for org in &forge.include_orgs {
        listings.push(RepoListing::Org(org.clone()));
    }
    if forge.starred {
        listings.push(RepoListing::Starred);
    }
    let mut all: BTreeMap<String, RepoSummary> = BTreeMap::new();
    for listing in listings {
        let key = format!("{}|{listing:?}", client.api_base());
        let cache = state.listings.entry(key).or_default();
        for repo in client.list_repos(&listing, cache)?.repos {
            all.insert(repo.full_name.clone(), repo);
        }
    }
    let listed: Vec<RepoSummary> = all.into_values().collect();
    select_repos(&listed, forge, SystemTime::now())
}

fn token_owner(client: &GithubClient) -> Result<String> {
    let url = format!("{}/user", client.api_base());
    match client.get_page(&url, None)? {
        super::github::PageResponse::Fresh { body, .. } => {
            let user: serde_json::Value = serde_json::from_str(&body)?;
            // GitHub and Gitea say `login`, GitLab `username`.
            user["login"].as_str().or(user["username"].as_str()).map(str::to_string).ok_or_else(|| anyhow!("{url}: no login in the answer"))
        }
        super::github::PageResponse::NotModified => bail!("{url}: unexpected 304"),
    }
}

fn github_target(dest: &Path, structured: bool, forge: &ForgeSource, repo: &RepoSummary, client_index: usize) -> Result<Target> {
    let host = host_of(&repo.clone_url);
    let git_dir = repo_dir(dest, structured, &host, &repo.owner.login, &repo.name);
    // gickup's `ssh: true`: git goes over ssh with the key; the token is for the API only.
    let clone_url = match (&repo.ssh_url, forge.ssh) {
        (_, false) => repo.clone_url.clone(),
        (Some(ssh_url), true) => ssh_url.clone(),
        (None, true) => bail!("{}: the forge lists no ssh URL for it; remove `ssh: true` to clone over https", repo.full_name),
    };
    Ok(Target {
        label: repo.full_name.clone(),
        wiki_url: (forge.wiki && repo.has_wiki).then(|| wiki_url_of(&clone_url)),
        clone_url,
        ssh_key: forge.ssh_key.clone(),
        // The forge serves LFS over https with the token, whichever way git goes.
        lfs_remote: (repo.clone_url.clone(), forge.token.clone().map(|t| (token_user(forge), t))),
        // Over ssh the key authenticates git; the token is not sent.
        credentials: forge.token.clone().filter(|_| !forge.ssh).map(|t| (token_user(forge), t)),
        wiki_dir: sibling(&git_dir, "wiki.git"),
        git_dir,
        metadata: forge.issues.then(|| (client_index, repo.clone(), MetadataOptions { release_assets: forge.release_assets })),
    })
}

/// The user name that goes with a forge token over HTTP basic auth (git and LFS): GitHub takes
/// any; Gitea wants the account's (or `oauth2`); GitLab takes a personal access token as the
/// password of the user `oauth2`.
fn token_user(forge: &ForgeSource) -> String {
    match forge.kind {
        ForgeKind::Gitea => forge.username.clone().or(forge.user.clone()).unwrap_or_else(|| "oauth2".into()),
        ForgeKind::Gitlab => "oauth2".to_string(),
        _ => "x-access-token".to_string(),
    }
}

fn plain_target(dest: &Path, structured: bool, plain: &PlainGitSource) -> Result<Target> {
    let (host, path) = split_git_url(&plain.url);
    let mut segments = path.trim_end_matches('/').rsplit('/').filter(|s| !s.is_empty());
    let last = segments.next().unwrap_or("repository");
    let name = plain.name.clone().unwrap_or_else(|| last.strip_suffix(".git").unwrap_or(last).to_string());
    let owner = segments.next().unwrap_or("_").to_string();
    let git_dir = repo_dir(dest, structured, &host, &owner, &name);
    let credentials = match (&plain.token, &plain.password) {
        (Some(t), _) => Some((plain.username.clone().unwrap_or_else(|| "x-access-token".into()), t.clone())),
        (None, Some(p)) => Some((plain.username.clone().unwrap_or_default(), p.clone())),
        (None, None) => None,
    };
    Ok(Target {
        label: format!("{owner}/{name}"),
        clone_url: plain.url.clone(),
        wiki_url: None,
        lfs_remote: (plain.url.clone(), credentials.clone()),
        credentials,
        ssh_key: plain.ssh_key.clone(),
        wiki_dir: sibling(&git_dir, "wiki.git"),
        git_dir,
        metadata: None,
    })
}

/// gickup's layout: `<dest>/<host>/<owner>/<name>.git` when structured, else `<dest>/<name>.git`.
fn repo_dir(dest: &Path, structured: bool, host: &str, owner: &str, name: &str) -> PathBuf {
    let safe = |s: &str| s.replace(['/', '\\'], "_").replace("..", "_");
    if structured {
        dest.join(safe(host)).join(safe(owner)).join(format!("{}.git", safe(name)))
    } else {
        dest.join(format!("{}.git", safe(name)))
    }
}

fn sibling(git_dir: &Path, suffix: &str) -> PathBuf {
    let stem = git_dir.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    git_dir.with_file_name(format!("{stem}.{suffix}"))
}

/// `(host, path)` of a git URL: `https://host:port/a/b.git`, `git@host:a/b.git`, or a local path
/// (host `local`).
fn split_git_url(url: &str) -> (String, String) {
    if let Some((_, rest)) = url.split_once("://") {
        let (_, path) = rest.split_once('/').unwrap_or((rest, ""));
        return (host_of(url), path.to_string());
    }
    match url.split_once(':') {
        Some((user_host, path)) if !user_host.contains('/') && !url.starts_with('/') => {
            (user_host.rsplit('@').next().unwrap_or(user_host).to_string(), path.to_string())
        }
        _ => ("local".to_string(), url.to_string()),
    }
}

fn host_of(url: &str) -> String {
    match url.split_once("://") {
        Some((_, rest)) => {
            let authority = rest.split('/').next().unwrap_or("");
            let host = authority.rsplit('@').next().unwrap_or(authority);
            // A port is not part of the forge's name (and ':' is awkward in paths).
            host.split(':').next().unwrap_or(host).to_string()
        }
        None => "local".to_string(),
    }
}

/// Mirrors under an owner we listed whose repository is no longer listed: reported, kept.
fn note_unlisted(dest: &Path, structured: bool, repos: &[RepoSummary], report: &mut CollectReport) {
    if !structured {
        return;
    }
    let mut owners: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for r in repos {
        owners.entry((host_of(&r.clone_url), r.owner.login.clone())).or_default().insert(format!("{}.git", r.name));
    }
    for ((host, owner), names) in owners {
        let Ok(entries) = std::fs::read_dir(dest.join(&host).join(&owner)) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".git") && !name.ends_with(".wiki.git") && !names.contains(&name) {
                report.no_longer_listed.push(format!("{host}/{owner}/{name}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_follows_gickups_structured_form() {
        let d = Path::new("/v");
        assert_eq!(repo_dir(d, true, "github.com", "o", "r"), PathBuf::from("/v/github.com/o/r.git"));
        assert_eq!(repo_dir(d, false, "github.com", "o", "r"), PathBuf::from("/v/r.git"));
        assert_eq!(sibling(&PathBuf::from("/v/h/o/r.git"), "wiki.git"), PathBuf::from("/v/h/o/r.wiki.git"));
        assert_eq!(host_of("https://user@github.com:443/o/r.git"), "github.com");
        assert_eq!(host_of("/srv/git/r"), "local");
        assert_eq!(repo_dir(d, true, "h", "..", "a/b"), PathBuf::from("/v/h/_/a_b.git"));
        assert_eq!(split_git_url("http://127.0.0.1:8080/big.git"), ("127.0.0.1".into(), "big.git".into()));
        assert_eq!(split_git_url("git@github.com:octo/app.git"), ("github.com".into(), "octo/app.git".into()));
        assert_eq!(split_git_url("/srv/git/app"), ("local".into(), "/srv/git/app".into()));
    }
}
