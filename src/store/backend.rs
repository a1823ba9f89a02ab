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
use rustic_core::{BytesList, ErrorKind, FileType, Id, ReadBackend, RepositoryBackends, RusticError, RusticResult, WriteBackend};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// What the gate has seen during one command.
#[derive(Debug, Default)]
pub struct GateState {
    write_failed: AtomicBool,
    source_errors: Mutex<Vec<String>>,
}

impl GateState {
    pub fn record_source_error(&self, message: String) {
        tracing::warn!("{message}");
        self.source_errors.lock().unwrap_or_else(|e| e.into_inner()).push(message);
    }

    pub fn source_errors(&self) -> Vec<String> {
        self.source_errors.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn write_failed(&self) -> bool {
        self.write_failed.load(Ordering::SeqCst)
    }
}

/// A backend that forwards everything and withholds the snapshot file when the push is not whole.
/// For a local repository it also writes every file atomically itself (beside, then rename):
/// rustic's local backend writes in place, so a killed push could leave a torn pack.
pub struct GatedBackend {
    inner: Arc<dyn WriteBackend>,
    state: Arc<GateState>,
    local_root: Option<PathBuf>,
}

impl GatedBackend {
    fn write_local_atomically(&self, root: &Path, tpe: FileType, id: &Id, content: &BytesList) -> std::io::Result<()> {
        let hex = id.to_hex();
        let hex = hex.as_str();
        let path = match tpe {
            FileType::Config => root.join("config"),
            FileType::Pack => root.join("data").join(&hex[..2]).join(hex),
            other => root.join(other.dirname()).join(hex),
        };
        let dir = path.parent().expect("repository files have a parent");
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::Builder::new().prefix(".forgesafe-tmp-").tempfile_in(dir)?;
        for piece in content.slice() {
            std::io::Write::write_all(&mut tmp, piece)?;
        }
        tmp.as_file().sync_all()?;
        // restic's own files are read-only once written; keep that.
        std::fs::set_permissions(tmp.path(), std::os::unix::fs::PermissionsExt::from_mode(0o444))?;
        tmp.persist(&path).map_err(|e| e.error)?;
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
        self.inner.read_full(tpe, id)
    }
    fn read_partial(&self, tpe: FileType, id: &Id, cacheable: bool, offset: u32, length: u32) -> RusticResult<Bytes> {
        self.inner.read_partial(tpe, id, cacheable, offset, length)
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
    fn create(&self) -> RusticResult<()> {
        self.inner.create()
    }

    fn write_bytes(&self, tpe: FileType, id: &Id, cacheable: bool, content: BytesList) -> RusticResult<()> {
        if tpe == FileType::Snapshot {
            let errors = self.state.source_errors();
            if !errors.is_empty() {
                return Err(RusticError::new(
                    ErrorKind::InputOutput,
                    "snapshot withheld: some source entries could not be read",
                ));
            }
            if self.state.write_failed() {
                return Err(RusticError::new(ErrorKind::Backend, "snapshot withheld: an earlier write to the repository failed"));
            }
        }
        let written = match &self.local_root {
            Some(root) => self.write_local_atomically(root, tpe, id, &content).map_err(|e| {
                RusticError::with_source(ErrorKind::InputOutput, "cannot write a repository file", e)
            }),
            None => self.inner.write_bytes(tpe, id, cacheable, content),
        };
        if written.is_err() {
            self.state.write_failed.store(true, Ordering::SeqCst);
        }
        written
    }

    fn remove(&self, tpe: FileType, id: &Id, cacheable: bool) -> RusticResult<()> {
        self.inner.remove(tpe, id, cacheable)
    }
}

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
            Location::S3 { bucket, endpoint, prefix, region, credentials, skip_ssl_verify } => {
                let endpoint = endpoint.as_ref().map(|e| {
                    if e.contains("://") { e.clone() } else { format!("https://{e}") }
                });
                if *skip_ssl_verify && endpoint.as_deref().is_some_and(|e| e.starts_with("https://")) {
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
                options.insert("region".into(), region.clone().unwrap_or_else(|| "us-east-1".into()));
                options.insert("root".into(), format!("/{}", prefix.trim_matches('/')));
                if let Some(c) = credentials {
                    options.insert("access_key_id".into(), c.access_key_id.expose().to_string());
                    options.insert("secret_access_key".into(), c.secret_access_key.expose().to_string());
                    // Explicit credentials only: do not mix in ~/.aws or AWS_* from the pod.
                    options.insert("disable_config_load".into(), "true".into());
                    options.insert("disable_ec2_metadata".into(), "true".into());
                }
                "opendal:s3".to_string()
            }
            Location::Gcs { bucket, prefix, service_account_json } => {
                use base64::Engine;
                options.insert("bucket".into(), bucket.clone());
                options.insert("root".into(), format!("/{}", prefix.trim_matches('/')));
                if let Some(json) = service_account_json {
                    let encoded = base64::engine::general_purpose::STANDARD.encode(json.expose());
                    crate::secret::register(&encoded);
                    options.insert("credential".into(), encoded);
                }
                "opendal:gcs".to_string()
            }
            Location::Azure { container, prefix, endpoint, account_name, account_key } => {
                options.insert("container".into(), container.clone());
                options.insert("root".into(), format!("/{}", prefix.trim_matches('/')));
                options.insert("account_name".into(), account_name.clone());
                options.insert("account_key".into(), account_key.expose().to_string());
                options.insert(
                    "endpoint".into(),
                    endpoint.clone().unwrap_or_else(|| format!("https://{account_name}.blob.core.windows.net")),
                );
                "opendal:azblob".to_string()
            }
        };
        // How often a failed object-store request is retried (opendal's default is 5, with
        // exponential back-off); tests and impatient users lower it.
        if let Ok(retries) = std::env::var("FORGESAFE_RETRIES") {
            retries.parse::<usize>().map_err(|_| anyhow::anyhow!("FORGESAFE_RETRIES is {retries:?}: give a whole number"))?;
            options.insert("retry".into(), retries);
        }
        Ok(BackendSpec { repository, options, local_root })
    }

