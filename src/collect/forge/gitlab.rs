//! GitLab (gitlab.com or self-managed), REST API v4: projects listed in GitLab's own shape
//! (`Link` pagination as on GitHub; the token as `Authorization: Bearer`, which GitLab
//! takes for personal access tokens), and a project's metadata, in GitLab's own
//! shapes, under `<repo>.metadata/`:
//!
//! | folder            | from                                             | file key   |
//! |-------------------|--------------------------------------------------|------------|
//! | `issues/`         | `/projects/:id/issues` + each one's `discussions` | `iid`      |
//! | `merge_requests/` | `/projects/:id/merge_requests/:iid` + `discussions` + `approvals` | `iid` |
//! | `releases/`       | `/projects/:id/releases`                          | `tag_name` |
//! | `labels/`         | `/projects/:id/labels`                            | `name`     |
//! | `milestones/`     | `/projects/:id/milestones`                        | `iid`      |
//!
//! Discussions rather than notes: they hold every note (comments, diff comments with their
//! position, system notes) *and* the thread structure and resolved state, in one list.
//!
//! Later runs ask only for what changed, as for GitHub: issues and merge requests are listed
//! with `updated_after=` the newest `updated_at` stored and sorted by update time, and an
//! item's discussions are read again only when its `updated_at` moved.

use anyhow::{Context, Result};
use serde_json::Value;

use super::hosting::{self, HostedRepo, WantedRepo};
use super::pages::{
    get_one, list, list_all, sync_repository_and_small_lists, MetadataOutcome, PageCache,
    RepoMetaState, SmallLists,
};
use super::repos::{self, ListingCache, RepoList, RepoListing, RepoOwner, RepoSummary};
use super::rest::{http_status, instance_api, ApiCounts, Dialect, RestClient};
use super::{Forge, MetadataSynced};
use crate::collect::metadata::MetadataWriter;
use crate::secret::Secret;

const DIALECT: Dialect = Dialect {
    forge: "GitLab",
    token_scheme: "Bearer",
    headers: &[("accept", "application/json")],
};
const PAGE: &str = "per_page=100";

pub struct Gitlab {
    rest: RestClient,
}

impl Gitlab {
    /// `api_base` is `https://host/api/v4`.
    pub fn new(api_base: &str, token: Option<Secret>) -> Result<Self> {
        Ok(Gitlab {
            rest: RestClient::new(&DIALECT, api_base, token.as_ref())?,
        })
    }

    /// The API of the instance at `url`, or of gitlab.com.
    pub fn api_of(url: Option<&str>) -> String {
        instance_api(url, "https://gitlab.com", "/api/v4")
    }
}

impl Forge for Gitlab {
    fn api_base(&self) -> &str {
        self.rest.api_base()
    }

    /// `GET /user`'s `username`.
    fn token_owner(&self) -> Result<String> {
        let url = format!("{}/user", self.rest.api_base());
        let user = get_one(&self.rest, &url)?;
        user["username"]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("{url}: no username in the answer"))
    }

    fn list_repos(&self, listing: &RepoListing, cache: &mut ListingCache) -> Result<RepoList> {
        let api = self.rest.api_base();
        let first = match listing {
            RepoListing::Authenticated => format!("{api}/projects?membership=true&{PAGE}"),
            RepoListing::User(user) => format!("{api}/users/{user}/projects?{PAGE}"),
            RepoListing::Org(group) => {
                format!("{api}/groups/{group}/projects?include_subgroups=true&{PAGE}")
            }
            RepoListing::Starred => format!("{api}/projects?starred=true&{PAGE}"),
        };
        repos::list_repos(&self.rest, listing, first, parse_projects, cache)
    }

    fn sync_metadata(
        &self,
        cache: &PageCache,
        repo: &RepoSummary,
        writer: &MetadataWriter,
        state: &mut RepoMetaState,
    ) -> Result<MetadataSynced> {
        sync_project_metadata(&self.rest, cache, repo, writer, state)
    }

    /// A personal access token goes as the password of the user `oauth2`.
    fn git_user(&self) -> String {
        "oauth2".to_string()
    }

    fn api_counts(&self) -> ApiCounts {
        self.rest.counts()
    }

    fn find_or_create_repo(&self, wanted: &WantedRepo) -> Result<HostedRepo> {
        hosting::gitlab_find_or_create(&self.rest, &self.token_owner()?, wanted)
    }

    fn set_default_branch(&self, repo: &HostedRepo, branch: &str) -> Result<()> {
        hosting::gitlab_set_default_branch(&self.rest, repo, branch)
    }
}

fn sync_project_metadata(
    client: &RestClient,
    cache: &PageCache,
    repo: &RepoSummary,
    writer: &MetadataWriter,
    state: &mut RepoMetaState,
) -> Result<MetadataSynced> {
    let base = format!("{}/projects/{}", client.api_base(), project_ref(repo));
    let lists = SmallLists {
        labels: (format!("{base}/labels?{PAGE}"), "name"),
        milestones: (format!("{base}/milestones?{PAGE}"), "iid"),
        releases: (format!("{base}/releases?{PAGE}"), "tag_name"),
    };
    let (mut outcome, releases) =
        sync_repository_and_small_lists(client, cache, repo, writer, lists)?;

    if repo.has_issues {
        sync_changed_items(
            client,
            cache,
            repo,
            writer,
            &base,
            Kind::Issue,
            &mut state.issues_since,
            &mut outcome,
        )?;
    }
    if repo.has_merge_requests != Some(false) {
        sync_changed_items(
            client,
            cache,
            repo,
            writer,
            &base,
            Kind::MergeRequest,
            &mut state.merge_requests_since,
            &mut outcome,
        )?;
    }
    Ok(MetadataSynced { outcome, releases })
}

