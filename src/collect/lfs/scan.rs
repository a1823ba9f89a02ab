//! Find every LFS pointer in a bare mirror by looking at every object it stores.
//!
//! `git lfs fetch --all` walks every commit of every ref and every tree in them. Reading the
//! object database directly finds the same blobs (and also those of history a force-push
//! dropped, which a backup wants too) without walking history: for each object only the
//! entry header is decoded (kind and size; for a delta, the first few bytes of the delta and
//! the headers along its chain), and only blobs under 1024 bytes are inflated and parsed,
//! which is what git-lfs itself does. Packs already scanned are skipped entirely thanks to
//! `scan_state.rs`.
//!
//! Loose objects are scanned on every run: mirrors kept by gix receive packs only, so there
//! are normally none; a handful costs nothing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use gix::odb::pack::data::entry::Header as EntryHeader;
use gix::odb::pack::data::decode::header::ResolvedBase;

use super::pointer::{self, Pointer, MAX_POINTER_SIZE};
use super::scan_state::ScanState;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScanReport {
    /// Every distinct pointer in the mirror.
    pub pointers: BTreeSet<Pointer>,
    /// Packs read in this run (new since the last scan).
    pub packs_scanned: usize,
    /// Packs whose result came from the scan cache.
    pub packs_cached: usize,
    /// Object headers decoded in this run (packed entries of new packs, plus loose objects).
    pub objects_examined: u64,
    /// Small blobs inflated and checked for being a pointer.
    pub small_blobs_read: u64,
}

/// Scan the mirror at `git_dir`, reading only packs not scanned before, and record the
/// results for next time.
pub fn find_pointers(git_dir: &Path) -> Result<ScanReport> {
    let started = Instant::now();
    let repo = gix::open_opts(git_dir, gix::open::Options::isolated())
        .with_context(|| format!("cannot open the mirror at {}", git_dir.display()))?;
    let object_hash = repo.object_hash();
    let objects_dir = repo.objects.store_ref().path().to_path_buf();

    let mut state = ScanState::load(git_dir);
    let packs = list_packs(&objects_dir.join("pack"))?;
    let mut report = ScanReport::default();
    let before = state.packs.len();
    state.packs.retain(|name, _| packs.iter().any(|(n, _)| n == name));
    let mut changed = state.packs.len() != before;

    for (name, idx_path) in &packs {
        if let Some(found) = state.packs.get(name) {
            report.pointers.extend(found.iter().cloned());
            report.packs_cached += 1;
            continue;
        }
        let found = scan_pack(&repo, idx_path, object_hash, &mut report)
            .with_context(|| format!("cannot scan {} for LFS pointers", idx_path.display()))?;
        report.pointers.extend(found.iter().cloned());
        report.packs_scanned += 1;
        state.packs.insert(name.clone(), found);
        changed = true;
    }
    scan_loose(&objects_dir, object_hash, &mut report).context("cannot scan the loose objects for LFS pointers")?;

    if changed {
        state.save(git_dir)?;
    }
    tracing::debug!(
        git_dir = %git_dir.display(),
        pointers = report.pointers.len(),
        packs_scanned = report.packs_scanned,
        packs_cached = report.packs_cached,
        objects_examined = report.objects_examined,
        seconds = started.elapsed().as_secs_f32(),
        "LFS pointer scan done"
    );
    Ok(report)
}

/// `(pack-<checksum>, path of its .idx)` for every pack that has both files. A pack without
/// its index is one being written (or an interrupted write the mirror cleans up): skipped.
fn list_packs(pack_dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut packs = Vec::new();
    let entries = match std::fs::read_dir(pack_dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(packs),
        Err(err) => return Err(err).with_context(|| format!("cannot list {}", pack_dir.display())),
    };
    for entry in entries {
        let path = entry?.path();
        let (Some(stem), Some("idx")) = (path.file_stem().and_then(|s| s.to_str()), path.extension().and_then(|e| e.to_str())) else {
            continue;
        };
        if stem.starts_with("pack-") && path.with_extension("pack").is_file() {
            packs.push((stem.to_string(), path.clone()));
        }
    }
    packs.sort();
    Ok(packs)
}

fn scan_pack(repo: &gix::Repository, idx_path: &Path, object_hash: gix::hash::Kind, report: &mut ScanReport) -> Result<Vec<Pointer>> {
    let bundle = gix::odb::pack::Bundle::at(idx_path, object_hash)?;
    let mut inflate = gix::zlib::Inflate::default();
    let mut buf = Vec::new();
    let mut found = Vec::new();
    // A ref-delta's base is normally in the same pack (packs on disk are never thin); should it
    // be elsewhere, the whole object database answers.
    let resolve = |id: &gix::hash::oid| -> gix::error::Result<Option<ResolvedBase>> {
        if let Some(index) = bundle.index.lookup(id) {
            return Ok(Some(ResolvedBase::InPack(bundle.pack.entry(bundle.index.pack_offset_at_index(index))?)));
        }
        Ok(repo.try_find_header(id.to_owned())?.map(|header| ResolvedBase::OutOfPack { kind: header.kind(), num_deltas: None }))
    };

    for (index, entry) in bundle.index.iter().enumerate() {
        report.objects_examined += 1;
        let pack_entry = bundle.pack.entry(entry.pack_offset)?;
        // Most objects are decided by their own entry header, without inflating anything.
        match pack_entry.header {
            EntryHeader::Commit | EntryHeader::Tree | EntryHeader::Tag => continue,
            EntryHeader::Blob if pack_entry.decompressed_size >= MAX_POINTER_SIZE => continue,
            EntryHeader::Blob | EntryHeader::OfsDelta { .. } | EntryHeader::RefDelta { .. } => {}
        }
        let header = bundle.pack.decode_header(pack_entry, &mut inflate, &resolve)?;
        if header.kind != gix::object::Kind::Blob || header.object_size >= MAX_POINTER_SIZE {
            continue;
        }
        report.small_blobs_read += 1;
        let index = u32::try_from(index).context("pack index has more than 2^32 entries")?;
        let data = match bundle.get_object_by_index(index, &mut buf, &mut inflate, &mut gix::odb::pack::cache::Never) {
            Ok((data, _location)) => data.data.to_vec(),
            // Only a ref-delta whose base lives outside this pack gets here.
            Err(_) => repo.find_object(entry.oid)?.detach().data,
        };
        if let Some(pointer) = pointer::parse(&data) {
            found.push(pointer);
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

fn scan_loose(objects_dir: &Path, object_hash: gix::hash::Kind, report: &mut ScanReport) -> Result<()> {
    let loose = gix::odb::loose::Store::at(objects_dir, object_hash);
    let mut buf = Vec::new();
    for id in loose.iter() {
        let id = id?;
        report.objects_examined += 1;
        let Some((size, kind)) = loose.try_header(&id)? else { continue };
        if kind != gix::object::Kind::Blob || size >= MAX_POINTER_SIZE {
            continue;
        }
        report.small_blobs_read += 1;
        if let Some(data) = loose.try_find(&id, &mut buf)? {
            if let Some(pointer) = pointer::parse(data.data) {
                report.pointers.insert(pointer);
            }
        }
    }
    Ok(())
}
