//! Walks the YAML documents of a gickup config, turning them into [`BackupJob`]s and
//! collecting a warning for every key we read but do not act on.

use anyhow::{anyhow, bail, Result};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_yaml::{Mapping, Value};

use super::not_acted_on;
use super::raw::*;
use super::token::{read_token_file, resolve_token, EnvLookup};
use super::types::*;
use crate::secret::Secret;

const SUPPORTED_FORGES: &[(&str, ForgeKind)] = &[
    ("github", ForgeKind::Github),
    ("gitea", ForgeKind::Gitea),
    ("gitlab", ForgeKind::Gitlab),
];
/// gickup sources we recognise but cannot back up yet: accepted with a warning.
const UNSUPPORTED_SOURCES: &[&str] = &["gogs", "bitbucket", "onedev", "sourcehut"];
const ALL_SOURCES: &str = "github, gitlab, gitea, gogs, bitbucket, onedev, sourcehut, any";
/// gickup destinations other than `local` (it can also push to forges and S3).
const UNSUPPORTED_DESTINATIONS: &[&str] = &[
    "gogs",
    "onedev",
    "sourcehut",
    "s3",
    "azureblob",
    "bitbucket",
];
const TOP_LEVEL_KEYS: &[&str] = &["source", "destination", "cron", "log", "metrics"];
/// Keys only the long-running `serve` acts on (the schedule, the metrics endpoint, heartbeats).
const SERVE_ONLY_KEYS: &[&str] = &["cron", "metrics"];

pub struct Reader<'a> {
    file: &'a str,
    env: EnvLookup<'a>,
    pub warnings: Vec<String>,
    /// Notes on keys that only `serve` acts on, for a command that runs once.
    pub serve_only: Vec<String>,
}

impl<'a> Reader<'a> {
    pub fn new(file: &'a str, env: EnvLookup<'a>) -> Self {
        Reader {
            file,
            env,
            warnings: Vec::new(),
            serve_only: Vec::new(),
        }
    }

    pub fn read_all(&mut self, text: &str) -> Result<Config> {
        let mut documents = Vec::new();
        for document in serde_yaml::Deserializer::from_str(text) {
            let value = Value::deserialize(document).map_err(|e| {
                anyhow!(
                    "{}: malformed YAML: {e}; fix the syntax there (gickup's conf.yml format)",
                    self.file
                )
            })?;
            documents.push(value);
        }
        let many = documents.len() > 1;
        let mut jobs = Vec::new();
        for (index, value) in documents.into_iter().enumerate() {
            let place = if many {
                format!("{}, document {}", self.file, index + 1)
            } else {
                self.file.to_string()
            };
            if let Some(job) = self.read_document(index, &place, value)? {
                jobs.push(job);
            }
        }
        if jobs.is_empty() {
            bail!("{}: no `source:` with a `destination:` found; add e.g. `source: {{github: [{{token: GITHUB_TOKEN}}]}}` and `destination: {{local: [{{path: /backups}}]}}`", self.file);
        }
        Ok(Config { jobs })
    }

    fn read_document(
        &mut self,
        index: usize,
        place: &str,
        value: Value,
    ) -> Result<Option<BackupJob>> {
        let map = match value {
            Value::Null => return Ok(None), // an empty document, e.g. a trailing `---`
            Value::Mapping(map) => map,
            _ => bail!("{place}: the document is not a mapping; it needs `source:` and `destination:` keys"),
        };
        for key in string_keys(&map, place, "")? {
            if !TOP_LEVEL_KEYS.contains(&key.as_str()) {
                self.warn(format!("{place}: `{key}` is not a gickup key; ignored"));
            } else if let Some(why) = not_acted_on(&key) {
                self.warn(format!(
                    "{place}: `{key}` is not acted on by forgesafe: {why}"
                ));
            } else if SERVE_ONLY_KEYS.contains(&key.as_str()) {
                self.serve_only.push(format!(
                    "{place}: `{key}` is acted on by `forgesafe serve` only; this command runs once (run serve, or schedule it with a Kasten policy or a CronJob)"
                ));
            }
        }
        let sources = match map.get("source") {
            Some(value) => self.read_sources(place, value)?,
            None => Vec::new(),
        };
        let (destinations, forge_destinations) = match map.get("destination") {
            Some(value) => self.read_destinations(place, value)?,
            None => (Vec::new(), Vec::new()),
        };
        if destinations.is_empty() {
            let also = if forge_destinations.is_empty() {
                ""
            } else {
                " (forge destinations are pushed from it)"
            };
            bail!("{place}: destination: no `local` destination{also}; add `destination: {{local: [{{path: /backups}}]}}`");
        }
        if sources.is_empty() {
            self.warn(format!(
                "{place}: source: no supported source entries; this document backs up nothing"
            ));
        }
        let cron = map.get("cron").and_then(Value::as_str).map(str::to_string);
        let metrics = match map.get("metrics") {
            Some(value) => self.read_metrics(place, value)?,
            None => MetricsSettings::default(),
        };
        Ok(Some(BackupJob {
            document: index,
            sources,
            destinations,
            forge_destinations,
            cron,
            metrics,
        }))
    }

