//! Where LFS objects live inside a bare mirror: git-lfs's own layout, so that stock `git lfs`
//! working on the mirror (or on a clone of it: git-lfs reads a `file://` remote's
//! `lfs/objects` directly) finds every object we stored.
//!
//! * `<git_dir>/lfs/objects/<oid[0..2]>/<oid[2..4]>/<oid>`: finished, verified objects only.
//! * `<git_dir>/lfs/tmp/`: git-lfs's temporary folder; downloads are written there and renamed
//!   into `objects/` only after their size and SHA-256 were checked, so a killed run never
//!   leaves a partial file where git-lfs would trust it. The rename stays on one filesystem.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::pointer::Pointer;

/// Prefix of our temporary files in `lfs/tmp`, so cleaning up never touches git-lfs's own.
pub const TMP_PREFIX: &str = "forgesafe-lfs-";

pub struct ObjectStore {
    lfs_dir: PathBuf,
}

impl ObjectStore {
    pub fn new(git_dir: &Path) -> Self {
        ObjectStore {
            lfs_dir: git_dir.join("lfs"),
        }
    }

    pub fn tmp_dir(&self) -> PathBuf {
        self.lfs_dir.join("tmp")
    }

    /// `lfs/objects/ab/cd/abcd…`; the oid was validated as 64 hex digits by the pointer parser.
    pub fn object_path(&self, oid: &str) -> PathBuf {
        self.lfs_dir
            .join("objects")
            .join(&oid[0..2])
            .join(&oid[2..4])
            .join(oid)
    }

    /// Present with the right size. The content is not re-hashed on every run (that would read
    /// every large file each time); it was verified when written, and only ever written whole.
    pub fn is_present(&self, pointer: &Pointer) -> bool {
        std::fs::metadata(self.object_path(&pointer.oid))
            .is_ok_and(|m| m.is_file() && m.len() == pointer.size)
    }

    /// Create `lfs/tmp` and remove our temporary files a killed run left behind (one writer per
    /// mirror is assumed, as for the mirror itself).
    pub fn prepare(&self) -> Result<()> {
        let tmp = self.tmp_dir();
        std::fs::create_dir_all(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        for entry in
            std::fs::read_dir(&tmp).with_context(|| format!("cannot read {}", tmp.display()))?
        {
            let entry = entry?;
            if entry.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(())
    }

    /// Move a verified temporary file into place. `persist` renames, which is atomic: readers
    /// see either no object or the whole one.
    pub fn put_verified(&self, file: tempfile::NamedTempFile, oid: &str) -> Result<()> {
        let dest = self.object_path(oid);
        let parent = dest.parent().expect("object paths have a parent");
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
        file.as_file()
            .sync_all()
            .with_context(|| format!("cannot flush LFS object {oid} to disk"))?;
        file.persist(&dest)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot move LFS object {oid} into {}", parent.display()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_git_lfs_layout() {
        let store = ObjectStore::new(Path::new("/m.git"));
        let oid = "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393";
        assert_eq!(
            store.object_path(oid),
            Path::new("/m.git/lfs/objects/4d/7a").join(oid)
        );
        assert_eq!(store.tmp_dir(), Path::new("/m.git/lfs/tmp"));
    }

    #[test]
    fn prepare_removes_only_our_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::new(dir.path());
        std::fs::create_dir_all(store.tmp_dir()).unwrap();
        std::fs::write(store.tmp_dir().join(format!("{TMP_PREFIX}abc")), "partial").unwrap();
        std::fs::write(store.tmp_dir().join("git-lfs-owned"), "theirs").unwrap();
        store.prepare().unwrap();
        let left: Vec<_> = std::fs::read_dir(store.tmp_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("git-lfs-owned")]);
    }
}
