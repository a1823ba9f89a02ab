//! rustic's errors are long multi-line reports; users get one line naming the problem and what to
//! do. The usual object-store failures are recognised by the *types* in the error's source chain
//! (opendal's error kinds, `std::io::ErrorKind`), never by the wording of a message, so a
//! dependency upgrade cannot silently change what users read.

use rustic_core::RusticError;
use std::error::Error;

/// The object-store failures users meet, each with what to do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreFailure {
    ConnectionRefused,
    TimedOut,
    ConnectionBroken,
    AccessDenied,
    NotFound,
    BadSettings,
    RateLimited,
    /// The store answered with a temporary error of another kind.
    Temporary,
}

impl StoreFailure {
    /// Whether running the same command again may succeed without changing anything.
    pub fn retry_can_help(self) -> bool {
        matches!(
            self,
            Self::TimedOut
                | Self::ConnectionBroken
                | Self::RateLimited
                | Self::Temporary
                | Self::ConnectionRefused
        )
    }

    fn advice(self) -> &'static str {
        match self {
            Self::ConnectionRefused => "the object store refused the connection: check the profile's endpoint and that the store is running",
            Self::TimedOut => "the object store did not answer in time: check the network path to the endpoint, then retry",
            Self::ConnectionBroken => {
                "cannot reach the object store, or the connection broke: check the profile's endpoint and that the store is running, then retry"
            }
            Self::AccessDenied => "the object store refused the credentials: check the profile's key pair and its permissions on the bucket",
            Self::NotFound => "the object store has no such bucket or object: create the bucket, or fix Location.bucket and prefix in the profile",
            Self::BadSettings => "the object store settings are not usable: check the profile's Location and Credential fields",
            Self::RateLimited => "the object store is throttling requests: retry later",
            Self::Temporary => "the object store failed for now: retry",
        }
    }
}

/// The most specific failure the chain names: an I/O kind deep down beats opendal's summary.
pub fn classify(err: &(dyn Error + 'static)) -> Option<StoreFailure> {
    let mut found = None;
    let mut next: Option<&(dyn Error + 'static)> = Some(err);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(f) = from_io(io.kind()) {
                return Some(f);
            }
        }
        if let Some(o) = e.downcast_ref::<opendal::Error>() {
            found = found.or(from_opendal(o));
        }
        next = e.source();
    }
    found
}

fn from_io(kind: std::io::ErrorKind) -> Option<StoreFailure> {
    use std::io::ErrorKind as K;
    Some(match kind {
        K::ConnectionRefused => StoreFailure::ConnectionRefused,
        K::TimedOut => StoreFailure::TimedOut,
        K::ConnectionReset
        | K::ConnectionAborted
        | K::BrokenPipe
        | K::UnexpectedEof
        | K::NotConnected => StoreFailure::ConnectionBroken,
        K::PermissionDenied => StoreFailure::AccessDenied,
        _ => return None,
    })
}

fn from_opendal(e: &opendal::Error) -> Option<StoreFailure> {
    use opendal::ErrorKind as K;
    Some(match e.kind() {
        K::PermissionDenied => StoreFailure::AccessDenied,
        K::NotFound => StoreFailure::NotFound,
        K::ConfigInvalid => StoreFailure::BadSettings,
        K::RateLimited => StoreFailure::RateLimited,
        _ if e.is_temporary() => StoreFailure::Temporary,
        _ => return None,
    })
}

/// Turns a rustic error into one line, prefixed with what we were doing.
#[allow(clippy::boxed_local)] // rustic_core hands its errors out boxed
pub fn from_rustic(err: Box<RusticError>, doing: &str) -> anyhow::Error {
    if err.is_incorrect_password() {
        return anyhow::anyhow!(
            "{doing}: wrong repository password: give the password this repository was created with \
             (FORGESAFE_PASSWORD, FORGESAFE_PASSWORD_FILE or --password-file)"
        );
    }
    let detail = one_line(&err.display_log());
    let detail = detail
        .strip_prefix("Error: ")
        .unwrap_or(&detail)
        .to_string();
    match classify(&*err) {
        Some(failure) => {
            tracing::debug!(detail = %detail, retry_can_help = failure.retry_can_help(), "store error");
            anyhow::anyhow!("{doing}: {}", failure.advice())
        }
        None => anyhow::anyhow!("{doing}: {detail}"),
    }
}

pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapper(Box<dyn Error + Send + Sync>);
    impl std::fmt::Display for Wrapper {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("wrapped")
        }
    }
    impl Error for Wrapper {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&*self.0)
        }
    }

    #[test]
    fn failures_are_read_from_the_types_in_the_chain() {
        let refused = Wrapper(Box::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        )));
        assert_eq!(classify(&refused), Some(StoreFailure::ConnectionRefused));
        let denied = Wrapper(Box::new(opendal::Error::new(
            opendal::ErrorKind::PermissionDenied,
            "403",
        )));
        assert_eq!(classify(&denied), Some(StoreFailure::AccessDenied));
        // opendal's summary wraps the I/O cause: the I/O kind is the more specific answer.
        let deep = opendal::Error::new(opendal::ErrorKind::Unexpected, "send")
            .set_source(std::io::Error::from(std::io::ErrorKind::TimedOut));
        assert_eq!(
            classify(&Wrapper(Box::new(deep))),
            Some(StoreFailure::TimedOut)
        );
        assert_eq!(classify(&std::fmt::Error), None);
        assert!(
            StoreFailure::TimedOut.retry_can_help() && !StoreFailure::AccessDenied.retry_can_help()
        );
    }
}
