//! What went wrong talking to a remote, by kind, so a caller can act on it: a remote that does
//! not exist (a wiki that was never created), credentials missing or refused, or another
//! failure, with whether running again may help.
//!
//! Classified by error types and gix's own classification (`gix::error::Class`), never by the
//! text of a message, so an upgrade of gix cannot silently change what a failure means.

use std::fmt;

/// The remote repository does not exist (HTTP 404, or a local path that is not there). Wikis
/// are optional on every forge, so a caller mirroring `<repo>.wiki.git` treats this as "no
/// wiki".
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
        if super::ssh::is_ssh_url(&self.url) {
            write!(f, "{} refused the ssh key; check that the key given (sshkey, --ssh-key) may read this repository", self.url)
        } else if self.had_credentials {
            write!(
                f,
                "{} rejected the credentials; check the token and that it may read this repository",
                self.url
            )
        } else {
            write!(
                f,
                "{} requires authentication; configure a token for it",
                self.url
            )
        }
    }
}

impl std::error::Error for RemoteAuthFailed {}

/// Any other failure of a conversation with the remote; gix's error is its source, for the
/// details.
#[derive(Debug)]
pub struct RemoteFailed {
    pub url: String,
    pub step: Step,
    /// gix found a passing cause (a refused connection, a timeout, a server error): running
    /// again later may succeed.
    pub retryable: bool,
    source: gix::Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Connect,
    ListRefs,
    Fetch,
}

impl fmt::Display for RemoteFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = &self.url;
        match self.step {
            Step::Connect => write!(f, "cannot connect to {url}"),
            Step::ListRefs => write!(f, "cannot list the refs of {url}"),
            Step::Fetch => write!(f, "fetch from {url} failed"),
        }?;
        if self.retryable {
            f.write_str(" (a passing failure, it seems: run again later)")?;
        }
        Ok(())
    }
}

impl std::error::Error for RemoteFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// `true` if `err` (anywhere in its chain) says the remote repository does not exist.
pub fn is_not_found(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| cause.is::<RemoteNotFound>())
}

/// Whether running again may help, if `err` is a failure of talking to a remote: never for a
/// missing repository or refused credentials; for other failures as gix classified them.
pub fn retry_may_help(err: &anyhow::Error) -> Option<bool> {
    err.chain().find_map(|cause| {
        if cause.is::<RemoteNotFound>() || cause.is::<RemoteAuthFailed>() {
            Some(false)
        } else {
            cause
                .downcast_ref::<RemoteFailed>()
                .map(|failed| failed.retryable)
        }
    })
}

/// The typed error for a gix failure at `step` of talking to `url`.
pub fn classify(err: gix::Error, url: &str, step: Step, had_credentials: bool) -> anyhow::Error {
    // Keep gix's own account for diagnosis; the kinds below replace it for the caller.
    tracing::debug!(url, ?step, "talking to the remote failed: {err:#}");
    let url = url.to_string();
    // While fetching, the remote was already found: a missing file then is ours, not theirs.
    if step != Step::Fetch && says_not_found(&err) {
        anyhow::Error::new(RemoteNotFound { url })
    } else if err.is_unauthenticated() {
        // gix classifies both "the server said 401 and we had nothing" and "credentials not
        // accepted" so.
        anyhow::Error::new(RemoteAuthFailed {
            url,
            had_credentials,
        })
    } else {
        let retryable = err.can_retry();
        anyhow::Error::new(RemoteFailed {
            url,
            step,
            retryable,
            source: err,
        })
    }
}

/// gix's smart-HTTP transport leaves a 404 unclassified but keeps the HTTP client's error,
/// with its status, among the causes; a missing local path is an I/O "not found", which gix
/// classifies.
fn says_not_found(err: &gix::Error) -> bool {
    err.is_not_found()
        || err
            .iter_errors()
            .any(|cause| crate::http::status_of_foreign_error(cause) == Some(404))
}
