//! A repository's metadata — issues with comments, pull requests with reviews and review
//! comments, releases, labels, milestones — as one JSON file per item under `<repo>.metadata/`.
//!
//! Later runs ask only for what changed: the issue list is read with `since=` the newest
//! `updated_at` already stored, sorted by update time, and an item's comments and reviews are
//! fetched again only when its `updated_at` moved. List pages are revalidated with their stored
//! ETags, and a 304 costs no rate limit.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::client::{http_status, Flavor, GithubClient, PageResponse};
use super::release_assets::sync_release_assets;
use super::repos::RepoSummary;
use crate::collect::metadata::{file_name, MetadataWriter};

/// ETag-validated list pages from earlier runs, keyed by URL.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PageCache {
    pages: BTreeMap<String, CachedList>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CachedList {
    etag: String,
    next: Option<String>,
    items: Vec<Value>,
}

/// What a repository's metadata sync remembers between runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RepoMetaState {
    /// The newest `updated_at` among the issues and pull requests stored.
    pub issues_since: Option<String>,
    /// GitLab lists merge requests apart from issues: the newest `updated_at` among them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_requests_since: Option<String>,
}

#[derive(Debug, Default, Clone)]
pub struct MetadataOutcome {
    pub items_fetched: u64,
    pub files_changed: u64,
    pub assets_downloaded: u64,
    pub asset_bytes: u64,
}

/// What to collect beyond the JSON documents.
#[derive(Debug, Default, Clone, Copy)]
pub struct MetadataOptions {
    /// Download release asset files (`releaseassets: true`).
    pub release_assets: bool,
}

pub fn fetch_repo_metadata(
    client: &GithubClient,
    cache: &mut PageCache,
    repo: &RepoSummary,
    writer: &MetadataWriter,
    state: &mut RepoMetaState,
    options: MetadataOptions,
) -> Result<MetadataOutcome> {
    let base = format!("{}/repos/{}", client.api_base(), repo.full_name);
    let page = client.flavor().page_size();
    let gitea = client.flavor() == Flavor::Gitea;
    let mut outcome = MetadataOutcome::default();

    outcome.files_changed += u64::from(writer.write("repository.json", &serde_json::to_value(repo)?)?);

    let [_labels, _milestones, releases] = sync_whole_lists(
        client,
        cache,
        repo,
        writer,
        [
            ("labels", format!("{base}/labels?{page}"), "name"),
            // Gitea's milestones have no per-repository number; their id is the key.
            ("milestones", format!("{base}/milestones?state=all&{page}"), if gitea { "id" } else { "number" }),
            ("releases", format!("{base}/releases?{page}"), "id"),
        ],
        &mut outcome,
    )?;

    // Issues and pull requests: only those updated since the last run. GitHub's issue list
    // includes pull requests; when issues are disabled, the pull list stands in for it.
    let since = state.issues_since.as_deref().map(|s| format!("&since={s}")).unwrap_or_default();
    let list_url = match (repo.has_issues, gitea) {
        (true, false) => format!("{base}/issues?state=all&sort=updated&direction=asc&{page}{since}"),
        (true, true) => format!("{base}/issues?state=all&type=all&{page}{since}"),
        (false, _) => format!("{base}/pulls?state=all&sort=updated&direction=asc&{page}"),
    };
    let (items, _) = list(client, cache, &list_url).with_context(|| format!("{}: cannot read issues", repo.full_name))?;
    let mut newest = state.issues_since.clone();
    for item in items {
        let number = item["number"].as_u64().context("an issue without a number")?;
        let updated = item["updated_at"].as_str().unwrap_or_default().to_string();
        // Gitea sends `"pull_request": null` on plain issues.
        let is_pull = !repo.has_issues || item.get("pull_request").is_some_and(|p| !p.is_null());
        let rel = format!("{}/{number}.json", if is_pull { "pulls" } else { "issues" });
        let stored_updated = writer.read(&rel).and_then(|v| v["updated_at"].as_str().map(str::to_string));
        if stored_updated.as_deref() != Some(updated.as_str()) {
            let document =
                if is_pull { pull_document(client, &base, number, &item)? } else { issue_document(client, &base, number, item)? };
            outcome.items_fetched += 1;
            outcome.files_changed += u64::from(writer.write(&rel, &document)?);
        }
        if newest.as_deref() < Some(updated.as_str()) {
            newest = Some(updated);
        }
    }
    state.issues_since = newest;

    // Last, so a failed download does not hold up the issues. Checked even when the release
    // list is unchanged: an earlier run may have failed mid-download.
    if options.release_assets {
        let assets = sync_release_assets(client, &releases, writer).with_context(|| format!("{}: release assets", repo.full_name))?;
        outcome.assets_downloaded += assets.downloaded;
        outcome.asset_bytes += assets.bytes;
    }
    Ok(outcome)
}

