//! `location pull`: a snapshot back to a directory, a file, or stdout.

use super::errors::from_rustic;
use super::select::{select, OtherPath, Selected, SnapshotChoice};
use super::target::{replace_dir, replace_file, strategy_for};
use super::{LockKind, Store};
use anyhow::{anyhow, bail, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

pub enum PullTarget {
    Path(PathBuf),
    Stdout,
}

pub struct PullRequest {
    pub name: String,
    /// A snapshot of `name`: its id (or a unique prefix), or the newest.
    pub snapshot: SnapshotChoice,
    pub target: PullTarget,
    /// Only this path inside the snapshot (relative to the pushed folder), not the whole of it.
    pub include: Option<String>,
}

#[derive(Debug)]
pub struct PullOutcome {
    pub snapshot_id: String,
}

pub fn pull(store: &Store, request: &PullRequest, stdout: &mut dyn Write) -> Result<PullOutcome> {
    let opened = store.open_locked(false, LockKind::Shared, "pull")?;
    let snap = match select(&opened.repo, &request.name, &request.snapshot, OtherPath::Warn, store.describe())? {
        Selected::Found(snap) => snap,
        Selected::Absent => match &request.snapshot {
            SnapshotChoice::Id(id) => bail!(
                "snapshot {id} is not in the repository at {}: list them with `forgesafe snapshots` (target left untouched)",
                store.describe()
            ),
            SnapshotChoice::Latest => bail!(
                "nothing was pushed under --path {:?} at {}: list them with `forgesafe snapshots` (target left untouched)",
                request.name,
                store.describe()
            ),
        },
    };
    let doing = format!(
        "pull of snapshot {} from {} failed (target left untouched)",
        snap.id,
        store.describe()
    );
    let reader = store.pack_reader(&opened)?;
    let _lock = opened.lock;
    let repo = opened
        .repo
        .to_indexed()
        .map_err(|e| from_rustic(e, &doing))?;

    // The snapshot's tree holds the pushed path (absolute for a directory or file, a bare name
    // for stdin); restore what lies at that path, not the parents above it.
    let pushed = snap
        .paths
        .iter()
        .next()
        .cloned()
        .ok_or_else(|| anyhow!("{doing}: the snapshot records no path"))?;
    let wanted = match &request.include {
        Some(include) => Path::new(&pushed)
            .join(super::browse::clean_relative(include)?)
            .to_string_lossy()
            .into_owned(),
        None => pushed.clone(),
    };
    let node = repo.node_from_snapshot_and_path(&snap, &wanted).map_err(|e| match &request.include {
        Some(include) if super::browse::is_missing_path(&e.display_log()) => anyhow!(
            "snapshot {} has no {include:?} ({}): list what it holds with `forgesafe ls --path {}` (target left untouched)",
            &super::full_id(&snap.id)[..8],
            super::errors::one_line(&e.display_log()),
            request.name
        ),
        Some(_) => anyhow!("{doing}: {}", super::errors::one_line(&e.display_log())),
        None => anyhow!("{doing}: the snapshot has no entry {pushed:?} ({})", super::errors::one_line(&e.display_log())),
    })?;

    match &request.target {
        PullTarget::Stdout if node.is_dir() => {
            let mut writer = std::io::BufWriter::new(&mut *stdout);
            super::tar_stream::write_tar(&repo, &node, &mut writer, &doing)?;
        }
        PullTarget::Stdout => {
            let mut writer = std::io::BufWriter::new(&mut *stdout);
            repo.dump(&node, &mut writer)
                .map_err(|e| from_rustic(e, &doing))?;
            writer.flush()?;
        }
        PullTarget::Path(target) if node.is_file() => {
            replace_file(target, |file| {
                let mut writer = std::io::BufWriter::new(file);
                repo.dump(&node, &mut writer)
                    .map_err(|e| from_rustic(e, &doing))?;
                writer.flush()?;
                Ok(())
            })?;
        }
        PullTarget::Path(target) => {
            replace_dir(target, strategy_for(target), |staging| {
                super::browse::restore_tree(&repo, &reader, &node, staging, &doing)
            })?;
        }
    }
    Ok(PullOutcome {
        snapshot_id: super::full_id(&snap.id),
    })
}
