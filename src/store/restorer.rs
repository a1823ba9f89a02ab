//! The file contents of a restore, read pack by pack in bounded memory.
//!
//! rustic_core's own restorer reads with 20 threads, each holding a whole coalesced pack range,
//! and queues every decrypted blob for writing, so a pull's memory grows with the pack size and
//! the tree (1.3 GiB for a 1.6 GB snapshot, bench/data-mover.sh). Here a few workers each hold
//! one range of at most [`RANGE_LIMIT`] bytes and one blob at a time: peak memory is about
//! workers × (range + largest blob), whatever the size of the snapshot.
//!
//! Only regular files' contents are written here. Each file gets the size and mtime its node
//! records, so rustic_core's restore, which runs next, finds every file in place (same size and
//! mtime) without reading it and restores the rest: directories, links, modes, times, owners.

use super::sealed::RepoKey;
use anyhow::{anyhow, bail, Context, Result};
use rustic_core::repofile::{Node, NodeType, PackId};
use rustic_core::{DataId, FileType, IndexedFull, ReadBackend, Repository, WriteBackend};
use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Most bytes one read from a pack asks for (unless a single blob is larger). Big enough that a
/// remote store sees few requests per pack, small enough that workers × this stays modest.
const RANGE_LIMIT: u32 = 8 << 20;

/// Blobs this far apart in a pack are still read in one request: skipping the gap costs less
/// than another request.
const GAP_LIMIT: u32 = 256 << 10;

/// Reads blobs out of the repository's packs: the backend rustic_core reads through (so the
/// byte counts of the gate include these reads) and the key to open them.
pub struct PackReader {
    backend: Arc<dyn WriteBackend>,
    key: RepoKey,
    workers: usize,
}

impl PackReader {
    /// `remote`: an object store, where latency rather than CPU bounds a read, so more requests
    /// are kept in flight.
    pub fn new(backend: Arc<dyn WriteBackend>, key: RepoKey, remote: bool) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let workers = if remote { 8 } else { (cores + 1).min(8) };
        PackReader {
            backend,
            key,
            workers,
        }
    }
}

/// One blob of a pack and every place it goes: (file number, offset in that file).
struct Blob {
    id: DataId,
    offset: u32,
    length: u32,
    uncompressed_length: Option<u32>,
    places: Vec<(usize, u64)>,
}

/// Consecutive blobs of one pack, read with one request.
struct Range {
    pack: PackId,
    offset: u32,
    length: u32,
    blobs: Vec<Blob>,
}

