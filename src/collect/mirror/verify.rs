//! Proving a bare mirror usable without a git binary: what a restore drill runs on each
//! restored mirror, and the ancestry question that tells a force-push from a fast-forward.
//!
//! [`verify_mirror`] checks in two passes:
//!
//! 1. **Every object stored.** Each pack goes through gix's own integrity verification (the
//!    same call `Store::verify_integrity` makes for each pack): the pack's and its index's
//!    trailer checksums, the pack's checksum recorded in the index, and every entry inflated,
//!    delta-resolved, hashed against its id, its CRC32 compared with the index's, and every
//!    commit, tree and tag decoded. Packs are verified one by one, so a broken pack is named and
//!    the others are still checked (the store-wide call stops at the first failure); a pack that
//!    fails is then read object by object to name the damaged objects. Loose objects are read,
//!    hashed and decoded one by one, as gix's loose verification does, again without stopping at
//!    the first bad one.
//! 2. **Every object reachable from the refs is present.** From every ref under `refs/` (and
//!    `HEAD` when it resolves): commits, their parents and trees, sub-trees, blobs, annotated
//!    tags and what they point to; gitlinks (submodules) are not followed. Each object is visited
//!    once; commits, trees and tags are decoded, blobs only looked up (pass 1 hashed them).
//!
//! What is wrong comes back as [`MirrorDefect`]s; only a mirror that cannot be opened (or an
//! interruption) is an error.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use gix::objs::Kind;
use gix::odb::pack;
use gix::prelude::{Find, Header};
use gix::ObjectId;

/// What one mirror's check found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct MirrorCheck {
    /// Refs whose history was walked: those under `refs/` that resolve to an object, plus
    /// `HEAD` when it resolves.
    pub refs_checked: usize,
    /// Objects whose hash was verified (pack entries of packs that passed, plus loose objects
    /// that passed).
    pub objects_checked: u64,
    /// Distinct objects reached from the refs and found present.
    pub reachable_objects: u64,
    pub defects: Vec<MirrorDefect>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MirrorDefect {
    /// What is wrong where: a ref name ("refs/heads/main"), an object id, or a pack file name.
    pub subject: String,
    /// One line, e.g. "object 1a2b… (tree) reachable from refs/heads/main is missing",
    /// "pack-….pack: checksum mismatch …".
    pub problem: String,
}

impl MirrorDefect {
    fn new(subject: impl Into<String>, problem: impl Into<String>) -> Self {
        MirrorDefect {
            subject: subject.into(),
            problem: problem.into(),
        }
    }
}

/// Missing or broken objects listed one by one; beyond this many, one line counts the rest
/// (a lost pack would otherwise list every object it held).
const MAX_OBJECT_DEFECTS: usize = 1000;

/// Memory for decoded objects the walk may reuse as delta bases (git's `core.deltaBaseCacheLimit`
/// is 96 MiB).
const PACK_CACHE_BYTES: usize = 96 * 1024 * 1024;

/// Annotated tags pointing at annotated tags: deeper chains than this are not followed.
const MAX_TAG_CHAIN: usize = 64;

/// Opens `git_dir` (isolated from user/system git config, like `mirror::open`) and checks that
/// every stored object is intact and every object reachable from the refs is present (see the
/// module documentation). A mirror that cannot be opened at all is `Err`; defects are returned.
/// Setting `should_interrupt` stops the check with an error.
pub fn verify_mirror(git_dir: &Path, should_interrupt: &AtomicBool) -> Result<MirrorCheck> {
    let mut repo = super::open(git_dir)?;
    // The walk reads every commit and tree through the object store; without a cache of decoded
    // delta bases each one re-inflates its whole delta chain.
    repo.objects
        .set_pack_cache(|| Box::new(pack::cache::lru::MemoryCappedHashmap::new(PACK_CACHE_BYTES)));
    let mut check = MirrorCheck::default();
    let objects_dir = repo.objects.store_ref().path().to_path_buf();

    if has_alternates(&objects_dir) {
        check.defects.push(MirrorDefect::new(
            "objects/info/alternates",
            "the mirror borrows objects from other repositories (objects/info/alternates); a restore holds only its own objects",
        ));
    }
    let started = Instant::now();
    check.objects_checked += verify_packs(
        &objects_dir,
        repo.object_hash(),
        should_interrupt,
        &mut check.defects,
    )?;
    check.objects_checked += verify_loose(
        &objects_dir,
        repo.object_hash(),
        should_interrupt,
        &mut check.defects,
    )?;
    let stored_seconds = started.elapsed().as_secs_f32();
    let walk = Walk::new(&repo, should_interrupt, check.objects_checked).run()?;
    check.refs_checked = walk.refs_checked;
    check.reachable_objects = walk.present;
    check.defects.extend(walk.defects);
    if walk.unlisted > 0 {
        check.defects.push(MirrorDefect::new(
            "objects",
            format!(
                "{} more objects reachable from the refs are missing or broken (only the first {MAX_OBJECT_DEFECTS} are listed)",
                walk.unlisted
            ),
        ));
    }
    tracing::debug!(
        git_dir = %git_dir.display(),
        refs = check.refs_checked,
        objects_checked = check.objects_checked,
        reachable = check.reachable_objects,
        defects = check.defects.len(),
        stored_seconds,
        walk_seconds = started.elapsed().as_secs_f32() - stored_seconds,
        "mirror verified"
    );
    Ok(check)
}