    /// gickup's `metrics: {prometheus: {endpoint, listen_addr}, heartbeat: {urls}, push}`.
    fn read_metrics(&mut self, place: &str, value: &Value) -> Result<MetricsSettings> {
        let Some(map) = value.as_mapping() else {
            bail!("{place}: metrics: expected a mapping such as `prometheus: {{listen_addr: \":6178\"}}`");
        };
        let mut settings = MetricsSettings::default();
        for key in string_keys(map, place, "metrics.")? {
            let item = &map[key.as_str()];
            match key.as_str() {
                "prometheus" => {
                    let text = |name: &str, default: &str| -> Result<String> {
                        match item.get(name) {
                            None | Some(Value::Null) => Ok(default.to_string()),
                            Some(Value::String(s)) => Ok(s.clone()),
                            Some(_) => bail!("{place}: metrics.prometheus.{name}: expected a string"),
                        }
                    };
                    settings.prometheus = Some(PrometheusSettings { endpoint: text("endpoint", "/metrics")?, listen_addr: text("listen_addr", ":6178")? });
                }
                "heartbeat" => {
                    let urls = item.get("urls").map(|v| entry_list(place, "metrics.heartbeat.urls", v)).transpose()?.unwrap_or(&[]);
                    for (i, url) in urls.iter().enumerate() {
                        let Some(url) = url.as_str() else { bail!("{place}: metrics.heartbeat.urls[{i}]: expected a URL") };
                        if !(url.starts_with("http://") || url.starts_with("https://")) {
                            bail!("{place}: metrics.heartbeat.urls[{i}]: not an http(s) URL; give the ping URL of the monitoring service");
                        }
                        settings.heartbeat_urls.push(Secret::new(url.to_string()));
                    }
                }
                "push" => self.warn(format!("{place}: metrics.push (ntfy, gotify) is not acted on by forgesafe: alert on /metrics instead (forgesafe_last_success_timestamp_seconds)")),
                other => self.warn(format!("{place}: metrics.{other}: not a gickup key; ignored")),
            }
        }
        Ok(settings)
    }

    fn read_sources(&mut self, place: &str, value: &Value) -> Result<Vec<Source>> {
        let Some(map) = value.as_mapping() else {
            bail!("{place}: source: expected a mapping of source kinds ({ALL_SOURCES})");
        };
        let mut sources = Vec::new();
        for kind in string_keys(map, place, "source.")? {
            let key_path = format!("source.{kind}");
            let entries = entry_list(place, &key_path, &map[kind.as_str()])?;
            if let Some((_, forge)) = SUPPORTED_FORGES.iter().find(|(name, _)| *name == kind) {
                for (i, entry) in entries.iter().enumerate() {
                    let path = format!("{key_path}[{i}]");
                    sources.push(Source::Forge(
                        self.read_forge_entry(place, &path, *forge, entry)?,
                    ));
                }
            } else if kind == "any" {
                for (i, entry) in entries.iter().enumerate() {
                    let path = format!("{key_path}[{i}]");
                    sources.push(Source::Plain(self.read_plain_entry(place, &path, entry)?));
                }
            } else if UNSUPPORTED_SOURCES.contains(&kind.as_str()) {
                self.warn(format!(
                    "{place}: {key_path}: source `{kind}` is not supported by forgesafe yet; its {} entr{} skipped",
                    entries.len(),
                    if entries.len() == 1 { "y is" } else { "ies are" }
                ));
            } else {
                bail!("{place}: {key_path}: unknown source `{kind}`; use one of {ALL_SOURCES}");
            }
        }
        Ok(sources)
    }

