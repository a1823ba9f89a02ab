//! Turns a profile location into rustic backends, wrapped in the snapshot gate.
//!
//! The gate is why a failed push never leaves a half snapshot: rustic writes packs and index
//! first and the snapshot file last, and its archiver *skips* unreadable files with a warning.
//! The gate refuses to write the snapshot file when any source entry could not be read or any
//! earlier write failed, so the only snapshots that ever exist are complete ones.

use crate::profile::Location;
use anyhow::{bail, Result};
use bytes::Bytes;
use rustic_backend::BackendOptions;
use rustic_core::{
    BytesList, ErrorKind, FileType, Id, ReadBackend, RepositoryBackends, RusticError, RusticResult,
    WriteBackend,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// What the gate has seen during one command.
#[derive(Debug, Default)]
pub struct GateState {
    write_failed: AtomicBool,
    source_errors: Mutex<Vec<String>>,
    /// Set by the repository lock's refresher when the lock can no longer be trusted.
    lock_lost: OnceLock<Arc<AtomicBool>>,
    /// Why the push must not be recorded though every write succeeded (a quota).
    refusal: Mutex<Option<String>>,
    /// Bytes written to the repository by this command (for the repository-size quota).
    bytes_written: AtomicU64,
    /// `(repository size before this push, limit)`: the snapshot is withheld when what this push
    /// wrote would take the repository past the limit.
    repository_limit: OnceLock<(u64, u64)>,
    /// Most bytes the push may read from its source, and how many it has read.
    source_limit: OnceLock<u64>,
    bytes_read: AtomicU64,
    /// Key files this command wrote (a new repository's first key).
    keys_written: Mutex<Vec<Id>>,
    /// Another process created the repository's config first while this one was creating it.
    config_taken: AtomicBool,
    /// Bytes of pack files read from the repository (what a partial restore costs).
    pack_bytes_read: AtomicU64,
}

impl GateState {
    pub fn record_source_error(&self, message: String) {
        tracing::warn!("{message}");
        self.source_errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(message);
    }

    pub fn source_errors(&self) -> Vec<String> {
        self.source_errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn write_failed(&self) -> bool {
        self.write_failed.load(Ordering::SeqCst)
    }

    /// Ties the gate to the repository lock: once the lock is lost, nothing more is written.
    pub fn watch_lock(&self, lock: &super::lock::HeldLock) {
        let _ = self.lock_lost.set(lock.lost_flag());
    }

    fn lock_lost(&self) -> bool {
        self.lock_lost
            .get()
            .is_some_and(|l| l.load(Ordering::SeqCst))
    }

    /// Withholds the snapshot file with this reason (a quota reached while reading the source).
    pub fn refuse(&self, why: String) {
        let mut refusal = self.refusal.lock().unwrap_or_else(|e| e.into_inner());
        refusal.get_or_insert(why);
    }

    pub fn refusal(&self) -> Option<String> {
        self.refusal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Withholds the snapshot if this push would take the repository past `limit` bytes.
    pub fn limit_repository(&self, size_before: u64, limit: u64) {
        let _ = self.repository_limit.set((size_before, limit));
    }

    /// Refuses the push once its source has given more than `limit` bytes.
    pub fn limit_source(&self, limit: u64) {
        let _ = self.source_limit.set(limit);
    }

    /// Counts bytes read from the source; an error (and a refusal) once over the limit.
    pub fn count_read(&self, bytes: u64) -> Result<(), String> {
        let total = self.bytes_read.fetch_add(bytes, Ordering::SeqCst) + bytes;
        match self.source_limit.get() {
            Some(limit) if total > *limit => {
                let why = format!(
                    "the source gave more than --max-snapshot-size {}",
                    super::size::human(*limit)
                );
                self.refuse(why.clone());
                Err(why)
            }
            _ => Ok(()),
        }
    }

    pub fn bytes_written(&self) -> u64 {
        self.bytes_written.load(Ordering::SeqCst)
    }

    /// Whether this command's creation of the repository lost to another process's.
    pub fn config_taken(&self) -> bool {
        self.config_taken.load(Ordering::SeqCst)
    }

    pub fn pack_bytes_read(&self) -> u64 {
        self.pack_bytes_read.load(Ordering::Relaxed)
    }

    fn count_pack_read(&self, tpe: FileType, bytes: &RusticResult<Bytes>) {
        if let (FileType::Pack, Ok(bytes)) = (tpe, bytes) {
            self.pack_bytes_read
                .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        }
    }

    pub fn keys_written(&self) -> Vec<Id> {
        self.keys_written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Why the snapshot file must not be written, if anything.
    fn snapshot_veto(&self) -> Option<String> {
        if !self.source_errors().is_empty() {
            return Some("snapshot withheld: some source entries could not be read".into());
        }
        if self.write_failed() {
            return Some("snapshot withheld: an earlier write to the repository failed".into());
        }
        if let Some(why) = self.refusal() {
            return Some(format!("snapshot withheld: {why}"));
        }
        if let Some((before, limit)) = self.repository_limit.get() {
            let after = before + self.bytes_written();
            if after > *limit {
                let why = format!(
                    "the repository would hold {} after this push, over --max-repository-size {}",
                    super::size::human(after),
                    super::size::human(*limit)
                );
                self.refuse(why.clone());
                return Some(format!("snapshot withheld: {why}"));
            }
        }
        None
    }
}

/// A backend that forwards everything and withholds the snapshot file when the push is not whole.
/// For a local repository it also writes every file atomically itself (beside, then rename):
/// rustic's local backend writes in place, so a killed push could leave a torn pack.
pub struct GatedBackend {
    inner: Arc<dyn WriteBackend>,
    state: Arc<GateState>,
    local_root: Option<PathBuf>,
    /// For a remote repository: where the config file is created only if absent.
    files: Option<super::storage::RepositoryFiles>,
}

impl GatedBackend {
    /// The repository's config is created, never replaced: two first pushes into an empty location
    /// at the same moment would otherwise each write a key and a config, and the one whose config
    /// was overwritten would go on encrypting with a master key the repository no longer has.
    /// The loser learns it here (`config_taken`), and `Store::open` opens the winner's repository.
    fn create_config(&self, id: &Id, content: &BytesList) -> RusticResult<()> {
        let created = match (&self.local_root, &self.files) {
            (Some(root), _) => {
                match self.write_local_atomically(root, FileType::Config, id, content, false) {
                    Ok(()) => Ok(true),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
                    Err(e) => Err(RusticError::with_source(
                        ErrorKind::InputOutput,
                        "cannot write the repository's config",
                        e,
                    )),
                }
            }
            (None, Some(files)) => files
                .create_new("config", content.slice().concat())
                .map_err(|e| {
                    RusticError::new(ErrorKind::Backend, "cannot write the repository's config")
                        .attach_context("cause", format!("{e:#}"))
                }),
            (None, None) => Err(RusticError::new(
                ErrorKind::Internal,
                "no way to create the repository's config",
            )),
        };
        match created {
            Ok(true) => Ok(()),
            Ok(false) => {
                self.state.config_taken.store(true, Ordering::SeqCst);
                Err(RusticError::new(
                    ErrorKind::Repository,
                    "another process created this repository at the same moment",
                ))
            }
            Err(e) => {
                self.state.write_failed.store(true, Ordering::SeqCst);
                Err(e)
            }
        }
    }

    fn write_local_atomically(
        &self,
        root: &Path,
        tpe: FileType,
        id: &Id,
        content: &BytesList,
        replace: bool,
    ) -> std::io::Result<()> {
        let hex = id.to_hex();
        let hex = hex.as_str();
        let path = match tpe {
            FileType::Config => root.join("config"),
            FileType::Pack => root.join("data").join(&hex[..2]).join(hex),
            other => root.join(other.dirname()).join(hex),
        };
        let dir = path.parent().expect("repository files have a parent");
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".forgesafe-tmp-")
            .tempfile_in(dir)?;
        for piece in content.slice() {
            std::io::Write::write_all(&mut tmp, piece)?;
        }
        tmp.as_file().sync_all()?;
        // restic's own files are read-only once written; keep that.
        std::fs::set_permissions(
            tmp.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o444),
        )?;
        if replace {
            tmp.persist(&path).map_err(|e| e.error)?;
        } else {
            tmp.persist_noclobber(&path).map_err(|e| e.error)?;
        }
        Ok(())
    }
}

impl ReadBackend for GatedBackend {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn list_with_size(&self, tpe: FileType) -> RusticResult<Vec<(Id, u32)>> {
        self.inner.list_with_size(tpe)
    }
    fn list(&self, tpe: FileType) -> RusticResult<Vec<Id>> {
        self.inner.list(tpe)
    }
    fn read_full(&self, tpe: FileType, id: &Id) -> RusticResult<Bytes> {
        let read = self.inner.read_full(tpe, id);
        self.state.count_pack_read(tpe, &read);
        read
    }
    fn read_partial(
        &self,
        tpe: FileType,
        id: &Id,
        cacheable: bool,
        offset: u32,
        length: u32,
    ) -> RusticResult<Bytes> {
        let read = self.inner.read_partial(tpe, id, cacheable, offset, length);
        self.state.count_pack_read(tpe, &read);
        read
    }
    fn warmup_path(&self, tpe: FileType, id: &Id) -> String {
        self.inner.warmup_path(tpe, id)
    }
    fn needs_warm_up(&self) -> bool {
        self.inner.needs_warm_up()
    }
    fn warm_up(&self, tpe: FileType, id: &Id) -> RusticResult<()> {
        self.inner.warm_up(tpe, id)
    }
}

impl WriteBackend for GatedBackend {
    /// A local repository needs its directories (data/00 … data/ff among them). An object store
    /// has no directories: rustic's OpenDAL backend would still write 262 empty "folder" objects,
    /// one request each, which stock restic neither writes nor needs, so they are left out there.
    fn create(&self) -> RusticResult<()> {
        if self.local_root.is_some() {
            self.inner.create()
        } else {
            Ok(())
        }
    }

    fn write_bytes(
        &self,
        tpe: FileType,
        id: &Id,
        cacheable: bool,
        content: BytesList,
    ) -> RusticResult<()> {
        if crate::shutdown::stop_requested() {
            self.state.write_failed.store(true, Ordering::SeqCst);
            return Err(RusticError::new(ErrorKind::Backend, "the process is stopping (SIGTERM): nothing more is written and no snapshot is recorded"));
        }
        if self.state.lock_lost() {
            return Err(RusticError::new(
                ErrorKind::Backend,
                "the repository lock was lost (it could not be refreshed, or someone removed it): nothing more is written",
            ));
        }
        if tpe == FileType::Snapshot {
            if let Some(veto) = self.state.snapshot_veto() {
                return Err(RusticError::new(ErrorKind::InputOutput, veto));
            }
        }
        if tpe == FileType::Config {
            return self.create_config(id, &content);
        }
        let size: u64 = content.slice().iter().map(|piece| piece.len() as u64).sum();
        let written = match &self.local_root {
            Some(root) => self
                .write_local_atomically(root, tpe, id, &content, true)
                .map_err(|e| {
                    RusticError::with_source(
                        ErrorKind::InputOutput,
                        "cannot write a repository file",
                        e,
                    )
                }),
            None => self.inner.write_bytes(tpe, id, cacheable, content),
        };
        match &written {
            Ok(()) => {
                self.state.bytes_written.fetch_add(size, Ordering::SeqCst);
                if tpe == FileType::Key {
                    self.state
                        .keys_written
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(*id);
                }
            }
            Err(_) => self.state.write_failed.store(true, Ordering::SeqCst),
        }
        written
    }

    fn remove(&self, tpe: FileType, id: &Id, cacheable: bool) -> RusticResult<()> {
        self.inner.remove(tpe, id, cacheable)
    }
}

/// opendal's and rustic_backend's default number of retries of a failed request.
const DEFAULT_RETRIES: usize = 5;

/// The repository string and options rustic_backend takes. Options may hold credentials:
/// they live in memory only and are never logged (see `describe` for what we print).
pub struct BackendSpec {
    repository: String,
    options: BTreeMap<String, String>,
    local_root: Option<PathBuf>,
}

impl BackendSpec {
    pub fn from_location(location: &Location) -> Result<Self> {
        let mut options = BTreeMap::new();
        let mut local_root = None;
        let repository = match location {
            Location::Local { path } => {
                // rustic's local backend reads with plain file calls (opendal's fs service costs
                // a runtime round trip per read: 3x slower on an unchanged push); the gate does
                // the writes, atomically.
                let abs = std::path::absolute(path)?;
                local_root = Some(abs.clone());
                abs.display().to_string()
            }
            Location::S3 {
                bucket,
                endpoint,
                prefix,
                region,
                credentials,
                skip_ssl_verify,
            } => {
                let endpoint = endpoint.as_ref().map(|e| {
                    if e.contains("://") {
                        e.clone()
                    } else {
                        format!("https://{e}")
                    }
                });
                if *skip_ssl_verify
                    && endpoint
                        .as_deref()
                        .is_some_and(|e| e.starts_with("https://"))
                {
                    bail!(
                        "profile SkipSSLVerify is true for an https endpoint, but forgesafe's S3 client always verifies certificates: \
                         use the endpoint's http:// address inside the cluster, or a certificate signed by a public CA"
                    );
                }
                options.insert("bucket".into(), bucket.clone());
                if let Some(e) = endpoint {
                    options.insert("endpoint".into(), e);
                }
                // opendal needs a region even for S3-compatible servers that ignore it.
                options.insert(
                    "region".into(),
                    region.clone().unwrap_or_else(|| "us-east-1".into()),
                );
                options.insert("root".into(), format!("/{}", prefix.trim_matches('/')));
                if let Some(c) = credentials {
                    options.insert("access_key_id".into(), c.access_key_id.expose().to_string());
                    options.insert(
                        "secret_access_key".into(),
                        c.secret_access_key.expose().to_string(),
                    );
                    // Explicit credentials only: do not mix in ~/.aws or AWS_* from the pod.
                    options.insert("disable_config_load".into(), "true".into());
                    options.insert("disable_ec2_metadata".into(), "true".into());
                }
                "opendal:s3".to_string()
            }
            Location::Gcs {
                bucket,
                prefix,
                endpoint,
                service_account_json,
            } => {
                use base64::Engine;
                options.insert("bucket".into(), bucket.clone());
                options.insert("root".into(), format!("/{}", prefix.trim_matches('/')));
                if let Some(e) = endpoint {
                    options.insert("endpoint".into(), e.clone());
                }
                match service_account_json {
                    Some(json) => {
                        let encoded =
                            base64::engine::general_purpose::STANDARD.encode(json.expose());
                        crate::secret::register(&encoded);
                        options.insert("credential".into(), encoded);
                    }
                    // Another server without credentials (an emulator, a proxy that signs):
                    // send requests unsigned instead of asking Google's metadata server.
                    None if endpoint.is_some() => {
                        options.insert("skip_signature".into(), "true".into());
                        options.insert("disable_vm_metadata".into(), "true".into());
                        options.insert("disable_config_load".into(), "true".into());
                    }
                    // Google itself: the pod's workload identity or GOOGLE_APPLICATION_CREDENTIALS.
                    None => {}
                }
                "opendal:gcs".to_string()
            }
            Location::Azure {
                container,
                prefix,
                endpoint,
                account_name,
                account_key,
            } => {
                options.insert("container".into(), container.clone());
                options.insert("root".into(), format!("/{}", prefix.trim_matches('/')));
                options.insert("account_name".into(), account_name.clone());
                options.insert("account_key".into(), account_key.expose().to_string());
                options.insert(
                    "endpoint".into(),
                    endpoint
                        .clone()
                        .unwrap_or_else(|| format!("https://{account_name}.blob.core.windows.net")),
                );
                "opendal:azblob".to_string()
            }
        };
        // How often a failed object-store request is retried (opendal's default is 5, with
        // exponential back-off); tests and impatient users lower it.
        if let Ok(retries) = std::env::var("FORGESAFE_RETRIES") {
            retries.parse::<usize>().map_err(|_| {
                anyhow::anyhow!("FORGESAFE_RETRIES is {retries:?}: give a whole number")
            })?;
            options.insert("retry".into(), retries);
        }
        Ok(BackendSpec {
            repository,
            options,
            local_root,
        })
    }

    /// The client for the files rustic has no type for (`locks/`), over the same storage settings.
    pub fn repository_files(&self) -> Result<super::storage::RepositoryFiles> {
        let retries = self
            .options
            .get("retry")
            .and_then(|r| r.parse().ok())
            .unwrap_or(DEFAULT_RETRIES);
        match &self.local_root {
            Some(root) => {
                let options = BTreeMap::from([("root".to_string(), root.display().to_string())]);
                super::storage::RepositoryFiles::new("fs", &options, retries)
            }
            None => {
                let scheme = self
                    .repository
                    .strip_prefix("opendal:")
                    .unwrap_or(&self.repository);
                super::storage::RepositoryFiles::new(scheme, &self.options, retries)
            }
        }
    }

    /// Builds the backends, the write side wrapped in the gate.
    pub fn to_backends(&self, gate: Arc<GateState>) -> Result<RepositoryBackends> {
        let backends = BackendOptions::default()
            .repository(self.repository.clone())
            .options(self.options.clone())
            .to_backends()
            .map_err(|e| super::errors::from_rustic(e, "cannot reach the repository"))?;
        let files = match self.local_root {
            Some(_) => None,
            None => Some(self.repository_files()?),
        };
        let gated: Arc<dyn WriteBackend> = Arc::new(GatedBackend {
            inner: backends.repository(),
            state: gate,
            local_root: self.local_root.clone(),
            files,
        });
        Ok(RepositoryBackends::new(gated, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::parse;

    fn spec(profile: &str) -> BackendSpec {
        BackendSpec::from_location(&parse(profile).unwrap()).unwrap()
    }

    #[test]
    fn s3_profiles_map_to_opendal_options() {
        let s = spec(
            r#"{"Location":{"type":"s3Compliant","bucket":"b","endpoint":"minio:9000","prefix":"/k/"},
            "Credential":{"Type":"keyPair","KeyPair":{"ID":"AKIAMAPPINGTEST","Secret":"mapping-secret"}}}"#,
        );
        assert_eq!(s.repository, "opendal:s3");
        assert_eq!(s.options["bucket"], "b");
        assert_eq!(
            s.options["endpoint"], "https://minio:9000",
            "an endpoint without a scheme is https"
        );
        assert_eq!(s.options["root"], "/k");
        assert_eq!(s.options["region"], "us-east-1");
        assert_eq!(s.options["access_key_id"], "AKIAMAPPINGTEST");
        assert_eq!(s.options["disable_config_load"], "true");
        // Without credentials the pod's own AWS configuration may be used.
        let s = spec(r#"{"Location":{"type":"s3Compliant","bucket":"b"}}"#);
        assert!(
            !s.options.contains_key("disable_config_load") && !s.options.contains_key("endpoint")
        );
    }

    #[test]
    fn skip_ssl_verify_on_https_is_refused_with_advice() {
        let p = parse(r#"{"Location":{"type":"s3Compliant","bucket":"b","endpoint":"https://s3.local"},"SkipSSLVerify":true}"#).unwrap();
        let e = BackendSpec::from_location(&p).err().unwrap().to_string();
        assert!(e.contains("SkipSSLVerify") && e.contains("http://"), "{e}");
        let p = parse(r#"{"Location":{"type":"s3Compliant","bucket":"b","endpoint":"http://s3.local"},"SkipSSLVerify":true}"#).unwrap();
        assert!(
            BackendSpec::from_location(&p).is_ok(),
            "nothing to verify on http"
        );
    }

    #[test]
    fn gcs_and_azure_map_to_their_opendal_services() {
        let s = spec(
            r#"{"Location":{"type":"gcs","bucket":"g","prefix":"p"},"Credential":{"Type":"keyPair","KeyPair":{"ID":"proj","Secret":"{\"type\":\"service_account\"}"}}}"#,
        );
        assert_eq!(s.repository, "opendal:gcs");
        assert_eq!(s.options["bucket"], "g");
        use base64::Engine;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&s.options["credential"])
            .unwrap();
        assert_eq!(decoded, br#"{"type":"service_account"}"#);
        let s = spec(
            r#"{"Location":{"type":"azure","bucket":"c","prefix":"p"},"Credential":{"Type":"keyPair","KeyPair":{"ID":"acct","Secret":"azure-key-1234"}}}"#,
        );
        assert_eq!(s.repository, "opendal:azblob");
        assert_eq!(s.options["container"], "c");
        assert_eq!(s.options["account_name"], "acct");
        assert_eq!(s.options["endpoint"], "https://acct.blob.core.windows.net");
    }
}
