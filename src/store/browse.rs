//! Reading one snapshot piece by piece: list its entries (`ls`), read a file, restore chosen
//! sub-trees. Only the trees walked and the blobs of the pieces asked for are read from the
//! repository, so finding and restoring one repository out of a volume of thousands costs in
//! proportion to that repository, not to the snapshot.

use super::errors::{from_rustic, one_line};
use super::restorer::PackReader;
use super::select::{select, OtherPath, Selected, SnapshotChoice};
use super::{LockKind, Store};
use anyhow::{anyhow, bail, Result};
use rustic_core::repofile::{Node, NodeType, SnapshotFile};
use rustic_core::{IndexedFullStatus, LocalDestination, LsOptions, Repository, RestoreOptions};
use serde::Serialize;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// One entry of a snapshot, its path relative to the pushed folder.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// `/`-separated, relative to the folder that was pushed (empty for that folder itself).
    pub path: String,
    #[serde(rename = "type")]
    pub kind: EntryKind,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
    /// Modification time, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtime: Option<String>,
    /// A symlink's target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Other,
}

impl Entry {
    fn of(path: String, node: &Node) -> Entry {
        let (kind, target) = match &node.node_type {
            NodeType::File => (EntryKind::File, None),
            NodeType::Dir => (EntryKind::Dir, None),
            NodeType::Symlink { .. } => (
                EntryKind::Symlink,
                Some(node.node_type.to_link().to_string_lossy().into_owned()),
            ),
            _ => (EntryKind::Other, None),
        };
        Entry {
            path,
            kind,
            size: node.meta.size,
            mode: node.meta.mode,
            mtime: node.meta.mtime.map(|t| t.to_string()),
            target,
        }
    }

    pub fn is_dir(&self) -> bool {
        self.kind == EntryKind::Dir
    }

    /// The entry's last path component.
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

/// One piece to restore: a path inside the snapshot, and where it goes under the target.
#[derive(Debug, Clone)]
pub struct Piece {
    pub in_snapshot: String,
    pub to: PathBuf,
}

/// An open snapshot, read under a shared lock held until this is dropped.
pub struct Snapshot {
    // Fields drop in order: the repository before its lock.
    repo: Repository<IndexedFullStatus>,
    reader: PackReader,
    gate: Arc<super::backend::GateState>,
    _lock: Option<super::lock::HeldLock>,
    snap: SnapshotFile,
    /// The folder the snapshot was pushed from, as its tree records it.
    pushed: String,
    location: String,
}

impl Snapshot {
    /// Opens the snapshot `choice` of `name` (the newest by default). An id pushed under another
    /// `--path` is refused: a reading command that names a path means that path.
    pub fn open(
        store: &Store,
        name: &str,
        choice: &SnapshotChoice,
        command: &str,
    ) -> Result<Snapshot> {
        match Snapshot::find(store, name, choice, command)? {
            Some(snapshot) => Ok(snapshot),
            None => match choice {
                SnapshotChoice::Id(id) => bail!("snapshot {id} is not in the repository at {}: list them with `forgesafe snapshots`", store.describe()),
                SnapshotChoice::Latest => bail!("nothing was pushed under --path {name:?} at {}: list them with `forgesafe snapshots`", store.describe()),
            },
        }
    }

    /// [`Snapshot::open`], with `None` when the repository's listing proves there is no such
    /// snapshot (for callers to which that is not an error).
    pub fn find(
        store: &Store,
        name: &str,
        choice: &SnapshotChoice,
        command: &str,
    ) -> Result<Option<Snapshot>> {
        let opened = store.open_locked(false, LockKind::Shared, command)?;
        let snap = match select(
            &opened.repo,
            name,
            choice,
            OtherPath::Refuse,
            store.describe(),
        )? {
            Selected::Found(snap) => snap,
            Selected::Absent => return Ok(None),
        };
        let doing = format!(
            "cannot read snapshot {} at {}",
            &super::full_id(&snap.id)[..8],
            store.describe()
        );
        let reader = store.pack_reader(&opened)?;
        let repo = opened
            .repo
            .to_indexed()
            .map_err(|e| from_rustic(e, &doing))?;
        let pushed = snap
            .paths
            .iter()
            .next()
            .cloned()
            .ok_or_else(|| anyhow!("{doing}: the snapshot records no path"))?;
        Ok(Some(Snapshot {
            repo,
            reader,
            gate: opened.gate,
            _lock: opened.lock,
            snap,
            pushed,
            location: store.describe().to_string(),
        }))
    }

