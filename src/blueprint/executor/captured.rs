//! A finished command's streams and exit status, and the error a failed one becomes: it carries
//! the last lines of both streams, because that is usually all a user needs to see why.

use crate::secret;
use std::fmt;

/// How many trailing lines of stdout and stderr a failure shows (Kanister shows 10).
pub const TAIL_LINES: usize = 10;

#[derive(Debug, Clone, Default)]
pub struct Captured {
    pub stdout: String,
    pub stderr: String,
    /// `None` when the command ended without an exit code (killed, or the stream broke).
    pub exit_code: Option<i32>,
    /// Set when the command could not finish for a reason other than its exit code.
    pub error: Option<String>,
}

impl Captured {
    pub fn succeeded(&self) -> bool {
        self.error.is_none() && self.exit_code == Some(0)
    }

    /// `Ok(self)` on success, otherwise the failure with both streams' tails.
    pub fn into_result(self, what: &str) -> Result<Captured, CommandFailed> {
        if self.succeeded() {
            return Ok(self);
        }
        let reason = match (&self.error, self.exit_code) {
            (Some(e), _) => e.clone(),
            (None, Some(code)) => format!("exited with code {code}"),
            (None, None) => "ended without an exit status".to_string(),
        };
        Err(CommandFailed {
            what: what.to_string(),
            reason,
            stdout_tail: tail_lines(&self.stdout, TAIL_LINES),
            stderr_tail: tail_lines(&self.stderr, TAIL_LINES),
        })
    }
}

/// The last `n` lines of `text`.
pub fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[derive(Debug)]
pub struct CommandFailed {
    pub what: String,
    pub reason: String,
    pub stdout_tail: String,
    pub stderr_tail: String,
}

impl fmt::Display for CommandFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Redacted here too: a failing command may well have echoed a credential.
        let text = format!(
            "{} {}\n--- last {TAIL_LINES} lines of stdout ---\n{}\n--- last {TAIL_LINES} lines of stderr ---\n{}",
            self.what, self.reason, self.stdout_tail, self.stderr_tail
        );
        f.write_str(&secret::redact(&text))
    }
}

impl std::error::Error for CommandFailed {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_keeps_only_the_last_ten_lines() {
        let stdout: String = (1..=15).map(|i| format!("out{i}\n")).collect();
        let c = Captured {
            stdout,
            stderr: "e1\ne2\n".into(),
            exit_code: Some(3),
            error: None,
        };
        let text = c.into_result("command in pod p").unwrap_err().to_string();
        assert!(text.contains("exited with code 3"), "{text}");
        assert!(
            text.contains("out6\nout7") && text.contains("out15"),
            "{text}"
        );
        assert!(!text.contains("out5\n"), "{text}");
        assert!(text.contains("e1\ne2"), "{text}");
    }
}
