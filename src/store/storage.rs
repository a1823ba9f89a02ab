//! Direct access to the repository's files that rustic_core has no file type for (restic's
//! `locks/`), and listings with sizes for quotas and stats.
//!
//! It is built from the same [`BackendSpec`](super::backend::BackendSpec) as rustic's backends,
//! so a lock file goes through exactly the storage settings of the repository: bucket, prefix,
//! endpoint, credentials, retries. rustic_backend keeps its opendal operator private, hence a
//! second operator over the same options.

use anyhow::{Context, Result};
use opendal::blocking::Operator;
use opendal::layers::RetryLayer;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The repository's files by path relative to its root (`locks/<id>`, `config`, …).
#[derive(Clone, Debug)]
pub struct RepositoryFiles {
    operator: Operator,
}

/// One file in a listing.
#[derive(Debug, Clone)]
pub struct FileEntry {
    pub name: String,
    pub size: u64,
}

/// The blocking operator needs a runtime to drive it; like rustic_backend, we keep one of our own
/// so no caller has to be inside (or outside) theirs.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("forgesafe-storage")
            .enable_all()
            .build()
            .expect("a tokio runtime can be built")
    })
}

impl RepositoryFiles {
    /// `scheme` is an opendal service name (`s3`, `gcs`, `azblob`, `fs`), `options` its settings.
    pub(super) fn new(
        scheme: &str,
        options: &BTreeMap<String, String>,
        retries: usize,
    ) -> Result<Self> {
        opendal::init_default_registry();
        let operator = opendal::Operator::via_iter(scheme, options.clone())
            .with_context(|| format!("cannot set up the {scheme} storage client: check the profile's location settings"))?
            .layer(RetryLayer::new().with_max_times(retries).with_jitter());
        let _inside = runtime().enter();
        let operator = Operator::new(operator).context("cannot start the storage client")?;
        Ok(RepositoryFiles { operator })
    }

    /// The files directly inside `dir` (e.g. `locks`), with their sizes. A missing folder is empty.
    pub fn list(&self, dir: &str) -> Result<Vec<FileEntry>> {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        let entries = match self.operator.list(&prefix) {
            Ok(entries) => entries,
            Err(e) if e.kind() == opendal::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot list {prefix} in the repository"))
            }
        };
        Ok(entries
            .into_iter()
            .filter(|e| e.metadata().mode().is_file())
            .filter_map(|e| {
                let name = e.path().strip_prefix(&prefix)?.to_string();
                (!name.is_empty() && !name.contains('/')).then(|| FileEntry {
                    name,
                    size: e.metadata().content_length(),
                })
            })
            .collect())
    }

    /// The whole file; `None` when it does not exist (any more).
    pub fn read(&self, path: &str) -> Result<Option<Vec<u8>>> {
        match self.operator.read(path) {
            Ok(buffer) => Ok(Some(buffer.to_vec())),
            Err(e) if e.kind() == opendal::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {path} in the repository")),
        }
    }

    pub fn write(&self, path: &str, bytes: Vec<u8>) -> Result<()> {
        self.operator
            .write(path, bytes)
            .with_context(|| format!("cannot write {path} in the repository"))?;
        Ok(())
    }

    /// Writes the file only if there is none yet (S3's `If-None-Match: *`, GCS's generation 0,
    /// Azure's `If-None-Match`, an exclusive create on disk). `Ok(false)` when one was there first.
    pub fn create_new(&self, path: &str, bytes: Vec<u8>) -> Result<bool> {
        let options = opendal::options::WriteOptions {
            if_not_exists: true,
            ..Default::default()
        };
        match self.operator.write_options(path, bytes, options) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == opendal::ErrorKind::ConditionNotMatch => Ok(false),
            Err(e) => Err(e).with_context(|| format!("cannot create {path} in the repository")),
        }
    }

    pub fn exists(&self, path: &str) -> Result<bool> {
        self.operator
            .exists(path)
            .with_context(|| format!("cannot look for {path} in the repository"))
    }

    /// Removes the file; one that is already gone is fine.
    pub fn remove(&self, path: &str) -> Result<()> {
        match self.operator.delete(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == opendal::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("cannot remove {path} in the repository")),
        }
    }
}
