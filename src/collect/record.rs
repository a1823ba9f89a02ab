//! `<dest>/.forgesafe/mirrors.json`: every mirror's refs as the last collect left them. It travels
//! inside each snapshot, so a restore drill can check that the mirrors it restored hold exactly
//! what the collect that pushed them recorded, and a change report can tell whether an earlier
//! snapshot still holds a rewritten ref's old tip.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::mirror::{self, MirrorRefs};
use super::plan::RepoPlan;
use super::report::RepoOutcome;

/// The record's place inside a volume, relative to its root.
pub const RELATIVE_PATH: &str = ".forgesafe/mirrors.json";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MirrorsRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collected_at: Option<DateTime<Utc>>,
    /// Path of each mirror relative to the volume's root (`/`-separated) -> its refs.
    pub mirrors: BTreeMap<String, MirrorRefs>,
    /// The same paths -> the newest committer time among their refs' commits (`forgesafe repos`
    /// shows it without restoring the mirror). Computed when a mirror's refs change.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub newest_commits: BTreeMap<String, DateTime<Utc>>,
}

impl MirrorsRecord {
    /// The record in `root`, if there is a readable one.
    pub fn read(root: &Path) -> Result<Option<MirrorsRecord>> {
        let path = root.join(RELATIVE_PATH);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .with_context(|| format!("{} is not a mirrors record", path.display())),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    pub fn parse(bytes: &[u8]) -> Result<MirrorsRecord> {
        serde_json::from_slice(bytes).context("not a mirrors record")
    }

    /// Brings the record of `dest` up to date after a run: each planned mirror as the run left it
    /// (from the sync when it succeeded, else read from disk: the last good mirror, which a
    /// failed fetch may have partly advanced); entries whose mirror is gone from disk are dropped;
    /// mirrors this run did not plan (another source's, or no longer listed) keep their entry.
    pub fn update(dest: &Path, repos: &[RepoPlan], outcomes: &[RepoOutcome]) -> Result<()> {
        let mut record = match MirrorsRecord::read(dest) {
            Ok(record) => record.unwrap_or_default(),
            Err(err) => {
                tracing::warn!("{err:#}; starting a new record");
                MirrorsRecord::default()
            }
        };
        record
            .mirrors
            .retain(|relative, _| mirror::layout::is_bare_repository(&dest.join(relative)));
        let mirrors = &record.mirrors;
        record
            .newest_commits
            .retain(|relative, _| mirrors.contains_key(relative));
        for (plan, outcome) in repos.iter().zip(outcomes) {
            let wiki = plan
                .wiki
                .as_ref()
                .map(|job| (&job.dest, outcome.wiki.as_ref()));
            for (dir, synced) in std::iter::once((&plan.git.dest, outcome.git.as_ref())).chain(wiki)
            {
                let Some(relative) = relative_key(dest, dir) else {
                    continue;
                };
                let refs = match synced {
                    Some(synced) => Some(synced.refs.clone()),
                    None if mirror::layout::is_bare_repository(dir) => match mirror::read_refs(dir)
                    {
                        Ok(refs) => Some(refs),
                        Err(err) => {
                            tracing::warn!(mirror = %dir.display(), "cannot read the mirror's refs for the record ({err:#})");
                            None
                        }
                    },
                    None => None,
                };
                match refs {
                    Some(refs) => {
                        let unchanged = record.mirrors.get(&relative) == Some(&refs)
                            && record.newest_commits.contains_key(&relative);
                        if !unchanged {
                            match mirror::newest_commit_time(dir, &refs) {
                                Ok(Some(time)) => {
                                    record.newest_commits.insert(relative.clone(), time)
                                }
                                Ok(None) => record.newest_commits.remove(&relative),
                                Err(err) => {
                                    tracing::debug!(mirror = %dir.display(), "no commit time for the record ({err:#})");
                                    record.newest_commits.remove(&relative)
                                }
                            };
                        }
                        record.mirrors.insert(relative, refs);
                    }
                    None => {
                        record.mirrors.remove(&relative);
                        record.newest_commits.remove(&relative);
                    }
                };
            }
        }
        record.collected_at = Some(Utc::now());
        record.write(dest)
    }

    fn write(&self, dest: &Path) -> Result<()> {
        let path = dest.join(RELATIVE_PATH);
        let dir = path.parent().expect("the record has a parent folder");
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        serde_json::to_writer(&mut tmp, self)?;
        tmp.persist(&path)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }
}

/// `dir` relative to `root`, `/`-separated, or `None` when it is not inside it.
pub fn relative_key(root: &Path, dir: &Path) -> Option<String> {
    let relative: PathBuf = dir.strip_prefix(root).ok()?.to_path_buf();
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}
