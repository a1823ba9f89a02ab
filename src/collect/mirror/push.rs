//! Pushing a mirror's branches and tags to a repository on another forge.
//!
//! gix has no `push` yet, but it has both halves of one, and this module joins them:
//! gix-transport speaks git's smart protocol to `git-receive-pack` (HTTP(S) with the same
//! reqwest client the fetches use, SSH, or a local path) and gix-pack writes packs. So a push
//! is the conversation `git push` has: the remote advertises its refs, we send one command per
//! ref to change (`<old> <new> <ref>`), then a pack of the objects the remote lacks, and read
//! its report (`ok <ref>` / `ng <ref> <why>`). Neither git2 (a C library to build and ship)
//! nor the `git` binary (not in the image) is needed.
//!
//! Only `refs/heads/*` and `refs/tags/*` are pushed: forges refuse pushes into the refs they
//! make themselves (GitHub's `refs/pull/*`, GitLab's `refs/merge-requests/*`), and those are
//! recreated by the forge, not by us.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use anyhow::{anyhow, bail, Context, Result};
use gix::bstr::{BString, ByteSlice};
use gix::odb::pack::data::output;
use gix::protocol::transport::client::{
    self, blocking_io::Transport, MessageKind, TransportWithoutIO, WriteMode,
};
use gix::protocol::transport::{Protocol, Service};
use gix::ObjectId;
use serde::Serialize;

use super::refs::RefState;
use crate::secret::Secret;

/// Which refs of the remote a push may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushMode {
    /// Putting a restored repository back: refused if the remote already has refs, unless
    /// `force`, which overwrites the refs that differ. Refs only the remote has are kept.
    Restore { force: bool },
    /// A live mirror: afterwards the remote's branches and tags equal ours, force-pushes and
    /// deletions included.
    Mirror,
}

/// Where to push, and as whom.
pub struct PushTarget<'a> {
    /// `https://…/owner/name.git` (or any URL gix can connect to).
    pub url: &'a str,
    /// The user name and token sent over basic auth; never part of the URL.
    pub credentials: Option<(&'a str, &'a Secret)>,
}

/// One ref the push changed on the remote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefMove {
    pub name: String,
    /// `None`: the remote did not have it.
    pub old: Option<String>,
    /// `None`: deleted.
    pub new: Option<String>,
}

/// What a push did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PushReport {
    pub created: Vec<RefMove>,
    pub updated: Vec<RefMove>,
    pub deleted: Vec<RefMove>,
    /// Refs the remote already had with the same value.
    pub unchanged: usize,
    /// Refs only the remote has, left alone (a restore never deletes).
    pub kept_on_remote: Vec<String>,
    /// The mirror's refs outside `refs/heads/` and `refs/tags/` (the forge's own refs).
    pub not_pushed: usize,
    /// Objects in the pack sent, and its size.
    pub objects_sent: usize,
    pub pack_bytes: u64,
    /// The branch the mirror's `HEAD` names, when it was pushed (the forge's default branch).
    pub head: Option<String>,
}

impl PushReport {
    pub fn changed(&self) -> usize {
        self.created.len() + self.updated.len() + self.deleted.len()
    }

    /// One line for humans, e.g. `3 refs created, 1 updated, 0 deleted, 5 unchanged (812 objects, 1.2 MiB)`.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "{} refs created, {} updated, {} deleted, {} unchanged ({} objects, {})",
            self.created.len(),
            self.updated.len(),
            self.deleted.len(),
            self.unchanged,
            self.objects_sent,
            bytesize::ByteSize(self.pack_bytes)
        );
        if !self.kept_on_remote.is_empty() {
            line.push_str(&format!(
                "; kept {} refs only the remote has",
                self.kept_on_remote.len()
            ));
        }
        if self.not_pushed > 0 {
            line.push_str(&format!("; {} refs outside refs/heads and refs/tags are the forge's own and were not pushed", self.not_pushed));
        }
        line
    }
}

/// A restore into a repository that already has refs, without `--force`.
#[derive(Debug)]
pub struct RemoteNotEmpty {
    pub url: String,
    pub remote_refs: usize,
    /// Refs the push would point elsewhere (or `--force` would).
    pub would_overwrite: Vec<RefMove>,
}

