//! Error kinds a caller must tell apart from "the mirror failed".

use std::fmt;

/// The remote repository does not exist (HTTP 404, or "repository not found"). Wikis are
/// optional on every forge, so a caller mirroring `<repo>.wiki.git` treats this as "no wiki".
///
/// Find it with `err.downcast_ref::<RemoteNotFound>()` or [`is_not_found`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteNotFound {
    /// The clean URL (never carries credentials).
    pub url: String,
}

impl fmt::Display for RemoteNotFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "remote repository not found: {}", self.url)
    }
}

impl std::error::Error for RemoteNotFound {}

/// `true` if `err` (anywhere in its chain) says the remote repository does not exist.
pub fn is_not_found(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| cause.downcast_ref::<RemoteNotFound>().is_some())
}

/// Decide whether a gix error from the handshake means "no such repository".
///
/// gix-transport (reqwest backend) reports a non-401 HTTP error status as an I/O error whose
/// message is "Received HTTP status 404"; it is wrapped in several layers of gix errors and
/// `std::io::Error`, whose `source()` skips the wrapped error. Rendering every layer and
/// looking for the status is the one check that survives those layers. The other phrases
/// are what git-daemon/ssh servers and forges say for a missing repository.
pub fn looks_like_not_found(err: &gix::Error) -> bool {
    let mut rendered = String::new();
    for cause in err.iter_errors() {
        rendered.push_str(&cause.to_string());
        rendered.push('\n');
        let mut source = cause.source();
        while let Some(inner) = source {
            rendered.push_str(&inner.to_string());
            rendered.push('\n');
            source = inner.source();
        }
    }
    let rendered = rendered.to_ascii_lowercase();
    rendered.contains("http status 404")
        || rendered.contains("repository not found")
        || rendered.contains("does not appear to be a git repository")
}

/// The server wants credentials we do not have, or rejected the ones we sent. Distinct from
/// [`RemoteNotFound`] because the fix is different: a token, or a token with more scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteAuthFailed {
    pub url: String,
    /// `false`: the server asked for credentials and none were configured.
    pub had_credentials: bool,
}

impl fmt::Display for RemoteAuthFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.had_credentials {
            write!(f, "{} rejected the credentials; check the token and that it may read this repository", self.url)
        } else {
            write!(f, "{} requires authentication; configure a token for it", self.url)
        }
    }
}

impl std::error::Error for RemoteAuthFailed {}

/// gix classifies both "server said 401 and we had nothing" and "credentials not accepted" as
/// unauthenticated.
pub fn looks_like_auth_failure(err: &gix::Error) -> bool {
    err.is_unauthenticated()
}