/// Whether `old` is an ancestor of (or equal to) `new` in the mirror at `git_dir`, both peeled to
/// commits first (annotated tags peel to what they point to). `Ok(false)` when either does not
/// peel to a commit; an object that is not in the mirror at all is an error.
pub fn is_ancestor(git_dir: &Path, old: ObjectId, new: ObjectId) -> Result<bool> {
    let repo = super::open(git_dir)?;
    is_ancestor_in(&repo, old, new)
}

/// [`is_ancestor`] for ids written as hex, as callers outside this module hold them (ref files,
/// records). An `old` the mirror does not have is not an ancestor: a mirror re-cloned after a
/// force-push no longer holds the commits the push dropped. A `new` it does not have is an error.
pub fn is_ancestor_hex(git_dir: &Path, old: &str, new: &str) -> Result<bool> {
    let parse = |hex: &str| {
        ObjectId::from_hex(hex.as_bytes())
            .map_err(|_| anyhow::anyhow!("{hex} is not a git object id"))
    };
    let (old, new) = (parse(old)?, parse(new)?);
    let repo = super::open(git_dir)?;
    if !repo.has_object(old) {
        return Ok(false);
    }
    is_ancestor_in(&repo, old, new)
}

/// [`is_ancestor`] in an already open repository.
///
/// Uses gix's merge-base (paint-down-to-common over a commit graph that uses the mirror's
/// `commit-graph` file, when there is one, for parents and generation numbers): `old` is an
/// ancestor of `new` exactly when it is among their merge bases. The walk covers the commits
/// from the two tips down to where their histories meet (`old` itself for a fast-forward), not
/// the whole history; on git.git, from the tip down to the root commit takes under a second, as
/// `git merge-base --is-ancestor` does.
pub(crate) fn is_ancestor_in(repo: &gix::Repository, old: ObjectId, new: ObjectId) -> Result<bool> {
    let (Some(old), Some(new)) = (peel_to_commit(repo, old)?, peel_to_commit(repo, new)?) else {
        return Ok(false);
    };
    if old == new {
        return Ok(true);
    }
    let cache = repo
        .commit_graph_if_enabled()
        .context("cannot read the mirror's commit-graph")?;
    let mut graph = repo.revision_graph(cache.as_ref());
    let bases = repo
        .merge_bases_many_with_graph(new, &[old], &mut graph)
        .with_context(|| format!("cannot walk the history between {old} and {new}"))?;
    Ok(bases.iter().any(|base| base.detach() == old))
}

/// The commit `id` names, following annotated tags; `None` when it leads to a tree or a blob.
fn peel_to_commit(repo: &gix::Repository, id: ObjectId) -> Result<Option<ObjectId>> {
    let mut id = id;
    for _ in 0..MAX_TAG_CHAIN {
        let header = repo
            .try_find_header(id)
            .with_context(|| format!("cannot read object {id}"))?
            .with_context(|| format!("object {id} is not in the mirror"))?;
        match header.kind() {
            Kind::Commit => return Ok(Some(id)),
            Kind::Tree | Kind::Blob => return Ok(None),
            Kind::Tag => {
                let tag = repo
                    .find_object(id)
                    .with_context(|| format!("cannot read tag {id}"))?;
                id = tag
                    .try_to_tag_ref()
                    .with_context(|| format!("cannot decode tag {id}"))?
                    .target();
            }
        }
    }
    Ok(None)
}

// ---------------------------------------------------------------------------------------------
// Pass 1: every object stored.

fn has_alternates(objects_dir: &Path) -> bool {
    std::fs::read_to_string(objects_dir.join("info").join("alternates")).is_ok_and(|text| {
        text.lines()
            .any(|line| !line.trim().is_empty() && !line.starts_with('#'))
    })
}

