//! The change report: what upstream rewrote or removed since the last collect — refs
//! force-pushed (the old tip is not an ancestor of the new one), refs deleted, repositories gone
//! from the listing. These are the accident and the attack a forge backup exists for, so each
//! collect that sees one writes `<dest>/.forgesafe/changes/<UTC time>.json` (inside the volume:
//! every snapshot carries its own report), logs a summary, and hands the report to its caller
//! (`backup` adds which earlier snapshot still holds the old tips; `serve` shows it).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::mirror::RefRewrite;
use super::plan::RepoPlan;
use super::record::relative_key;
use super::report::RepoOutcome;

/// The folder of the reports, relative to the volume's root.
pub const RELATIVE_DIR: &str = ".forgesafe/changes";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChangeReport {
    pub collected_at: DateTime<Utc>,
    /// The volume the collect wrote.
    pub destination: PathBuf,
    /// Repositories (or wikis) with refs force-pushed or deleted upstream.
    pub repositories: Vec<RepoChanges>,
    /// Repositories the forge stopped listing in this run (deleted, renamed or hidden); their
    /// mirrors are kept.
    pub gone: Vec<String>,
    /// The newest snapshot taken before this collect, when it still holds every old tip named
    /// here (`backup` fills it in before pushing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earlier_snapshot: Option<EarlierSnapshot>,
    /// Where this report was written, relative to the volume's root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RepoChanges {
    /// `owner/name` (with ` (wiki)` for a wiki).
    pub name: String,
    /// The mirror, relative to the volume's root.
    pub mirror: String,
    pub force_pushed: Vec<RefRewrite>,
    pub deleted: Vec<RefRewrite>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EarlierSnapshot {
    pub id: String,
    pub time: String,
    /// Every old tip named in this report is in that snapshot's mirrors record.
    pub holds_old_tips: bool,
}

impl ChangeReport {
    /// What the run's outcomes say changed in `dest`; `newly_gone` are repositories that were
    /// listed in the previous run and are not now.
    pub fn from_run(
        dest: &Path,
        repos: &[RepoPlan],
        outcomes: &[RepoOutcome],
        newly_gone: Vec<String>,
    ) -> ChangeReport {
        let mut report = ChangeReport {
            collected_at: Utc::now(),
            destination: dest.to_path_buf(),
            gone: newly_gone,
            ..Default::default()
        };
        for (plan, outcome) in repos.iter().zip(outcomes) {
            let wiki = plan.wiki.as_ref().map(|job| {
                (
                    format!("{} (wiki)", plan.name),
                    &job.dest,
                    outcome.wiki.as_ref(),
                )
            });
            for (name, dir, synced) in
                std::iter::once((plan.name.clone(), &plan.git.dest, outcome.git.as_ref()))
                    .chain(wiki)
            {
                let Some(synced) = synced.filter(|s| !s.rewritten.is_empty()) else {
                    continue;
                };
                let (deleted, force_pushed) = synced
                    .rewritten
                    .iter()
                    .cloned()
                    .partition(|r| r.new.is_none());
                report.repositories.push(RepoChanges {
                    name,
                    mirror: relative_key(dest, dir).unwrap_or_default(),
                    force_pushed,
                    deleted,
                });
            }
        }
        report
    }

    pub fn is_empty(&self) -> bool {
        self.repositories.is_empty() && self.gone.is_empty()
    }

    pub fn refs_force_pushed(&self) -> usize {
        self.repositories.iter().map(|r| r.force_pushed.len()).sum()
    }

    pub fn refs_deleted(&self) -> usize {
        self.repositories.iter().map(|r| r.deleted.len()).sum()
    }

    /// Every `(mirror, ref, old tip)` this report names.
    pub fn old_tips(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.repositories.iter().flat_map(|r| {
            r.force_pushed
                .iter()
                .chain(&r.deleted)
                .map(move |x| (r.mirror.as_str(), x.name.as_str(), x.old.as_str()))
        })
    }

    /// Writes the report into its volume (a new file per collect; `file` says which).
    pub fn write(&mut self, dest: &Path) -> Result<()> {
        let dir = dest.join(RELATIVE_DIR);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let name = self.file.clone().unwrap_or_else(|| {
            format!(
                "{RELATIVE_DIR}/{}.json",
                self.collected_at.format("%Y-%m-%dT%H-%M-%S%.3fZ")
            )
        });
        self.file = Some(name.clone());
        let mut tmp = tempfile::NamedTempFile::new_in(&dir)?;
        serde_json::to_writer_pretty(&mut tmp, self)?;
        let path = dest.join(&name);
        tmp.persist(&path)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }

    /// One warning per rewritten ref and per repository gone, through the log.
    pub fn log_summary(&self) {
        for repo in &self.repositories {
            for r in &repo.force_pushed {
                tracing::warn!(
                    "forgesafe collect: {}: {} was FORCE-PUSHED upstream (old tip {}, new {})",
                    repo.name,
                    r.name,
                    short(&r.old),
                    r.new.as_deref().map_or("?", short)
                );
            }
            for r in &repo.deleted {
                tracing::warn!(
                    "forgesafe collect: {}: {} was DELETED upstream (old tip {})",
                    repo.name,
                    r.name,
                    short(&r.old)
                );
            }
        }
        for name in &self.gone {
            tracing::warn!(
                "forgesafe collect: {name} is GONE from the forge's listing; its mirror is kept"
            );
        }
        if let Some(file) = self.file.as_deref().filter(|_| !self.is_empty()) {
            tracing::warn!(
                "forgesafe collect: change report {file}: {} ref(s) force-pushed, {} deleted, {} repositories gone; earlier snapshots keep the old tips",
                self.refs_force_pushed(),
                self.refs_deleted(),
                self.gone.len()
            );
        }
    }
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}
