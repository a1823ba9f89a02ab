//! GitHub REST API v3 (version 2022-11-28): listing the repositories to back up.
//!
//! Blocking, serial per token (GitHub's advice against secondary rate limits), conditional
//! requests with `If-None-Match`, and waits for rate limits as GitHub documents them.

mod client;
mod gitlab_metadata;
mod link;
mod metadata;
mod rate_limit;
mod release_assets;
mod repos;
mod select;

pub use client::{http_status, Flavor, GithubClient, HttpStatus, PageResponse, API_VERSION, PUBLIC_API};
pub use gitlab_metadata::fetch_gitlab_metadata;
pub use metadata::{fetch_repo_metadata, MetadataOptions, MetadataOutcome, PageCache, RepoMetaState};
pub use rate_limit::RateLimitPolicy;
pub use repos::{wiki_url_of, ListingCache, RepoList, RepoListing, RepoOwner, RepoSummary};
pub use select::{parse_last_activity, select_repos};
