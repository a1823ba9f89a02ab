//! `forgesafe restore`: one repository (its bare mirror, and on request its wiki and metadata)
//! out of a snapshot into a target folder, as a bare mirror or as a working clone. Only that
//! repository's trees and blobs are read; the target is replaced only once everything is in
//! place, as `location pull` does.

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use super::inventory;
use crate::collect::mirror::{self, CheckedOut};
use crate::store::target::{replace_dir, strategy_for};
use crate::store::{Piece, Snapshot, SnapshotChoice, Store};

#[derive(Debug, Clone)]
pub struct RestoreRequest {
    /// The `--path` the snapshot was pushed under.
    pub name: String,
    pub snapshot: SnapshotChoice,
    /// `[HOST/]OWNER/NAME`.
    pub repo: String,
    pub wiki: bool,
    pub metadata: bool,
    /// `Some(None)`: a working clone at the mirror's HEAD; `Some(Some(REF))`: at REF.
    pub checkout: Option<Option<String>>,
    pub target: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub snapshot_id: String,
    pub repository: String,
    /// The repository's owner and name, as the volume's layout has them.
    #[serde(skip)]
    pub owner: Option<String>,
    #[serde(skip)]
    pub name: String,
    pub target: PathBuf,
    /// Where each piece went, relative to the target (`.` for the target itself).
    pub pieces: Vec<RestoredPiece>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkout: Option<CheckedOut>,
    /// Bytes of the repository's pack files read: the cost of this restore.
    pub pack_bytes_read: u64,
}

impl RestoreReport {
    /// Where the repository's git data went: the bare mirror, or a working clone's `.git`.
    pub fn git_dir(&self) -> PathBuf {
        let to = self
            .pieces
            .iter()
            .find(|p| p.what == "repository")
            .map_or(".", |p| p.to.as_str());
        if to == "." {
            self.target.clone()
        } else {
            self.target.join(to)
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RestoredPiece {
    pub what: &'static str,
    pub from: String,
    pub to: String,
}

/// The target holds the mirror itself when only the mirror is asked for; with `--wiki` or
/// `--metadata`, one folder per piece under its name in the volume (`NAME.git`,
/// `NAME.wiki.git`, `NAME.metadata`). With `--checkout` the repository's folder is a working
/// clone (`NAME` instead of `NAME.git` when there are several pieces).
pub fn restore(store: &Store, request: &RestoreRequest) -> Result<RestoreReport> {
    let snapshot = Snapshot::open(store, &request.name, &request.snapshot, "restore")?;
    let repos = inventory::repositories(&snapshot, false)?;
    let repo = inventory::find(&repos, &request.repo)?;
    let several = request.wiki || request.metadata;
    let checkout = request.checkout.is_some();

    let repo_to = match (several, checkout) {
        (false, false) => PathBuf::new(),
        (false, true) => PathBuf::from(".git"),
        (true, false) => PathBuf::from(format!("{}.git", repo.name)),
        (true, true) => PathBuf::from(&repo.name).join(".git"),
    };
    let mut pieces = vec![(
        Piece {
            in_snapshot: repo.path.clone(),
            to: repo_to.clone(),
        },
        "repository",
    )];
    if request.wiki {
        if !repo.wiki {
            anyhow::bail!(
                "{} has no wiki in snapshot {}: leave out --wiki (target left untouched)",
                repo.full_name(),
                &snapshot.id()[..8]
            );
        }
        pieces.push((
            Piece {
                in_snapshot: repo.wiki_path(),
                to: PathBuf::from(format!("{}.wiki.git", repo.name)),
            },
            "wiki",
        ));
    }
    if request.metadata {
        if !repo.metadata {
            anyhow::bail!("{} has no metadata folder in snapshot {}: leave out --metadata (target left untouched)", repo.full_name(), &snapshot.id()[..8]);
        }
        pieces.push((
            Piece {
                in_snapshot: repo.metadata_path(),
                to: PathBuf::from(format!("{}.metadata", repo.name)),
            },
            "metadata",
        ));
    }

    let mut checked_out = None;
    let just_pieces: Vec<Piece> = pieces.iter().map(|(p, _)| p.clone()).collect();
    replace_dir(&request.target, strategy_for(&request.target), |staging| {
        snapshot.restore_pieces(&just_pieces, staging)?;
        if let Some(reference) = &request.checkout {
            let worktree = staging.join(repo_to.parent().unwrap_or(std::path::Path::new("")));
            checked_out = Some(mirror::make_working_clone(&worktree, reference.as_deref())?);
        }
        Ok(())
    })?;

    let shown = |p: &PathBuf| {
        if p.as_os_str().is_empty() {
            ".".to_string()
        } else {
            p.display().to_string()
        }
    };
    Ok(RestoreReport {
        snapshot_id: snapshot.id(),
        repository: repo.full_name(),
        owner: repo.owner.clone(),
        name: repo.name.clone(),
        target: request.target.clone(),
        pieces: pieces
            .iter()
            .map(|(p, what)| RestoredPiece {
                what,
                from: p.in_snapshot.clone(),
                to: shown(&p.to),
            })
            .collect(),
        checkout: checked_out,
        pack_bytes_read: snapshot.pack_bytes_read(),
    })
}
