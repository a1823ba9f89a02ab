//! GitHub (github.com and GitHub Enterprise), REST API v3, version 2022-11-28.
//!
//! A repository's metadata — issues with comments, pull requests with reviews and review
//! comments, releases, labels, milestones — becomes one JSON file per item under
//! `<repo>.metadata/`. Later runs ask only for what changed: the issue list is read with
//! `since=` the newest `updated_at` already stored, sorted by update time, and an item's
//! comments and reviews are fetched again only when its `updated_at` moved.
//!
//! Gitea and Forgejo copy this API closely; [`GithubShaped`] is where they differ, and
//! `gitea.rs` says how.

use anyhow::{Context, Result};
use serde_json::Value;

use super::hosting::{self, HostedRepo, WantedRepo};
use super::pages::{
    get_one, list, list_all, sync_repository_and_small_lists, PageCache, RepoMetaState, SmallLists,
};
use super::release_assets::{self, AssetOutcome};
use super::repos::{self, ListingCache, RepoList, RepoListing, RepoSummary};
use super::rest::{http_status, instance_api, ApiCounts, Dialect, RestClient};
use super::{Forge, MetadataSynced};
use crate::collect::metadata::MetadataWriter;
use crate::http::RetryPolicy;
use crate::secret::Secret;

pub const PUBLIC_API: &str = "https://api.github.com";
/// The REST API version this client is written against.
pub const API_VERSION: &str = "2022-11-28";

const DIALECT: Dialect = Dialect {
    forge: "GitHub",
    token_scheme: "Bearer",
    headers: &[
        ("accept", "application/vnd.github+json"),
        ("x-github-api-version", API_VERSION),
    ],
};

pub struct Github {
    rest: RestClient,
}

impl Github {
    /// `api_base` is `https://api.github.com` or a GitHub Enterprise `https://host/api/v3`.
    pub fn new(api_base: &str, token: Option<Secret>) -> Result<Self> {
        Ok(Github {
            rest: RestClient::new(&DIALECT, api_base, token.as_ref())?,
        })
    }

    /// The API of the instance at `url` (gickup's `url:`), or of github.com.
    pub fn api_of(url: Option<&str>) -> String {
        match url
            .map(|u| u.trim_end_matches('/'))
            .filter(|u| !u.is_empty())
        {
            None => PUBLIC_API.to_string(),
            Some(u) if u.contains("api.github.com") => u.to_string(),
            // GitHub Enterprise: the REST API lives under /api/v3 of the instance.
            enterprise => instance_api(enterprise, PUBLIC_API, "/api/v3"),
        }
    }

    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.rest = self.rest.with_retry_policy(policy);
        self
    }
}

/// What GitHub and the forges that copy its API (Gitea, Forgejo) need said differently. The
/// defaults are GitHub's.
pub trait GithubShaped {
    fn rest(&self) -> &RestClient;

    /// The page-size query parameter at its largest allowed value.
    fn page(&self) -> &'static str {
        "per_page=100"
    }

    /// The field a milestone's file is named after.
    fn milestone_key(&self) -> &'static str {
        "number"
    }

    /// The first page of the issues and pull requests updated since `since` (`&since=…`, or
    /// empty on a first run), oldest update first.
    fn issues_url(&self, base: &str, since: &str) -> String {
        format!(
            "{base}/issues?state=all&sort=updated&direction=asc&{}{since}",
            self.page()
        )
    }

    /// The first page of the token owner's repositories, including private ones and those
    /// shared through collaboration or organisation membership.
    fn own_repos_url(&self) -> String {
        format!(
            "{}/user/repos?affiliation=owner,collaborator,organization_member&{}",
            self.rest().api_base(),
            self.page()
        )
    }

    /// The first page of the repositories `listing` names.
    fn listing_url(&self, listing: &RepoListing) -> String {
        let (api, page) = (self.rest().api_base(), self.page());
        match listing {
            RepoListing::Authenticated => self.own_repos_url(),
            RepoListing::User(user) => format!("{api}/users/{user}/repos?{page}"),
            RepoListing::Org(org) => format!("{api}/orgs/{org}/repos?{page}"),
            RepoListing::Starred => format!("{api}/user/starred?{page}"),
        }
    }

    /// Where a release asset is downloaded from.
    fn asset_url<'a>(&self, asset: &'a Value) -> Option<&'a str> {
        // The API URL, which works for private repositories too (browser URLs need a session).
        asset["url"].as_str()
    }

    /// The user name that goes with a token over HTTP basic auth: GitHub takes any.
    fn git_user(&self) -> String {
        "x-access-token".to_string()
    }

    /// A pull request's review comments (`reviews` is its list of reviews).
    fn review_comments(&self, base: &str, number: u64, _reviews: &[Value]) -> Result<Vec<Value>> {
        list_all(
            self.rest(),
            &format!("{base}/pulls/{number}/comments?{}", self.page()),
        )
    }
}

impl GithubShaped for Github {
    fn rest(&self) -> &RestClient {
        &self.rest
    }
}

/// Every forge shaped like GitHub is a [`Forge`] the same way.
impl<T: GithubShaped + Send + Sync> Forge for T {
    fn api_base(&self) -> &str {
        self.rest().api_base()
    }

