//! Kanister's Profile turned into a typed location, and where the profile text comes from.
//!
//! The Profile itself has one model, [`kanister::Profile`] (Profile JSON in any casing, rendered
//! back as Kanister does); a Profile custom resource resolves to it in [`custom_resource`]. Every
//! error names the field at fault and says what to give instead.

pub mod custom_resource;
pub mod kanister;

use crate::secret::Secret;
use anyhow::{anyhow, bail, Context, Result};
use kanister::{Credential, Profile};
use std::path::PathBuf;

/// Where a repository lives. One repository per location: everything pushed there deduplicates.
#[derive(Debug, Clone)]
pub enum Location {
    S3 {
        bucket: String,
        endpoint: Option<String>,
        prefix: String,
        region: Option<String>,
        credentials: Option<S3Credentials>,
        skip_ssl_verify: bool,
    },
    Gcs {
        bucket: String,
        prefix: String,
        /// Another GCS-compatible server (forgesafe's reading of Location.endpoint; Kanister's
        /// GCS profiles leave it empty and mean Google's).
        endpoint: Option<String>,
        service_account_json: Option<Secret>,
    },
    Azure {
        container: String,
        prefix: String,
        endpoint: Option<String>,
        account_name: String,
        account_key: Secret,
    },
    /// forgesafe's own extension: a repository in a local directory.
    Local { path: PathBuf },
}

#[derive(Debug, Clone)]
pub struct S3Credentials {
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
}

impl Location {
    /// A short description for logs and messages; never holds a credential.
    pub fn describe(&self) -> String {
        match self {
            Location::S3 {
                bucket,
                endpoint,
                prefix,
                ..
            } => format!(
                "s3://{bucket}/{prefix}{}",
                endpoint
                    .as_deref()
                    .map(|e| format!(" at {e}"))
                    .unwrap_or_default()
            ),
            Location::Gcs { bucket, prefix, .. } => format!("gs://{bucket}/{prefix}"),
            Location::Azure {
                container, prefix, ..
            } => format!("azure://{container}/{prefix}"),
            Location::Local { path } => path.display().to_string(),
        }
    }
}

/// Where the profile text comes from, in the order we look.
pub const PROFILE_ENV: &str = "FORGESAFE_PROFILE";
pub const PROFILE_FILE_ENV: &str = "FORGESAFE_PROFILE_FILE";

/// Reads the profile from `--profile` (JSON, or `@FILE`), else `FORGESAFE_PROFILE`, else
/// `FORGESAFE_PROFILE_FILE`.
pub fn load(arg: Option<&str>) -> Result<Location> {
    let (text, origin) = load_text(arg)?;
    parse(&text).with_context(|| origin.to_string())
}

/// Like [`load_text`], but `None` when no profile was given anywhere (a profile is optional there).
pub fn load_text_if_given(arg: Option<&str>) -> Result<Option<(String, String)>> {
    let given = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    if arg.is_none() && !given(PROFILE_ENV) && !given(PROFILE_FILE_ENV) {
        return Ok(None);
    }
    load_text(arg).map(Some)
}

/// The profile's JSON text and where it came from, from the same sources as [`load`].
pub fn load_text(arg: Option<&str>) -> Result<(String, String)> {
    Ok(match arg {
        Some(a) if a.starts_with('@') => (read_file(&a[1..])?, format!("profile file {}", &a[1..])),
        Some(a) => (a.to_string(), "--profile".to_string()),
        None => match (std::env::var(PROFILE_ENV), std::env::var(PROFILE_FILE_ENV)) {
            (Ok(t), _) if !t.trim().is_empty() => (t, PROFILE_ENV.to_string()),
            (_, Ok(f)) if !f.trim().is_empty() => (read_file(&f)?, format!("profile file {f}")),
            _ => bail!(
                "no profile given: pass --profile JSON (or --profile @FILE), or set {PROFILE_ENV} or {PROFILE_FILE_ENV}"
            ),
        },
    })
}

fn read_file(path: &str) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| {
        format!("cannot read profile file {path}: check the path and its permissions")
    })
}

/// Parses Profile JSON text.
pub fn parse(text: &str) -> Result<Location> {
    location_of(&Profile::from_json(text)?)
}