    /// Builds the backends, the write side wrapped in the gate.
    pub fn to_backends(&self, gate: Arc<GateState>) -> Result<RepositoryBackends> {
        let backends = BackendOptions::default()
            .repository(self.repository.clone())
            .options(self.options.clone())
            .to_backends()
            .map_err(|e| super::errors::from_rustic(e, "cannot reach the repository"))?;
        let gated: Arc<dyn WriteBackend> =
            Arc::new(GatedBackend { inner: backends.repository(), state: gate, local_root: self.local_root.clone() });
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
        let s = spec(r#"{"Location":{"type":"s3Compliant","bucket":"b","endpoint":"minio:9000","prefix":"/k/"},
            "Credential":{"Type":"keyPair","KeyPair":{"ID":"AKIAMAPPINGTEST","Secret":"mapping-secret"}}}"#);
        assert_eq!(s.repository, "opendal:s3");
        assert_eq!(s.options["bucket"], "b");
        assert_eq!(s.options["endpoint"], "https://minio:9000", "an endpoint without a scheme is https");
        assert_eq!(s.options["root"], "/k");
        assert_eq!(s.options["region"], "us-east-1");
        assert_eq!(s.options["access_key_id"], "AKIAMAPPINGTEST");
        assert_eq!(s.options["disable_config_load"], "true");
        // Without credentials the pod's own AWS configuration may be used.
        let s = spec(r#"{"Location":{"type":"s3Compliant","bucket":"b"}}"#);
        assert!(!s.options.contains_key("disable_config_load") && !s.options.contains_key("endpoint"));
    }

    #[test]
    fn skip_ssl_verify_on_https_is_refused_with_advice() {
        let p = parse(r#"{"Location":{"type":"s3Compliant","bucket":"b","endpoint":"https://s3.local"},"SkipSSLVerify":true}"#).unwrap();
        let e = BackendSpec::from_location(&p).err().unwrap().to_string();
        assert!(e.contains("SkipSSLVerify") && e.contains("http://"), "{e}");
        let p = parse(r#"{"Location":{"type":"s3Compliant","bucket":"b","endpoint":"http://s3.local"},"SkipSSLVerify":true}"#).unwrap();
        assert!(BackendSpec::from_location(&p).is_ok(), "nothing to verify on http");
    }

    #[test]
    fn gcs_and_azure_map_to_their_opendal_services() {
        let s = spec(r#"{"Location":{"type":"gcs","bucket":"g","prefix":"p"},"Credential":{"Type":"keyPair","KeyPair":{"ID":"proj","Secret":"{\"type\":\"service_account\"}"}}}"#);
        assert_eq!(s.repository, "opendal:gcs");
        assert_eq!(s.options["bucket"], "g");
        use base64::Engine;
        let decoded = base64::engine::general_purpose::STANDARD.decode(&s.options["credential"]).unwrap();
        assert_eq!(decoded, br#"{"type":"service_account"}"#);
        let s = spec(r#"{"Location":{"type":"azure","bucket":"c","prefix":"p"},"Credential":{"Type":"keyPair","KeyPair":{"ID":"acct","Secret":"azure-key-1234"}}}"#);
        assert_eq!(s.repository, "opendal:azblob");
        assert_eq!(s.options["container"], "c");
        assert_eq!(s.options["account_name"], "acct");
        assert_eq!(s.options["endpoint"], "https://acct.blob.core.windows.net");
    }
}
