//! rustic's errors are long multi-line reports; users get one line naming the problem and what to do.

use rustic_core::{ErrorKind, RusticError};

/// Turns a rustic error into one line, prefixed with what we were doing.
pub fn from_rustic(err: Box<RusticError>, doing: &str) -> anyhow::Error {
    if err.is_incorrect_password() {
        return anyhow::anyhow!(
            "{doing}: wrong repository password: give the password this repository was created with \
             (FORGESAFE_PASSWORD, FORGESAFE_PASSWORD_FILE or --password-file)"
        );
    }
    let detail = one_line(&err.display_log());
    let detail = detail.strip_prefix("Error: ").unwrap_or(&detail).to_string();
    // rustic keeps the kind private; its log form names it.
    let backend_kind = format!("(kind: related to {}", ErrorKind::Backend);
    let hint = if detail.contains(&backend_kind) {
        " (check the profile's endpoint, bucket and credentials, and that the object store is reachable)"
    } else {
        ""
    };
    anyhow::anyhow!("{doing}: {detail}{hint}")
}

pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