impl fmt::Display for RemoteNotEmpty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is not empty ({} refs); nothing was pushed. ",
            self.url, self.remote_refs
        )?;
        if self.would_overwrite.is_empty() {
            write!(f, "No ref would be overwritten; ")?;
        } else {
            let shown: Vec<String> = self
                .would_overwrite
                .iter()
                .take(10)
                .map(|m| {
                    format!(
                        "{} {}→{}",
                        m.name,
                        short(m.old.as_deref()),
                        short(m.new.as_deref())
                    )
                })
                .collect();
            let more = self.would_overwrite.len().saturating_sub(shown.len());
            write!(
                f,
                "pushing would overwrite {}: {}",
                self.would_overwrite.len(),
                shown.join(", ")
            )?;
            if more > 0 {
                write!(f, " and {more} more")?;
            }
            write!(f, "; ")?;
        }
        write!(f, "add --force to push anyway (refs only the remote has are kept), or restore under another name with --as")
    }
}

impl std::error::Error for RemoteNotEmpty {}

fn short(id: Option<&str>) -> &str {
    id.map_or("(none)", |id| &id[..id.len().min(12)])
}

/// Pushes the branches and tags of the bare repository at `git_dir` to `target`.
pub fn push(git_dir: &Path, target: &PushTarget, mode: PushMode) -> Result<PushReport> {
    let repo = super::open(git_dir)?;
    let RefState {
        refs: local,
        head_target,
    } = RefState::of_repository(&repo)?;
    let url = target.url;

    let mut transport = client::blocking_io::connect::connect(
        url,
        client::blocking_io::connect::Options {
            version: Protocol::V1,
            ..Default::default()
        },
    )
    .map_err(|err| anyhow!("cannot reach {url}: {err}"))?;
    if let Some((user, token)) = target.credentials {
        transport
            .set_identity(gix::sec::identity::Account {
                username: user.to_string(),
                password: token.expose().to_string(),
                oauth_refresh_token: None,
            })
            .map_err(|err| anyhow!("cannot use the token for {url}: {err}"))?;
    }
    let (capabilities, remote) = advertised_refs(&mut *transport, url)?;

    let plan = plan(&local, &remote, mode);
    if let PushMode::Restore { force: false } = mode {
        if !remote.is_empty() {
            return Err(RemoteNotEmpty {
                url: url.to_string(),
                remote_refs: remote.len(),
                would_overwrite: plan.report.updated.clone(),
            }
            .into());
        }
    }
    let mut report = plan.report;
    report.head = head_target
        .filter(|head| local.contains_key(head) && pushable(head))
        .map(|head| head.to_str_lossy().into_owned());
    if plan.commands.is_empty() {
        return Ok(report);
    }
    let advertised = |name: &str| capabilities.iter().any(|c| c == name);
    if !advertised("report-status") {
        bail!("{url} does not offer report-status; forgesafe cannot tell whether a push there succeeded");
    }
    let mut commands = plan.commands;
    if !advertised("delete-refs") && commands.iter().any(|c| c.new.is_null()) {
        tracing::warn!(
            url,
            "the remote does not accept ref deletions; refs deleted here stay there"
        );
        report.deleted.clear();
        commands.retain(|c| !c.new.is_null());
    }

    let mut wanted: Vec<String> = ["report-status", "ofs-delta", "quiet"]
        .into_iter()
        .filter(|c| advertised(c))
        .map(String::from)
        .collect();
    // A restore lands whole or not at all; a live mirror takes every ref it can.
    if mode != PushMode::Mirror && advertised("atomic") {
        wanted.push("atomic".into());
    }
    wanted.push(format!("agent=forgesafe/{}", env!("CARGO_PKG_VERSION")));
    let wanted = wanted.join(" ");

    let mut request = transport
        .request(WriteMode::Binary, MessageKind::Flush, false)
        .map_err(|err| anyhow!("cannot start the push to {url}: {err}"))?;
    for (i, command) in commands.iter().enumerate() {
        let mut line = format!("{} {} {}", command.old, command.new, command.name).into_bytes();
        if i == 0 {
            line.push(0);
            line.extend_from_slice(wanted.as_bytes());
        }
        line.push(b'\n');
        request
            .write_all(&line)
            .with_context(|| format!("push to {url} broke off"))?;
    }
    request
        .write_message(MessageKind::Flush)
        .with_context(|| format!("push to {url} broke off"))?;
    let (mut body, mut response) = request.into_parts();
    // git sends no pack when every command is a deletion; otherwise one (maybe empty) pack.
    if commands.iter().any(|c| !c.new.is_null()) {
        let tips: Vec<ObjectId> = commands
            .iter()
            .filter(|c| !c.new.is_null())
            .map(|c| c.new)
            .collect();
        let haves: Vec<ObjectId> = remote
            .values()
            .copied()
            .filter(|id| repo.has_object(id))
            .collect();
        let (objects, bytes) = write_pack(&repo, &tips, &haves, &mut body)
            .with_context(|| format!("cannot send the pack to {url}"))?;
        report.objects_sent = objects;
        report.pack_bytes = bytes;
    }
    body.flush()
        .with_context(|| format!("push to {url} broke off"))?;
    drop(body);

    let rejected = read_report(&mut *response, url)?;
    if !rejected.is_empty() {
        bail!(
            "{url} refused {}: {}",
            plural(rejected.len(), "ref"),
            rejected.join(", ")
        );
    }
    Ok(report)
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// The remote's capabilities and its refs (annotated tags as the tag object, like `ls-remote`).
fn advertised_refs(
    transport: &mut (dyn Transport + Send),
    url: &str,
) -> Result<(Vec<String>, BTreeMap<BString, ObjectId>)> {
    let handshake = transport
        .handshake(Service::ReceivePack, &[])
        .map_err(|err| anyhow!("{url} refused to list its refs for a push: {err}; check the URL, and that the token may push there"))?;
    let capabilities: Vec<String> = handshake
        .capabilities
        .iter()
        .map(|c| match c.value() {
            Some(value) => format!("{}={}", c.name(), value),
            None => c.name().to_string(),
        })
        .collect();
    let mut refs = BTreeMap::new();
    if let Some(mut lines) = handshake.refs {
        let mut line = String::new();
        loop {
            line.clear();
            if lines
                .readline_str(&mut line)
                .with_context(|| format!("cannot read {url}'s refs"))?
                == 0
            {
                break;
            }
            let Some((hex, name)) = line.trim_end().split_once(' ') else {
                continue;
            };
            let Ok(id) = ObjectId::from_hex(hex.as_bytes()) else {
                continue;
            };
            // An empty repository advertises only `0000… capabilities^{}`.
            if id.is_null() || !name.starts_with("refs/") || name.ends_with("^{}") {
                continue;
            }
            refs.insert(BString::from(name), id);
        }
    }
    Ok((capabilities, refs))
}

/// `<old> <new> <ref>`, git's command to the receiving side (a null id: create or delete).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Command {
    name: BString,
    old: ObjectId,
    new: ObjectId,
}