    fn read_forge_entry(
        &mut self,
        place: &str,
        path: &str,
        kind: ForgeKind,
        entry: &Value,
    ) -> Result<ForgeSource> {
        self.check_keys(place, path, entry, FORGE_ENTRY_KEYS)?;
        if let Some(filter) = entry.get("filter") {
            self.check_keys(place, &format!("{path}.filter"), filter, FILTER_KEYS)?;
        }
        let raw: RawForgeEntry = typed(place, path, entry)?;
        let token = self.token(place, path, raw.token.as_deref(), raw.token_file.as_deref())?;
        let filter = raw.filter.unwrap_or_default();
        if raw.releaseassets && kind == ForgeKind::Gitlab {
            self.warn(format!(
                "{place}: {path}.releaseassets: GitLab release links point anywhere and are kept in the release metadata, not downloaded"
            ));
        }
        Ok(ForgeSource {
            kind,
            token,
            user: raw.user,
            url: raw.url,
            username: raw.username,
            password: raw.password.map(Secret::new),
            ssh: raw.ssh,
            ssh_key: ssh_key(place, path, raw.sshkey.as_deref())?,
            include: raw.include.unwrap_or_default(),
            exclude: raw.exclude.unwrap_or_default(),
            include_orgs: raw.includeorgs.unwrap_or_default(),
            exclude_orgs: raw.excludeorgs.unwrap_or_default(),
            wiki: raw.wiki,
            issues: raw.issues,
            starred: raw.starred,
            release_assets: raw.releaseassets,
            filter: Filter {
                stars: filter.stars,
                last_activity: filter.lastactivity,
                languages: filter.languages.unwrap_or_default(),
                exclude_archived: filter.excludearchived,
                exclude_forks: filter.excludeforks,
            },
        })
    }

    fn read_plain_entry(
        &mut self,
        place: &str,
        path: &str,
        entry: &Value,
    ) -> Result<PlainGitSource> {
        self.check_keys(place, path, entry, PLAIN_ENTRY_KEYS)?;
        let raw: RawPlainEntry = typed(place, path, entry)?;
        let Some(url) = raw.url.filter(|u| !u.trim().is_empty()) else {
            bail!("{place}: {path}.url: missing; give the repository's git URL or local path");
        };
        let token = self.token(place, path, raw.token.as_deref(), raw.token_file.as_deref())?;
        let ssh_key = ssh_key(place, path, raw.sshkey.as_deref())?;
        Ok(PlainGitSource {
            url,
            name: raw.name,
            username: raw.username,
            password: raw.password.map(Secret::new),
            token,
            ssh_key,
        })
    }

    /// `token_file` wins over `token`, as in gickup.
    fn token(
        &self,
        place: &str,
        path: &str,
        token: Option<&str>,
        token_file: Option<&str>,
    ) -> Result<Option<Secret>> {
        if let Some(file) = token_file.filter(|f| !f.is_empty()) {
            return read_token_file(file, &format!("{path}.token_file"), place).map(Some);
        }
        token
            .map(|t| resolve_token(t, &format!("{path}.token"), place, self.env))
            .transpose()
    }

