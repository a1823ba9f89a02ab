//! Which snapshot a command acts on. A repository is shared by every `--path` pushed to it, so
//! the choice is always made within one path: `latest` is the newest snapshot *of that path*, and
//! an id that belongs to another path is refused rather than used.

use super::errors::from_rustic;
use super::full_id;
use anyhow::{anyhow, bail, Result};
use rustic_core::repofile::{SnapshotFile, SnapshotId};
use rustic_core::{OpenStatus, Repository};

/// What to do with an id whose snapshot was pushed under another path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtherPath {
    /// Destructive commands: refuse, so one path's job can never delete another's data.
    Refuse,
    /// Reading commands: use it, with a warning. kando ignores `--path` when it is given a
    /// snapshot id, and real blueprints rely on that (the gickup article pushes under
    /// `BUCKET/gickup-backups` and pulls with `--path /backups`).
    Warn,
}

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotChoice {
    /// The newest snapshot pushed under the path (`latest`, or no snapshot given).
    Latest,
    /// A full id or a unique prefix of one.
    Id(String),
}

impl SnapshotChoice {
    /// `None` and `latest` mean the newest; anything else must look like (part of) an id.
    pub fn parse(text: Option<&str>) -> Result<SnapshotChoice> {
        match text.map(str::trim) {
            None | Some("latest") => Ok(SnapshotChoice::Latest),
            Some("") => bail!("the snapshot id is empty: give a snapshot id (or a unique prefix), or `latest`"),
            Some(id) if id.chars().all(|c| c.is_ascii_hexdigit()) && id.len() <= 64 => Ok(SnapshotChoice::Id(id.to_ascii_lowercase())),
            Some(other) => bail!("{other:?} is not a snapshot id: give the hexadecimal id push printed (or a unique prefix), or `latest`"),
        }
    }
}

/// The outcome of looking a snapshot up.
#[derive(Debug)]
pub enum Selected {
    Found(SnapshotFile),
    /// The listing of the repository's snapshots proves there is none (for `Latest`: none under
    /// the path).
    Absent,
}

/// Finds the snapshot `choice` names among those pushed under `name`. A read error is an error,
/// never "absent"; a snapshot of another path is handled as `other_path` says.
pub(crate) fn select(
    repo: &Repository<OpenStatus>,
    name: &str,
    choice: &SnapshotChoice,
    other_path: OtherPath,
    location: &str,
) -> Result<Selected> {
    let listing = |e| from_rustic(e, &format!("cannot list the snapshots at {location}"));
    match choice {
        SnapshotChoice::Latest => {
            let snaps = repo
                .get_matching_snapshots(|s| s.label == name)
                .map_err(listing)?;
            Ok(snaps
                .into_iter()
                .max_by(|a, b| a.time.cmp(&b.time))
                .map_or(Selected::Absent, Selected::Found))
        }
        SnapshotChoice::Id(prefix) => {
            let ids: Vec<SnapshotId> = repo.list::<SnapshotId>().map_err(listing)?.collect();
            let matching: Vec<&SnapshotId> = ids
                .iter()
                .filter(|id| full_id(id).starts_with(prefix.as_str()))
                .collect();
            let id = match matching.as_slice() {
                [] => return Ok(Selected::Absent),
                [one] => full_id(one),
                many => bail!("snapshot id {prefix} is ambiguous at {location}: {} snapshots start with it; give more of its digits", many.len()),
            };
            let snap = repo
                .get_snapshots(&[id.as_str()])
                .map_err(|e| {
                    from_rustic(
                        e,
                        &format!("cannot read snapshot {} at {location}", &id[..8]),
                    )
                })?
                .into_iter()
                .next()
                .ok_or_else(|| {
                    anyhow!(
                        "snapshot {} at {location} was listed but could not be read",
                        &id[..8]
                    )
                })?;
            if snap.label != name && other_path == OtherPath::Warn {
                tracing::warn!(snapshot = %&id[..8], pushed_as = %snap.label, asked = %name, "the snapshot was pushed under another --path; using it as its id says");
            } else if snap.label != name {
                let pushed_as = if snap.label.is_empty() {
                    "no --path (it was not made by forgesafe push)".to_string()
                } else {
                    format!("--path {:?}", snap.label)
                };
                bail!(
                    "snapshot {} was pushed under {pushed_as}, not --path {name:?}: nothing was done; give the --path it was pushed under",
                    &id[..8]
                );
            }
            Ok(Selected::Found(snap))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SnapshotChoice;

    #[test]
    fn latest_and_ids_are_told_apart() {
        assert_eq!(SnapshotChoice::parse(None).unwrap(), SnapshotChoice::Latest);
        assert_eq!(
            SnapshotChoice::parse(Some("latest")).unwrap(),
            SnapshotChoice::Latest
        );
        assert_eq!(
            SnapshotChoice::parse(Some(" AB12 ")).unwrap(),
            SnapshotChoice::Id("ab12".into())
        );
        assert!(SnapshotChoice::parse(Some("")).is_err());
        assert!(SnapshotChoice::parse(Some("latest~1"))
            .unwrap_err()
            .to_string()
            .contains("not a snapshot id"));
    }
}
