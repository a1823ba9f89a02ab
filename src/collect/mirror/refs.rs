//! Ref bookkeeping for a mirror: what the remote advertises, what we hold, what differs,
//! and the two edits gix's fetch does not make for us (pruning, and following `HEAD`).

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use gix::bstr::{BString, ByteSlice};
use gix::protocol::handshake::Ref as AdvertisedRef;
use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit, RefLog};
use gix::refs::{FullName, Target};
use gix::ObjectId;

/// Refs under `refs/` with the object each points to, plus where `HEAD` points.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefState {
    pub refs: BTreeMap<BString, ObjectId>,
    /// The branch `HEAD` names (e.g. `refs/heads/main`), if it is symbolic.
    pub head_target: Option<BString>,
}

impl RefState {
    /// What the server advertised. An annotated tag's ref points to the tag object (not the
    /// commit it peels to), as in `git ls-remote`.
    pub fn from_advertised(advertised: &[AdvertisedRef]) -> Self {
        let mut state = RefState::default();
        for advertised_ref in advertised {
            let (name, id) = match advertised_ref {
                AdvertisedRef::Direct {
                    full_ref_name,
                    object,
                } => (full_ref_name, Some(*object)),
                AdvertisedRef::Peeled {
                    full_ref_name, tag, ..
                } => (full_ref_name, Some(*tag)),
                AdvertisedRef::Symbolic {
                    full_ref_name,
                    target,
                    tag,
                    object,
                } => {
                    if full_ref_name == "HEAD" {
                        state.head_target = Some(target.clone());
                    }
                    (full_ref_name, Some(tag.unwrap_or(*object)))
                }
                AdvertisedRef::Unborn {
                    full_ref_name,
                    target,
                } => {
                    if full_ref_name == "HEAD" {
                        state.head_target = Some(target.clone());
                    }
                    (full_ref_name, None)
                }
            };
            if let (true, Some(id)) = (name.starts_with(b"refs/"), id) {
                state.refs.insert(name.clone(), id);
            }
        }
        state
    }

    /// What the local mirror holds now.
    pub fn of_repository(repo: &gix::Repository) -> Result<Self> {
        let mut state = RefState::default();
        let platform = repo.references().context("cannot list the mirror's refs")?;
        for reference in platform.all().context("cannot list the mirror's refs")? {
            let mut reference = reference.context("cannot read one of the mirror's refs")?;
            let name = reference.name().as_bstr().to_owned();
            // A symbolic ref inside refs/ counts as the object it resolves to.
            let id = match reference.try_id() {
                Some(id) => id.detach(),
                None => match reference.peel_to_id() {
                    Ok(id) => id.detach(),
                    Err(_) => continue, // dangling symbolic ref: nothing to compare
                },
            };
            state.refs.insert(name, id);
        }
        state.head_target = repo
            .head_name()
            .context("cannot read the mirror's HEAD")?
            .map(|name| name.as_bstr().to_owned());
        Ok(state)
    }
}

impl RefState {
    /// The refs as text, for the volume's record and the change report.
    pub fn to_record(&self) -> MirrorRefs {
        MirrorRefs {
            head: self
                .head_target
                .as_ref()
                .map(|h| h.to_str_lossy().into_owned()),
            refs: self
                .refs
                .iter()
                .map(|(name, id)| (name.to_str_lossy().into_owned(), id.to_hex().to_string()))
                .collect(),
        }
    }
}

/// A mirror's refs as recorded in the volume (`.forgesafe/mirrors.json`): what a restore drill
/// expects to find, and what the next collect compares against.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MirrorRefs {
    /// The branch `HEAD` names, if symbolic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<String>,
    /// Ref name -> object id (hex).
    pub refs: BTreeMap<String, String>,
}

/// A ref upstream rewrote: moved to a commit its old tip is not an ancestor of (a force-push),
/// or deleted. The old tip is still in the mirror's objects and in earlier snapshots.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RefRewrite {
    #[serde(rename = "ref")]
    pub name: String,
    pub old: String,
    /// The new tip; `None` when the ref was deleted upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
}

impl MirrorRefs {
    /// A mirror's refs read from its files as git and gix write them, without opening it: `HEAD`,
    /// `packed-refs`, and the loose files under `refs/` (`(name, content)`), which win over packed
    /// entries. Symbolic refs inside `refs/` count as what they resolve to, as in
    /// [`RefState::of_repository`]; ones that resolve to nothing are left out.
    pub fn from_ref_files(
        head: Option<&[u8]>,
        packed_refs: Option<&[u8]>,
        loose: impl IntoIterator<Item = (String, Vec<u8>)>,
    ) -> MirrorRefs {
        let mut refs: BTreeMap<String, String> = BTreeMap::new();
        for line in packed_refs.unwrap_or_default().lines() {
            let line = line.to_str_lossy();
            // `# pack-refs with: …` is a header, `^<id>` the peeled commit of the tag above.
            if line.starts_with('#') || line.starts_with('^') {
                continue;
            }
            if let Some((id, name)) = line.split_once(' ') {
                if is_object_id(id) && name.starts_with("refs/") {
                    refs.insert(name.to_string(), id.to_string());
                }
            }
        }
        let mut symbolic = Vec::new();
        for (name, content) in loose {
            let content = content.to_str_lossy().trim().to_string();
            match content.strip_prefix("ref: ") {
                Some(target) => symbolic.push((name, target.to_string())),
                None if is_object_id(&content) => {
                    refs.insert(name, content);
                }
                None => {}
            }
        }
        for (name, target) in symbolic {
            if let Some(id) = refs.get(&target).cloned() {
                refs.insert(name, id);
            }
        }
        let head = head
            .map(|h| h.to_str_lossy().trim().to_string())
            .and_then(|h| h.strip_prefix("ref: ").map(str::to_string));
        MirrorRefs { head, refs }
    }
}

