//! Putting a bare mirror into a repository on a forge: the repository is looked up (and
//! created, empty, when missing) through the forge's API, the mirror's branches and tags are
//! pushed to it, and its default branch is made the mirror's `HEAD`. Used by `restore
//! --to-forge` and by gickup's forge destinations (`live_mirror.rs`).

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use super::forge::{Forge, WantedRepo};
use super::mirror::push::{push, PushMode, PushReport, PushTarget};
use crate::secret::Secret;

/// What one publish did.
#[derive(Debug, Clone, Serialize)]
pub struct Published {
    /// `owner/name` on the forge.
    pub repository: String,
    /// Where git pushed to (never holds the token).
    pub url: String,
    /// The repository did not exist and was created.
    pub created: bool,
    /// The default branch set on the forge, when it had to change.
    pub default_branch_set: Option<String>,
    pub push: PushReport,
}

/// Pushes the mirror at `git_dir` into `wanted` on `forge`, whose API takes `token` and whose
/// git server takes it too (with the forge's user name for tokens, over basic auth).
pub fn publish(
    forge: &dyn Forge,
    token: &Secret,
    wanted: &WantedRepo,
    git_dir: &Path,
    mode: PushMode,
) -> Result<Published> {
    let hosted = forge.find_or_create_repo(wanted)?;
    let user = forge.git_user();
    let target = PushTarget {
        url: &hosted.push_url,
        credentials: Some((&user, token)),
    };
    let report = push(git_dir, &target, mode)?;
    // A forge makes the first branch pushed into an empty repository its default, and GitHub
    // and Gitea answer "main" for a new one whatever gets pushed: make it what HEAD names.
    let mut default_branch_set = None;
    if let Some(branch) = report
        .head
        .as_deref()
        .and_then(|h| h.strip_prefix("refs/heads/"))
    {
        if hosted.default_branch.as_deref() != Some(branch) || hosted.created {
            forge.set_default_branch(&hosted, branch).with_context(|| {
                format!(
                    "pushed, but cannot make {branch} the default branch of {}",
                    hosted.full_name
                )
            })?;
            default_branch_set = Some(branch.to_string());
        }
    }
    Ok(Published {
        repository: hosted.full_name,
        url: hosted.push_url,
        created: hosted.created,
        default_branch_set,
        push: report,
    })
}