struct Plan {
    commands: Vec<Command>,
    report: PushReport,
}

fn pushable(name: &BString) -> bool {
    name.starts_with(b"refs/heads/") || name.starts_with(b"refs/tags/")
}

/// What to tell the remote, given both sides' refs. Pure, so it is tested on its own.
fn plan(
    local: &BTreeMap<BString, ObjectId>,
    remote: &BTreeMap<BString, ObjectId>,
    mode: PushMode,
) -> Plan {
    let mut commands = Vec::new();
    let mut report = PushReport::default();
    let hex = |id: &ObjectId| id.to_hex().to_string();
    for (name, &new) in local {
        if !pushable(name) {
            report.not_pushed += 1;
            continue;
        }
        let text = name.to_str_lossy().into_owned();
        match remote.get(name) {
            Some(&old) if old == new => report.unchanged += 1,
            Some(&old) => {
                report.updated.push(RefMove {
                    name: text,
                    old: Some(hex(&old)),
                    new: Some(hex(&new)),
                });
                commands.push(Command {
                    name: name.clone(),
                    old,
                    new,
                });
            }
            None => {
                report.created.push(RefMove {
                    name: text,
                    old: None,
                    new: Some(hex(&new)),
                });
                commands.push(Command {
                    name: name.clone(),
                    old: ObjectId::null(new.kind()),
                    new,
                });
            }
        }
    }
    for (name, &old) in remote {
        if local.contains_key(name) {
            continue;
        }
        let text = name.to_str_lossy().into_owned();
        if mode == PushMode::Mirror && pushable(name) {
            report.deleted.push(RefMove {
                name: text,
                old: Some(hex(&old)),
                new: None,
            });
            commands.push(Command {
                name: name.clone(),
                old,
                new: ObjectId::null(old.kind()),
            });
        } else {
            report.kept_on_remote.push(text);
        }
    }
    Plan { commands, report }
}