#[derive(Clone, Copy)]
enum Kind {
    Issue,
    MergeRequest,
}

impl Kind {
    /// The API path segment, which is also the folder name.
    fn path(self) -> &'static str {
        match self {
            Kind::Issue => "issues",
            Kind::MergeRequest => "merge_requests",
        }
    }
}

/// Lists the issues (or merge requests) updated since the last run and rewrites the ones whose
/// `updated_at` moved, with their discussions.
#[allow(clippy::too_many_arguments)]
fn sync_changed_items(
    client: &RestClient,
    cache: &PageCache,
    repo: &RepoSummary,
    writer: &MetadataWriter,
    base: &str,
    kind: Kind,
    since: &mut Option<String>,
    outcome: &mut MetadataOutcome,
) -> Result<()> {
    let folder = kind.path();
    let after = since
        .as_deref()
        .map(|s| format!("&updated_after={}", query_value(s)))
        .unwrap_or_default();
    // `scope=all`: every item of the project, not only those the token's user created.
    let url =
        format!("{base}/{folder}?scope=all&state=all&order_by=updated_at&sort=asc&{PAGE}{after}");
    let (items, _) = list(client, cache, &url)
        .with_context(|| format!("{}: cannot read {folder}", repo.full_name))?;
    let mut newest = since.clone();
    for item in items {
        let iid = item["iid"]
            .as_u64()
            .with_context(|| format!("{}: an item of {folder} without an iid", repo.full_name))?;
        let updated = item["updated_at"].as_str().unwrap_or_default().to_string();
        let rel = format!("{folder}/{iid}.json");
        let stored = writer
            .read(&rel)
            .and_then(|v| v["updated_at"].as_str().map(str::to_string));
        if stored.as_deref() != Some(updated.as_str()) {
            let document = item_document(client, base, kind, iid, item)
                .with_context(|| format!("{}: {folder} {iid}", repo.full_name))?;
            outcome.items_fetched += 1;
            outcome.files_changed += u64::from(writer.write(&rel, &document)?);
        }
        if newest.as_deref() < Some(updated.as_str()) {
            newest = Some(updated);
        }
    }
    *since = newest;
    Ok(())
}

fn item_document(
    client: &RestClient,
    base: &str,
    kind: Kind,
    iid: u64,
    listed: Value,
) -> Result<Value> {
    let item_url = format!("{base}/{}/{iid}", kind.path());
    let mut document = match kind {
        Kind::Issue => listed.clone(),
        // The single merge request carries more than the list entry (diff_refs, merge_error, …).
        Kind::MergeRequest => match get_one(client, &item_url) {
            Ok(full) => full,
            Err(e) if http_status(&e) == Some(404) => listed.clone(),
            Err(e) => return Err(e),
        },
    };
    // What the next run compares against is the list's updated_at.
    document["updated_at"] = listed["updated_at"].clone();
    document["discussions"] =
        Value::Array(list_all(client, &format!("{item_url}/discussions?{PAGE}"))?);
    if let Kind::MergeRequest = kind {
        document["approvals"] = match get_one(client, &format!("{item_url}/approvals")) {
            Ok(approvals) => approvals,
            // Some instances switch approvals off; the merge request is still complete without them.
            Err(e) if matches!(http_status(&e), Some(403 | 404)) => Value::Null,
            Err(e) => return Err(e),
        };
    }
    Ok(document)
}

/// A page of GitLab projects, in the shape the collector uses.
fn parse_projects(body: &str, url: &str) -> Result<Vec<RepoSummary>> {
    let projects: Vec<Value> = serde_json::from_str(body)
        .with_context(|| format!("GitLab returned an unexpected project list from {url}"))?;
    projects.iter().map(summary_of_project).collect()
}

/// A GitLab project in the shape the collector uses (GitLab's field names differ from GitHub's).
fn summary_of_project(p: &Value) -> Result<RepoSummary> {
    let text = |k: &str| p.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let full_name =
        text("path_with_namespace").context("a GitLab project without path_with_namespace")?;
    let (owner, name) = full_name
        .rsplit_once('/')
        .map(|(o, n)| (o.to_string(), n.to_string()))
        .unwrap_or(("_".into(), full_name.clone()));
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
        has_wiki: p
            .get("wiki_enabled")
            .and_then(|v| v.as_bool())
            .unwrap_or(false),
        has_issues: p
            .get("issues_enabled")
            .and_then(|v| v.as_bool())
            .unwrap_or(false),
        // Missing from the answer when the token sees the project only partly: try and see.
        has_merge_requests: Some(
            p.get("merge_requests_enabled")
                .and_then(|v| v.as_bool())
                .unwrap_or(true),
        ),
        stargazers_count: p.get("star_count").and_then(|v| v.as_u64()).unwrap_or(0),
        language: None,
        pushed_at: text("last_activity_at"),
        updated_at: text("last_activity_at"),
    })
}

/// The `:id` of GitLab's project URLs: the numeric id, or the URL-encoded path.
fn project_ref(repo: &RepoSummary) -> String {
    if repo.id != 0 {
        repo.id.to_string()
    } else {
        query_value(&repo.full_name)
    }
}

/// Percent-encodes everything but unreserved characters (GitLab wants `/` in paths as `%2F`,
/// and a timestamp's `+` must not turn into a space).
fn query_value(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_paths_and_timestamps_are_encoded_for_urls() {
        assert_eq!(query_value("group/sub/app"), "group%2Fsub%2Fapp");
        assert_eq!(
            query_value("2024-01-01T00:00:00.000+01:00"),
            "2024-01-01T00:00:00.000%2B01:00"
        );
    }
}
