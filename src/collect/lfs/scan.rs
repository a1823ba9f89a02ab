//! Find every LFS pointer in a bare mirror by looking at every object it stores.
//!
//! `git lfs fetch --all` walks every commit of every ref and every tree in them. Reading the
//! object database directly finds the same blobs (and also those of history a force-push
//! dropped, which a backup wants too) without walking history: only blobs under 1024 bytes are
//! inflated and parsed, which is what git-lfs itself does (the object reading is
//! `collect/mirror/objects.rs`, gix's home). Packs already scanned are skipped entirely thanks to
//! `scan_state.rs`.
//!
//! Loose objects are scanned on every run: mirrors kept by gix receive packs only, so there
//! are normally none; a handful costs nothing.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};

use super::pointer::{self, Pointer, MAX_POINTER_SIZE};
use super::scan_state::ScanState;
use crate::collect::mirror::objects::MirrorObjects;

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
    let objects = MirrorObjects::open(git_dir)?;
    let mut state = ScanState::load(git_dir);
    let packs = objects.packs()?;
    let mut report = ScanReport::default();
    let before = state.packs.len();
    state
        .packs
        .retain(|name, _| packs.iter().any(|(n, _)| n == name));
    let mut changed = state.packs.len() != before;

    for (name, idx_path) in &packs {
        if let Some(found) = state.packs.get(name) {
            report.pointers.extend(found.iter().cloned());
            report.packs_cached += 1;
            continue;
        }
        let mut found = Vec::new();
        let counts = objects
            .small_blobs_in_pack(idx_path, MAX_POINTER_SIZE, |data| {
                found.extend(pointer::parse(data))
            })
            .with_context(|| format!("cannot scan {} for LFS pointers", idx_path.display()))?;
        found.sort();
        found.dedup();
        report.objects_examined += counts.objects_examined;
        report.small_blobs_read += counts.small_blobs_read;
        report.pointers.extend(found.iter().cloned());
        report.packs_scanned += 1;
        state.packs.insert(name.clone(), found);
        changed = true;
    }
    let mut loose = Vec::new();
    let counts = objects
        .small_loose_blobs(MAX_POINTER_SIZE, |data| loose.extend(pointer::parse(data)))
        .context("cannot scan the loose objects for LFS pointers")?;
    report.objects_examined += counts.objects_examined;
    report.small_blobs_read += counts.small_blobs_read;
    report.pointers.extend(loose);

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