/// The location a profile points at, with its credentials.
pub fn location_of(profile: &Profile) -> Result<Location> {
    let location = &profile.location;
    let kind = location.kind.clone().ok_or_else(|| {
        anyhow!("profile field Location.type is missing: use s3Compliant, gcs, azure or local")
    })?;
    let credential = &profile.credential;
    let skip_ssl_verify = profile.skip_ssl_verify;

    match kind.as_str() {
        "s3Compliant" | "s3compliant" | "s3" => {
            let bucket = required(&location.bucket, "Location.bucket")?;
            let endpoint = location.endpoint.clone().filter(|e| !e.is_empty());
            Ok(Location::S3 {
                bucket,
                endpoint,
                prefix: location.prefix.clone().unwrap_or_default(),
                region: location.region.clone().filter(|r| !r.is_empty()),
                credentials: s3_credentials(credential)?,
                skip_ssl_verify,
            })
        }
        "gcs" => {
            let bucket = required(&location.bucket, "Location.bucket")?;
            let json = gcs_credentials(credential)?;
            Ok(Location::Gcs {
                bucket,
                prefix: location.prefix.clone().unwrap_or_default(),
                endpoint: location.endpoint.clone().filter(|e| !e.is_empty()),
                service_account_json: json,
            })
        }
        "azure" => {
            let container = required(&location.bucket, "Location.bucket")?;
            let (account_name, account_key) = azure_credentials(credential)?;
            Ok(Location::Azure {
                container,
                prefix: location.prefix.clone().unwrap_or_default(),
                endpoint: location.endpoint.clone().filter(|e| !e.is_empty()),
                account_name,
                account_key,
            })
        }
        "local" | "filesystem" => {
            let path = location
                .path
                .clone()
                .or_else(|| location.prefix.clone())
                .filter(|p| !p.is_empty())
                .ok_or_else(|| anyhow!("profile field Location.path is missing: a local location needs the repository directory"))?;
            Ok(Location::Local { path: PathBuf::from(path) })
        }
        "kopia" => bail!(
            "profile Location.type kopia points at a Kopia repository server, which forgesafe does not speak: \
             give forgesafe an object-store profile instead (e.g. mount a profile file from a Secret and pass --profile @FILE)"
        ),
        other => bail!("profile field Location.type is {other:?}: use s3Compliant, gcs, azure or local"),
    }
}

fn s3_credentials(c: &Credential) -> Result<Option<S3Credentials>> {
    match c.kind.as_deref().unwrap_or_default() {
        "keyPair" | "keypair" => {
            let kp = c.required_key_pair()?;
            let id = required(&kp.id, "Credential.KeyPair.ID")?;
            let secret = required(&kp.secret, "Credential.KeyPair.Secret")?;
            Ok(Some(S3Credentials { access_key_id: Secret::new(id), secret_access_key: Secret::new(secret) }))
        }
        "secret" => {
            let data = c.secret_data()?;
            if data.iter().any(|(k, _)| k == "role") {
                bail!("profile Credential.Secret has a role: assuming an IAM role is not supported yet; give aws_access_key_id and aws_secret_access_key");
            }
            let get = |k: &str| {
                data.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).ok_or_else(|| {
                    anyhow!("profile field Credential.Secret.data.{k} is missing: the Secret needs aws_access_key_id and aws_secret_access_key")
                })
            };
            Ok(Some(S3Credentials { access_key_id: get("aws_access_key_id")?, secret_access_key: get("aws_secret_access_key")? }))
        }
        "" => Ok(None),
        "kopia" => bail!("profile Credential.Type kopia is for a Kopia repository server, which forgesafe does not speak: use keyPair or secret"),
        other => bail!("profile field Credential.Type is {other:?}: use keyPair or secret"),
    }
}

fn gcs_credentials(c: &Credential) -> Result<Option<Secret>> {
    match c.kind.as_deref().unwrap_or_default() {
        "keyPair" | "keypair" => {
            // For GCS, Kanister keeps the project id in ID and the service-account JSON in Secret.
            Ok(Some(Secret::new(required(
                &c.required_key_pair()?.secret,
                "Credential.KeyPair.Secret",
            )?)))
        }
        "secret" => {
            let data = c.secret_data()?;
            let json = data
                .into_iter()
                .find(|(k, _)| k == "gcp_service_account_json" || k == "service-account.json");
            Ok(Some(json.map(|(_, v)| v).ok_or_else(|| {
                anyhow!("profile field Credential.Secret.data.gcp_service_account_json is missing")
            })?))
        }
        "" => Ok(None),
        other => bail!("profile field Credential.Type is {other:?}: use keyPair or secret"),
    }
}