    fn read_destinations(
        &mut self,
        place: &str,
        value: &Value,
    ) -> Result<(Vec<LocalDestination>, Vec<ForgeDestination>)> {
        let Some(map) = value.as_mapping() else {
            bail!("{place}: destination: expected a mapping such as `local: [{{path: /backups}}]`");
        };
        let mut destinations = Vec::new();
        let mut forges = Vec::new();
        for kind in string_keys(map, place, "destination.")? {
            let key_path = format!("destination.{kind}");
            let forge = match kind.as_str() {
                "github" => Some(ForgeKind::Github),
                "gitea" => Some(ForgeKind::Gitea),
                "gitlab" => Some(ForgeKind::Gitlab),
                _ => None,
            };
            if let Some(forge) = forge {
                for (i, entry) in entry_list(place, &key_path, &map[kind.as_str()])?
                    .iter()
                    .enumerate()
                {
                    forges.push(self.read_forge_destination(
                        place,
                        &format!("{key_path}[{i}]"),
                        forge,
                        entry,
                    )?);
                }
                continue;
            }
            if kind != "local" {
                let what = if UNSUPPORTED_DESTINATIONS.contains(&kind.as_str()) {
                    "is not supported by forgesafe"
                } else {
                    "is not a gickup destination"
                };
                self.warn(format!("{place}: {key_path}: `{kind}` {what}; ignored"));
                continue;
            }
            for (i, entry) in entry_list(place, &key_path, &map[kind.as_str()])?
                .iter()
                .enumerate()
            {
                let path = format!("{key_path}[{i}]");
                self.check_keys(place, &path, entry, LOCAL_DESTINATION_KEYS)?;
                let raw: RawLocalDestination = typed(place, &path, entry)?;
                let Some(dir) = raw.path.filter(|p| !p.trim().is_empty()) else {
                    bail!("{place}: {path}.path: missing; set the folder the mirrors go to, e.g. `path: /backups`");
                };
                // gickup writes working copies unless `bare: true`; forgesafe always writes bare
                // mirrors, so only an explicit `bare: false` asks for something we do not do.
                if entry.get("bare") == Some(&Value::Bool(false)) {
                    self.warn(format!("{place}: {path}.bare: forgesafe always writes bare mirrors (`bare: false` is ignored)"));
                }
                destinations.push(LocalDestination {
                    path: dir.into(),
                    structured: raw.structured.unwrap_or(true),
                    bare: raw.bare,
                    mirror: raw.mirror,
                    lfs: raw.lfs,
                    zip: raw.zip,
                    keep: raw.keep,
                });
            }
        }
        Ok((destinations, forges))
    }

    /// One `gitea`, `gitlab` or `github` destination. forgesafe pushes every collected
    /// repository there itself, always as a mirror (gickup's `mirror: {enabled: true}` with
    /// `force: true`); the keys that ask for something else are warned about.
    fn read_forge_destination(
        &mut self,
        place: &str,
        path: &str,
        kind: ForgeKind,
        entry: &Value,
    ) -> Result<ForgeDestination> {
        self.check_forge_destination_keys(place, path, kind, entry)?;
        let raw: RawForgeDestination = typed(place, path, entry)?;
        let Some(token) =
            self.token(place, path, raw.token.as_deref(), raw.token_file.as_deref())?
        else {
            bail!("{place}: {path}.token: missing; a {} destination needs a token that may create repositories and push", kind.key());
        };
        let owner = match kind {
            ForgeKind::Github => raw.organization.or(raw.user),
            _ => raw.user.or(raw.organization),
        };
        let private = match entry.get("visibility").and_then(|v| v.get("repositories")) {
            None => true,
            Some(Value::String(v)) if v == "private" => true,
            Some(Value::String(v)) if v == "public" => false,
            Some(other) => bail!(
                "{place}: {path}.visibility.repositories: {other:?} is not `private` or `public`"
            ),
        };
        Ok(ForgeDestination {
            kind,
            url: raw.url.filter(|u| !u.trim().is_empty()),
            token,
            owner: owner.filter(|o| !o.is_empty()),
            private,
        })
    }

