//! A directory snapshot pulled to stdout is written as a tar stream (`pull - | tar x`), with
//! modes, times and symlinks; file contents are streamed, never held whole in memory.

use super::errors::from_rustic;
use anyhow::Result;
use rustic_core::repofile::{Node, NodeType};
use rustic_core::{IndexedFullStatus, LsOptions, Repository};
use std::io::{Read, Write};

pub fn write_tar(
    repo: &Repository<IndexedFullStatus>,
    root: &Node,
    out: &mut dyn Write,
    doing: &str,
) -> Result<()> {
    let mut builder = tar::Builder::new(out);
    let entries = repo
        .ls(root, &LsOptions::default())
        .map_err(|e| from_rustic(e, doing))?;
    for entry in entries {
        let (path, node) = entry.map_err(|e| from_rustic(e, doing))?;
        let mut header = tar::Header::new_gnu();
        let default_mode = if node.is_dir() { 0o755 } else { 0o644 };
        // restic stores Go's FileMode; its low bits are the Unix permission bits.
        header.set_mode(node.meta.mode.map_or(default_mode, |m| m & 0o777));
        header.set_mtime(node.meta.mtime.map_or(0, |t| t.as_second().max(0) as u64));
        if let (Some(uid), Some(gid)) = (node.meta.uid, node.meta.gid) {
            header.set_uid(uid.into());
            header.set_gid(gid.into());
        }
        match &node.node_type {
            NodeType::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                builder.append_data(&mut header, &path, std::io::empty())?;
            }
            NodeType::File => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(node.meta.size);
                let reader = FileReader::new(repo, &node, doing)?;
                builder.append_data(&mut header, &path, reader)?;
            }
            NodeType::Symlink { linktarget, .. } => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                builder.append_link(&mut header, &path, linktarget)?;
            }
            other => {
                tracing::warn!(path = %path.display(), kind = %other, "special file left out of the tar stream")
            }
        }
    }
    builder.into_inner()?.flush()?;
    Ok(())
}

/// Reads a file's content from the repository in bounded pieces.
struct FileReader<'a> {
    repo: &'a Repository<IndexedFullStatus>,
    file: rustic_core::vfs::OpenFile,
    offset: usize,
    size: usize,
    buffer: bytes::Bytes,
}

const PIECE: usize = 4 << 20;

impl<'a> FileReader<'a> {
    fn new(repo: &'a Repository<IndexedFullStatus>, node: &Node, doing: &str) -> Result<Self> {
        let file = repo.open_file(node).map_err(|e| from_rustic(e, doing))?;
        Ok(FileReader {
            repo,
            file,
            offset: 0,
            size: node.meta.size as usize,
            buffer: bytes::Bytes::new(),
        })
    }
}

impl Read for FileReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.buffer.is_empty() {
            if self.offset >= self.size {
                return Ok(0);
            }
            let want = PIECE.min(self.size - self.offset);
            self.buffer = self
                .repo
                .read_file_at(&self.file, self.offset, want)
                .map_err(|e| std::io::Error::other(super::errors::one_line(&e.display_log())))?;
            if self.buffer.is_empty() {
                return Err(std::io::Error::other(
                    "the repository returned less data than the file's size",
                ));
            }
            self.offset += self.buffer.len();
        }
        let n = buf.len().min(self.buffer.len());
        buf[..n].copy_from_slice(&self.buffer.split_to(n));
        Ok(n)
    }
}