/// Writes a pack with what the remote needs to have `tips` when it already has `haves`, and
/// returns the number of objects and bytes.
///
/// The commits are those reachable from `tips` but not from `haves` (gix's rev-walk with hidden
/// tips). gix-pack then adds each commit's tree changes against its parents, so a push after a
/// small change sends a small pack, and the first push sends every object. Tags are given
/// as-is and followed to what they point at; a tag pointing at a tree or blob gets that whole
/// tree or the blob.
fn write_pack(
    repo: &gix::Repository,
    tips: &[ObjectId],
    haves: &[ObjectId],
    out: &mut dyn Write,
) -> Result<(usize, u64)> {
    use output::count::objects::ObjectExpansion;

    let mut commit_tips = Vec::new();
    let mut tags = Vec::new();
    let mut whole_trees = Vec::new();
    for &tip in tips {
        let mut id = tip;
        loop {
            let object = repo
                .find_object(id)
                .with_context(|| format!("the mirror lacks object {id}"))?;
            match object.kind {
                gix::object::Kind::Tag => {
                    tags.push(id);
                    id = object
                        .into_tag()
                        .target_id()
                        .context("a tag without a target")?
                        .detach();
                }
                gix::object::Kind::Commit => {
                    commit_tips.push(id);
                    break;
                }
                gix::object::Kind::Tree | gix::object::Kind::Blob => {
                    whole_trees.push(id);
                    break;
                }
            }
        }
    }
    let hidden: Vec<ObjectId> = haves
        .iter()
        .filter_map(|&id| repo.find_object(id).ok()?.peel_tags_to_end().ok())
        .filter(|object| object.kind == gix::object::Kind::Commit)
        .map(|object| object.id)
        .collect();
    let mut input = tags;
    if !commit_tips.is_empty() {
        for info in repo
            .rev_walk(commit_tips)
            .with_hidden(hidden)
            .all()
            .context("cannot walk the mirror's history")?
        {
            input.push(info.context("cannot walk the mirror's history")?.id);
        }
    }

    // The object store itself, without gix's in-memory overlay (which gix-pack cannot read).
    let mut db = repo.objects.clone().into_inner();
    db.prevent_pack_unload();
    db.ignore_replacements = true;
    let interrupt = AtomicBool::new(false);
    let count = |ids: Vec<ObjectId>, expansion| {
        output::count::objects(
            db.clone(),
            Box::new(ids.into_iter().map(Ok)),
            &gix::progress::Discard,
            &interrupt,
            output::count::objects::Options {
                thread_limit: None,
                chunk_size: 50,
                input_object_expansion: expansion,
            },
        )
        .map(|(counts, _)| counts)
        .map_err(|err| anyhow!("cannot list the objects to push: {err}"))
    };
    let mut counts = count(input, ObjectExpansion::TreeAdditionsComparedToAncestor)?;
    if !whole_trees.is_empty() {
        let seen: std::collections::HashSet<ObjectId> = counts.iter().map(|c| c.id).collect();
        counts.extend(
            count(whole_trees, ObjectExpansion::TreeContents)?
                .into_iter()
                .filter(|c| !seen.contains(&c.id)),
        );
    }
    let objects = counts.len();

    let entries = output::entry::iter_from_counts(
        counts,
        db,
        Box::new(gix::progress::Discard),
        output::entry::iter_from_counts::Options {
            thread_limit: None,
            mode: output::entry::iter_from_counts::Mode::PackCopyAndBaseObjects,
            allow_thin_pack: false,
            chunk_size: 50,
            version: Default::default(),
            compression: Default::default(),
        },
    )
    .map_err(|err| anyhow!("cannot prepare the pack: {err}"))?;
    let in_order = gix::parallel::InOrderIter::from(entries);
    let mut writer = output::bytes::FromEntriesIter::new(
        in_order,
        out,
        u32::try_from(objects).context("more than 4 billion objects in one push")?,
        Default::default(),
        repo.object_hash(),
    );
    let mut bytes = 0;
    for written in &mut writer {
        bytes += written.map_err(|err| anyhow!("cannot write the pack: {err}"))?;
    }
    Ok((objects, bytes))
}

