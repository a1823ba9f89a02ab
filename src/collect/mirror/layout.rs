//! Where a mirror lives on disk: the staging folder a first clone is built in, and the
//! `remote.origin` section that lets a user `git fetch` by hand.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The refspec of a mirror: every ref, force-updated, same name locally.
pub const MIRROR_REFSPEC: &str = "+refs/*:refs/*";

/// Staging folders sit beside `dest` (same filesystem, so the final rename is atomic) and
/// start with a dot so listings of the backup volume do not show them as repositories.
pub fn staging_prefix(dest: &Path) -> Result<String> {
    let name = dest
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{}: a mirror path must end in a UTF-8 folder name", dest.display()))?;
    Ok(format!(".{name}.forgesafe-staging-"))
}

pub fn parent_of(dest: &Path) -> Result<PathBuf> {
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        Some(_) => PathBuf::from("."),
        None => bail!("{}: a mirror path needs a parent folder", dest.display()),
    };
    std::fs::create_dir_all(&parent).with_context(|| format!("cannot create {}", parent.display()))?;
    Ok(parent)
}

/// Remove staging folders a killed run left behind. Only folders with our exact prefix for
/// this `dest` are touched.
pub fn remove_stale_staging(dest: &Path) -> Result<()> {
    let prefix = staging_prefix(dest)?;
    let parent = parent_of(dest)?;
    for entry in std::fs::read_dir(&parent).with_context(|| format!("cannot list {}", parent.display()))? {
        let entry = entry?;
        if entry.file_name().to_str().is_some_and(|n| n.starts_with(&prefix)) {
            tracing::info!(path = %entry.path().display(), "removing a staging folder left by an interrupted run");
            std::fs::remove_dir_all(entry.path()).with_context(|| format!("cannot remove {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Record the clean origin URL and the mirror refspec in `<git_dir>/config`, as
/// `git clone --mirror` does. Rewritten only if it differs; replaced atomically.
pub fn write_origin_config(git_dir: &Path, url: &str) -> Result<()> {
    let path = git_dir.join("config");
    let mut config = gix::config::File::from_path_no_includes(path.clone(), gix::config::Source::Local)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let wanted = [("remote.origin.url", url), ("remote.origin.fetch", MIRROR_REFSPEC), ("remote.origin.mirror", "true")];
    let up_to_date = wanted.iter().all(|(key, value)| {
        config.string(*key).is_some_and(|current| AsRef::<[u8]>::as_ref(&*current) == value.as_bytes())
    });
    if up_to_date {
        return Ok(());
    }
    for (key, value) in wanted {
        config.set_raw_value(key, value).with_context(|| format!("cannot set {key} in {}", path.display()))?;
    }
    let mut staged = tempfile::NamedTempFile::new_in(git_dir).context("cannot stage the mirror's config")?;
    config.write_to(&mut staged).context("cannot write the mirror's config")?;
    staged.persist(&path).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

/// A folder that is a bare repository we can update (rather than something else in the way).
pub fn is_bare_repository(path: &Path) -> bool {
    path.join("HEAD").is_file() && path.join("objects").is_dir() && path.join("refs").is_dir()
}

/// Remove the temporary files a killed fetch leaves in `objects/pack` (gix names them
/// `.tmp…`; a finished pack is renamed to `pack-<hash>.pack`). They are not part of the
/// repository but can be as large as the pack that was being received, and would otherwise
/// be carried into every backup. Assumes one writer per mirror, which forgesafe guarantees by
/// giving each repository its own folder and mirroring it from one thread.
pub fn remove_interrupted_pack_files(git_dir: &Path) -> Result<()> {
    let pack_dir = git_dir.join("objects").join("pack");
    let Ok(entries) = std::fs::read_dir(&pack_dir) else { return Ok(()) };
    for entry in entries {
        let entry = entry?;
        if entry.file_name().to_str().is_some_and(|n| n.starts_with(".tmp")) && entry.file_type()?.is_file() {
            tracing::info!(path = %entry.path().display(), "removing a partial pack left by an interrupted fetch");
            std::fs::remove_file(entry.path()).with_context(|| format!("cannot remove {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Remove ref lock files a killed run left behind. gix (like git) updates a ref by writing
/// `<ref>.lock` and renaming it over `<ref>`; a process killed in between leaves the lock,
/// and every later update of that ref would fail with "lock held" forever. The ref itself is
/// intact (old value), so deleting the lock is safe under the one-writer-per-mirror rule.
pub fn remove_stale_ref_locks(git_dir: &Path) -> Result<()> {
    for name in ["packed-refs.lock", "HEAD.lock"] {
        remove_lock(&git_dir.join(name))?;
    }
    let mut pending = vec![git_dir.join("refs")];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                pending.push(entry.path());
            } else if entry.file_name().to_str().is_some_and(|n| n.ends_with(".lock")) {
                remove_lock(&entry.path())?;
            }
        }
    }
    Ok(())
}

fn remove_lock(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {
            tracing::info!(path = %path.display(), "removed a lock file left by an interrupted run");
            Ok(())
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err).with_context(|| format!("cannot remove stale lock {}", path.display())),
    }
}