fn azure_credentials(c: &Credential) -> Result<(String, Secret)> {
    match c.kind.as_deref() {
        None => bail!("profile field Credential is missing: an azure location needs the storage account name and key"),
        Some("keyPair" | "keypair") => {
            let kp = c.required_key_pair()?;
            Ok((required(&kp.id, "Credential.KeyPair.ID")?, Secret::new(required(&kp.secret, "Credential.KeyPair.Secret")?)))
        }
        Some("secret") => {
            let data = c.secret_data()?;
            let get = |k: &str| data.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            let name = get("azure_storage_account_id").ok_or_else(|| anyhow!("profile field Credential.Secret.data.azure_storage_account_id is missing"))?;
            let key = get("azure_storage_key").ok_or_else(|| anyhow!("profile field Credential.Secret.data.azure_storage_key is missing"))?;
            Ok((name.expose().to_string(), key))
        }
        Some(other) => bail!("profile field Credential.Type is {other:?}: use keyPair or secret"),
    }
}

/// A field that must be given and not be empty; `path` names it in the error.
fn required(value: &Option<String>, path: &str) -> Result<String> {
    match value {
        Some(s) if !s.is_empty() => Ok(s.clone()),
        Some(_) => bail!("profile field {path} is empty: give a value"),
        None => bail!("profile field {path} is missing: give a value"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KANISTER: &str = r#"{"Location":{"type":"s3Compliant","bucket":"b","endpoint":"http://minio:9000","prefix":"kanister","region":"us-east-1"},
 "Credential":{"Type":"keyPair","KeyPair":{"ID":"AKIAEXAMPLE","Secret":"sekrit-key"},"Secret":null,"KopiaServerSecret":null},
 "SkipSSLVerify":false}"#;

    #[test]
    fn kanister_rendered_profile_parses() {
        match parse(KANISTER).unwrap() {
            Location::S3 {
                bucket,
                endpoint,
                prefix,
                region,
                credentials,
                skip_ssl_verify,
            } => {
                assert_eq!(bucket, "b");
                assert_eq!(endpoint.as_deref(), Some("http://minio:9000"));
                assert_eq!(prefix, "kanister");
                assert_eq!(region.as_deref(), Some("us-east-1"));
                let c = credentials.unwrap();
                assert_eq!(c.access_key_id.expose(), "AKIAEXAMPLE");
                assert_eq!(c.secret_access_key.expose(), "sekrit-key");
                assert!(!skip_ssl_verify);
            }
            other => panic!("wrong location {other:?}"),
        }
    }

    #[test]
    fn lower_case_keys_and_secret_credentials_parse() {
        let p = r#"{"location":{"type":"s3Compliant","bucket":"b"},"credential":{"type":"secret",
          "secret":{"apiVersion":"v1","kind":"Secret","data":{"aws_access_key_id":"QUtJRA==","aws_secret_access_key":"U0VDUkVU"}}}}"#;
        match parse(p).unwrap() {
            Location::S3 {
                credentials: Some(c),
                ..
            } => {
                assert_eq!(c.access_key_id.expose(), "AKID");
                assert_eq!(c.secret_access_key.expose(), "SECRET");
            }
            other => panic!("wrong location {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_bad_field() {
        let e = parse(r#"{"Location":{"type":"s3Compliant"}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("Location.bucket"), "{e}");
        let e = parse(r#"{"Location":{"type":"ftp","bucket":"b"}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("Location.type") && e.contains("ftp"), "{e}");
        let e = parse(r#"{"Location":{"type":"s3Compliant","bucket":"b"},"Credential":{"Type":"keyPair","KeyPair":{"ID":"x"}}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("Credential.KeyPair.Secret"), "{e}");
        let e = parse(r#"{"Location":{"type":"kopia"}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("Kopia repository server"), "{e}");
        let e = parse("{not json").unwrap_err().to_string();
        assert!(e.contains("not valid JSON"), "{e}");
    }
}