    pub fn id(&self) -> String {
        super::full_id(&self.snap.id)
    }

    /// The snapshot's time, RFC 3339 in UTC (a zoned time's own display adds `[zone]`).
    pub fn time(&self) -> String {
        self.snap.time.timestamp().to_string()
    }

    /// Bytes of pack files read from the repository so far (what restoring a piece costs).
    pub fn pack_bytes_read(&self) -> u64 {
        self.gate.pack_bytes_read()
    }

    fn doing(&self, what: &str) -> String {
        format!(
            "cannot {what} in snapshot {} at {}",
            &self.id()[..8],
            self.location
        )
    }

    /// The node at `relative` (a `/`-separated path inside the pushed folder; empty for the
    /// folder itself); `None` when the snapshot has no such entry.
    fn node(&self, relative: &str) -> Result<Option<Node>> {
        let relative = clean_relative(relative)?;
        let full = if relative.as_os_str().is_empty() {
            PathBuf::from(&self.pushed)
        } else {
            Path::new(&self.pushed).join(&relative)
        };
        match self
            .repo
            .node_from_snapshot_and_path(&self.snap, &full.to_string_lossy())
        {
            Ok(node) => Ok(Some(node)),
            Err(e) if is_missing_path(&e.display_log()) => Ok(None),
            Err(e) => Err(anyhow!(
                "{}: {}",
                self.doing(&format!("look up {relative:?}")),
                one_line(&e.display_log())
            )),
        }
    }

    /// The entry at `relative`, if there is one.
    pub fn entry(&self, relative: &str) -> Result<Option<Entry>> {
        Ok(self
            .node(relative)?
            .map(|node| Entry::of(trim_slashes(relative), &node)))
    }

    /// Walks the tree below `under` depth-first in name order, calling `visit` for every entry;
    /// a directory's children are read only when `descend` says so (so a listing of a volume's
    /// repositories never reads the trees inside the mirrors).
    pub fn walk(
        &self,
        under: &str,
        descend: &mut dyn FnMut(&Entry) -> bool,
        visit: &mut dyn FnMut(&Entry),
    ) -> Result<()> {
        let Some(node) = self.node(under)? else {
            bail!(
                "snapshot {} has no {under:?}: list what it holds with `forgesafe ls`",
                &self.id()[..8]
            );
        };
        let start = trim_slashes(under);
        if !node.is_dir() {
            visit(&Entry::of(start, &node));
            return Ok(());
        }
        self.walk_tree(&node, &start, descend, visit)
    }

    fn walk_tree(
        &self,
        dir: &Node,
        prefix: &str,
        descend: &mut dyn FnMut(&Entry) -> bool,
        visit: &mut dyn FnMut(&Entry),
    ) -> Result<()> {
        let Some(tree_id) = dir.subtree else {
            return Ok(());
        };
        let tree = self
            .repo
            .get_tree(&tree_id)
            .map_err(|e| from_rustic(e, &self.doing(&format!("read the folder {prefix:?}"))))?;
        for node in &tree.nodes {
            let name = node.name().to_string_lossy().into_owned();
            let path = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let entry = Entry::of(path, node);
            visit(&entry);
            if node.is_dir() && descend(&entry) {
                self.walk_tree(node, &entry.path, descend, visit)?;
            }
        }
        Ok(())
    }

    /// The bytes of the file at `relative`; `None` when there is no such file.
    pub fn read_file(&self, relative: &str) -> Result<Option<Vec<u8>>> {
        match self.node(relative)? {
            Some(node) if node.is_file() => {
                let mut bytes = Vec::new();
                self.repo
                    .dump(&node, &mut bytes)
                    .map_err(|e| from_rustic(e, &self.doing(&format!("read {relative:?}"))))?;
                Ok(Some(bytes))
            }
            _ => Ok(None),
        }
    }

