//! Where mirrors live on disk: the volume's layout (gickup's, readable without forgesafe), the
//! staging folder a first clone is built in, and the `remote.origin` section that lets a user
//! `git fetch` by hand.
//!
//! ```text
//! <dest>/<host>/<owner>/<repo>.git          bare mirror (gickup's `structured` layout, the default)
//! <dest>/<host>/<owner>/<repo>.wiki.git     the wiki's bare mirror
//! <dest>/<host>/<owner>/<repo>.metadata/    issues, pull requests, releases, …
//! <dest>/<repo>.git                         unstructured (`structured: false`, `--flat`)
//! <dest>/.forgesafe/                        the collector's state and pinned ssh host keys
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// gickup's layout: `<dest>/<host>/<owner>/<name>.git` when structured, else `<dest>/<name>.git`.
pub fn repo_dir(dest: &Path, structured: bool, host: &str, owner: &str, name: &str) -> PathBuf {
    let safe = |s: &str| s.replace(['/', '\\'], "_").replace("..", "_");
    if structured {
        dest.join(safe(host))
            .join(safe(owner))
            .join(format!("{}.git", safe(name)))
    } else {
        dest.join(format!("{}.git", safe(name)))
    }
}

/// Where a repository given by URL or path goes, and its `owner/name` for messages: owner and
/// name are the URL's last two path segments (`_` when there is only one); `name` replaces the
/// last.
pub fn url_repo_dir(
    dest: &Path,
    structured: bool,
    url: &str,
    name: Option<&str>,
) -> (String, PathBuf) {
    let (host, path) = split_git_url(url);
    let mut segments = path
        .trim_end_matches('/')
        .rsplit('/')
        .filter(|s| !s.is_empty());
    let last = segments.next().unwrap_or("repository");
    let name = name
        .map(str::to_string)
        .unwrap_or_else(|| last.strip_suffix(".git").unwrap_or(last).to_string());
    let owner = segments.next().unwrap_or("_").to_string();
    (
        format!("{owner}/{name}"),
        repo_dir(dest, structured, &host, &owner, &name),
    )
}

/// The wiki's mirror beside a repository's: `<repo>.wiki.git`.
pub fn wiki_dir(git_dir: &Path) -> PathBuf {
    let stem = git_dir
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    git_dir.with_file_name(format!("{stem}.wiki.git"))
}

/// The metadata folder beside a repository's mirror: `<repo>.metadata`.
pub fn metadata_dir(git_dir: &Path) -> PathBuf {
    git_dir.with_extension("metadata")
}

/// Where ssh host keys are pinned: on the volume, beside the collector's state.
pub fn known_hosts(dest: &Path) -> PathBuf {
    dest.join(".forgesafe").join("known_hosts")
}

/// `(host, path)` of a git URL: `https://host:port/a/b.git`, `git@host:a/b.git`, or a local path
/// (host `local`).
pub fn split_git_url(url: &str) -> (String, String) {
    if let Some((_, rest)) = url.split_once("://") {
        let (_, path) = rest.split_once('/').unwrap_or((rest, ""));
        return (host_of(url), path.to_string());
    }
    match url.split_once(':') {
        Some((user_host, path)) if !user_host.contains('/') && !url.starts_with('/') => (
            user_host
                .rsplit('@')
                .next()
                .unwrap_or(user_host)
                .to_string(),
            path.to_string(),
        ),
        _ => ("local".to_string(), url.to_string()),
    }
}

/// The host a URL names, without user or port (`local` for what is not a URL).
pub fn host_of(url: &str) -> String {
    match url.split_once("://") {
        Some((_, rest)) => {
            let authority = rest.split('/').next().unwrap_or("");
            let host = authority.rsplit('@').next().unwrap_or(authority);
            // A port is not part of the forge's name (and ':' is awkward in paths).
            host.split(':').next().unwrap_or(host).to_string()
        }
        None => "local".to_string(),
    }
}

/// Mirrors on disk under an owner that was listed, whose repository was not: `<host>/<owner>/<name>.git`
/// for each. `listed` holds `(clone URL, owner, name)` of every listed repository. Only the
/// structured layout can tell whose a mirror is.
pub fn unlisted_mirrors<'a>(
    dest: &Path,
    structured: bool,
    listed: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
) -> Vec<String> {
    if !structured {
        return Vec::new();
    }
    let mut owners: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (clone_url, owner, name) in listed {
        owners
            .entry((host_of(clone_url), owner.to_string()))
            .or_default()
            .insert(format!("{name}.git"));
    }
    let mut unlisted = Vec::new();
    for ((host, owner), names) in owners {
        let Ok(entries) = std::fs::read_dir(dest.join(&host).join(&owner)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".git") && !name.ends_with(".wiki.git") && !names.contains(&name) {
                unlisted.push(format!("{host}/{owner}/{name}"));
            }
        }
    }
    unlisted
}

/// The refspec of a mirror: every ref, force-updated, same name locally.
pub const MIRROR_REFSPEC: &str = "+refs/*:refs/*";

/// Staging folders sit beside `dest` (same filesystem, so the final rename is atomic) and
/// start with a dot so listings of the backup volume do not show them as repositories.
pub fn staging_prefix(dest: &Path) -> Result<String> {
    let name = dest.file_name().and_then(|n| n.to_str()).with_context(|| {
        format!(
            "{}: a mirror path must end in a UTF-8 folder name",
            dest.display()
        )
    })?;
    Ok(format!(".{name}.forgesafe-staging-"))
}