/// Reads `report-status`: `unpack ok|<error>`, then `ok <ref>` or `ng <ref> <why>` per command.
/// Returns the refused refs with their reasons.
fn read_report(
    response: &mut dyn client::blocking_io::ReadlineBufRead,
    url: &str,
) -> Result<Vec<String>> {
    let mut rejected = Vec::new();
    let mut unpacked = false;
    let mut line = String::new();
    loop {
        line.clear();
        let read = response
            .readline_str(&mut line)
            .with_context(|| format!("{url} did not say whether the push succeeded"))?;
        if read == 0 {
            break;
        }
        let text = line.trim_end();
        if let Some(status) = text.strip_prefix("unpack ") {
            if status != "ok" {
                bail!("{url} could not store the pack: {status}");
            }
            unpacked = true;
        } else if let Some(refused) = text.strip_prefix("ng ") {
            rejected.push(refused.replacen(' ', " (", 1) + ")");
        }
    }
    if !unpacked {
        bail!("{url} did not report the push's result; it may or may not have been stored");
    }
    Ok(rejected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ObjectId {
        ObjectId::from_hex(format!("{n:02x}").repeat(20).as_bytes()).unwrap()
    }

    fn refs(entries: &[(&str, u8)]) -> BTreeMap<BString, ObjectId> {
        entries
            .iter()
            .map(|(name, n)| (BString::from(*name), id(*n)))
            .collect()
    }

    #[test]
    fn a_mirror_push_creates_moves_and_deletes_branches_and_tags_only() {
        let local = refs(&[
            ("refs/heads/main", 2),
            ("refs/heads/new", 3),
            ("refs/tags/v1", 4),
            ("refs/pull/1/head", 5),
        ]);
        let remote = refs(&[
            ("refs/heads/main", 1),
            ("refs/heads/gone", 6),
            ("refs/tags/v1", 4),
            ("refs/pull/9/head", 7),
        ]);
        let plan = plan(&local, &remote, PushMode::Mirror);
        let names: Vec<String> = plan.commands.iter().map(|c| c.name.to_string()).collect();
        assert_eq!(
            names,
            ["refs/heads/main", "refs/heads/new", "refs/heads/gone"]
        );
        assert_eq!(plan.commands[0].old, id(1));
        assert!(plan.commands[1].old.is_null());
        assert!(plan.commands[2].new.is_null());
        assert_eq!(plan.report.unchanged, 1);
        assert_eq!(plan.report.not_pushed, 1);
        // The forge's own refs are neither pushed nor deleted.
        assert_eq!(plan.report.kept_on_remote, ["refs/pull/9/head"]);
    }

    #[test]
    fn a_restore_never_deletes_what_only_the_remote_has() {
        let local = refs(&[("refs/heads/main", 2)]);
        let remote = refs(&[("refs/heads/main", 1), ("refs/heads/theirs", 6)]);
        let plan = plan(&local, &remote, PushMode::Restore { force: true });
        assert_eq!(plan.commands.len(), 1);
        assert_eq!(plan.report.updated.len(), 1);
        assert_eq!(plan.report.kept_on_remote, ["refs/heads/theirs"]);
    }

    #[test]
    fn the_refusal_names_the_refs_it_would_overwrite() {
        let refusal = RemoteNotEmpty {
            url: "https://forge.example/o/r.git".into(),
            remote_refs: 2,
            would_overwrite: vec![RefMove {
                name: "refs/heads/main".into(),
                old: Some("a".repeat(40)),
                new: Some("b".repeat(40)),
            }],
        };
        let text = refusal.to_string();
        assert!(
            text.contains("refs/heads/main aaaaaaaaaaaa→bbbbbbbbbbbb"),
            "{text}"
        );
        assert!(text.contains("--force"), "{text}");
    }
}
