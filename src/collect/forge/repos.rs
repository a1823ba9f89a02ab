//! An account's repositories: which list to read, the fields the collector uses, and reading
//! a list page by page with per-page ETags, so an unchanged listing costs only 304s (which
//! GitHub does not count against the rate limit). Each forge says where its lists are and how
//! its repository objects read.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::rest::{PageResponse, RestClient};

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

/// How a forge's list page reads: its body (a JSON list) and URL (for messages) -> repositories.
pub type ParsePage = fn(body: &str, url: &str) -> Result<Vec<RepoSummary>>;

/// The repository objects of GitHub and Gitea, which share GitHub's field names.
pub fn parse_github_shaped(body: &str, url: &str) -> Result<Vec<RepoSummary>> {
    serde_json::from_str(body)
        .with_context(|| format!("the forge returned an unexpected repository list from {url}"))
}

/// Reads the list starting at `first_url` page by page, revalidating the pages `cache` holds.
pub fn list_repos(
    client: &RestClient,
    listing: &RepoListing,
    first_url: String,
    parse: ParsePage,
    cache: &mut ListingCache,
) -> Result<RepoList> {
    let mut next = Some(first_url);
    let mut repos = Vec::new();
    let mut changed = false;
    let mut requests = 0;
    let mut seen = BTreeMap::new();
    while let Some(url) = next.take() {
        if requests >= MAX_PAGES {
            bail!("repository listing {listing:?} has more than {MAX_PAGES} pages; stopping");
        }
        requests += 1;
        let cached = cache.pages.get(&url);
        let page = match client.get_page(&url, cached.map(|c| c.etag.as_str()))? {
            PageResponse::NotModified => match cached {
                Some(page) => page.clone(),
                None => bail!("the forge answered 304 for {url} although no ETag was sent"),
            },
            PageResponse::Fresh { body, etag, next } => {
                changed = true;
                CachedPage {
                    etag: etag.unwrap_or_default(),
                    next,
                    repos: parse(&body, &url)?,
                }
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
    tracing::info!(
        ?listing,
        repos = repos.len(),
        changed,
        requests,
        "listed repositories"
    );
    Ok(RepoList {
        repos,
        changed,
        requests,
    })
}
