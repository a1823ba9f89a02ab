//! The forges whose accounts are collected, behind one small trait: what a run needs from a
//! forge is the list of an account's repositories and, per repository, its metadata and its
//! release assets. One module per forge (`github.rs`, `gitea.rs`, `gitlab.rs`); what they
//! share lives beside them: the REST client (`rest.rs`, over `crate::http`), `Link`
//! pagination (`link.rs`), cached list pages and per-item files (`pages.rs`), repository
//! listings (`repos.rs`), gickup's selection rules (`select.rs`) and release asset files
//! (`release_assets.rs`).
//!
//! Blocking; a few repositories' metadata read at once (`--api-parallel`, default 8, far under
//! GitHub's 100 concurrent requests), conditional requests with `If-None-Match`, and waits for
//! rate limits as GitHub documents them: when one request is told to slow down, every thread
//! using that token waits (`rest.rs`).

mod gitea;
mod github;
mod gitlab;
mod hosting;
mod link;
mod pages;
mod release_assets;
mod repos;
mod rest;
mod select;

use std::collections::BTreeMap;
use std::time::SystemTime;

use anyhow::{bail, Result};
use serde_json::Value;

pub use gitea::Gitea;
pub use github::{Github, API_VERSION, PUBLIC_API};
pub use gitlab::Gitlab;
pub use hosting::{HostedRepo, WantedRepo};
pub use pages::{MetadataOutcome, PageCache, RepoMetaState};
pub use release_assets::AssetOutcome;
pub use repos::{wiki_url_of, ListingCache, RepoList, RepoListing, RepoOwner, RepoSummary};
pub use rest::{http_status, ApiCounts, HttpStatus};
pub use select::{parse_last_activity, select_repos};

use super::config::{ForgeDestination, ForgeKind, ForgeSource};
use super::metadata::MetadataWriter;

/// What a collect run needs from a forge. Shared by the threads that read metadata.
pub trait Forge: Send + Sync {
    /// The API's root URL; with a repository's name, the key of what is remembered about it
    /// between runs.
    fn api_base(&self) -> &str;

    /// The login of the token's owner.
    fn token_owner(&self) -> Result<String>;

    /// One list of repositories, page by page, revalidating the pages `cache` holds.
    fn list_repos(&self, listing: &RepoListing, cache: &mut ListingCache) -> Result<RepoList>;

    /// Writes a repository's metadata (issues, pull or merge requests with their discussions,
    /// releases, labels, milestones) under `writer`, fetching only what changed since `state`.
    fn sync_metadata(
        &self,
        cache: &PageCache,
        repo: &RepoSummary,
        writer: &MetadataWriter,
        state: &mut RepoMetaState,
    ) -> Result<MetadataSynced>;

    /// Downloads the files attached to `releases` (as `sync_metadata` returned them). Forges
    /// whose release links may point anywhere keep only the release metadata.
    fn sync_release_assets(
        &self,
        _releases: &[Value],
        _writer: &MetadataWriter,
    ) -> Result<AssetOutcome> {
        Ok(AssetOutcome::default())
    }

    /// The user name that goes with the token over HTTP basic auth (git and LFS).
    fn git_user(&self) -> String;

    /// Requests sent so far, and 304s among them.
    fn api_counts(&self) -> ApiCounts;

    /// The repository `wanted` names, created empty when the forge has none by that name
    /// (a restore into the forge, or gickup's forge destinations).
    fn find_or_create_repo(&self, wanted: &WantedRepo) -> Result<HostedRepo>;

    /// Makes `branch` the repository's default branch (what its `HEAD` names).
    fn set_default_branch(&self, repo: &HostedRepo, branch: &str) -> Result<()>;
}

/// What [`Forge::sync_metadata`] did, and the release list it read (for the assets step).
#[derive(Debug, Default)]
pub struct MetadataSynced {
    pub outcome: MetadataOutcome,
    pub releases: Vec<Value>,
}

/// The forge a gickup source entry names.
pub fn connect(source: &ForgeSource) -> Result<Box<dyn Forge>> {
    // Gitea wants the account's name (or `oauth2`) with a token over basic auth.
    let gitea_user = source.username.clone().or(source.user.clone());
    connect_to(
        source.kind,
        source.url.as_deref(),
        source.token.clone(),
        gitea_user,
    )
}

/// The forge a push goes to (gickup's forge destinations, `restore --to-forge`), used with its
/// token; Gitea gets `oauth2` as the user name beside it.
pub fn connect_destination(destination: &ForgeDestination) -> Result<Box<dyn Forge>> {
    connect_to(
        destination.kind,
        destination.url.as_deref(),
        Some(destination.token.clone()),
        None,
    )
}

/// The forge of `kind` at `url` (`None`: the public service), used with `token`.
/// `git_user` is the user name Gitea gets beside the token over basic auth (default `oauth2`).
pub fn connect_to(
    kind: ForgeKind,
    url: Option<&str>,
    token: Option<crate::secret::Secret>,
    git_user: Option<String>,
) -> Result<Box<dyn Forge>> {
    Ok(match kind {
        ForgeKind::Github => Box::new(Github::new(&Github::api_of(url), token)?),
        ForgeKind::Gitea => Box::new(Gitea::new(
            &Gitea::api_of(url),
            token,
            git_user.unwrap_or_else(|| "oauth2".into()),
        )?),
        ForgeKind::Gitlab => Box::new(Gitlab::new(&Gitlab::api_of(url), token)?),
    })
}

/// The repositories a source selects: the token owner's (private included) or a user's public
/// ones, plus `includeorgs` organisations and, with `starred`, starred repositories; then
/// gickup's filters. `caches` holds the listing pages of earlier runs.
pub fn list_selected(
    forge: &dyn Forge,
    source: &ForgeSource,
    caches: &mut BTreeMap<String, ListingCache>,
) -> Result<Vec<RepoSummary>> {
    let mut listings = Vec::new();
    match (&source.token, &source.user) {
        (Some(_), Some(user)) if forge.token_owner()?.eq_ignore_ascii_case(user) => {
            listings.push(RepoListing::Authenticated)
        }
        (Some(_), None) => listings.push(RepoListing::Authenticated),
        (_, Some(user)) => listings.push(RepoListing::User(user.clone())),
        (None, None) => bail!(
            "a {} source needs a user or a token: add `user:` or `token:`",
            source.kind.key()
        ),
    }
    for org in &source.include_orgs {
        listings.push(RepoListing::Org(org.clone()));
    }
    if source.starred {
        listings.push(RepoListing::Starred);
    }
    let mut all: BTreeMap<String, RepoSummary> = BTreeMap::new();
    for listing in listings {
        let cache = caches
            .entry(format!("{}|{listing:?}", forge.api_base()))
            .or_default();
        for repo in forge.list_repos(&listing, cache)?.repos {
            all.insert(repo.full_name.clone(), repo);
        }
    }
    let listed: Vec<RepoSummary> = all.into_values().collect();
    select_repos(&listed, source, SystemTime::now())
}
