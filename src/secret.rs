//! Secrets (passwords, access keys, tokens) and the redaction of them from everything we print.
//!
//! Every `Secret` registers its text with a process-wide redaction list the moment it is made.
//! The log writer and the final error line pass through [`redact`], so a secret that reaches a
//! message by accident (a dependency's error text, a debug log of a request) is printed as `***`.

use std::fmt;
use std::sync::RwLock;

static KNOWN_SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Shortest text we redact: shorter "secrets" (e.g. a one-letter test password) would mangle
/// ordinary words in every log line, and are no secret anyway.
const MIN_REDACTED_LEN: usize = 4;

/// A piece of secret text. Debug and Display print `***`; `expose` is the one way to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        register(&text);
        Secret(text)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Adds a text to the redaction list (done by `Secret::new`; public for values that are secret
/// but never held as `Secret`, such as a whole credentials file).
pub fn register(text: &str) {
    let text = text.trim();
    if text.len() < MIN_REDACTED_LEN {
        return;
    }
    let mut known = KNOWN_SECRETS.write().unwrap_or_else(|e| e.into_inner());
    if !known.iter().any(|k| k == text) {
        known.push(text.to_string());
        // Longest first, so a secret that contains another is replaced whole.
        known.sort_by_key(|k| std::cmp::Reverse(k.len()));
    }
}

/// Replaces every registered secret in `text` with `***`.
pub fn redact(text: &str) -> String {
    let known = KNOWN_SECRETS.read().unwrap_or_else(|e| e.into_inner());
    let mut out = text.to_string();
    for secret in known.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "***");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_print_as_stars_and_are_redacted_from_text() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s} {s:?}"), "*** ***");
        assert_eq!(
            redact("password is hunter2-very-secret!"),
            "password is ***!"
        );
        assert_eq!(s.expose(), "hunter2-very-secret");
    }

    #[test]
    fn short_texts_are_not_redacted() {
        register("ab");
        assert_eq!(redact("abc"), "abc");
    }
}
