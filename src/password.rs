//! The repository password: never a default, never needed on a command line.

use crate::secret::Secret;
use anyhow::{bail, Context, Result};
use std::path::Path;

pub const PASSWORD_ENV: &str = "FORGESAFE_PASSWORD";
pub const PASSWORD_FILE_ENV: &str = "FORGESAFE_PASSWORD_FILE";

/// `--password-file`, else `FORGESAFE_PASSWORD_FILE`, else `FORGESAFE_PASSWORD`.
pub fn load(password_file: Option<&Path>) -> Result<Secret> {
    if let Some(path) = password_file {
        return from_file(path);
    }
    if let Ok(path) = std::env::var(PASSWORD_FILE_ENV) {
        if !path.is_empty() {
            return from_file(Path::new(&path));
        }
    }
    match std::env::var(PASSWORD_ENV) {
        Ok(p) if !p.is_empty() => Ok(Secret::new(p)),
        _ => bail!(
            "no repository password: set {PASSWORD_ENV}, or {PASSWORD_FILE_ENV} / --password-file to a file holding it \
             (forgesafe never falls back to a default password)"
        ),
    }
}

/// The first line of the file, like restic's `--password-file`.
fn from_file(path: &Path) -> Result<Secret> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read the password file {}: check the path and its permissions",
            path.display()
        )
    })?;
    let first = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if first.is_empty() {
        bail!(
            "the password file {} is empty: put the repository password on its first line",
            path.display()
        );
    }
    Ok(Secret::new(first))
}
