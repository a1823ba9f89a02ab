//! What the collector remembers between runs, in `<dest>/.forgesafe/collect-state.json`:
//! ETags and bodies of list pages (so unchanged lists cost only 304s) and, per repository,
//! how far its issues were read. Written atomically; a missing or unreadable file means a
//! full (but still correct) run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::forge::{ListingCache, PageCache, RepoMetaState};

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct CollectState {
    #[serde(default)]
    pub listings: BTreeMap<String, ListingCache>,
    #[serde(default)]
    pub pages: PageCache,
    #[serde(default)]
    pub repos: BTreeMap<String, RepoMetaState>,
    /// Mirrors whose repository the forge no longer listed in the last run, so the change report
    /// names a repository as gone once, in the run that first misses it.
    #[serde(default)]
    pub unlisted: std::collections::BTreeSet<String>,
}

fn path_in(dest: &Path) -> PathBuf {
    dest.join(".forgesafe").join("collect-state.json")
}

impl CollectState {
    pub fn load(dest: &Path) -> CollectState {
        let path = path_in(dest);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), "collector state unreadable ({e}); this run reads everything again");
                CollectState::default()
            }),
            Err(_) => CollectState::default(),
        }
    }

    pub fn save(&self, dest: &Path) -> Result<()> {
        let path = path_in(dest);
        let dir = path.parent().expect("state path has a parent");
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        serde_json::to_writer(&mut tmp, self)?;
        tmp.persist(&path)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }
}
