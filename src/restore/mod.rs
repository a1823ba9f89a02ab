//! Getting back one piece of a snapshot: see what it holds (`ls`, `repos`), compare two
//! snapshots (`diff`), and restore one repository (`restore`). Everything here reads a snapshot
//! through `store::Snapshot`, which reads only the trees walked and the blobs restored, so the
//! cost follows the piece, not the volume.

pub mod diff;
pub mod inventory;
pub mod piece;
pub mod to_forge;

use std::io::Write;

use anyhow::Result;

use crate::store::{Entry, EntryKind, Snapshot, SnapshotChoice, Store};

pub use diff::{diff, DiffRequest, SnapshotDiff};
pub use inventory::RepoInSnapshot;
pub use piece::{restore, RestoreReport, RestoreRequest};
pub use to_forge::{restore_to_forge, ForgeRestoreReport, ForgeTarget};

/// `forgesafe ls`: the entries of one snapshot of `name`, below `under` (the whole snapshot
/// when empty), like `restic ls`.
#[derive(Debug, Clone)]
pub struct ListRequest {
    pub name: String,
    pub snapshot: SnapshotChoice,
    pub under: String,
    /// Only `under` and its direct children, not the whole sub-tree.
    pub shallow: bool,
    /// One JSON object per line instead of text.
    pub json: bool,
}

/// Writes the listing to `out`: text lines `TYPE MODE SIZE MTIME PATH`, or JSON lines of
/// [`Entry`] after one line describing the snapshot (restic's `ls --json` shape).
pub fn list(store: &Store, request: &ListRequest, out: &mut dyn Write) -> Result<()> {
    let snapshot = Snapshot::open(store, &request.name, &request.snapshot, "ls")?;
    if request.json {
        let header = serde_json::json!({ "struct_type": "snapshot", "id": snapshot.id(), "time": snapshot.time(), "path": request.name });
        writeln!(out, "{header}")?;
    } else {
        writeln!(
            out,
            "snapshot {} of {} at {}:",
            &snapshot.id()[..8],
            request.name,
            snapshot.time()
        )?;
    }
    let mut failed = None;
    let shallow = request.shallow;
    let under = request.under.trim_matches('/').to_string();
    let mut write = |entry: &Entry| {
        if failed.is_some() {
            return;
        }
        let line = if request.json {
            serde_json::to_string(entry).map_err(anyhow::Error::from)
        } else {
            Ok(text_line(entry))
        };
        if let Err(e) = line.and_then(|line| writeln!(out, "{line}").map_err(anyhow::Error::from)) {
            failed = Some(e);
        }
    };
    snapshot.walk(&under, &mut |_| !shallow, &mut write)?;
    match failed {
        Some(e) => Err(e.context("cannot write the listing")),
        None => Ok(()),
    }
}

fn text_line(entry: &Entry) -> String {
    let kind = match entry.kind {
        EntryKind::File => '-',
        EntryKind::Dir => 'd',
        EntryKind::Symlink => 'l',
        EntryKind::Other => '?',
    };
    let mode = entry
        .mode
        .map_or("----".to_string(), |m| format!("{:04o}", m & 0o7777));
    let mtime = entry
        .mtime
        .as_deref()
        .map_or("-", |t| t.get(..19).unwrap_or(t));
    let link = entry
        .target
        .as_deref()
        .map_or(String::new(), |t| format!(" -> {t}"));
    format!(
        "{kind} {mode} {:>12} {mtime} {}{link}",
        entry.size, entry.path
    )
}
