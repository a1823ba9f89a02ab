//! Replacing a pull target only once the restore has fully succeeded.
//!
//! Normal case: restore into a hidden staging directory beside the target, then swap the two by
//! rename. A volume mount point cannot be renamed (EBUSY/EXDEV), so there the staging directory
//! lives inside the target and its entries are moved into place once it is complete. Either way
//! a failure before the swap leaves the target exactly as it was.

use anyhow::{bail, Context, Result};
use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// How a directory target is swapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwapStrategy {
    /// Stage beside the target and rename (needs a writable parent on the same filesystem).
    Beside,
    /// Stage inside the target and move its entries (for mount points).
    Inside,
}

/// Picks the strategy: inside for a mount point (or `/`), beside otherwise.
pub fn strategy_for(target: &Path) -> SwapStrategy {
    match (
        fs::symlink_metadata(target),
        fs::metadata(parent_of(target)),
    ) {
        (Ok(t), Ok(p)) if t.is_dir() && (t.dev() != p.dev() || t.ino() == p.ino()) => {
            SwapStrategy::Inside
        }
        _ => SwapStrategy::Beside,
    }
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if p.as_os_str().is_empty() => PathBuf::from("."),
        Some(p) => p.to_path_buf(),
        // Only `/` has no parent; it is its own.
        None => path.to_path_buf(),
    }
}

fn hidden_name(target: &Path, what: &str) -> String {
    let base = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "target".into());
    format!(".{base}.forgesafe-{what}-")
}

/// Fills a new directory through `fill`, then makes it the content of `target`.
pub fn replace_dir(
    target: &Path,
    strategy: SwapStrategy,
    fill: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    if let Ok(meta) = fs::symlink_metadata(target) {
        if !meta.is_dir() {
            bail!("target {} is not a directory, but the snapshot holds a directory: pull it to a directory path", target.display());
        }
    }
    match strategy {
        SwapStrategy::Beside => replace_dir_beside(target, fill),
        SwapStrategy::Inside => replace_dir_inside(target, fill),
    }
}