/// Verifies every `pack-*.idx` in `objects/pack` with its pack; returns the number of objects
/// verified.
fn verify_packs(
    objects_dir: &Path,
    hash: gix::hash::Kind,
    should_interrupt: &AtomicBool,
    defects: &mut Vec<MirrorDefect>,
) -> Result<u64> {
    let pack_dir = objects_dir.join("pack");
    let mut verified = 0;
    for idx_path in pack_indices(&pack_dir)? {
        let pack_path = idx_path.with_extension("pack");
        let pack_name = file_name(&pack_path);
        if !pack_path.is_file() {
            defects.push(MirrorDefect::new(
                file_name(&idx_path),
                format!(
                    "{}: the index has no pack {pack_name}; the objects it lists are unreadable",
                    file_name(&idx_path)
                ),
            ));
            continue;
        }
        match verify_pack(&idx_path, &pack_path, hash, should_interrupt) {
            Ok(objects) => verified += objects,
            Err(_) if should_interrupt.load(Ordering::SeqCst) => {
                bail!("verification of {} was interrupted", objects_dir.display())
            }
            Err(problem) => {
                defects.push(MirrorDefect::new(
                    pack_name.clone(),
                    format!("{pack_name}: {problem}"),
                ));
                let Some(damaged) = damaged_objects(&idx_path, hash, should_interrupt) else {
                    bail!("verification of {} was interrupted", objects_dir.display());
                };
                let unlisted = damaged.len().saturating_sub(MAX_OBJECT_DEFECTS);
                for (id, kind, why) in damaged.into_iter().take(MAX_OBJECT_DEFECTS) {
                    let kind = kind.map(|kind| format!(" ({kind})")).unwrap_or_default();
                    defects.push(MirrorDefect::new(
                        id.to_string(),
                        format!("object {id}{kind} in {pack_name} is damaged: {why}"),
                    ));
                }
                if unlisted > 0 {
                    defects.push(MirrorDefect::new(
                        pack_name.clone(),
                        format!("{pack_name}: {unlisted} more damaged objects"),
                    ));
                }
            }
        }
    }
    // A multi-pack index, when present, is what gix (and git) look objects up in.
    let midx_path = pack_dir.join("multi-pack-index");
    if midx_path.is_file() {
        let result = pack::multi_index::File::at(&midx_path, None).and_then(|midx| {
            midx.verify_integrity_fast(&mut gix::progress::Discard, should_interrupt)
                .map(|_| ())
        });
        if let Err(err) = result {
            if should_interrupt.load(Ordering::SeqCst) {
                bail!("verification of {} was interrupted", objects_dir.display());
            }
            defects.push(MirrorDefect::new(
                "multi-pack-index",
                format!("multi-pack-index: {}", one_line(&err)),
            ));
        }
    }
    Ok(verified)
}

/// `objects/pack/pack-*.idx`, sorted. A `.pack` without its index is skipped, as everywhere in
/// the mirror module (gix never reads it: it is a write in progress or a leftover).
fn pack_indices(pack_dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(pack_dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err).with_context(|| format!("cannot list {}", pack_dir.display())),
    };
    let mut indices = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot list {}", pack_dir.display()))?
            .path();
        let is_index = path.extension().is_some_and(|ext| ext == "idx")
            && path
                .file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with("pack-"));
        if is_index {
            indices.push(path);
        }
    }
    indices.sort();
    Ok(indices)
}

/// gix's thorough pack verification of one pack: the number of objects verified, or one line
/// saying what is wrong.
fn verify_pack(
    idx_path: &Path,
    pack_path: &Path,
    hash: gix::hash::Kind,
    should_interrupt: &AtomicBool,
) -> Result<u64, String> {
    let index = pack::index::File::at(idx_path, hash)
        .map_err(|err| format!("cannot open the index: {}", one_line(&err)))?;
    let data = pack::data::File::at(pack_path, hash)
        .map_err(|err| format!("cannot open the pack: {}", one_line(&err)))?;
    let options = pack::index::verify::integrity::Options {
        // Hash and CRC32 of every entry, and every commit, tree and tag decoded. The stricter
        // default (`HashCrc32DecodeEncode`) also re-encodes each decoded object and wants the
        // same bytes back: a test of gix's encoder rather than of the backup, which an odd but
        // valid object git accepts could fail (a false alarm), and a quarter slower on git.git.
        verify_mode: pack::index::verify::Mode::HashCrc32Decode,
        // Builds a delta tree once and resolves every base exactly once, on all cores.
        traversal: pack::index::traverse::Algorithm::DeltaTreeLookup,
        thread_limit: None,
        make_pack_lookup_cache: || pack::cache::Never,
    };
    with_private_interrupt(should_interrupt, |interrupt| {
        index.verify_integrity(
            Some(pack::index::verify::PackContext {
                data: &data,
                options,
            }),
            &mut gix::progress::Discard,
            interrupt,
        )
    })
    .map(|_| u64::from(index.num_objects()))
    .map_err(|err| one_line(&err))
}

/// After a pack failed verification: each of its objects read, hashed and (commits, trees, tags)
/// decoded on its own, to name the damaged ones. gix's verification stops at the first problem,
/// and a failed trailer checksum says nothing about which objects it hit. One thread, entries in
/// pack order so that delta bases come from the cache; only ever run on a broken pack. `None`
/// when interrupted.
fn damaged_objects(
    idx_path: &Path,
    hash: gix::hash::Kind,
    should_interrupt: &AtomicBool,
) -> Option<Vec<(ObjectId, Option<Kind>, String)>> {
    let Ok(bundle) = pack::Bundle::at(idx_path, hash) else {
        // Verification already said the index or pack cannot be opened; nothing more to name.
        return Some(Vec::new());
    };
    let mut entries: Vec<(u32, pack::index::Entry)> = (0u32..).zip(bundle.index.iter()).collect();
    entries.sort_by_key(|(_, entry)| entry.pack_offset);
    let mut cache = pack::cache::lru::MemoryCappedHashmap::new(PACK_CACHE_BYTES);
    let mut inflate = gix::zlib::Inflate::default();
    let mut buf = Vec::new();
    let mut damaged = Vec::new();
    for (n, (position, entry)) in entries.into_iter().enumerate() {
        if n.is_multiple_of(256) && should_interrupt.load(Ordering::SeqCst) {
            return None;
        }
        let (kind, why) =
            match bundle.get_object_by_index(position, &mut buf, &mut inflate, &mut cache) {
                // Also every object whose delta chain passes through a damaged one.
                Err(err) => (None, one_line(&err)),
                Ok((object, location)) => {
                    let end = location.pack_offset + location.entry_size as u64;
                    let crc32_differs = entry.crc32.is_some()
                        && end <= bundle.pack.data_len() as u64
                        && entry.crc32
                            != Some(
                                bundle
                                    .pack
                                    .entry_crc32(location.pack_offset, location.entry_size),
                            );
                    let why = match gix::objs::compute_hash(hash, object.kind, object.data)
                        .and_then(|actual| actual.verify(&entry.oid))
                    {
                        Err(err) => one_line(&err),
                        Ok(()) if crc32_differs => {
                            "its bytes in the pack do not match the index's CRC32".to_string()
                        }
                        Ok(()) => match object.decode() {
                            Ok(_) => continue,
                            Err(err) => format!("cannot be decoded: {}", one_line(&err)),
                        },
                    };
                    (Some(object.kind), why)
                }
            };
        damaged.push((entry.oid, kind, why));
    }
    Some(damaged)
}