    /// Restores each piece into `dest` (an empty folder the caller swaps into place afterwards):
    /// a folder's content to `dest/<to>`, a file to `dest/<to>`.
    pub fn restore_pieces(&self, pieces: &[Piece], dest: &Path) -> Result<()> {
        for piece in pieces {
            let doing = self.doing(&format!("restore {:?}", piece.in_snapshot));
            let node = self.node(&piece.in_snapshot)?.ok_or_else(|| {
                anyhow!("snapshot {} has no {:?}: list what it holds with `forgesafe ls` (target left untouched)", &self.id()[..8], piece.in_snapshot)
            })?;
            let to = dest.join(&piece.to);
            if node.is_dir() {
                std::fs::create_dir_all(&to)?;
                restore_tree(&self.repo, &self.reader, &node, &to, &doing)?;
            } else {
                if let Some(parent) = to.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                let mut file = std::io::BufWriter::new(std::fs::File::create(&to)?);
                self.repo
                    .dump(&node, &mut file)
                    .map_err(|e| from_rustic(e, &doing))?;
                std::io::Write::flush(&mut file)?;
            }
        }
        Ok(())
    }
}

/// One file read out of a snapshot, without restoring anything else.
#[derive(Debug)]
pub struct FileInSnapshot {
    pub snapshot_id: String,
    /// The snapshot's time, RFC 3339.
    pub snapshot_time: String,
    /// `None` when the snapshot has no such file.
    pub bytes: Option<Vec<u8>>,
}

/// Reads `relative` (a path inside the pushed folder) from the snapshot `choice` of `name`, under a
/// shared lock. `Ok(None)` when `name` has no such snapshot.
pub fn read_file(
    store: &Store,
    name: &str,
    choice: &SnapshotChoice,
    relative: &str,
) -> Result<Option<FileInSnapshot>> {
    let Some(snapshot) = Snapshot::find(store, name, choice, "read")? else {
        return Ok(None);
    };
    let bytes = snapshot.read_file(relative)?;
    Ok(Some(FileInSnapshot {
        snapshot_id: snapshot.id(),
        snapshot_time: snapshot.time(),
        bytes,
    }))
}

/// Restores the tree below `node` into `dest` (which exists): the files' contents in bounded
/// memory (restorer.rs), then everything else with rustic_core's restore, which finds those
/// files already in place.
pub(super) fn restore_tree(
    repo: &Repository<IndexedFullStatus>,
    reader: &PackReader,
    node: &Node,
    dest: &Path,
    doing: &str,
) -> Result<()> {
    let dest_text = format!("{}/", dest.display());
    let destination =
        LocalDestination::new(&dest_text, true, false).map_err(|e| from_rustic(e, doing))?;
    // Ownership can be restored only by root; a non-root sidecar keeps its own uid.
    let opts = RestoreOptions::default().no_ownership(!running_as_root());
    let entries: Vec<_> = repo
        .ls(node, &LsOptions::default())
        .and_then(|entries| entries.collect::<rustic_core::RusticResult<Vec<_>>>())
        .map_err(|e| from_rustic(e, doing))?;
    super::restorer::write_contents(repo, reader, &entries, dest)
        .map_err(|e| anyhow!("{doing}: {e:#}"))?;
    let plan = repo
        .prepare_restore(&opts, entries.iter().cloned().map(Ok), &destination, false)
        .map_err(|e| from_rustic(e, doing))?;
    repo.restore(plan, &opts, entries.into_iter().map(Ok), &destination)
        .map_err(|e| from_rustic(e, doing))?;
    Ok(())
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A path inside a snapshot as the user gives it: relative, without `..`. A leading `/` is
/// accepted (restic's `ls` prints paths that way) and means the pushed folder's root.
pub fn clean_relative(path: &str) -> Result<PathBuf> {
    let mut clean = PathBuf::new();
    for component in Path::new(path.trim_start_matches('/')).components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            _ => bail!("{path:?} is not a path inside the snapshot: give it relative to the pushed folder, without `..`"),
        }
    }
    Ok(clean)
}

fn trim_slashes(path: &str) -> String {
    clean_relative(path)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub(super) fn is_missing_path(message: &str) -> bool {
    // rustic_core's two messages for a path that is not in the tree (blob/tree.rs); anything
    // else, such as a pack that cannot be read, is a real error.
    message.contains("not found in tree") || message.contains("is not a directory")
}

#[cfg(test)]
mod tests {
    use super::clean_relative;

    #[test]
    fn paths_inside_a_snapshot_stay_inside() {
        assert_eq!(clean_relative("/a/./b/").unwrap().to_str(), Some("a/b"));
        assert_eq!(clean_relative("").unwrap().to_str(), Some(""));
        assert!(clean_relative("a/../../etc").is_err());
    }
}
