//! Which LFS server a mirror's objects come from, and whether it may see our credentials.
//!
//! git-lfs's rules (`docs/api/server-discovery.md`, `lfsapi/endpoint_finder.go`), for the
//! one remote a mirror has:
//! 1. `lfs.url`, or `remote.origin.lfsurl`, from the repository's `.lfsconfig`. In a bare
//!    repository git-lfs reads that file from the HEAD commit's tree (`HEAD:.lfsconfig`).
//! 2. Otherwise the clone URL without a trailing `/`, plus `/info/lfs` if it ends in `.git`,
//!    else plus `.git/info/lfs`.
//!
//! # Credentials
//! The forge token is meant for the forge. `.lfsconfig` is content of the repository, written
//! by whoever can push to it, so an endpoint taken from it gets the credentials only if it is
//! on the clone URL's own origin (scheme, host and port). Anything else is asked without them.

use std::fmt;

use crate::http::{safe_display, same_origin, Url};
use anyhow::{bail, Context, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// From `HEAD:.lfsconfig`.
    LfsConfig,
    /// Derived from the clone URL.
    CloneUrl,
}

#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The LFS endpoint, e.g. `https://github.com/o/r.git/info/lfs`; the batch API is under it.
    pub url: Url,
    pub source: Source,
    /// Same origin as the clone URL: the only case our credentials may be sent.
    pub same_origin_as_clone: bool,
}

impl Endpoint {
    pub fn batch_url(&self) -> Url {
        let mut url = self.url.clone();
        let path = format!("{}/objects/batch", url.path().trim_end_matches('/'));
        url.set_path(&path);
        url
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&safe_display(&self.url))
    }
}

/// The endpoint for a mirror of `clone_url` whose HEAD holds `lfsconfig` (the bytes of its
/// `.lfsconfig`, if any).
pub fn discover(lfsconfig: Option<&[u8]>, clone_url: &str) -> Result<Endpoint> {
    let clone = Url::parse(clone_url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"));
    if let Some(configured) = lfsconfig.map(lfs_url_from_config).transpose()?.flatten() {
        let url = Url::parse(&configured)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .with_context(|| format!("the repository's .lfsconfig sets lfs.url to {configured:?}, which is not an http(s) URL forgesafe can use"))?;
        let same_origin_as_clone = clone.as_ref().is_some_and(|c| same_origin(c, &url));
        return Ok(Endpoint {
            url,
            source: Source::LfsConfig,
            same_origin_as_clone,
        });
    }
    let Some(clone) = clone else {
        bail!("Git LFS needs an http(s) clone URL to find its server; this remote's URL is not one (set lfs.url in the repository's .lfsconfig)");
    };
    Ok(Endpoint {
        url: derive_from_clone_url(&clone)?,
        source: Source::CloneUrl,
        same_origin_as_clone: true,
    })
}

/// Rule 2 above, on an http(s) clone URL.
pub fn derive_from_clone_url(clone: &Url) -> Result<Url> {
    let mut url = clone.clone();
    // Credentials travel only as the `credentials` argument, never inside a URL.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    let path = clone.path().trim_end_matches('/');
    let path = if path.ends_with(".git") {
        format!("{path}/info/lfs")
    } else {
        format!("{path}.git/info/lfs")
    };
    url.set_path(&path);
    Ok(url)
}

/// `lfs.url` (else `remote.origin.lfsurl`): only the two keys git-lfs would use for the
/// endpoint are read.
pub fn lfs_url_from_config(text: &[u8]) -> Result<Option<String>> {
    crate::collect::mirror::objects::config_value(text, &["lfs.url", "remote.origin.lfsurl"])
        .context("the repository's .lfsconfig is not valid git-config syntax")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn derive(url: &str) -> String {
        derive_from_clone_url(&Url::parse(url).unwrap())
            .unwrap()
            .to_string()
    }

    #[test]
    fn derives_git_lfs_default_endpoint() {
        assert_eq!(
            derive("https://github.com/o/r.git"),
            "https://github.com/o/r.git/info/lfs"
        );
        assert_eq!(
            derive("https://github.com/o/r"),
            "https://github.com/o/r.git/info/lfs"
        );
        assert_eq!(
            derive("https://github.com/o/r/"),
            "https://github.com/o/r.git/info/lfs"
        );
        assert_eq!(
            derive("http://127.0.0.1:8080/g/sub/r.git/"),
            "http://127.0.0.1:8080/g/sub/r.git/info/lfs"
        );
        assert_eq!(
            derive("https://u:p@h/o/r.git"),
            "https://h/o/r.git/info/lfs"
        );
    }

    #[test]
    fn batch_url_is_under_the_endpoint() {
        let e = Endpoint {
            url: Url::parse("https://h/o/r.git/info/lfs/").unwrap(),
            source: Source::CloneUrl,
            same_origin_as_clone: true,
        };
        assert_eq!(
            e.batch_url().as_str(),
            "https://h/o/r.git/info/lfs/objects/batch"
        );
    }

    #[test]
    fn reads_lfs_url_from_lfsconfig() {
        let text = b"[lfs]\n\turl = https://lfs.example.org/o/r\n";
        assert_eq!(
            lfs_url_from_config(text).unwrap().as_deref(),
            Some("https://lfs.example.org/o/r")
        );
        let remote = b"[remote \"origin\"]\n\tlfsurl = https://x/y\n";
        assert_eq!(
            lfs_url_from_config(remote).unwrap().as_deref(),
            Some("https://x/y")
        );
        assert_eq!(
            lfs_url_from_config(b"[lfs]\n\tfetchexclude = *.psd\n").unwrap(),
            None
        );
        assert!(lfs_url_from_config(b"[lfs\n").is_err());
    }
}