    fn check_forge_destination_keys(
        &mut self,
        place: &str,
        path: &str,
        kind: ForgeKind,
        entry: &Value,
    ) -> Result<()> {
        let Some(map) = entry.as_mapping() else {
            bail!("{place}: {path}: expected a mapping of keys");
        };
        for key in string_keys(map, place, path)? {
            if !FORGE_DESTINATION_KEYS.contains(&key.as_str()) {
                self.warn(format!(
                    "{place}: {path}.{key}: not a gickup key (a typo?); ignored"
                ));
            }
        }
        let pushes_itself =
            entry.get("mirror").and_then(|m| m.get("enabled")) == Some(&Value::Bool(true));
        if kind != ForgeKind::Github && !pushes_itself {
            self.warn(format!(
                "{place}: {path}: forgesafe pushes each collected repository there itself after the collect (gickup's `mirror: {{enabled: true}}`); it does not ask {} to pull",
                kind.key()
            ));
        }
        if entry.get("mirrorinterval").is_some()
            || entry
                .get("mirror")
                .and_then(|m| m.get("mirrorinterval"))
                .is_some()
        {
            self.warn(format!("{place}: {path}.mirrorinterval: not acted on: the destination is updated after every collect"));
        }
        if entry.get("createorg").is_some_and(is_set) {
            self.warn(format!("{place}: {path}.createorg: not acted on: create the organisation on the forge first"));
        }
        if entry
            .get("visibility")
            .and_then(|v| v.get("organizations"))
            .is_some()
        {
            self.warn(format!("{place}: {path}.visibility.organizations: not acted on: forgesafe creates no organisations"));
        }
        if entry.get("lfs").is_some_and(is_set) {
            self.warn(format!("{place}: {path}.lfs: not acted on: Git LFS objects stay in the local mirrors and are not pushed"));
        }
        if entry.get("force") == Some(&Value::Bool(false)) {
            self.warn(format!("{place}: {path}.force: forgesafe always force-pushes there: the destination is a mirror of the source"));
        }
        Ok(())
    }

    /// Warn about keys gickup would not know (likely typos) and about set keys we do not act on.
    fn check_keys(&mut self, place: &str, path: &str, entry: &Value, known: &[&str]) -> Result<()> {
        let Some(map) = entry.as_mapping() else {
            bail!("{place}: {path}: expected a mapping of keys");
        };
        for key in string_keys(map, place, path)? {
            let value = &map[key.as_str()];
            if !known.contains(&key.as_str()) {
                self.warn(format!(
                    "{place}: {path}.{key}: not a gickup key (a typo?); ignored"
                ));
            } else if let Some(why) = not_acted_on(&key).filter(|_| is_set(value)) {
                self.warn(format!(
                    "{place}: {path}.{key}: not acted on by forgesafe: {why}"
                ));
            }
        }
        Ok(())
    }

    /// Collected, not logged: the caller logs each warning once (parsing is pure).
    fn warn(&mut self, message: String) {
        self.warnings.push(message);
    }
}

/// A key that changes behaviour when set; `false`, empty and null are the defaults.
fn is_set(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Sequence(s) => !s.is_empty(),
        Value::Mapping(m) => !m.is_empty(),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

fn string_keys(map: &Mapping, place: &str, path: &str) -> Result<Vec<String>> {
    map.keys()
        .map(|k| {
            k.as_str().map(str::to_string).ok_or_else(|| {
                anyhow!("{place}: {path}: key {k:?} is not a string; use plain names")
            })
        })
        .collect()
}

/// gickup writes every source and destination as a YAML list; `key:` with nothing is an empty list.
fn entry_list<'v>(place: &str, path: &str, value: &'v Value) -> Result<&'v [Value]> {
    match value {
        Value::Null => Ok(&[]),
        Value::Sequence(items) => Ok(items),
        _ => bail!("{place}: {path}: expected a list of entries (`- key: value`)"),
    }
}

fn typed<T: DeserializeOwned>(place: &str, path: &str, value: &Value) -> Result<T> {
    serde_yaml::from_value(value.clone()).map_err(|e| {
        anyhow!("{place}: {path}: {e}; check the value's type (text, true/false, number or list)")
    })
}

/// `sshkey`, checked before any network call: a missing key would otherwise surface as a
/// vague ssh failure per repository.
fn ssh_key(place: &str, path: &str, sshkey: Option<&str>) -> Result<Option<std::path::PathBuf>> {
    let Some(file) = sshkey.filter(|k| !k.trim().is_empty()) else {
        return Ok(None);
    };
    let expanded = match file.strip_prefix("~/") {
        Some(rest) => {
            std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(rest)
        }
        None => file.into(),
    };
    if !expanded.is_file() {
        bail!("{place}: {path}.sshkey: {}: no such file; give the path of the private key (e.g. /secrets/id_ed25519)", expanded.display());
    }
    Ok(Some(expanded))
}