fn is_object_id(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The newest committer time among the commits `refs` point to (tags peeled) in the mirror at
/// `git_dir`: when the repository last saw work. Tips that are missing or are not commits are
/// skipped.
pub fn newest_commit_time(
    git_dir: &std::path::Path,
    refs: &MirrorRefs,
) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    let repo = super::open(git_dir)?;
    let mut newest: Option<i64> = None;
    for id in refs.refs.values() {
        let Ok(id) = ObjectId::from_hex(id.as_bytes()) else {
            continue;
        };
        let Ok(object) = repo.find_object(id) else {
            continue;
        };
        let Ok(commit) = object.peel_to_commit() else {
            continue;
        };
        if let Ok(time) = commit.time() {
            newest = Some(newest.map_or(time.seconds, |n| n.max(time.seconds)));
        }
    }
    Ok(newest.and_then(|seconds| chrono::DateTime::from_timestamp(seconds, 0)))
}

/// The refs of the mirror at `git_dir` as they are on disk.
pub fn read_refs(git_dir: &std::path::Path) -> Result<MirrorRefs> {
    let repo = gix::open_opts(git_dir, gix::open::Options::isolated())
        .with_context(|| format!("cannot open the mirror at {}", git_dir.display()))?;
    Ok(RefState::of_repository(&repo)?.to_record())
}

/// How the remote differs from the mirror.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefDiff {
    pub added: Vec<BString>,
    pub moved: Vec<BString>,
    pub deleted: Vec<BString>,
    pub head_moved: bool,
}

impl RefDiff {
    pub fn between(local: &RefState, remote: &RefState) -> Self {
        let mut diff = RefDiff::default();
        for (name, id) in &remote.refs {
            match local.refs.get(name) {
                None => diff.added.push(name.clone()),
                Some(local_id) if local_id != id => diff.moved.push(name.clone()),
                Some(_) => {}
            }
        }
        diff.deleted = local
            .refs
            .keys()
            .filter(|name| !remote.refs.contains_key(*name))
            .cloned()
            .collect();
        diff.head_moved = remote.head_target.is_some() && remote.head_target != local.head_target;
        diff
    }

    /// New objects can only arrive with refs that appeared or moved.
    pub fn needs_fetch(&self) -> bool {
        !self.added.is_empty() || !self.moved.is_empty()
    }

    pub fn is_empty(&self) -> bool {
        !self.needs_fetch() && self.deleted.is_empty() && !self.head_moved
    }

    pub fn refs_changed(&self) -> usize {
        self.added.len() + self.moved.len() + self.deleted.len()
    }
}

/// Delete refs that vanished upstream; gix's fetch never deletes refs.
pub fn prune(repo: &gix::Repository, names: &[BString]) -> Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    let edits = names
        .iter()
        .map(|name| {
            Ok(RefEdit {
                change: Change::Delete {
                    expected: PreviousValue::Any,
                    log: RefLog::AndReference,
                },
                name: full_name(name)?,
                deref: false,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    repo.edit_references(edits)
        .context("cannot delete refs that were removed upstream")?;
    Ok(())
}

/// Point `HEAD` at the remote's default branch, so a clone of the mirror checks it out.
pub fn set_head(repo: &gix::Repository, target: &BString) -> Result<()> {
    let edit = RefEdit {
        change: Change::Update {
            log: LogChange {
                mode: RefLog::AndReference,
                force_create_reflog: false,
                message: "mirror: follow remote HEAD".into(),
            },
            expected: PreviousValue::Any,
            new: Target::Symbolic(full_name(target)?),
        },
        name: full_name(&BString::from("HEAD"))?,
        deref: false,
    };
    repo.edit_reference(edit)
        .context("cannot point HEAD at the remote's default branch")?;
    Ok(())
}

fn full_name(name: &BString) -> Result<FullName> {
    FullName::try_from(name.as_bstr()).with_context(|| format!("invalid ref name {name:?}"))
}

#[cfg(test)]
mod ref_file_tests {
    use super::MirrorRefs;

    #[test]
    fn loose_refs_win_over_packed_ones_and_peeled_lines_are_skipped() {
        let a = "a".repeat(40);
        let b = "b".repeat(40);
        let c = "c".repeat(40);
        let packed = format!("# pack-refs with: peeled fully-peeled sorted\n{a} refs/heads/main\n{b} refs/tags/v1\n^{c}\n");
        let refs = MirrorRefs::from_ref_files(
            Some(b"ref: refs/heads/main\n"),
            Some(packed.as_bytes()),
            [
                ("refs/heads/main".to_string(), format!("{c}\n").into_bytes()),
                (
                    "refs/remotes/origin/HEAD".to_string(),
                    b"ref: refs/heads/main\n".to_vec(),
                ),
                (
                    "refs/heads/dangling".to_string(),
                    b"ref: refs/heads/nowhere\n".to_vec(),
                ),
            ],
        );
        assert_eq!(refs.head.as_deref(), Some("refs/heads/main"));
        assert_eq!(
            refs.refs.get("refs/heads/main"),
            Some(&c),
            "the loose file is newer than packed-refs"
        );
        assert_eq!(
            refs.refs.get("refs/tags/v1"),
            Some(&b),
            "the tag object, not its peeled commit"
        );
        assert_eq!(refs.refs.get("refs/remotes/origin/HEAD"), Some(&c));
        assert_eq!(refs.refs.len(), 3, "{refs:?}");
    }
}