/// Runs `f` with an interrupt flag of its own that follows `should_interrupt`.
///
/// gix's pack traversal *sets* the flag it is given when a checksum fails, to stop its own
/// worker threads; given the caller's flag (the process's shutdown flag) directly, one corrupt
/// pack would shut the whole process down.
fn with_private_interrupt<T>(should_interrupt: &AtomicBool, f: impl FnOnce(&AtomicBool) -> T) -> T {
    let private = AtomicBool::new(should_interrupt.load(Ordering::SeqCst));
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                if should_interrupt.load(Ordering::SeqCst) {
                    private.store(true, Ordering::SeqCst);
                    return;
                }
                std::thread::park_timeout(Duration::from_millis(50));
            }
        });
        let result = f(&private);
        done.store(true, Ordering::SeqCst);
        watcher.thread().unpark();
        result
    })
}

/// Reads, hashes and decodes every loose object (what gix's loose verification does, without
/// stopping at the first bad object); returns the number that passed.
fn verify_loose(
    objects_dir: &Path,
    hash: gix::hash::Kind,
    should_interrupt: &AtomicBool,
    defects: &mut Vec<MirrorDefect>,
) -> Result<u64> {
    let loose = gix::odb::loose::Store::at(objects_dir, hash);
    let mut buf = Vec::new();
    let mut verified = 0;
    for id in loose.iter() {
        if should_interrupt.load(Ordering::SeqCst) {
            bail!("verification of {} was interrupted", objects_dir.display());
        }
        let id = match id {
            Ok(id) => id,
            Err(err) => {
                defects.push(MirrorDefect::new(
                    "objects",
                    format!("cannot list the loose objects: {}", err),
                ));
                break;
            }
        };
        let problem = match loose.try_find(&id, &mut buf) {
            // Deleted while we listed: not ours to judge (a drill's restore is not written to).
            Ok(None) => continue,
            Err(err) => format!("loose object {id} cannot be read: {}", one_line(&err)),
            Ok(Some(object)) => match gix::objs::compute_hash(hash, object.kind, object.data)
                .map(|actual| actual.verify(&id))
            {
                Ok(Ok(())) => match object.decode() {
                    Ok(_) => {
                        verified += 1;
                        continue;
                    }
                    Err(err) => format!(
                        "loose {} {id} cannot be decoded: {}",
                        object.kind,
                        one_line(&err)
                    ),
                },
                Ok(Err(err)) => format!(
                    "loose object {id} does not hash to its id: {}",
                    one_line(&err)
                ),
                Err(err) => format!("loose object {id} cannot be hashed: {}", one_line(&err)),
            },
        };
        defects.push(MirrorDefect::new(id.to_string(), problem));
    }
    Ok(verified)
}

// ---------------------------------------------------------------------------------------------
// Pass 2: every object reachable from the refs is present.

struct Pending {
    id: ObjectId,
    /// What the object pointing here says it is (`None` for a ref's own target).
    expected: Option<Kind>,
    /// Index into `Walk::roots`: one ref this object is reachable from.
    root: usize,
}

struct Walk<'a> {
    repo: &'a gix::Repository,
    should_interrupt: &'a AtomicBool,
    roots: Vec<String>,
    seen: gix::hashtable::HashSet<ObjectId>,
    stack: Vec<Pending>,
    refs_checked: usize,
    present: u64,
    defects: Vec<MirrorDefect>,
    object_defects: usize,
    unlisted: u64,
}

impl<'a> Walk<'a> {
    /// `objects_stored` sizes the seen-set: in a healthy mirror nearly everything is reachable.
    fn new(
        repo: &'a gix::Repository,
        should_interrupt: &'a AtomicBool,
        objects_stored: u64,
    ) -> Self {
        let mut seen = gix::hashtable::HashSet::default();
        seen.reserve(usize::try_from(objects_stored).unwrap_or(0));
        Walk {
            repo,
            should_interrupt,
            roots: Vec::new(),
            seen,
            stack: Vec::new(),
            refs_checked: 0,
            present: 0,
            defects: Vec::new(),
            object_defects: 0,
            unlisted: 0,
        }
    }

