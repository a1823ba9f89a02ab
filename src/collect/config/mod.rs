//! gickup's `conf.yml`, accepted unchanged.
//!
//! Everything gickup accepts parses; what forgesafe does not act on comes back as a warning
//! naming the key, so a user migrating from gickup is never silently surprised. Only
//! configurations that cannot be run correctly are errors, each one line naming the file,
//! the key and the fix.

mod parse;
mod raw;
mod token;
mod types;

use std::path::Path;

use anyhow::{Context, Result};

pub use token::EnvLookup;
pub use types::*;

/// Keys (at any level) that parse but that forgesafe does not act on, each with what to do
/// instead; each one that is set produces a warning. Remove a key when its feature lands.
pub const NOT_ACTED_ON: &[(&str, &str)] = &[
    ("log", "forgesafe logs to stderr (FORGESAFE_LOG sets the level; JSON lines in a pod)"),
    ("zip", "mirrors stay plain bare repositories; the snapshot that `backup` pushes is compressed and deduplicated"),
    ("keep", "history is kept as snapshots in the repository; keep N of them with a retention policy instead of N folders"),
];

/// Why a gickup key is not acted on, if it is one of those.
pub fn not_acted_on(key: &str) -> Option<&'static str> {
    NOT_ACTED_ON
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, why)| *why)
}

#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub config: Config,
    /// One line per key that was read but is not acted on, or not understood.
    pub warnings: Vec<String>,
    /// One line per key that only `forgesafe serve` acts on (`cron`, `metrics`).
    pub serve_only: Vec<String>,
}

/// Read a config file, resolving tokens against the process environment.
pub fn load(path: &Path) -> Result<LoadedConfig> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "{}: cannot read the config file; check the path",
            path.display()
        )
    })?;
    let env = |name: &str| std::env::var(name).ok();
    parse_str(&text, &path.display().to_string(), &env)
}

/// Parse config text; `file_label` names the file in messages, `env` resolves token variables.
pub fn parse_str(text: &str, file_label: &str, env: EnvLookup<'_>) -> Result<LoadedConfig> {
    let mut reader = parse::Reader::new(file_label, env);
    let config = reader.read_all(text)?;
    Ok(LoadedConfig {
        config,
        warnings: reader.warnings,
        serve_only: reader.serve_only,
    })
}
