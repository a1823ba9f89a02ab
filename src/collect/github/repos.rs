//! Listing an account's repositories, page by page, with per-page ETags so an unchanged
//! listing costs only 304s (which GitHub does not count against the rate limit).

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::client::{Flavor, GithubClient, PageResponse};

/// Which list of repositories to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoListing {
    /// `/user/repos`: the token owner's repositories, including private ones and those
    /// shared through collaboration or organisation membership.
    Authenticated,
    /// `/users/{user}/repos`: another account's public repositories.
    User(String),
    /// `/orgs/{org}/repos`.
    Org(String),
    /// `/user/starred`.
    Starred,
}

impl RepoListing {
    fn first_page_url(&self, api_base: &str, flavor: Flavor) -> String {
        let page = flavor.page_size();
        match (self, flavor) {
            (RepoListing::Authenticated, Flavor::Github) => {
                format!("{api_base}/user/repos?affiliation=owner,collaborator,organization_member&{page}")
            }
            (RepoListing::Authenticated, Flavor::Gitea) => format!("{api_base}/user/repos?{page}"),
            (RepoListing::Authenticated, Flavor::Gitlab) => format!("{api_base}/projects?membership=true&{page}"),
            (RepoListing::User(user), Flavor::Gitlab) => format!("{api_base}/users/{user}/projects?{page}"),
            (RepoListing::Org(group), Flavor::Gitlab) => format!("{api_base}/groups/{group}/projects?include_subgroups=true&{page}"),
            (RepoListing::Starred, Flavor::Gitlab) => format!("{api_base}/projects?starred=true&{page}"),
            (RepoListing::User(user), _) => format!("{api_base}/users/{user}/repos?{page}"),
            (RepoListing::Org(org), _) => format!("{api_base}/orgs/{org}/repos?{page}"),
            (RepoListing::Starred, _) => format!("{api_base}/user/starred?{page}"),
        }
    }
}

/// The fields of GitHub's repository object that the collector uses (names as in the API).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepoSummary {
    pub id: u64,
    pub name: String,
    pub full_name: String,
    pub owner: RepoOwner,
    pub private: bool,
    pub fork: bool,
    #[serde(default)]
    pub archived: bool,
    pub html_url: String,
    pub clone_url: String,
    /// The scp-like `git@host:owner/name.git`, used with gickup's `ssh: true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_url: Option<String>,
    #[serde(default)]
    pub default_branch: Option<String>,
    #[serde(default)]
    pub has_wiki: bool,
    #[serde(default)]
    pub has_issues: bool,
    /// GitLab only: whether the project has merge requests enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_merge_requests: Option<bool>,
    /// Gitea calls it `stars_count`.
    #[serde(default, alias = "stars_count")]
    pub stargazers_count: u64,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub pushed_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepoOwner {
    pub login: String,
}

impl RepoSummary {
    /// The wiki's git URL; it exists only once a first wiki page was created, so mirroring
    /// it may end in `RemoteNotFound` even when `has_wiki` is true.
    pub fn wiki_clone_url(&self) -> String {
        wiki_url_of(&self.clone_url)
    }
}

/// The wiki beside a repository URL (https or ssh): `…/name.git` → `…/name.wiki.git`.
pub fn wiki_url_of(url: &str) -> String {
    let base = url.strip_suffix(".git").unwrap_or(url);
    format!("{base}.wiki.git")
}

