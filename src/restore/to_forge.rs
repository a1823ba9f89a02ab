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
use crate::collect::config::{ForgeDestination, ForgeKind};
use crate::collect::forge::{connect_destination, WantedRepo};
use crate::collect::mirror::push::PushMode;
use crate::collect::publish::{publish, Published};
use crate::secret::Secret;
use crate::store::Store;

/// Where a restore goes: the forge account (with `owner` from `--as`), the repository's name
/// there, and whether refs it already has may be overwritten.
#[derive(Debug, Clone)]
pub struct ForgeTarget {
    pub forge: ForgeDestination,
    /// From `--as [OWNER/]NAME`; `None`: the repository's own owner and name.
    pub name: Option<String>,
    pub force: bool,
}

impl ForgeTarget {
    /// The target `--to-forge URL [--forge-type KIND] [--as [OWNER/]NAME]` names. github.com,
    /// gitlab.com, gitea.com and codeberg.org tell their kind; any other host needs `kind`.
    pub fn new(
        url: &str,
        kind: Option<ForgeKind>,
        token: Secret,
        as_repo: Option<&str>,
        force: bool,
        private: bool,
    ) -> Result<ForgeTarget> {
        let kind = match kind {
            Some(kind) => kind,
            None => kind_of(url)?,
        };
        let (owner, name) = match as_repo {
            None => (None, None),
            Some(spec) => match spec.rsplit_once('/') {
                Some((owner, name)) if !owner.is_empty() && !name.is_empty() => {
                    (Some(owner.to_string()), Some(name.to_string()))
                }
                None if !spec.is_empty() => (None, Some(spec.to_string())),
                _ => bail!("--as {spec}: expected OWNER/NAME or NAME"),
            },
        };
        // The public services' APIs live on their own hosts; the clients know them.
        let url = Some(url.trim_end_matches('/').to_string()).filter(|u| u != kind.public_url());
        Ok(ForgeTarget {
            forge: ForgeDestination {
                kind,
                url,
                token,
                owner,
                private,
            },
            name,
            force,
        })
    }
}

fn kind_of(url: &str) -> Result<ForgeKind> {
    let host = url
        .split("://")
        .nth(1)
        .unwrap_or(url)
        .split(['/', ':'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    Ok(match host.as_str() {
        "github.com" | "api.github.com" => ForgeKind::Github,
        "gitlab.com" => ForgeKind::Gitlab,
        "gitea.com" | "codeberg.org" => ForgeKind::Gitea,
        _ => bail!("cannot tell which forge {url} runs; add --forge-type github, gitea (also Forgejo) or gitlab"),
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct ForgeRestoreReport {
    pub restored: RestoreReport,
    pub published: Published,
}

/// Restores `request`'s repository and pushes it to `target`. With `request.target` empty the
/// restore goes into a scratch folder under `scratch_dir`, removed afterwards.
pub fn restore_to_forge(
    store: &Store,
    request: &RestoreRequest,
    target: &ForgeTarget,
    scratch_dir: Option<PathBuf>,
) -> Result<ForgeRestoreReport> {
    let scratch = if request.target.as_os_str().is_empty() {
        let dir = match &scratch_dir {
            Some(dir) => tempfile::Builder::new()
                .prefix(".forgesafe-restore-")
                .tempdir_in(dir),
            None => tempfile::Builder::new()
                .prefix("forgesafe-restore-")
                .tempdir(),
        };
        Some(dir.context(
            "cannot make a scratch folder for the restore; point --work-dir at a writable folder",
        )?)
    } else {
        None
    };
    let mut request = request.clone();
    if let Some(scratch) = &scratch {
        request.target = scratch.path().join("mirror");
    }
    let restored = restore(store, &request)?;

    // `--as NAME` goes under the token's owner; without `--as`, under the repository's own.
    let (owner, name) = match &target.name {
        Some(name) => (target.forge.owner.clone(), name.clone()),
        None => (restored.owner.clone(), restored.name.clone()),
    };
    let name = name.strip_suffix(".git").unwrap_or(&name).to_string();
    let wanted = WantedRepo {
        owner,
        name,
        private: target.forge.private,
        description: format!(
            "restored by forgesafe from snapshot {}",
            &restored.snapshot_id[..8]
        ),
    };
    let api = connect_destination(&target.forge)?;
    let published = publish(
        &*api,
        &target.forge.token,
        &wanted,
        &restored.git_dir(),
        PushMode::Restore {
            force: target.force,
        },
    )?;
    Ok(ForgeRestoreReport {
        restored,
        published,
    })
}
