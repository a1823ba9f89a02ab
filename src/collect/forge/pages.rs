//! What every forge's metadata sync is built from: list pages read whole and revalidated with
//! their stored ETags (a 304 costs no rate limit), small lists kept as one file per item, and
//! what a repository's sync remembers between runs.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::repos::RepoSummary;
use super::rest::{PageResponse, RestClient};
use crate::collect::metadata::{file_name, MetadataWriter};

/// ETag-validated list pages from earlier runs, keyed by URL. Shared by the threads that read
/// several repositories' metadata at once: the lock is held only to look a page up or store
/// it, never across a request.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PageCache {
    pages: Mutex<BTreeMap<String, CachedList>>,
}

impl PageCache {
    fn get(&self, url: &str) -> Option<CachedList> {
        self.pages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(url)
            .cloned()
    }

    fn insert(&self, url: String, page: CachedList) {
        self.pages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(url, page);
    }
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

/// What one repository's metadata sync did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct MetadataOutcome {
    /// Issues, pull requests and merge requests whose documents were fetched again.
    pub items_fetched: u64,
    pub files_changed: u64,
    /// Release asset files downloaded, and their bytes.
    pub assets_downloaded: u64,
    pub asset_bytes: u64,
}

/// A repository's small lists, each as `(first page URL, the field its items are named after)`.
pub(super) struct SmallLists {
    pub labels: (String, &'static str),
    pub milestones: (String, &'static str),
    pub releases: (String, &'static str),
}

/// How every forge's metadata sync begins: `repository.json`, then the small lists, each read
/// whole with every page revalidated, so that removals upstream are seen; each item is one
/// file named after its key, rewritten only when a page came back fresh. Returns what was
/// done so far and the releases (fresh or from the cache), for the assets step.
pub(super) fn sync_repository_and_small_lists(
    client: &RestClient,
    cache: &PageCache,
    repo: &RepoSummary,
    writer: &MetadataWriter,
    lists: SmallLists,
) -> Result<(MetadataOutcome, Vec<Value>)> {
    let mut outcome = MetadataOutcome::default();
    outcome.files_changed +=
        u64::from(writer.write("repository.json", &serde_json::to_value(repo)?)?);
    let mut releases = Vec::new();
    for (folder, (url, key)) in [
        ("labels", lists.labels),
        ("milestones", lists.milestones),
        ("releases", lists.releases),
    ] {
        let (items, fresh) = list(client, cache, &url)
            .with_context(|| format!("{}: cannot read {folder}", repo.full_name))?;
        if fresh {
            let mut keep = BTreeSet::new();
            for item in &items {
                let name = file_name(&key_text(&item[key]));
                outcome.files_changed +=
                    u64::from(writer.write(&format!("{folder}/{name}"), item)?);
                keep.insert(name);
            }
            writer.prune_folder(folder, &keep)?;
        }
        if folder == "releases" {
            releases = items;
        }
    }
    Ok((outcome, releases))
}

/// All pages of a list, revalidating cached pages; returns the items and whether any page was fresh.
pub(super) fn list(
    client: &RestClient,
    cache: &PageCache,
    first: &str,
) -> Result<(Vec<Value>, bool)> {
    let mut items = Vec::new();
    let mut fresh = false;
    let mut next = Some(first.to_string());
    let mut pages = 0;
    while let Some(url) = next.take() {
        pages += 1;
        anyhow::ensure!(pages <= 10_000, "{first}: more than 10,000 pages");
        let cached = cache.get(&url);
        let page = match client.get_page(&url, cached.as_ref().map(|c| c.etag.as_str()))? {
            PageResponse::NotModified => cached.with_context(|| {
                format!("the forge answered 304 for {url} although no ETag was sent")
            })?,
            PageResponse::Fresh { body, etag, next } => {
                fresh = true;
                let items: Vec<Value> = serde_json::from_str(&body)
                    .with_context(|| format!("{url}: not a JSON list"))?;
                let page = CachedList {
                    etag: etag.unwrap_or_default(),
                    next,
                    items,
                };
                if !page.etag.is_empty() {
                    cache.insert(url.clone(), page.clone());
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
pub(super) fn list_all(client: &RestClient, first: &str) -> Result<Vec<Value>> {
    Ok(list(client, &PageCache::default(), first)?.0)
}

pub(super) fn get_one(client: &RestClient, url: &str) -> Result<Value> {
    match client.get_page(url, None)? {
        PageResponse::Fresh { body, .. } => {
            serde_json::from_str(&body).with_context(|| format!("{url}: not JSON"))
        }
        PageResponse::NotModified => anyhow::bail!("{url}: 304 to an unconditional request"),
    }
}

pub(super) fn key_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