/// ETags and bodies of the pages seen last time; persist it between runs (it is plain serde).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListingCache {
    pages: BTreeMap<String, CachedPage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CachedPage {
    etag: String,
    /// GitHub does not promise a `Link` header on a 304, so the next page is remembered.
    next: Option<String>,
    repos: Vec<RepoSummary>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RepoList {
    pub repos: Vec<RepoSummary>,
    /// `false` when every page answered 304 Not Modified.
    pub changed: bool,
    pub requests: usize,
}

/// A guard against a server that links pages in a circle.
const MAX_PAGES: usize = 10_000;

impl GithubClient {
    pub fn list_repos(&self, listing: &RepoListing, cache: &mut ListingCache) -> Result<RepoList> {
        let mut next = Some(listing.first_page_url(self.api_base(), self.flavor()));
        let mut repos = Vec::new();
        let mut changed = false;
        let mut requests = 0;
        let mut seen = BTreeMap::new();
        while let Some(url) = next.take() {
            if requests >= MAX_PAGES {
                bail!("GitHub listing {listing:?} has more than {MAX_PAGES} pages; stopping");
            }
            requests += 1;
            let cached = cache.pages.get(&url);
            let page = match self.get_page(&url, cached.map(|c| c.etag.as_str()))? {
                PageResponse::NotModified => match cached {
                    Some(page) => page.clone(),
                    None => bail!("GitHub answered 304 for {url} although no ETag was sent"),
                },
                PageResponse::Fresh { body, etag, next } => {
                    changed = true;
                    let repos: Vec<RepoSummary> = match self.flavor() {
                        Flavor::Gitlab => {
                            let projects: Vec<serde_json::Value> = serde_json::from_str(&body)
                                .with_context(|| format!("GitLab returned an unexpected project list from {url}"))?;
                            projects.iter().map(summary_of_gitlab_project).collect::<Result<_>>()?
                        }
                        _ => serde_json::from_str(&body)
                            .with_context(|| format!("the forge returned an unexpected repository list from {url}"))?,
                    };
                    CachedPage { etag: etag.unwrap_or_default(), next, repos }
                }
            };
            repos.extend(page.repos.iter().cloned());
            next = page.next.clone();
            seen.insert(url, page);
        }
        // Keep only pages that still exist (with an ETag), so the cache cannot grow forever.
        seen.retain(|_, page| !page.etag.is_empty());
        if seen.len() != cache.pages.len() {
            changed = true;
        }
        cache.pages = seen;
        tracing::info!(?listing, repos = repos.len(), changed, requests, "listed GitHub repositories");
        Ok(RepoList { repos, changed, requests })
    }
}

/// A GitLab project in the shape the collector uses (GitLab's field names differ from GitHub's).
fn summary_of_gitlab_project(p: &serde_json::Value) -> Result<RepoSummary> {
    let text = |k: &str| p.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let full_name = text("path_with_namespace").context("a GitLab project without path_with_namespace")?;
    let (owner, name) = full_name.rsplit_once('/').map(|(o, n)| (o.to_string(), n.to_string())).unwrap_or(("_".into(), full_name.clone()));
    Ok(RepoSummary {
        id: p.get("id").and_then(|v| v.as_u64()).unwrap_or_default(),
        name,
        full_name: full_name.clone(),
        owner: RepoOwner { login: owner },
        private: text("visibility").as_deref() != Some("public"),
        fork: p.get("forked_from_project").is_some_and(|f| !f.is_null()),
        archived: p.get("archived").and_then(|v| v.as_bool()).unwrap_or(false),
        html_url: text("web_url").unwrap_or_default(),
        clone_url: text("http_url_to_repo").context("a GitLab project without http_url_to_repo")?,
        ssh_url: text("ssh_url_to_repo"),
        default_branch: text("default_branch"),
        has_wiki: p.get("wiki_enabled").and_then(|v| v.as_bool()).unwrap_or(false),
        has_issues: p.get("issues_enabled").and_then(|v| v.as_bool()).unwrap_or(false),
        // Missing from the answer when the token sees the project only partly: try and see.
        has_merge_requests: Some(p.get("merge_requests_enabled").and_then(|v| v.as_bool()).unwrap_or(true)),
        stargazers_count: p.get("star_count").and_then(|v| v.as_u64()).unwrap_or(0),
        language: None,
        pushed_at: text("last_activity_at"),
        updated_at: text("last_activity_at"),
    })
}