fn replace_dir_beside(target: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let parent = parent_of(target);
    fs::create_dir_all(&parent).with_context(|| format!("cannot create {}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(&hidden_name(target, "pull"))
        .tempdir_in(&parent)
        .with_context(|| {
            format!(
                "cannot create a staging directory in {}: check that it is writable",
                parent.display()
            )
        })?;
    fill(staging.path())?;
    // Keep the target's own permissions: it may be a directory others rely on.
    if let Ok(meta) = fs::metadata(target) {
        let _ = fs::set_permissions(staging.path(), meta.permissions());
    } else {
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(staging.path(), fs::Permissions::from_mode(0o755));
    }
    let staged = staging.keep();
    if target.exists() {
        let old = tempfile::Builder::new()
            .prefix(&hidden_name(target, "old"))
            .tempdir_in(&parent)?
            .keep();
        fs::remove_dir(&old)?;
        fs::rename(target, &old)
            .with_context(|| format!("cannot move the old {} aside", target.display()))?;
        if let Err(e) = fs::rename(&staged, target) {
            // Put the old content back before reporting.
            let _ = fs::rename(&old, target);
            let _ = fs::remove_dir_all(&staged);
            return Err(e).with_context(|| {
                format!("cannot move the restored data into {}", target.display())
            });
        }
        if let Err(e) = fs::remove_dir_all(&old) {
            tracing::warn!(
                "restored, but the old content left in {} could not be removed: {e}",
                old.display()
            );
        }
    } else {
        fs::rename(&staged, target)
            .with_context(|| format!("cannot move the restored data into {}", target.display()))?;
    }
    sync_dir(&parent);
    Ok(())
}

fn replace_dir_inside(target: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let staging = tempfile::Builder::new()
        .prefix(".forgesafe-pull-")
        .tempdir_in(target)
        .with_context(|| {
            format!(
                "cannot create a staging directory in {}: check that it is writable",
                target.display()
            )
        })?;
    fill(staging.path())?;
    let trash = tempfile::Builder::new()
        .prefix(".forgesafe-old-")
        .tempdir_in(target)?;
    let is_ours = |name: &std::ffi::OsStr| {
        name == staging.path().file_name().unwrap() || name == trash.path().file_name().unwrap()
    };

    // Move the old entries into the trash, then the new ones into place. On failure, undo.
    let mut moved_old: Vec<std::ffi::OsString> = Vec::new();
    let mut moved_new: Vec<std::ffi::OsString> = Vec::new();
    let result = (|| -> Result<()> {
        for entry in fs::read_dir(target)? {
            let name = entry?.file_name();
            if is_ours(&name) {
                continue;
            }
            fs::rename(target.join(&name), trash.path().join(&name))?;
            moved_old.push(name);
        }
        for entry in fs::read_dir(staging.path())? {
            let name = entry?.file_name();
            fs::rename(staging.path().join(&name), target.join(&name))?;
            moved_new.push(name);
        }
        Ok(())
    })();
    if let Err(e) = result {
        for name in &moved_new {
            let _ = fs::rename(target.join(name), staging.path().join(name));
        }
        for name in &moved_old {
            let _ = fs::rename(trash.path().join(name), target.join(name));
        }
        return Err(e).with_context(|| {
            format!(
                "cannot move the restored data into {}; its old content was put back",
                target.display()
            )
        });
    }
    if let Ok(meta) = fs::metadata(staging.path()) {
        let _ = fs::set_permissions(target, meta.permissions());
    }
    sync_dir(target);
    Ok(())
}

/// Writes a new file through `fill` and renames it over `target` (never writing into the old
/// file, so no stale bytes can remain past the new end).
pub fn replace_file(target: &Path, fill: impl FnOnce(&mut fs::File) -> Result<()>) -> Result<()> {
    if fs::metadata(target).is_ok_and(|m| m.is_dir()) {
        bail!("target {} is a directory, but the snapshot holds a single file: pull it to a file path (or - for stdout)", target.display());
    }
    let parent = parent_of(target);
    fs::create_dir_all(&parent).with_context(|| format!("cannot create {}", parent.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&hidden_name(target, "pull"))
        .tempfile_in(&parent)
        .with_context(|| {
            format!(
                "cannot create a temporary file in {}: check that it is writable",
                parent.display()
            )
        })?;
    fill(tmp.as_file_mut())?;
    tmp.as_file_mut().flush()?;
    tmp.as_file().sync_all()?;
    let permissions = match fs::metadata(target) {
        Ok(meta) => meta.permissions(),
        Err(_) => {
            use std::os::unix::fs::PermissionsExt;
            fs::Permissions::from_mode(0o644)
        }
    };
    fs::set_permissions(tmp.path(), permissions)?;
    tmp.persist(target)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot move the restored file to {}", target.display()))?;
    sync_dir(&parent);
    Ok(())
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(p: &Path, text: &str) {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = walk(dir, dir);
        names.sort();
        names
    }

    fn walk(root: &Path, dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            if p.is_dir() {
                out.push(format!("{rel}/"));
                out.extend(walk(root, &p));
            } else {
                out.push(format!("{rel}={}", fs::read_to_string(&p).unwrap()));
            }
        }
        out
    }

    fn exercise(strategy: SwapStrategy) {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("vol");
        write(&target.join("stale.txt"), "old");
        write(&target.join("keep/a.txt"), "old a");

        // A failing fill leaves the target exactly as it was, and no staging litter.
        let err = replace_dir(&target, strategy, |dir| {
            write(&dir.join("half.txt"), "x");
            anyhow::bail!("restore broke")
        });
        assert!(err.is_err());
        assert_eq!(
            listing(&target),
            vec!["keep/", "keep/a.txt=old a", "stale.txt=old"]
        );
        assert_eq!(
            fs::read_dir(tmp.path()).unwrap().count(),
            1,
            "staging left behind"
        );

        // A good fill makes the target equal to what was filled: stale entries are gone.
        replace_dir(&target, strategy, |dir| {
            write(&dir.join("keep/a.txt"), "new a");
            write(&dir.join("b.txt"), "b");
            Ok(())
        })
        .unwrap();
        assert_eq!(
            listing(&target),
            vec!["b.txt=b", "keep/", "keep/a.txt=new a"]
        );
        assert_eq!(
            fs::read_dir(tmp.path()).unwrap().count(),
            1,
            "staging left behind"
        );
    }

    #[test]
    fn beside_swap_is_all_or_nothing() {
        exercise(SwapStrategy::Beside);
    }

    #[test]
    fn inside_swap_for_mount_points_is_all_or_nothing() {
        exercise(SwapStrategy::Inside);
    }

    #[test]
    fn a_shorter_file_replaces_a_longer_one_without_stale_bytes() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("f");
        fs::write(&target, "a much longer old content").unwrap();
        replace_file(&target, |f| Ok(f.write_all(b"short")?)).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"short");
        assert!(replace_file(&target, |_| anyhow::bail!("no")).is_err());
        assert_eq!(fs::read(&target).unwrap(), b"short");
    }

    #[test]
    fn root_is_restored_inside() {
        assert_eq!(strategy_for(Path::new("/")), SwapStrategy::Inside);
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(strategy_for(tmp.path()), SwapStrategy::Beside);
    }
}
