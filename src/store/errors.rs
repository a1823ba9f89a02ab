//! rustic's errors are long multi-line reports; users get one line naming the problem and what to do.

use rustic_core::{ErrorKind, RusticError};

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
    let detail = detail.strip_prefix("Error: ").unwrap_or(&detail).to_string();
    if let Some(plain) = classify_store_failure(&detail) {
        tracing::debug!(detail = %detail, "store error");
        return anyhow::anyhow!("{doing}: {plain}");
    }
    // rustic keeps the kind private; its log form names it.
    let backend_kind = format!("(kind: related to {}", ErrorKind::Backend);
    let hint = if detail.contains(&backend_kind) {
        " (check the profile's endpoint, bucket and credentials, and that the object store is reachable)"
    } else {
        ""
    };
    anyhow::anyhow!("{doing}: {detail}{hint}")
}

/// Object-store failures arrive as long chains of wrapped errors; the usual ones get a plain
/// sentence that says what to fix. `None` leaves the detail as it is.
fn classify_store_failure(detail: &str) -> Option<&'static str> {
    let has = |needle: &str| detail.contains(needle);
    Some(if has("Connection refused") {
        "the object store refused the connection: check the profile's endpoint and that the store is running"
    } else if has("dns error") || has("failed to lookup address") {
        "the object store's host name does not resolve: check the profile's endpoint"
    } else if has("NoSuchBucket") {
        "the bucket does not exist: create it, or fix Location.bucket in the profile"
    } else if has("InvalidAccessKeyId") || has("SignatureDoesNotMatch") || has("AccessDenied") || has("PermissionDenied (persistent)") {
        "the object store refused the credentials: check the profile's key pair and its permissions on the bucket"
    } else if has("operation timed out") || has("TimedOut") {
        "the object store did not answer in time: check the network path to the endpoint"
    } else if has("connection closed") || has("connection reset") || has("Connection reset") || has("broken pipe") || has("IncompleteMessage") || has("error sending request") {
        "cannot reach the object store, or the connection broke: check the profile's endpoint and that the store is running, then retry"
    } else if has("failed to load signing credential") {
        "no credentials for the object store: give Credential in the profile (keyPair or secret), or run where AWS credentials are provided"
    } else {
        return None;
    })
}

pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