    fn run(mut self) -> Result<Self> {
        self.queue_refs();
        let hash = self.repo.object_hash();
        let empty_tree = ObjectId::empty_tree(hash);
        let mut buf = Vec::new();
        let mut visited = 0u64;
        while let Some(Pending { id, expected, root }) = self.stack.pop() {
            visited += 1;
            if visited.is_multiple_of(1024) && self.should_interrupt.load(Ordering::SeqCst) {
                bail!(
                    "verification of {} was interrupted",
                    self.repo.git_dir().display()
                );
            }
            // git (and gix) treat the empty tree as always present, stored or not.
            if id == empty_tree {
                self.present += 1;
                continue;
            }
            if expected == Some(Kind::Blob) {
                // Pass 1 hashed every stored blob; here only its presence and kind matter.
                match self.repo.objects.try_header(&id) {
                    Ok(Some(header)) if header.kind() == Kind::Blob => self.present += 1,
                    Ok(Some(header)) => {
                        self.present += 1;
                        self.object_defect(
                            id,
                            Some(header.kind()),
                            root,
                            "is listed in a tree as a blob".into(),
                        );
                    }
                    Ok(None) => self.object_defect(id, expected, root, "is missing".into()),
                    Err(err) => self.object_defect(
                        id,
                        expected,
                        root,
                        format!("cannot be read: {}", one_line(&err)),
                    ),
                }
                continue;
            }
            let object = match self.repo.objects.try_find(&id, &mut buf) {
                Ok(Some(object)) => object,
                Ok(None) => {
                    self.object_defect(id, expected, root, "is missing".into());
                    continue;
                }
                Err(err) => {
                    self.object_defect(
                        id,
                        expected,
                        root,
                        format!("cannot be read: {}", one_line(&err)),
                    );
                    continue;
                }
            };
            self.present += 1;
            if let Some(expected) = expected.filter(|expected| *expected != object.kind) {
                self.object_defect(
                    id,
                    Some(object.kind),
                    root,
                    format!("is referenced as a {expected}"),
                );
            }
            let queued = match object.kind {
                Kind::Commit => gix::objs::CommitRef::from_bytes(object.data, hash).map(|commit| {
                    let tree = commit.tree();
                    let parents: Vec<ObjectId> = commit.parents().collect();
                    for parent in parents {
                        self.queue(parent, Some(Kind::Commit), root);
                    }
                    // Popped first: a commit's tree is walked before its parents', newest history
                    // first, which is the order packs delta against (an older tree is a delta of
                    // a newer one, whose result the pack cache still holds).
                    self.queue(tree, Some(Kind::Tree), root);
                }),
                Kind::Tag => gix::objs::TagRef::from_bytes(object.data, hash).map(|tag| {
                    let (target, kind) = (tag.target(), tag.target_kind);
                    self.queue(target, Some(kind), root);
                }),
                Kind::Tree => {
                    let mut decoded = Ok(());
                    for entry in gix::objs::TreeRefIter::from_bytes(object.data, hash) {
                        match entry {
                            // A gitlink names a commit of another repository.
                            Ok(entry) if entry.mode.is_commit() => {}
                            Ok(entry) => {
                                let kind = if entry.mode.is_tree() {
                                    Kind::Tree
                                } else {
                                    Kind::Blob
                                };
                                self.queue(entry.oid.to_owned(), Some(kind), root);
                            }
                            Err(err) => {
                                decoded = Err(err);
                                break;
                            }
                        }
                    }
                    decoded
                }
                Kind::Blob => Ok(()),
            };
            if let Err(err) = queued {
                let kind = object.kind;
                self.object_defect(
                    id,
                    Some(kind),
                    root,
                    format!("cannot be decoded: {}", one_line(&err)),
                );
            }
        }
        Ok(self)
    }

    /// Every ref under `refs/`, then `HEAD` if it resolves.
    fn queue_refs(&mut self) {
        let repo = self.repo;
        match repo.references().and_then(|platform| {
            let mut tips = Vec::new();
            for reference in platform.all()? {
                match reference {
                    Ok(mut reference) => {
                        let name = reference.name().as_bstr().to_string();
                        // A symbolic ref to a ref that does not exist leads nowhere: nothing to walk.
                        if let Ok(id) = reference.follow_to_object() {
                            tips.push(Ok((name, id.detach())));
                        }
                    }
                    Err(err) => {
                        // A loose ref whose file does not parse names itself.
                        let name = err
                            .downcast_any_ref::<gix::refs::file::find::ReferenceDecode>()
                            .map_or_else(
                                || "refs".to_string(),
                                |decode| decode.relative_path.display().to_string(),
                            );
                        tips.push(Err((name, one_line(&err))));
                    }
                }
            }
            Ok(tips)
        }) {
            Ok(tips) => {
                for tip in tips {
                    match tip {
                        Ok((name, id)) => self.queue_root(name, id),
                        Err((name, problem)) => self.defects.push(MirrorDefect::new(
                            name,
                            format!("a ref cannot be read: {problem}"),
                        )),
                    }
                }
            }
            Err(err) => self.defects.push(MirrorDefect::new(
                "refs",
                format!("the refs cannot be listed: {}", one_line(&err)),
            )),
        }
        match repo.try_find_reference("HEAD") {
            Ok(Some(mut head)) => {
                // An unborn HEAD (an empty repository) resolves to nothing, and that is fine.
                if let Ok(id) = head.follow_to_object() {
                    self.queue_root("HEAD".to_string(), id.detach());
                }
            }
            Ok(None) => {}
            Err(err) => self.defects.push(MirrorDefect::new(
                "HEAD",
                format!("HEAD cannot be read: {}", one_line(&err)),
            )),
        }
    }

