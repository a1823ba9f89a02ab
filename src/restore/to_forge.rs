//! `forgesafe restore --to-forge`: one repository out of a snapshot, back into a forge. The
//! repository is restored as for a target path (into TARGET when one is given, else into a
//! scratch folder), then published: created through the forge's API when it does not exist,
//! and every branch and tag pushed. A repository that already has refs is refused unless
//! `force`, and the refusal names the refs that would be overwritten. Issues, pull requests
//! and releases are not recreated (a forge cannot give them their original authors and
//! times): they stay in the restored metadata folder.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use super::piece::{restore, RestoreReport, RestoreRequest};
use crate::collect::config::ForgeKind;
use crate::collect::forge::{connect_to, WantedRepo};
use crate::collect::mirror::push::PushMode;
use crate::collect::publish::{publish, Published};
use crate::secret::Secret;
use crate::store::Store;

/// The forge a restore goes to.
#[derive(Debug, Clone)]
pub struct ForgeTarget {
    pub kind: ForgeKind,
    /// The instance's web address; `None` for github.com, gitlab.com or gitea.com.
    pub url: Option<String>,
    pub token: Secret,
    /// `OWNER/NAME` or `NAME` on the forge; by default the repository's own owner and name.
    pub as_repo: Option<String>,
    pub force: bool,
    /// Visibility of a repository that has to be created.
    pub private: bool,
}

impl ForgeTarget {
    /// The forge a `--to-forge URL` names: github.com, gitlab.com and gitea.com/codeberg.org
    /// are known; any other host needs `kind`.
    pub fn kind_of(url: &str, kind: Option<ForgeKind>) -> Result<ForgeKind> {
        if let Some(kind) = kind {
            return Ok(kind);
        }
        let host = url.split("://").nth(1).unwrap_or(url).split(['/', ':']).next().unwrap_or_default().to_ascii_lowercase();
        Ok(match host.as_str() {
            "github.com" | "api.github.com" => ForgeKind::Github,
            "gitlab.com" => ForgeKind::Gitlab,
            "gitea.com" | "codeberg.org" => ForgeKind::Gitea,
            _ => bail!("cannot tell which forge {url} runs; add --forge-type github, gitea (also Forgejo) or gitlab"),
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ForgeRestoreReport {
    pub restored: RestoreReport,
    pub published: Published,
}

/// Restores `request`'s repository and pushes it to `forge`. With `request.target` empty the
/// restore goes into a scratch folder under `scratch_dir`, removed afterwards.
pub fn restore_to_forge(store: &Store, request: &RestoreRequest, forge: &ForgeTarget, scratch_dir: Option<PathBuf>) -> Result<ForgeRestoreReport> {
    let scratch = if request.target.as_os_str().is_empty() {
        let dir = match &scratch_dir {
            Some(dir) => tempfile::Builder::new().prefix(".forgesafe-restore-").tempdir_in(dir),
            None => tempfile::Builder::new().prefix("forgesafe-restore-").tempdir(),
        };
        Some(dir.context("cannot make a scratch folder for the restore; point --work-dir at a writable folder")?)
    } else {
        None
    };
    let mut request = request.clone();
    if let Some(scratch) = &scratch {
        request.target = scratch.path().join("mirror");
    }
    let restored = restore(store, &request)?;

    let (owner, name) = match forge.as_repo.as_deref() {
        Some(spec) => match spec.rsplit_once('/') {
            Some((owner, name)) if !owner.is_empty() && !name.is_empty() => (Some(owner.to_string()), name.to_string()),
            None if !spec.is_empty() => (None, spec.to_string()),
            _ => bail!("--as {spec}: expected OWNER/NAME or NAME"),
        },
        None => (restored.owner.clone(), restored.name.clone()),
    };
    let name = name.strip_suffix(".git").unwrap_or(&name).to_string();
    let wanted = WantedRepo {
        owner,
        name,
        private: forge.private,
        description: format!("restored by forgesafe from snapshot {}", &restored.snapshot_id[..8]),
    };
    let api = connect_to(forge.kind, forge.url.as_deref(), Some(forge.token.clone()), None)?;
    let published = publish(&*api, &forge.token, &wanted, &restored.git_dir(), PushMode::Restore { force: forge.force })?;
    Ok(ForgeRestoreReport { restored, published })
}
