//! What forge repositories a snapshot holds, read from the volume's layout and the mirrors' refs
//! without restoring anything: the trees down to the mirrors (never inside them), then each
//! mirror's refs from the collect's record (`.forgesafe/mirrors.json`, one file for the whole
//! volume) or, for a volume forgesafe did not collect (gickup's), from the mirror's ref files.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Result};
use serde::Serialize;

use crate::collect::mirror::MirrorRefs;
use crate::collect::record::{MirrorsRecord, RELATIVE_PATH};
use crate::store::{Entry, Snapshot};

/// One forge repository in a snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct RepoInSnapshot {
    /// The forge's host (gickup's structured layout); absent in a flat volume.
    pub host: Option<String>,
    pub owner: Option<String>,
    pub name: String,
    /// The bare mirror's path inside the snapshot.
    pub path: String,
    /// The wiki's mirror (`<name>.wiki.git`) is there too.
    pub wiki: bool,
    /// The metadata folder (`<name>.metadata/`: issues, pull requests, releases) is there too.
    pub metadata: bool,
    pub refs: usize,
    /// The branch HEAD names.
    pub head: Option<String>,
    /// The newest committer time among the refs' commits (RFC 3339), when the collect recorded it.
    pub newest_commit: Option<String>,
    #[serde(skip)]
    pub ref_map: MirrorRefs,
}

