//! A finished command's output, one type whether it ran here or in a pod: both streams, the exit
//! status, and the error a failed one becomes. The error carries the last lines of both streams,
//! because that is usually all a user needs to see why.
//!
//! Also the one reader of a running command's streams: every line is handed to a callback as it
//! arrives (for live logs) and kept whole (for outputs and errors), lines of any length.

use crate::secret;
use std::fmt;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

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

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    Stdout,
    Stderr,
}

impl StreamKind {
    pub fn name(self) -> &'static str {
        match self {
            StreamKind::Stdout => "stdout",
            StreamKind::Stderr => "stderr",
        }
    }
}

/// Called with every complete line (without its line break) as it arrives.
pub type OnLine<'a> = &'a (dyn Fn(StreamKind, &str) + Send + Sync);

/// Reads a stream to its end, reporting each line; returns all of it.
pub async fn read_lines(
    stream: impl AsyncRead + Unpin,
    kind: StreamKind,
    on_line: OnLine<'_>,
) -> std::io::Result<String> {
    let mut reader = BufReader::new(stream);
    let (mut all, mut line) = (Vec::new(), Vec::new());
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            break;
        }
        all.extend_from_slice(&line);
        on_line(
            kind,
            String::from_utf8_lossy(&line).trim_end_matches(['\n', '\r']),
        );
    }
    Ok(String::from_utf8_lossy(&all).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

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

    #[tokio::test]
    async fn every_line_is_reported_and_kept_even_a_long_one_without_a_final_newline() {
        let long = "x".repeat(100_000);
        let input = format!("one\r\n{long}\nlast");
        let seen = Mutex::new(Vec::new());
        let on_line = |kind: StreamKind, line: &str| seen.lock().unwrap().push((kind, line.len()));
        let all = read_lines(input.as_bytes(), StreamKind::Stderr, &on_line)
            .await
            .unwrap();
        assert_eq!(all, input);
        assert_eq!(
            *seen.lock().unwrap(),
            [
                (StreamKind::Stderr, 3),
                (StreamKind::Stderr, 100_000),
                (StreamKind::Stderr, 4)
            ]
        );
    }
}