/// Writes the contents of every regular file among `entries` (paths relative to `dest`, as
/// rustic_core's `ls` gives them) under `dest`, and sets each file's size and mtime.
pub fn write_contents<S: IndexedFull>(
    repo: &Repository<S>,
    reader: &PackReader,
    entries: &[(PathBuf, Node)],
    dest: &Path,
) -> Result<()> {
    let files: Vec<(PathBuf, &Node)> = entries
        .iter()
        .filter(|(_, node)| matches!(node.node_type, NodeType::File))
        .map(|(path, node)| (dest.join(path), node))
        .collect();
    let ranges = plan(repo, &files)?;
    for (path, node) in &files {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let file =
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        file.set_len(node.meta.size)
            .with_context(|| format!("cannot size {}", path.display()))?;
    }
    let requests = ranges.len();
    let bytes = read_ranges(reader, &files, ranges)?;
    for (path, node) in &files {
        if let Some(mtime) = node.meta.mtime {
            let file = OpenOptions::new()
                .write(true)
                .open(path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            file.set_modified(std::time::SystemTime::from(mtime))
                .with_context(|| format!("cannot set the mtime of {}", path.display()))?;
        }
    }
    tracing::debug!(
        files = files.len(),
        bytes,
        requests,
        "file contents written"
    );
    Ok(())
}

/// Every blob the files need, grouped by pack and cut into ranges, each blob once however many
/// files (or places in one file) hold it.
fn plan<S: IndexedFull>(repo: &Repository<S>, files: &[(PathBuf, &Node)]) -> Result<Vec<Range>> {
    let mut packs: HashMap<PackId, BTreeMap<u32, Blob>> = HashMap::new();
    for (number, (path, node)) in files.iter().enumerate() {
        let mut at = 0u64;
        for id in node.content.iter().flatten() {
            let entry = repo.get_index_entry(id).map_err(|e| {
                anyhow!(
                    "{} needs blob {id}, which the index does not hold ({}): run forgesafe check",
                    path.display(),
                    e.display_log()
                )
            })?;
            let location = entry.location;
            let blob = packs
                .entry(entry.pack)
                .or_default()
                .entry(location.offset)
                .or_insert_with(|| Blob {
                    id: *id,
                    offset: location.offset,
                    length: location.length,
                    uncompressed_length: location.uncompressed_length.map(|n| n.get()),
                    places: Vec::new(),
                });
            blob.places.push((number, at));
            at += u64::from(location.data_length());
        }
        if at != node.meta.size {
            bail!(
                "{}: its blobs hold {at} bytes but the snapshot records {}; run forgesafe check",
                path.display(),
                node.meta.size
            );
        }
    }
    let mut ranges = Vec::new();
    let mut packs: Vec<_> = packs.into_iter().collect();
    packs.sort_by_key(|(pack, _)| *pack);
    for (pack, blobs) in packs {
        let mut current: Option<Range> = None;
        for blob in blobs.into_values() {
            if let Some(range) = &mut current {
                let end = range.offset + range.length;
                let fits = blob.offset >= end
                    && blob.offset - end <= GAP_LIMIT
                    && blob.offset + blob.length - range.offset <= RANGE_LIMIT;
                if fits {
                    range.length = blob.offset + blob.length - range.offset;
                    range.blobs.push(blob);
                    continue;
                }
                ranges.push(current.take().expect("current range"));
            }
            current = Some(Range {
                pack,
                offset: blob.offset,
                length: blob.length,
                blobs: vec![blob],
            });
        }
        ranges.extend(current);
    }
    Ok(ranges)
}

/// Reads the ranges with the reader's workers, each taking the next range when done with its
/// last; the first failure stops them all. Returns the bytes written.
fn read_ranges(reader: &PackReader, files: &[(PathBuf, &Node)], ranges: Vec<Range>) -> Result<u64> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let first_error: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let written = AtomicUsize::new(0);
    let workers = reader.workers.min(ranges.len()).max(1);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let Some(range) = ranges.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    match read_range(reader, files, range) {
                        Ok(bytes) => {
                            written.fetch_add(bytes, Ordering::Relaxed);
                        }
                        Err(e) => {
                            failed.store(true, Ordering::Relaxed);
                            first_error.lock().expect("error slot").get_or_insert(e);
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().expect("error slot") {
        return Err(e);
    }
    Ok(written.into_inner() as u64)
}

/// One request, then each blob opened, checked against its id, and written to its places.
fn read_range(reader: &PackReader, files: &[(PathBuf, &Node)], range: &Range) -> Result<usize> {
    let pack_name = range.pack.to_hex();
    let bytes = reader
        .backend
        .read_partial(
            FileType::Pack,
            &range.pack,
            false,
            range.offset,
            range.length,
        )
        .map_err(|e| {
            anyhow!(
                "cannot read pack {} ({})",
                &pack_name[..8],
                super::errors::one_line(&e.display_log())
            )
        })?;
    if bytes.len() != range.length as usize {
        bail!(
            "pack {} ended early: asked for {} bytes at {}, got {}; run forgesafe check",
            &pack_name[..8],
            range.length,
            range.offset,
            bytes.len()
        );
    }
    let mut written = 0;
    for blob in &range.blobs {
        let start = (blob.offset - range.offset) as usize;
        let sealed = &bytes[start..start + blob.length as usize];
        let plain = reader.key.open(sealed).ok_or_else(|| {
            anyhow!(
                "blob {} in pack {} does not decrypt (damaged or tampered); run forgesafe check",
                blob.id,
                &pack_name[..8]
            )
        })?;
        let data = match blob.uncompressed_length {
            Some(length) => zstd::bulk::decompress(&plain, length as usize).map_err(|e| {
                anyhow!(
                    "blob {} in pack {} does not decompress ({e}); run forgesafe check",
                    blob.id,
                    &pack_name[..8]
                )
            })?,
            None => plain,
        };
        if rustic_core::Id::new(sha256(&data)) != *blob.id {
            bail!(
                "blob {} in pack {} holds other data than its id says; run forgesafe check",
                blob.id,
                &pack_name[..8]
            );
        }
        for (file, at) in &blob.places {
            let path = &files[*file].0;
            let out = OpenOptions::new()
                .write(true)
                .open(path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            out.write_all_at(&data, *at)
                .with_context(|| format!("cannot write {}", path.display()))?;
            written += data.len();
        }
    }
    Ok(written)
}

fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}