    fn queue_root(&mut self, name: String, id: ObjectId) {
        self.refs_checked += 1;
        self.roots.push(name);
        let root = self.roots.len() - 1;
        self.queue(id, None, root);
    }

    fn queue(&mut self, id: ObjectId, expected: Option<Kind>, root: usize) {
        if self.seen.insert(id) {
            self.stack.push(Pending { id, expected, root });
        }
    }

    /// "object <id> (<kind>) reachable from <ref> <what>", the kind as far as it is known.
    fn object_defect(&mut self, id: ObjectId, kind: Option<Kind>, root: usize, what: String) {
        self.object_defects += 1;
        if self.object_defects > MAX_OBJECT_DEFECTS {
            self.unlisted += 1;
            return;
        }
        let kind = kind.map(|kind| format!(" ({kind})")).unwrap_or_default();
        let problem = format!(
            "object {id}{kind} reachable from {} {what}",
            self.roots[root]
        );
        self.defects
            .push(MirrorDefect::new(id.to_string(), problem));
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// gix's error with its causes on one line ("outer: cause: cause"), repeated messages once.
fn one_line(err: &gix::Error) -> String {
    let mut line = String::new();
    let mut previous = String::new();
    for cause in err.iter_errors() {
        let text = cause
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if text.is_empty() || text == previous || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        let _ = write!(line, "{text}");
        previous = text;
    }
    if line.is_empty() {
        line = err.to_string();
    }
    line
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    /// Runs git with an empty global/system config and fixed identities; panics with its stderr.
    fn git(dir: &Path, args: &[&str]) -> String {
        let output = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Test Author")
            .env("GIT_AUTHOR_EMAIL", "author@example.org")
            .env("GIT_COMMITTER_NAME", "Test Committer")
            .env("GIT_COMMITTER_EMAIL", "committer@example.org")
            .output()
            .expect("git is installed");
        assert!(
            output.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    fn id(hex: &str) -> ObjectId {
        ObjectId::from_hex(hex.as_bytes()).unwrap()
    }

    /// A bare repository with loose objects only: `main` with three commits (a nested tree
    /// `src/deep/`), a branch `topic` forked from the second commit, and an annotated tag `v1`
    /// on the first.
    struct Fixture {
        _dir: tempfile::TempDir,
        bare: PathBuf,
        work: PathBuf,
    }

    impl Fixture {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let work = dir.path().join("work");
            let bare = dir.path().join("mirror.git");
            git(
                dir.path(),
                &["init", "-q", "-b", "main", work.to_str().unwrap()],
            );
            let fixture = Fixture {
                _dir: dir,
                bare,
                work,
            };
            fixture.commit("README.md", "hello\n");
            git(&fixture.work, &["tag", "-a", "v1", "-m", "first release"]);
            fixture.commit("src/deep/lib.rs", "pub fn f() {}\n");
            git(&fixture.work, &["branch", "topic"]);
            fixture.commit("src/main.rs", "fn main() {}\n");
            git(&fixture.work, &["checkout", "-q", "topic"]);
            fixture.commit("src/deep/topic.rs", "// topic\n");
            git(&fixture.work, &["checkout", "-q", "main"]);
            // A local clone hard-links or copies the loose objects as they are: no pack.
            git(
                fixture.work.parent().unwrap(),
                &[
                    "clone",
                    "-q",
                    "--mirror",
                    "--no-hardlinks",
                    "work",
                    "mirror.git",
                ],
            );
            fixture
        }

        fn commit(&self, file: &str, content: &str) -> String {
            let path = self.work.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, content).unwrap();
            git(&self.work, &["add", file]);
            git(&self.work, &["commit", "-q", "-m", &format!("add {file}")]);
            git(&self.work, &["rev-parse", "HEAD"])
        }

        fn mirror_git(&self, args: &[&str]) -> String {
            git(&self.bare, args)
        }

        fn verify(&self) -> MirrorCheck {
            verify_mirror(&self.bare, &AtomicBool::new(false)).unwrap()
        }
    }

    fn loose_path(bare: &Path, hex: &str) -> PathBuf {
        bare.join("objects").join(&hex[..2]).join(&hex[2..])
    }

    #[test]
    fn a_clean_mirror_has_no_defects_and_every_reachable_object_is_counted() {
        let fixture = Fixture::new();
        let loose_check = fixture.verify();
        assert_eq!(loose_check.defects, vec![], "{loose_check:?}");
        // Every ref under refs/ (main, topic, v1) plus HEAD.
        assert_eq!(loose_check.refs_checked, 4);
        // git's own count of what is reachable from all refs (commits, trees, blobs, tag objects).
        let reachable = fixture
            .mirror_git(&["rev-list", "--all", "--objects"])
            .lines()
            .count() as u64;
        assert_eq!(loose_check.reachable_objects, reachable);
        let stored = fixture.mirror_git(&["count-objects", "-v"]);
        assert!(
            stored.contains(&format!("count: {reachable}")),
            "all objects are loose here: {stored}"
        );
        assert_eq!(loose_check.objects_checked, reachable);

        fixture.mirror_git(&["repack", "-a", "-d", "-q"]);
        assert!(!loose_path(&fixture.bare, &fixture.mirror_git(&["rev-parse", "main"])).exists());
        let packed_check = fixture.verify();
        assert_eq!(packed_check.defects, vec![], "{packed_check:?}");
        assert_eq!(packed_check.reachable_objects, reachable);
        assert_eq!(packed_check.objects_checked, reachable);
    }

    #[test]
    fn a_deleted_loose_object_is_named_with_a_ref_it_is_reachable_from() {
        let fixture = Fixture::new();
        // The blob only `topic` reaches.
        let blob = fixture.mirror_git(&["rev-parse", "topic:src/deep/topic.rs"]);
        let reachable = fixture
            .mirror_git(&["rev-list", "--all", "--objects"])
            .lines()
            .count() as u64;
        std::fs::remove_file(loose_path(&fixture.bare, &blob)).unwrap();

        let check = fixture.verify();
        assert_eq!(
            check.defects,
            vec![MirrorDefect {
                subject: blob.clone(),
                problem: format!("object {blob} (blob) reachable from refs/heads/topic is missing"),
            }]
        );
        assert_eq!(check.reachable_objects, reachable - 1);
    }

    #[test]
    fn a_deleted_tree_and_a_corrupt_loose_object_are_both_reported() {
        let fixture = Fixture::new();
        let tree = fixture.mirror_git(&["rev-parse", "main:src/deep"]);
        std::fs::remove_file(loose_path(&fixture.bare, &tree)).unwrap();
        // Replace a blob's file with another (valid) object's file: it inflates, but does not
        // hash to its name.
        let readme = fixture.mirror_git(&["rev-parse", "main:README.md"]);
        let main_rs = fixture.mirror_git(&["rev-parse", "main:src/main.rs"]);
        let readme_path = loose_path(&fixture.bare, &readme);
        std::fs::remove_file(&readme_path).unwrap();
        std::fs::copy(loose_path(&fixture.bare, &main_rs), &readme_path).unwrap();

        let check = fixture.verify();
        let subjects: Vec<&str> = check
            .defects
            .iter()
            .map(|defect| defect.subject.as_str())
            .collect();
        assert!(subjects.contains(&tree.as_str()), "{check:#?}");
        assert!(subjects.contains(&readme.as_str()), "{check:#?}");
        let missing = check
            .defects
            .iter()
            .find(|defect| defect.subject == tree)
            .unwrap();
        assert!(
            missing
                .problem
                .starts_with(&format!("object {tree} (tree) reachable from ")),
            "{missing:?}"
        );
        assert!(missing.problem.ends_with(" is missing"), "{missing:?}");
        let corrupt = check
            .defects
            .iter()
            .find(|defect| defect.subject == readme)
            .unwrap();
        assert!(
            corrupt
                .problem
                .starts_with(&format!("loose object {readme} does not hash to its id")),
            "{corrupt:?}"
        );
    }

    #[test]
    fn a_flipped_byte_in_a_pack_names_the_pack() {
        let fixture = Fixture::new();
        // Enough content that the middle of the pack is inside a compressed entry, not a header.
        for n in 0..20 {
            let text: String = (0..200)
                .map(|line| format!("file {n} line {line} {}\n", line * n))
                .collect();
            fixture.commit(&format!("data/{n}.txt"), &text);
        }
        let bare = fixture.bare.clone();
        std::fs::remove_dir_all(&bare).unwrap();
        git(
            fixture.work.parent().unwrap(),
            &[
                "clone",
                "-q",
                "--mirror",
                "--no-hardlinks",
                "work",
                "mirror.git",
            ],
        );
        fixture.mirror_git(&["repack", "-a", "-d", "-q"]);
        let pack = pack_indices(&bare.join("objects/pack")).unwrap()[0].with_extension("pack");
        let pack_name = pack.file_name().unwrap().to_str().unwrap().to_string();
        let mut bytes = std::fs::read(&pack).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        // Pack files are written read-only.
        std::fs::remove_file(&pack).unwrap();
        std::fs::write(&pack, &bytes).unwrap();

        let interrupt = AtomicBool::new(false);
        let check = verify_mirror(&bare, &interrupt).unwrap();
        let pack_defects: Vec<&MirrorDefect> = check
            .defects
            .iter()
            .filter(|defect| defect.subject == pack_name)
            .collect();
        assert_eq!(pack_defects.len(), 1, "{check:#?}");
        assert!(
            pack_defects[0]
                .problem
                .starts_with(&format!("{pack_name}: ")),
            "{check:#?}"
        );
        assert!(!pack_defects[0].problem.contains('\n'));
        // Then each object is read on its own, to name the damaged ones (a flipped bit in a
        // zlib stream breaks its checksum, its delta or its object's hash).
        let damaged: Vec<&MirrorDefect> = check
            .defects
            .iter()
            .filter(|defect| {
                defect
                    .problem
                    .contains(&format!(" in {pack_name} is damaged: "))
            })
            .collect();
        assert!(!damaged.is_empty(), "{check:#?}");
        for defect in damaged {
            assert!(
                defect
                    .problem
                    .starts_with(&format!("object {} ", defect.subject)),
                "{defect:?}"
            );
        }
        // The pack's objects are not counted as verified.
        assert_eq!(check.objects_checked, 0, "{check:#?}");
        // gix stops its workers through the interrupt flag it is given; the caller's stays unset.
        assert!(!interrupt.load(Ordering::SeqCst));
    }

    #[test]
    fn a_ref_that_does_not_parse_and_one_naming_a_missing_object_are_reported() {
        let fixture = Fixture::new();
        std::fs::write(fixture.bare.join("refs/heads/broken"), "not an object id\n").unwrap();
        let absent = "1111111111111111111111111111111111111111";
        std::fs::write(
            fixture.bare.join("refs/heads/dangling"),
            format!("{absent}\n"),
        )
        .unwrap();

        let check = fixture.verify();
        assert_eq!(check.defects.len(), 2, "{check:#?}");
        assert_eq!(check.defects[0].subject, "refs/heads/broken");
        assert!(
            check.defects[0]
                .problem
                .starts_with("a ref cannot be read: "),
            "{check:#?}"
        );
        assert_eq!(
            check.defects[1],
            MirrorDefect {
                subject: absent.into(),
                problem: format!("object {absent} reachable from refs/heads/dangling is missing")
            }
        );
        // The refs that do resolve were walked in full.
        assert_eq!(check.refs_checked, 5);
    }

    #[test]
    fn an_interrupted_check_is_an_error() {
        let fixture = Fixture::new();
        let err = verify_mirror(&fixture.bare, &AtomicBool::new(true)).unwrap_err();
        assert!(err.to_string().contains("interrupted"), "{err:#}");
    }

    #[test]
    fn a_missing_mirror_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(verify_mirror(&dir.path().join("nothing.git"), &AtomicBool::new(false)).is_err());
    }

    #[test]
    fn a_fast_forward_is_a_descendant_and_a_rewrite_is_not() {
        let fixture = Fixture::new();
        let first = fixture.mirror_git(&["rev-parse", "main~2"]);
        let before = fixture.mirror_git(&["rev-parse", "main"]);
        let sync = || git(&fixture.bare, &["fetch", "-q", "../work", "+refs/*:refs/*"]);
        // Fast-forward: two more commits on main.
        fixture.commit("more.txt", "more\n");
        let after = fixture.commit("more.txt", "even more\n");
        sync();
        // Rewrite: drop the last commit and commit something else in its place (what
        // `commit --amend` + force-push does); the mirror keeps the old tip's objects.
        git(&fixture.work, &["reset", "-q", "--hard", "HEAD~1"]);
        let rewritten = fixture.commit("other.txt", "other\n");
        sync();
        assert_eq!(fixture.mirror_git(&["rev-parse", "main"]), rewritten);
        let bare = &fixture.bare;

        assert!(is_ancestor(bare, id(&before), id(&after)).unwrap());
        assert!(is_ancestor(bare, id(&first), id(&after)).unwrap());
        assert!(
            is_ancestor(bare, id(&after), id(&after)).unwrap(),
            "a commit is its own ancestor"
        );
        assert!(
            !is_ancestor(bare, id(&after), id(&before)).unwrap(),
            "going back is not a fast-forward"
        );
        assert!(
            !is_ancestor(bare, id(&after), id(&rewritten)).unwrap(),
            "a rewritten tip is a force-push"
        );
        assert!(is_ancestor(bare, id(&before), id(&rewritten)).unwrap());
        // Diverged branches: neither contains the other.
        let topic = fixture.mirror_git(&["rev-parse", "topic"]);
        assert!(!is_ancestor(bare, id(&topic), id(&after)).unwrap());
        assert!(!is_ancestor(bare, id(&after), id(&topic)).unwrap());

        // The annotated tag v1 peels to the first commit.
        let tag = fixture.mirror_git(&["rev-parse", "v1"]);
        assert_ne!(tag, first, "v1 is an annotated tag object");
        assert!(is_ancestor(bare, id(&tag), id(&after)).unwrap());
        assert!(is_ancestor(bare, id(&tag), id(&first)).unwrap());
        assert!(!is_ancestor(bare, id(&after), id(&tag)).unwrap());
        // A tree is not a commit.
        let tree = fixture.mirror_git(&["rev-parse", "main^{tree}"]);
        assert!(!is_ancestor(bare, id(&tree), id(&after)).unwrap());
        assert!(!is_ancestor(bare, id(&first), id(&tree)).unwrap());
        // An object the mirror does not have cannot be answered.
        assert!(is_ancestor(
            bare,
            ObjectId::from_hex(b"1111111111111111111111111111111111111111").unwrap(),
            id(&after)
        )
        .is_err());

        // The same with a commit-graph file (generation numbers), as git maintenance writes one.
        fixture.mirror_git(&["commit-graph", "write", "--reachable"]);
        assert!(bare.join("objects/info/commit-graph").is_file());
        let repo = super::super::open(bare).unwrap();
        assert!(is_ancestor_in(&repo, id(&before), id(&after)).unwrap());
        assert!(!is_ancestor_in(&repo, id(&after), id(&rewritten)).unwrap());
        assert!(is_ancestor_in(&repo, id(&tag), id(&rewritten)).unwrap());
    }
}
