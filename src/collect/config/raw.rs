//! Serde shapes of gickup's YAML entries, before tokens are resolved and before we decide
//! what is supported. Field names are gickup's, so a `conf.yml` is read unchanged.

use serde::Deserialize;

/// Keys gickup accepts in a forge source entry (github, gitea, gitlab, …).
pub const FORGE_ENTRY_KEYS: &[&str] = &[
    "token",
    "token_file",
    "user",
    "url",
    "username",
    "password",
    "ssh",
    "sshkey",
    "include",
    "exclude",
    "includeorgs",
    "excludeorgs",
    "wiki",
    "issues",
    "starred",
    "filter",
    // forgesafe's own (gickup ignores keys it does not know): download release asset files too.
    "releaseassets",
];

/// Keys of an `any:` entry.
pub const PLAIN_ENTRY_KEYS: &[&str] = &[
    "url",
    "name",
    "username",
    "password",
    "token",
    "token_file",
    "ssh",
    "sshkey",
];

pub const FILTER_KEYS: &[&str] = &[
    "stars",
    "lastactivity",
    "languages",
    "excludearchived",
    "excludeforks",
];

pub const LOCAL_DESTINATION_KEYS: &[&str] =
    &["path", "structured", "bare", "mirror", "lfs", "zip", "keep"];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawForgeEntry {
    pub token: Option<String>,
    pub token_file: Option<String>,
    pub user: Option<String>,
    pub url: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub ssh: bool,
    pub sshkey: Option<String>,
    pub include: Option<Vec<String>>,
    pub exclude: Option<Vec<String>>,
    pub includeorgs: Option<Vec<String>>,
    pub excludeorgs: Option<Vec<String>>,
    pub wiki: bool,
    pub issues: bool,
    pub starred: bool,
    pub filter: Option<RawFilter>,
    pub releaseassets: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawFilter {
    pub stars: Option<u64>,
    pub lastactivity: Option<String>,
    pub languages: Option<Vec<String>>,
    pub excludearchived: bool,
    pub excludeforks: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawPlainEntry {
    pub url: Option<String>,
    pub name: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
    pub token_file: Option<String>,
    pub ssh: bool,
    pub sshkey: Option<String>,
}

/// Keys of a `gitea`, `gitlab` or `github` destination entry, as gickup documents them.
pub const FORGE_DESTINATION_KEYS: &[&str] = &[
    "token",
    "token_file",
    "user",
    "url",
    "organization",
    "createorg",
    "mirrorinterval",
    "lfs",
    "mirror",
    "visibility",
    "force",
];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawForgeDestination {
    pub token: Option<String>,
    pub token_file: Option<String>,
    pub user: Option<String>,
    pub url: Option<String>,
    pub organization: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawLocalDestination {
    pub path: Option<String>,
    /// Unset means structured: forgesafe's default, unlike gickup's, so that two owners'
    /// same-named repositories never collide. `structured: false` still gives the flat layout.
    pub structured: Option<bool>,
    pub bare: bool,
    pub mirror: bool,
    pub lfs: bool,
    pub zip: bool,
    pub keep: Option<u64>,
}
