//! Reading a bare mirror's object database for what other modules need from it without gix:
//! the small blobs of each pack and the loose objects (LFS pointer scans), a file of HEAD's tree
//! (`.lfsconfig`), and values from git-config text.
//!
//! Only an object's entry header is decoded to decide (kind and size; for a delta, the first
//! bytes of the delta and the headers along its chain); only blobs under the caller's size limit
//! are inflated.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use gix::odb::pack::data::decode::header::ResolvedBase;
use gix::odb::pack::data::entry::Header as EntryHeader;

/// How much work a scan did, for the caller's logs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanCounts {
    /// Object headers decoded.
    pub objects_examined: u64,
    /// Small blobs inflated and handed to the visitor.
    pub small_blobs_read: u64,
}

impl std::ops::AddAssign for ScanCounts {
    fn add_assign(&mut self, other: ScanCounts) {
        self.objects_examined += other.objects_examined;
        self.small_blobs_read += other.small_blobs_read;
    }
}

/// A mirror opened for reading its objects.
pub struct MirrorObjects {
    repo: gix::Repository,
    objects_dir: PathBuf,
}

impl MirrorObjects {
    pub fn open(git_dir: &Path) -> Result<Self> {
        let repo = gix::open_opts(git_dir, gix::open::Options::isolated())
            .with_context(|| format!("cannot open the mirror at {}", git_dir.display()))?;
        let objects_dir = repo.objects.store_ref().path().to_path_buf();
        Ok(MirrorObjects { repo, objects_dir })
    }

    /// `(pack-<checksum>, path of its .idx)` for every pack that has both files. A pack without
    /// its index is one being written (or an interrupted write the mirror cleans up): skipped.
    pub fn packs(&self) -> Result<Vec<(String, PathBuf)>> {
        let pack_dir = self.objects_dir.join("pack");
        let mut packs = Vec::new();
        let entries = match std::fs::read_dir(&pack_dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(packs),
            Err(err) => {
                return Err(err).with_context(|| format!("cannot list {}", pack_dir.display()))
            }
        };
        for entry in entries {
            let path = entry?.path();
            let (Some(stem), Some("idx")) = (
                path.file_stem().and_then(|s| s.to_str()),
                path.extension().and_then(|e| e.to_str()),
            ) else {
                continue;
            };
            if stem.starts_with("pack-") && path.with_extension("pack").is_file() {
                packs.push((stem.to_string(), path.clone()));
            }
        }
        packs.sort();
        Ok(packs)
    }

    /// Calls `visit` with the content of every blob in the pack smaller than `max_size` bytes.
    pub fn small_blobs_in_pack(
        &self,
        idx_path: &Path,
        max_size: u64,
        mut visit: impl FnMut(&[u8]),
    ) -> Result<ScanCounts> {
        let bundle = gix::odb::pack::Bundle::at(idx_path, self.repo.object_hash())
            .with_context(|| format!("cannot open the pack {}", idx_path.display()))?;
        let mut inflate = gix::zlib::Inflate::default();
        let mut buf = Vec::new();
        let mut counts = ScanCounts::default();
        // A ref-delta's base is normally in the same pack (packs on disk are never thin); should
        // it be elsewhere, the whole object database answers.
        let resolve = |id: &gix::hash::oid| -> gix::error::Result<Option<ResolvedBase>> {
            if let Some(index) = bundle.index.lookup(id) {
                return Ok(Some(ResolvedBase::InPack(
                    bundle
                        .pack
                        .entry(bundle.index.pack_offset_at_index(index))?,
                )));
            }
            Ok(self
                .repo
                .try_find_header(id.to_owned())?
                .map(|header| ResolvedBase::OutOfPack {
                    kind: header.kind(),
                    num_deltas: None,
                }))
        };
        for (index, entry) in bundle.index.iter().enumerate() {
            counts.objects_examined += 1;
            let pack_entry = bundle.pack.entry(entry.pack_offset)?;
            // Most objects are decided by their own entry header, without inflating anything.
            match pack_entry.header {
                EntryHeader::Commit | EntryHeader::Tree | EntryHeader::Tag => continue,
                EntryHeader::Blob if pack_entry.decompressed_size >= max_size => continue,
                EntryHeader::Blob | EntryHeader::OfsDelta { .. } | EntryHeader::RefDelta { .. } => {
                }
            }
            let header = bundle
                .pack
                .decode_header(pack_entry, &mut inflate, &resolve)?;
            if header.kind != gix::object::Kind::Blob || header.object_size >= max_size {
                continue;
            }
            counts.small_blobs_read += 1;
            let index = u32::try_from(index).context("pack index has more than 2^32 entries")?;
            match bundle.get_object_by_index(
                index,
                &mut buf,
                &mut inflate,
                &mut gix::odb::pack::cache::Never,
            ) {
                Ok((data, _location)) => visit(data.data),
                // Only a ref-delta whose base lives outside this pack gets here.
                Err(_) => visit(&self.repo.find_object(entry.oid)?.detach().data),
            }
        }
        Ok(counts)
    }

    /// Calls `visit` with the content of every loose blob smaller than `max_size` bytes.
    pub fn small_loose_blobs(
        &self,
        max_size: u64,
        mut visit: impl FnMut(&[u8]),
    ) -> Result<ScanCounts> {
        let loose = gix::odb::loose::Store::at(&self.objects_dir, self.repo.object_hash());
        let mut buf = Vec::new();
        let mut counts = ScanCounts::default();
        for id in loose.iter() {
            let id = id?;
            counts.objects_examined += 1;
            let Some((size, kind)) = loose.try_header(&id)? else {
                continue;
            };
            if kind != gix::object::Kind::Blob || size >= max_size {
                continue;
            }
            counts.small_blobs_read += 1;
            if let Some(data) = loose.try_find(&id, &mut buf)? {
                visit(data.data);
            }
        }
        Ok(counts)
    }

    /// The bytes of the file at `path` in HEAD's tree; `None` for an unborn HEAD or no such blob.
    pub fn head_file(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let Ok(commit) = self.repo.head_commit() else {
            // Unborn HEAD (an empty repository), or HEAD naming something odd.
            return Ok(None);
        };
        let tree = commit
            .tree()
            .context("cannot read the HEAD commit's tree")?;
        let Some(entry) = tree
            .lookup_entry_by_path(path)
            .with_context(|| format!("cannot look up {path} in HEAD"))?
        else {
            return Ok(None);
        };
        if !entry.mode().is_blob() {
            return Ok(None);
        }
        Ok(Some(
            entry
                .object()
                .with_context(|| format!("cannot read HEAD:{path}"))?
                .data
                .clone(),
        ))
    }
}

/// The first non-empty value of `keys` (in order) in git-config text.
pub fn config_value(text: &[u8], keys: &[&str]) -> Result<Option<String>> {
    let config = gix::config::File::try_from(gix::bstr::BStr::new(text))
        .context("not valid git-config syntax")?;
    for key in keys {
        if let Some(value) = config.string(*key) {
            let value = value.to_string();
            let value = value.trim();
            if !value.is_empty() {
                return Ok(Some(value.to_string()));
            }
        }
    }
    Ok(None)
}