    /// `GET /user`'s `login`.
    fn token_owner(&self) -> Result<String> {
        let url = format!("{}/user", self.rest().api_base());
        let user = get_one(self.rest(), &url)?;
        user["login"]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("{url}: no login in the answer"))
    }

    fn list_repos(&self, listing: &RepoListing, cache: &mut ListingCache) -> Result<RepoList> {
        repos::list_repos(
            self.rest(),
            listing,
            self.listing_url(listing),
            repos::parse_github_shaped,
            cache,
        )
    }

    fn sync_metadata(
        &self,
        cache: &PageCache,
        repo: &RepoSummary,
        writer: &MetadataWriter,
        state: &mut RepoMetaState,
    ) -> Result<MetadataSynced> {
        sync_github_shaped(self, cache, repo, writer, state)
    }

    fn sync_release_assets(
        &self,
        releases: &[Value],
        writer: &MetadataWriter,
    ) -> Result<AssetOutcome> {
        release_assets::sync(self.rest(), releases, writer, |asset| self.asset_url(asset))
    }

    fn git_user(&self) -> String {
        GithubShaped::git_user(self)
    }

    fn api_counts(&self) -> ApiCounts {
        self.rest().counts()
    }

    fn find_or_create_repo(&self, wanted: &WantedRepo) -> Result<HostedRepo> {
        hosting::github_shaped_find_or_create(self.rest(), &self.token_owner()?, wanted)
    }

    fn set_default_branch(&self, repo: &HostedRepo, branch: &str) -> Result<()> {
        hosting::github_shaped_set_default_branch(self.rest(), repo, branch)
    }
}

/// The metadata sync of GitHub and of the forges shaped like it.
fn sync_github_shaped(
    forge: &impl GithubShaped,
    cache: &PageCache,
    repo: &RepoSummary,
    writer: &MetadataWriter,
    state: &mut RepoMetaState,
) -> Result<MetadataSynced> {
    let rest = forge.rest();
    let base = format!("{}/repos/{}", rest.api_base(), repo.full_name);
    let page = forge.page();
    let lists = SmallLists {
        labels: (format!("{base}/labels?{page}"), "name"),
        milestones: (
            format!("{base}/milestones?state=all&{page}"),
            forge.milestone_key(),
        ),
        releases: (format!("{base}/releases?{page}"), "id"),
    };
    let (mut outcome, releases) =
        sync_repository_and_small_lists(rest, cache, repo, writer, lists)?;

    // Issues and pull requests: only those updated since the last run. The issue list
    // includes pull requests; when issues are disabled, the pull list stands in for it.
    let since = state
        .issues_since
        .as_deref()
        .map(|s| format!("&since={s}"))
        .unwrap_or_default();
    let list_url = if repo.has_issues {
        forge.issues_url(&base, &since)
    } else {
        format!("{base}/pulls?state=all&sort=updated&direction=asc&{page}")
    };
    let (items, _) = list(rest, cache, &list_url)
        .with_context(|| format!("{}: cannot read issues", repo.full_name))?;
    let mut newest = state.issues_since.clone();
    for item in items {
        let number = item["number"]
            .as_u64()
            .context("an issue without a number")?;
        let updated = item["updated_at"].as_str().unwrap_or_default().to_string();
        // Gitea sends `"pull_request": null` on plain issues.
        let is_pull = !repo.has_issues || item.get("pull_request").is_some_and(|p| !p.is_null());
        let rel = format!("{}/{number}.json", if is_pull { "pulls" } else { "issues" });
        let stored_updated = writer
            .read(&rel)
            .and_then(|v| v["updated_at"].as_str().map(str::to_string));
        if stored_updated.as_deref() != Some(updated.as_str()) {
            let document = if is_pull {
                pull_document(forge, &base, number, &item)?
            } else {
                issue_document(forge, &base, number, item)?
            };
            outcome.items_fetched += 1;
            outcome.files_changed += u64::from(writer.write(&rel, &document)?);
        }
        if newest.as_deref() < Some(updated.as_str()) {
            newest = Some(updated);
        }
    }
    state.issues_since = newest;
    Ok(MetadataSynced { outcome, releases })
}

fn issue_document(
    forge: &impl GithubShaped,
    base: &str,
    number: u64,
    mut issue: Value,
) -> Result<Value> {
    issue["comments_list"] = Value::Array(list_all(
        forge.rest(),
        &format!("{base}/issues/{number}/comments?{}", forge.page()),
    )?);
    Ok(issue)
}

fn pull_document(
    forge: &impl GithubShaped,
    base: &str,
    number: u64,
    listed: &Value,
) -> Result<Value> {
    let rest = forge.rest();
    let mut pull = match get_one(rest, &format!("{base}/pulls/{number}")) {
        Ok(p) => p,
        Err(e) if http_status(&e) == Some(404) => listed.clone(),
        Err(e) => return Err(e),
    };
    // The issue list's updated_at is what the next run compares against.
    if let Some(updated) = listed.get("updated_at") {
        pull["updated_at"] = updated.clone();
    }
    let page = forge.page();
    pull["comments_list"] = Value::Array(list_all(
        rest,
        &format!("{base}/issues/{number}/comments?{page}"),
    )?);
    let reviews = list_all(rest, &format!("{base}/pulls/{number}/reviews?{page}"))?;
    pull["review_comments"] = Value::Array(forge.review_comments(base, number, &reviews)?);
    pull["reviews"] = Value::Array(reviews);
    Ok(pull)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enterprise_instances_are_asked_under_api_v3() {
        assert_eq!(Github::api_of(None), PUBLIC_API);
        assert_eq!(Github::api_of(Some("")), PUBLIC_API);
        assert_eq!(Github::api_of(Some("https://api.github.com/")), PUBLIC_API);
        assert_eq!(
            Github::api_of(Some("https://ghe.example")),
            "https://ghe.example/api/v3"
        );
        assert_eq!(
            Github::api_of(Some("https://ghe.example/api/v3")),
            "https://ghe.example/api/v3"
        );
    }
}