fn issue_document(client: &GithubClient, base: &str, number: u64, mut issue: Value) -> Result<Value> {
    let page = client.flavor().page_size();
    issue["comments_list"] = Value::Array(list_all(client, &format!("{base}/issues/{number}/comments?{page}"))?);
    Ok(issue)
}

fn pull_document(client: &GithubClient, base: &str, number: u64, listed: &Value) -> Result<Value> {
    let mut pull = match get_one(client, &format!("{base}/pulls/{number}")) {
        Ok(p) => p,
        Err(e) if http_status(&e) == Some(404) => listed.clone(),
        Err(e) => return Err(e),
    };
    // The issue list's updated_at is what the next run compares against.
    if let Some(updated) = listed.get("updated_at") {
        pull["updated_at"] = updated.clone();
    }
    let page = client.flavor().page_size();
    pull["comments_list"] = Value::Array(list_all(client, &format!("{base}/issues/{number}/comments?{page}"))?);
    let reviews = list_all(client, &format!("{base}/pulls/{number}/reviews?{page}"))?;
    pull["review_comments"] = Value::Array(match client.flavor() {
        Flavor::Github | Flavor::Gitlab => list_all(client, &format!("{base}/pulls/{number}/comments?{page}"))?,
        // Gitea keeps review comments under each review.
        Flavor::Gitea => {
            let mut all = Vec::new();
            for review in &reviews {
                if let Some(id) = review["id"].as_u64() {
                    all.extend(list_all(client, &format!("{base}/pulls/{number}/reviews/{id}/comments"))?);
                }
            }
            all
        }
    });
    pull["reviews"] = Value::Array(reviews);
    Ok(pull)
}

/// Small lists (labels, milestones, releases) as `(folder, first page URL, key field)`: read
/// whole, every page revalidated, so that removals upstream are seen; each item is one file
/// named after its key, rewritten only when a page came back fresh. Returns each list's items
/// (fresh or from the cache).
pub(super) fn sync_whole_lists<const N: usize>(
    client: &GithubClient,
    cache: &mut PageCache,
    repo: &RepoSummary,
    writer: &MetadataWriter,
    lists: [(&str, String, &str); N],
    outcome: &mut MetadataOutcome,
) -> Result<[Vec<Value>; N]> {
    let mut all = Vec::with_capacity(N);
    for (folder, url, key) in lists {
        let (items, fresh) = list(client, cache, &url).with_context(|| format!("{}: cannot read {folder}", repo.full_name))?;
        if fresh {
            let mut keep = BTreeSet::new();
            for item in &items {
                let name = file_name(&key_text(&item[key]));
                outcome.files_changed += u64::from(writer.write(&format!("{folder}/{name}"), item)?);
                keep.insert(name);
            }
            writer.prune_folder(folder, &keep)?;
        }
        all.push(items);
    }
    Ok(all.try_into().unwrap_or_else(|_| unreachable!("one entry per list")))
}

/// All pages of a list, revalidating cached pages; returns the items and whether any page was fresh.
pub(super) fn list(client: &GithubClient, cache: &mut PageCache, first: &str) -> Result<(Vec<Value>, bool)> {
    let mut items = Vec::new();
    let mut fresh = false;
    let mut next = Some(first.to_string());
    let mut pages = 0;
    while let Some(url) = next.take() {
        pages += 1;
        anyhow::ensure!(pages <= 10_000, "{first}: more than 10,000 pages");
        let cached = cache.pages.get(&url);
        let page = match client.get_page(&url, cached.map(|c| c.etag.as_str()))? {
            PageResponse::NotModified => cached.cloned().with_context(|| format!("GitHub answered 304 for {url} although no ETag was sent"))?,
            PageResponse::Fresh { body, etag, next } => {
                fresh = true;
                let items: Vec<Value> = serde_json::from_str(&body).with_context(|| format!("{url}: not a JSON list"))?;
                let page = CachedList { etag: etag.unwrap_or_default(), next, items };
                if !page.etag.is_empty() {
                    cache.pages.insert(url.clone(), page.clone());
                }
                page
            }
        };
        items.extend(page.items);
        next = page.next;
    }
    Ok((items, fresh))
}

/// All pages of a list, uncached (per-item lists are read only when the item changed).
pub(super) fn list_all(client: &GithubClient, first: &str) -> Result<Vec<Value>> {
    let mut scratch = PageCache::default();
    Ok(list(client, &mut scratch, first)?.0)
}

pub(super) fn get_one(client: &GithubClient, url: &str) -> Result<Value> {
    match client.get_page(url, None)? {
        PageResponse::Fresh { body, .. } => serde_json::from_str(&body).with_context(|| format!("{url}: not JSON")),
        PageResponse::NotModified => anyhow::bail!("{url}: 304 to an unconditional request"),
    }
}

pub(super) fn key_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
