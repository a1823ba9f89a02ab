//! Logs go to stderr only (stdout carries phase outputs): human-readable on a terminal, JSON
//! lines in a pod, and always through the secret redactor.

use std::io::{IsTerminal, Write};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// JSON in a Kubernetes pod, human text elsewhere.
    Auto,
    Human,
    Json,
}

impl LogFormat {
    fn resolve(self) -> LogFormat {
        match self {
            LogFormat::Auto if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() => {
                LogFormat::Json
            }
            LogFormat::Auto => LogFormat::Human,
            other => other,
        }
    }
}

pub fn is_human(format: LogFormat) -> bool {
    format.resolve() == LogFormat::Human
}

/// `verbosity`: 0 = our info and others' warnings, 1 = our debug, 2 = all debug, 3+ = all trace.
/// `FORGESAFE_LOG` (an env-filter directive) overrides.
pub fn init(format: LogFormat, verbosity: u8, quiet: bool) {
    let default = match (quiet, verbosity) {
        (true, _) => "error",
        // opendal logs every expected "not found" (probing for a repository) as a warning and
        // every failure with a backtrace; our own error line says what matters.
        (false, 0) => "warn,opendal=off,forgesafe=info",
        (false, 1) => "info,opendal=warn,forgesafe=debug",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter =
        EnvFilter::try_from_env("FORGESAFE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(RedactingStderr);
    let result = match format.resolve() {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        _ => builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(verbosity > 0)
            .try_init(),
    };
    // Tests and embedders may have installed a subscriber already; keep theirs.
    let _ = result;
}

/// Stderr, with every registered secret replaced by `***` before it is written.
#[derive(Clone, Copy)]
pub struct RedactingStderr;

impl<'a> MakeWriter<'a> for RedactingStderr {
    type Writer = RedactingStderr;
    fn make_writer(&'a self) -> Self::Writer {
        RedactingStderr
    }
}

impl Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(crate::secret::redact(&text).as_bytes())?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