impl RepoInSnapshot {
    /// `host/owner/name`, or what of it the layout has.
    pub fn full_name(&self) -> String {
        [
            self.host.as_deref(),
            self.owner.as_deref(),
            Some(self.name.as_str()),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("/")
    }

    pub fn wiki_path(&self) -> String {
        format!("{}.wiki.git", self.stem())
    }

    pub fn metadata_path(&self) -> String {
        format!("{}.metadata", self.stem())
    }

    /// One line for a terminal: name, refs, newest commit, and which pieces are there.
    pub fn summary_line(&self) -> String {
        let mut pieces = vec!["mirror"];
        if self.wiki {
            pieces.push("wiki");
        }
        if self.metadata {
            pieces.push("metadata");
        }
        let newest = self
            .newest_commit
            .as_deref()
            .map_or("-", |t| t.get(..19).unwrap_or(t));
        format!(
            "{:<50} {:>5} refs  newest commit {newest}  {}",
            self.full_name(),
            self.refs,
            pieces.join("+")
        )
    }

    fn stem(&self) -> &str {
        self.path.strip_suffix(".git").unwrap_or(&self.path)
    }
}

/// The repositories of the snapshot, sorted by path. Their refs come from the collect's record;
/// with `read_ref_files`, a mirror the record does not cover has its ref files read (one small
/// read per ref file, so only the commands that show refs ask for it).
pub fn repositories(snapshot: &Snapshot, read_ref_files: bool) -> Result<Vec<RepoInSnapshot>> {
    let mut folders: BTreeSet<String> = BTreeSet::new();
    let mut descend = |entry: &Entry| {
        let name = entry.name();
        // Never into a mirror, a metadata folder or forgesafe's own state: the layout is above.
        !(name.ends_with(".git") || name.ends_with(".metadata") || name.starts_with('.'))
    };
    snapshot.walk("", &mut descend, &mut |entry| {
        if entry.is_dir() {
            folders.insert(entry.path.clone());
        }
    })?;
    let record = match snapshot.read_file(RELATIVE_PATH)? {
        Some(bytes) => match MirrorsRecord::parse(&bytes) {
            Ok(record) => Some(record),
            Err(err) => {
                tracing::warn!("the snapshot's {RELATIVE_PATH} is unreadable ({err:#}); reading each mirror's ref files instead");
                None
            }
        },
        None => None,
    };

    let mut repos = Vec::new();
    for path in folders
        .iter()
        .filter(|p| p.ends_with(".git") && !p.ends_with(".wiki.git"))
    {
        let (host, owner, name) = split_layout(path);
        let mut repo = RepoInSnapshot {
            host,
            owner,
            name,
            path: path.clone(),
            wiki: false,
            metadata: false,
            refs: 0,
            head: None,
            newest_commit: None,
            ref_map: MirrorRefs::default(),
        };
        repo.wiki = folders.contains(&repo.wiki_path());
        repo.metadata = folders.contains(&repo.metadata_path());
        let recorded = record.as_ref().and_then(|r| r.mirrors.get(path));
        repo.ref_map = match recorded {
            Some(refs) => refs.clone(),
            None if read_ref_files => refs_from_files(snapshot, path)?,
            None => MirrorRefs::default(),
        };
        repo.newest_commit = record
            .as_ref()
            .and_then(|r| r.newest_commits.get(path))
            .map(|t| t.to_rfc3339());
        repo.refs = repo.ref_map.refs.len();
        repo.head = repo.ref_map.head.clone();
        repos.push(repo);
    }
    Ok(repos)
}

/// `forgesafe repos`: the snapshot's id and its repositories, refs counted from the record or,
/// for a volume forgesafe did not collect, from the ref files.
pub fn list(
    store: &crate::store::Store,
    name: &str,
    choice: &crate::store::SnapshotChoice,
) -> Result<(String, Vec<RepoInSnapshot>)> {
    let snapshot = Snapshot::open(store, name, choice, "repos")?;
    let repos = repositories(&snapshot, true)?;
    Ok((snapshot.id(), repos))
}

/// A mirror's refs from its files inside the snapshot.
pub fn refs_from_files(snapshot: &Snapshot, mirror: &str) -> Result<MirrorRefs> {
    let head = snapshot.read_file(&format!("{mirror}/HEAD"))?;
    let packed = snapshot.read_file(&format!("{mirror}/packed-refs"))?;
    let mut loose_paths = Vec::new();
    if snapshot
        .entry(&format!("{mirror}/refs"))?
        .is_some_and(|e| e.is_dir())
    {
        snapshot.walk(&format!("{mirror}/refs"), &mut |_| true, &mut |entry| {
            if !entry.is_dir() && !entry.path.ends_with(".lock") {
                loose_paths.push(entry.path.clone());
            }
        })?;
    }
    let mut loose = Vec::new();
    for path in loose_paths {
        if let Some(bytes) = snapshot.read_file(&path)? {
            loose.push((path[mirror.len() + 1..].to_string(), bytes));
        }
    }
    Ok(MirrorRefs::from_ref_files(
        head.as_deref(),
        packed.as_deref(),
        loose,
    ))
}

/// `(host, owner, name)` from a mirror's path: `host/owner/name.git` (gickup's structured
/// layout), `owner/name.git`, or `name.git` (flat).
fn split_layout(path: &str) -> (Option<String>, Option<String>, String) {
    let mut parts: Vec<&str> = path.split('/').collect();
    let name = parts
        .pop()
        .unwrap_or_default()
        .trim_end_matches(".git")
        .to_string();
    let owner = parts.pop().map(str::to_string);
    let host = (!parts.is_empty()).then(|| parts.join("/"));
    (host, owner, name)
}

/// The one repository `wanted` names: `[HOST/]OWNER/NAME` or, in a flat volume, `NAME`; a name
/// that fits several (the same owner/name on two hosts) must be given in full.
pub fn find<'a>(repos: &'a [RepoInSnapshot], wanted: &str) -> Result<&'a RepoInSnapshot> {
    let wanted = wanted.trim_matches('/').trim_end_matches(".git");
    let matches: Vec<&RepoInSnapshot> = repos
        .iter()
        .filter(|r| r.full_name() == wanted || r.full_name().ends_with(&format!("/{wanted}")))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => {
            let mut near: Vec<String> = repos
                .iter()
                .filter(|r| {
                    wanted
                        .rsplit('/')
                        .next()
                        .is_some_and(|last| r.name.eq_ignore_ascii_case(last))
                })
                .map(RepoInSnapshot::full_name)
                .collect();
            near.truncate(5);
            if near.is_empty() {
                bail!("the snapshot holds no repository {wanted:?}: list them with `forgesafe repos` (target left untouched)")
            }
            bail!("the snapshot holds no repository {wanted:?}; did you mean {}? (target left untouched)", near.join(", "))
        }
        many => {
            bail!(
            "{wanted:?} fits {} repositories ({}): give HOST/OWNER/NAME (target left untouched)",
            many.len(),
            many.iter().map(|r| r.full_name()).collect::<Vec<_>>().join(", ")
        )
        }
    }
}

/// Repositories by path, for comparing two snapshots.
pub fn by_path(repos: Vec<RepoInSnapshot>) -> BTreeMap<String, RepoInSnapshot> {
    repos.into_iter().map(|r| (r.path.clone(), r)).collect()
}

#[cfg(test)]
mod tests {
    use super::split_layout;

    #[test]
    fn the_layout_names_host_owner_and_repository() {
        assert_eq!(
            split_layout("github.com/octo/app.git"),
            (Some("github.com".into()), Some("octo".into()), "app".into())
        );
        assert_eq!(split_layout("app.git"), (None, None, "app".into()));
        assert_eq!(
            split_layout("octo/app.git"),
            (None, Some("octo".into()), "app".into())
        );
    }
}
