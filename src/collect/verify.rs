//! A restored volume, checked as someone restoring after a disaster needs it: every bare mirror
//! opens and holds every object its refs reach, each hashing to its id (`mirror::verify`, gix's
//! own checks: no `git` binary); each mirror's refs equal what the collect that pushed it recorded
//! (`record.rs`); every metadata JSON file parses; every Git LFS object a pointer names is there
//! and hashes to its oid with its size. Every defect is named: repository, ref or object, and
//! what is wrong.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::Result;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::lfs::{find_pointers, Pointer};
use super::mirror::{self, layout};
use super::record::{relative_key, MirrorsRecord};

#[derive(Debug, Clone, Default, Serialize)]
pub struct VolumeCheck {
    pub mirrors_checked: usize,
    pub refs_checked: usize,
    /// Objects whose content was hashed against their id.
    pub objects_checked: u64,
    pub metadata_files_checked: usize,
    pub lfs_objects_checked: usize,
    /// Mirrors whose refs were compared with the record the collect wrote.
    pub mirrors_matching_record: usize,
    pub defects: Vec<Defect>,
    /// What could not be checked, and why (not a defect: e.g. a volume collected before forgesafe
    /// recorded refs).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Defect {
    /// The mirror or file, relative to the volume's root.
    pub repository: String,
    /// The ref, object, pack or file concerned.
    pub subject: String,
    pub problem: String,
}

impl VolumeCheck {
    fn defect(&mut self, repository: &str, subject: impl Into<String>, problem: impl Into<String>) {
        self.defects.push(Defect {
            repository: repository.to_string(),
            subject: subject.into(),
            problem: problem.into(),
        });
    }
}

/// Checks the volume at `root`. An error means the check could not run at all; what is wrong
/// with the volume is in [`VolumeCheck::defects`].
pub fn verify_volume(root: &Path, should_interrupt: &AtomicBool) -> Result<VolumeCheck> {
    let mut check = VolumeCheck::default();
    let mut mirrors = Vec::new();
    let mut json_files = Vec::new();
    walk(root, &mut mirrors, &mut json_files)?;

    for dir in &mirrors {
        let name = relative_key(root, dir).unwrap_or_else(|| dir.display().to_string());
        match mirror::verify_mirror(dir, should_interrupt) {
            Ok(result) => {
                check.mirrors_checked += 1;
                check.refs_checked += result.refs_checked;
                check.objects_checked += result.objects_checked;
                for defect in result.defects {
                    check.defect(&name, defect.subject, defect.problem);
                }
            }
            Err(err) => check.defect(
                &name,
                "repository",
                format!("does not open as a git repository: {err:#}"),
            ),
        }
        check_lfs(dir, &name, &mut check);
    }
    compare_with_record(root, &mirrors, &mut check);

    for file in &json_files {
        let name = relative_key(root, file).unwrap_or_else(|| file.display().to_string());
        check.metadata_files_checked += 1;
        match std::fs::read(file) {
            Ok(bytes) => {
                if let Err(err) = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
                    check.defect(&name, "file", format!("is not valid JSON: {err}"));
                }
            }
            Err(err) => check.defect(&name, "file", format!("cannot be read: {err}")),
        }
    }
    Ok(check)
}

/// Finds the bare mirrors (not descending into them) and the JSON files outside them.
fn walk(dir: &Path, mirrors: &mut Vec<PathBuf>, json_files: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if layout::is_bare_repository(&path) {
                mirrors.push(path);
            } else {
                walk(&path, mirrors, json_files)?;
            }
        } else if kind.is_file() && path.extension().is_some_and(|e| e == "json") {
            json_files.push(path);
        }
    }
    Ok(())
}

/// Each recorded mirror must be there with exactly the recorded refs.
fn compare_with_record(root: &Path, mirrors: &[PathBuf], check: &mut VolumeCheck) {
    let record = match MirrorsRecord::read(root) {
        Ok(Some(record)) => record,
        Ok(None) => {
            check.notes.push(format!(
                "no {}: the volume was collected before forgesafe recorded refs; refs not compared",
                super::record::RELATIVE_PATH
            ));
            return;
        }
        Err(err) => {
            check.defect(super::record::RELATIVE_PATH, "file", format!("{err:#}"));
            return;
        }
    };
    for (relative, recorded) in &record.mirrors {
        let dir = root.join(relative);
        if !mirrors.contains(&dir) {
            check.defect(
                relative,
                "repository",
                "recorded by the collect but missing from the snapshot",
            );
            continue;
        }
        let found = match mirror::read_refs(&dir) {
            Ok(found) => found,
            Err(err) => {
                check.defect(relative, "refs", format!("cannot be read: {err:#}"));
                continue;
            }
        };
        let mut matching = true;
        for (name, id) in &recorded.refs {
            match found.refs.get(name) {
                None => check.defect(
                    relative,
                    name.clone(),
                    format!("recorded at {id} but missing"),
                ),
                Some(other) if other != id => check.defect(
                    relative,
                    name.clone(),
                    format!("recorded at {id} but points at {other}"),
                ),
                Some(_) => continue,
            }
            matching = false;
        }
        for (name, id) in found
            .refs
            .iter()
            .filter(|(name, _)| !recorded.refs.contains_key(*name))
        {
            check.defect(
                relative,
                name.clone(),
                format!("points at {id} but was not recorded by the collect"),
            );
            matching = false;
        }
        if matching {
            check.mirrors_matching_record += 1;
        }
    }
    for dir in mirrors {
        if let Some(relative) = relative_key(root, dir).filter(|r| !record.mirrors.contains_key(r))
        {
            check.notes.push(format!(
                "{relative}: not in the collect's record (refs not compared)"
            ));
        }
    }
}

/// A mirror that holds LFS objects must hold every one its pointers name, each hashing to its oid
/// with the pointer's size; a mirror without `lfs/objects` was collected without LFS.
fn check_lfs(git_dir: &Path, name: &str, check: &mut VolumeCheck) {
    let objects = git_dir.join("lfs").join("objects");
    if !objects.is_dir() {
        return;
    }
    let pointers = match find_pointers(git_dir) {
        Ok(report) => report.pointers,
        Err(err) => {
            check.defect(
                name,
                "lfs",
                format!("cannot scan the mirror for LFS pointers: {err:#}"),
            );
            return;
        }
    };
    for pointer in pointers {
        check.lfs_objects_checked += 1;
        if let Err(problem) = check_lfs_object(&objects, &pointer) {
            check.defect(name, format!("lfs {}", pointer.oid), problem);
        }
    }
}

fn check_lfs_object(objects: &Path, pointer: &Pointer) -> Result<(), String> {
    let oid = &pointer.oid;
    let path = objects.join(&oid[..2]).join(&oid[2..4]).join(oid);
    let mut file = std::fs::File::open(&path)
        .map_err(|_| format!("missing (a pointer names it, size {})", pointer.size))?;
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut file, &mut hasher).map_err(|e| format!("cannot be read: {e}"))?;
    if size != pointer.size {
        return Err(format!(
            "holds {size} bytes, its pointer says {}",
            pointer.size
        ));
    }
    let digest = hasher.finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    if hex != *oid {
        return Err(format!("content hashes to {hex}, not its oid"));
    }
    Ok(())
}
