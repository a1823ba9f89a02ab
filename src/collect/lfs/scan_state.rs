//! What earlier scans found, so a re-run reads only packs it has not seen.
//!
//! A pack file never changes: git names it after the checksum of its content
//! (`pack-<checksum>.pack`) and writes a new pack rather than modifying one. So "pack X holds
//! pointers P" stays true for as long as `pack-X.pack` exists, and remembering it per pack
//! name is exact. A fetch adds a pack (scanned once); a `git gc`/repack replaces packs (the
//! new ones are scanned once, entries for vanished packs are dropped).
//!
//! The file is `<git_dir>/lfs/forgesafe-scan.json`. git-lfs ignores files it does not know
//! in `lfs/`. It is only a cache: a missing, unreadable or older-format file means "scan
//! everything again", never an error.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::pointer::Pointer;

pub const FILE_NAME: &str = "forgesafe-scan.json";

/// Bump when the pointer parser or the scan changes what it would find, so old results are
/// not trusted.
const FORMAT: u32 = 1;

#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ScanState {
    format: u32,
    /// Pack name (`pack-<checksum>`) → the pointers found in it (usually none).
    pub packs: BTreeMap<String, Vec<Pointer>>,
}

pub fn path(git_dir: &Path) -> PathBuf {
    git_dir.join("lfs").join(FILE_NAME)
}

impl ScanState {
    pub fn load(git_dir: &Path) -> ScanState {
        let file = path(git_dir);
        let Ok(text) = std::fs::read(&file) else {
            return ScanState::fresh();
        };
        match serde_json::from_slice::<ScanState>(&text) {
            Ok(state) if state.format == FORMAT => state,
            Ok(_) => ScanState::fresh(),
            Err(err) => {
                tracing::warn!(file = %file.display(), error = %err, "LFS scan cache unreadable; scanning every pack again");
                ScanState::fresh()
            }
        }
    }

    fn fresh() -> ScanState {
        ScanState {
            format: FORMAT,
            packs: BTreeMap::new(),
        }
    }

    /// Written to a temporary file and renamed, so a killed run leaves the old or the new
    /// file, never half of one.
    pub fn save(&self, git_dir: &Path) -> Result<()> {
        let file = path(git_dir);
        let dir = file.parent().expect("state file has a parent");
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".forgesafe-scan")
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
        serde_json::to_writer(&mut tmp, self).context("cannot encode the LFS scan cache")?;
        tmp.flush()?;
        tmp.persist(&file)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot write {}", file.display()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_tolerates_garbage() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(ScanState::load(dir.path()), ScanState::fresh());
        let mut state = ScanState::fresh();
        state.packs.insert(
            "pack-abc".into(),
            vec![Pointer {
                oid: "a".repeat(64),
                size: 3,
            }],
        );
        state.save(dir.path()).unwrap();
        assert_eq!(ScanState::load(dir.path()), state);

        std::fs::write(path(dir.path()), "{not json").unwrap();
        assert_eq!(ScanState::load(dir.path()), ScanState::fresh());
        std::fs::write(path(dir.path()), r#"{"format":0,"packs":{"pack-abc":[]}}"#).unwrap();
        assert_eq!(
            ScanState::load(dir.path()),
            ScanState::fresh(),
            "older formats are rescanned"
        );
    }
}