pub fn parent_of(dest: &Path) -> Result<PathBuf> {
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        Some(_) => PathBuf::from("."),
        None => bail!("{}: a mirror path needs a parent folder", dest.display()),
    };
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    Ok(parent)
}

/// Remove staging folders a killed run left behind. Only folders with our exact prefix for
/// this `dest` are touched.
pub fn remove_stale_staging(dest: &Path) -> Result<()> {
    let prefix = staging_prefix(dest)?;
    let parent = parent_of(dest)?;
    for entry in
        std::fs::read_dir(&parent).with_context(|| format!("cannot list {}", parent.display()))?
    {
        let entry = entry?;
        if entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(&prefix))
        {
            tracing::info!(path = %entry.path().display(), "removing a staging folder left by an interrupted run");
            std::fs::remove_dir_all(entry.path())
                .with_context(|| format!("cannot remove {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Record the clean origin URL and the mirror refspec in `<git_dir>/config`, as
/// `git clone --mirror` does. Rewritten only if it differs; replaced atomically.
pub fn write_origin_config(git_dir: &Path, url: &str) -> Result<()> {
    let path = git_dir.join("config");
    let mut config =
        gix::config::File::from_path_no_includes(path.clone(), gix::config::Source::Local)
            .with_context(|| format!("cannot read {}", path.display()))?;
    let wanted = [
        ("remote.origin.url", url),
        ("remote.origin.fetch", MIRROR_REFSPEC),
        ("remote.origin.mirror", "true"),
    ];
    let up_to_date = wanted.iter().all(|(key, value)| {
        config
            .string(*key)
            .is_some_and(|current| AsRef::<[u8]>::as_ref(&*current) == value.as_bytes())
    });
    if up_to_date {
        return Ok(());
    }
    for (key, value) in wanted {
        config
            .set_raw_value(key, value)
            .with_context(|| format!("cannot set {key} in {}", path.display()))?;
    }
    let mut staged =
        tempfile::NamedTempFile::new_in(git_dir).context("cannot stage the mirror's config")?;
    config
        .write_to(&mut staged)
        .context("cannot write the mirror's config")?;
    staged
        .persist(&path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
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
    let Ok(entries) = std::fs::read_dir(&pack_dir) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry?;
        if entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(".tmp"))
            && entry.file_type()?.is_file()
        {
            tracing::info!(path = %entry.path().display(), "removing a partial pack left by an interrupted fetch");
            std::fs::remove_file(entry.path())
                .with_context(|| format!("cannot remove {}", entry.path().display()))?;
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
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                pending.push(entry.path());
            } else if entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.ends_with(".lock"))
            {
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
        Err(err) => {
            Err(err).with_context(|| format!("cannot remove stale lock {}", path.display()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_follows_gickups_structured_form() {
        let d = Path::new("/v");
        assert_eq!(
            repo_dir(d, true, "github.com", "o", "r"),
            PathBuf::from("/v/github.com/o/r.git")
        );
        assert_eq!(
            repo_dir(d, false, "github.com", "o", "r"),
            PathBuf::from("/v/r.git")
        );
        assert_eq!(
            wiki_dir(&PathBuf::from("/v/h/o/r.git")),
            PathBuf::from("/v/h/o/r.wiki.git")
        );
        assert_eq!(
            metadata_dir(&PathBuf::from("/v/h/o/r.git")),
            PathBuf::from("/v/h/o/r.metadata")
        );
        assert_eq!(host_of("https://user@github.com:443/o/r.git"), "github.com");
        assert_eq!(host_of("/srv/git/r"), "local");
        assert_eq!(
            repo_dir(d, true, "h", "..", "a/b"),
            PathBuf::from("/v/h/_/a_b.git")
        );
        assert_eq!(
            split_git_url("http://127.0.0.1:8080/big.git"),
            ("127.0.0.1".into(), "big.git".into())
        );
        assert_eq!(
            split_git_url("git@github.com:octo/app.git"),
            ("github.com".into(), "octo/app.git".into())
        );
        assert_eq!(
            split_git_url("/srv/git/app"),
            ("local".into(), "/srv/git/app".into())
        );
        assert_eq!(
            url_repo_dir(d, true, "/srv/git/app", None),
            ("git/app".into(), PathBuf::from("/v/local/git/app.git"))
        );
        assert_eq!(
            url_repo_dir(d, true, "http://h:1/big.git", None),
            ("_/big".into(), PathBuf::from("/v/h/_/big.git"))
        );
        assert_eq!(
            url_repo_dir(d, false, "git@h:o/r.git", Some("named")),
            ("o/named".into(), PathBuf::from("/v/named.git"))
        );
    }

    #[test]
    fn mirrors_of_listed_owners_that_are_not_listed_are_found() {
        let dest = tempfile::tempdir().unwrap();
        for dir in [
            "h/o/kept.git",
            "h/o/gone.git",
            "h/o/kept.wiki.git",
            "h/o/gone.metadata",
            "h/other/x.git",
        ] {
            std::fs::create_dir_all(dest.path().join(dir)).unwrap();
        }
        let listed = [("https://h/o/kept.git", "o", "kept")];
        assert_eq!(
            unlisted_mirrors(dest.path(), true, listed),
            vec!["h/o/gone.git".to_string()]
        );
        assert!(unlisted_mirrors(dest.path(), false, listed).is_empty());
    }
}
