//! Wraps a rustic `ReadSource` so that every entry that cannot be read is recorded with the gate
//! (rustic's archiver would otherwise skip it with only a warning), and that can keep the archive
//! pipeline on one CPU ([`super::cpu_affinity`]).

use super::backend::GateState;
use rustic_core::{ReadSource, ReadSourceEntry, ReadSourceOpen, RusticResult};
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

pub struct RecordingSource<S> {
    inner: S,
    gate: Arc<GateState>,
    pin_pipeline: bool,
}

impl<S> RecordingSource<S> {
    pub fn new(inner: S, gate: Arc<GateState>) -> Self {
        RecordingSource {
            inner,
            gate,
            pin_pipeline: false,
        }
    }

    /// Pins the thread that asks for the entries to its CPU. rustic asks on the thread that runs
    /// the archive, after it has started its packers and before it starts the file workers, so
    /// the walk, the file workers and the tree archiver share one CPU while compression,
    /// encryption and uploads keep every CPU. The caller restores that thread's mask afterwards.
    pub fn pinning_pipeline(mut self) -> Self {
        self.pin_pipeline = true;
        self
    }
}

impl<S> ReadSource for RecordingSource<S>
where
    S: ReadSource,
    S::Iter: Send,
    <S::Open as ReadSourceOpen>::Reader: Send + 'static,
    S::Open: Send + 'static,
{
    type Open = RecordingOpen<S::Open>;
    type Iter = RecordingIter<S::Iter>;

    fn size(&self) -> RusticResult<Option<u64>> {
        self.inner.size()
    }

    fn entries(&self) -> Self::Iter {
        if self.pin_pipeline {
            let pinned = super::cpu_affinity::pin_to_current_cpu();
            tracing::debug!(pinned, "archive pipeline on one CPU (a re-push)");
        }
        RecordingIter {
            inner: self.inner.entries(),
            gate: self.gate.clone(),
        }
    }
}

pub struct RecordingIter<I> {
    inner: I,
    gate: Arc<GateState>,
}

impl<I, O> Iterator for RecordingIter<I>
where
    I: Iterator<Item = RusticResult<ReadSourceEntry<O>>>,
{
    type Item = RusticResult<ReadSourceEntry<RecordingOpen<O>>>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.inner.next()?;
        Some(match item {
            Ok(ReadSourceEntry { path, node, open }) => Ok(ReadSourceEntry {
                open: open.map(|o| RecordingOpen {
                    inner: o,
                    path: path.clone(),
                    gate: self.gate.clone(),
                }),
                path,
                node,
            }),
            Err(err) => {
                self.gate.record_source_error(format!(
                    "cannot read source entry: {}",
                    super::errors::one_line(&err.display_log())
                ));
                Err(err)
            }
        })
    }
}

pub struct RecordingOpen<O> {
    inner: O,
    path: PathBuf,
    gate: Arc<GateState>,
}

impl<O> ReadSourceOpen for RecordingOpen<O>
where
    O: ReadSourceOpen,
    O::Reader: Send + 'static,
{
    type Reader = RecordingReader<O::Reader>;

    fn open(self) -> RusticResult<Self::Reader> {
        match self.inner.open() {
            Ok(reader) => Ok(RecordingReader {
                inner: reader,
                path: self.path,
                gate: self.gate,
            }),
            Err(err) => {
                self.gate.record_source_error(format!(
                    "cannot open {}: {}",
                    self.path.display(),
                    root_cause(&err)
                ));
                Err(err)
            }
        }
    }
}

/// A reader that records a read error (a file that vanished or hit an I/O error mid-read).
pub struct RecordingReader<R> {
    inner: R,
    path: PathBuf,
    gate: Arc<GateState>,
}

impl<R: Read> Read for RecordingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf).inspect_err(|e| {
            self.gate
                .record_source_error(format!("cannot read {}: {e}", self.path.display()));
        })?;
        // A quota refusal stops the read at once; the gate then withholds the snapshot.
        self.gate
            .count_read(n as u64)
            .map_err(std::io::Error::other)?;
        Ok(n)
    }
}

fn root_cause(err: &rustic_core::RusticError) -> String {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(err);
    let mut last = None;
    while let Some(s) = source {
        last = Some(s.to_string());
        source = s.source();
    }
    last.unwrap_or_else(|| super::errors::one_line(&err.display_log()))
}
