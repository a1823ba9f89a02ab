//! One conversation with the remote: list its refs, compare with the mirror, fetch only if
//! something moved, then prune and follow `HEAD`.

use std::sync::atomic::AtomicBool;

use anyhow::{bail, Context, Result};
use gix::remote::{fetch::Tags, ref_map, Direction};

use super::credentials;
use super::errors::{classify, Step};
use super::layout::MIRROR_REFSPEC;
use super::refs::{prune, set_head, MirrorRefs, RefDiff, RefRewrite, RefState};
use super::MirrorOptions;
use crate::secret::Secret;

/// What one sync did to the repository.
#[derive(Debug, Default)]
pub struct SyncReport {
    pub diff: RefDiff,
    /// Size of the pack received (0 when nothing was fetched).
    pub bytes_fetched: u64,
    /// Refs force-pushed or deleted upstream, with their old tips.
    pub rewritten: Vec<RefRewrite>,
    /// The mirror's refs after the sync (equal to what the remote advertised).
    pub after: MirrorRefs,
}

pub fn sync(
    repo: &gix::Repository,
    url: &str,
    credentials: Option<(&str, &Secret)>,
    options: &MirrorOptions,
) -> Result<SyncReport> {
    let should_interrupt: &AtomicBool = &options.should_interrupt;
    let mut configured;
    let repo = if super::ssh::is_ssh_url(url) {
        configured = repo.clone();
        super::ssh::configure(&mut configured, &options.ssh)?;
        &configured
    } else {
        repo
    };
    let remote = repo
        .remote_at(url)
        .with_context(|| format!("invalid remote URL {url}"))?
        .with_refspecs([MIRROR_REFSPEC], Direction::Fetch)
        .context("invalid mirror refspec")?
        // Tags are covered by refs/*; the implicit tag refspec would only duplicate them.
        .with_fetch_tags(Tags::None);
    let had_credentials = credentials.is_some();
    let mut connection = remote
        .connect(Direction::Fetch)
        .map_err(|err| classify(err, url, Step::Connect, had_credentials))?;
    connection.set_credentials(credentials::callback(credentials));

    // Gotcha: by default gix asks the server only for refs under the refspec's two-component
    // prefix; for `refs/*` that filter matches nothing and a mirror would receive zero refs.
    let options = ref_map::Options {
        prefix_from_spec_as_filter_on_remote: false,
        ..Default::default()
    };
    let prepare = connection
        .prepare_fetch(gix::progress::Discard, options)
        .map_err(|err| classify(err, url, Step::ListRefs, had_credentials))?;

    let remote_state = RefState::from_advertised(&prepare.ref_map().remote_refs);
    let local_state = RefState::of_repository(repo)?;
    let diff = RefDiff::between(&local_state, &remote_state);
    tracing::debug!(
        url,
        added = diff.added.len(),
        moved = diff.moved.len(),
        deleted = diff.deleted.len(),
        head_moved = diff.head_moved,
        "compared remote refs with the mirror"
    );
    let mut report = SyncReport {
        diff,
        bytes_fetched: 0,
        rewritten: Vec::new(),
        after: MirrorRefs::default(),
    };

    if report.diff.needs_fetch() {
        let outcome = prepare
            .receive(gix::progress::Discard, should_interrupt)
            .map_err(|err| classify(err, url, Step::Fetch, had_credentials))?;
        report.bytes_fetched = received_pack_size(&outcome.status);
        let rejected: Vec<String> = updates_of(&outcome.status)
            .iter()
            .filter(|update| update.mode.to_string().starts_with("rejected"))
            .map(|update| update.mode.to_string())
            .collect();
        if !rejected.is_empty() {
            bail!(
                "fetch from {url} rejected ref updates: {}",
                rejected.join("; ")
            );
        }
    } else {
        // Dropping the prepared fetch ends the conversation without negotiating a pack.
        drop(prepare);
    }

    report.rewritten = rewrites(repo, &report.diff, &local_state, &remote_state);
    prune(repo, &report.diff.deleted)?;
    if let (true, Some(target)) = (report.diff.head_moved, remote_state.head_target.as_ref()) {
        set_head(repo, target)?;
    }

    // Trust, but verify: after a sync the mirror must hold exactly what the remote advertised.
    let after = RefState::of_repository(repo)?;
    if after.refs != remote_state.refs {
        let left = RefDiff::between(&after, &remote_state);
        bail!(
            "mirror of {url} does not match the remote after fetching ({} missing, {} different, {} extra)",
            left.added.len(),
            left.moved.len(),
            left.deleted.len()
        );
    }
    report.after = after.to_record();
    Ok(report)
}

/// Which moved refs were force-pushed (the old tip is not an ancestor of the new one; both are
/// in the mirror once the pack arrived) and which were deleted. When ancestry cannot be decided
/// the move is reported: a false alarm is cheaper than a rewrite nobody hears of.
fn rewrites(
    repo: &gix::Repository,
    diff: &RefDiff,
    local: &RefState,
    remote: &RefState,
) -> Vec<RefRewrite> {
    let mut rewritten = Vec::new();
    for name in &diff.moved {
        let (Some(old), Some(new)) = (local.refs.get(name), remote.refs.get(name)) else {
            continue;
        };
        let fast_forward = match super::verify::is_ancestor_in(repo, *old, *new) {
            Ok(answer) => answer,
            Err(err) => {
                tracing::debug!(r#ref = %name, "cannot tell whether the move is a fast-forward ({err:#}); reporting it as a rewrite");
                false
            }
        };
        if !fast_forward {
            rewritten.push(RefRewrite {
                name: name.to_string(),
                old: old.to_hex().to_string(),
                new: Some(new.to_hex().to_string()),
            });
        }
    }
    for name in &diff.deleted {
        if let Some(old) = local.refs.get(name) {
            rewritten.push(RefRewrite {
                name: name.to_string(),
                old: old.to_hex().to_string(),
                new: None,
            });
        }
    }
    rewritten
}

fn received_pack_size(status: &gix::remote::fetch::Status) -> u64 {
    match status {
        gix::remote::fetch::Status::Change {
            write_pack_bundle, ..
        } => write_pack_bundle
            .data_path
            .as_ref()
            .and_then(|path| std::fs::metadata(path).ok())
            .map_or(0, |meta| meta.len()),
        gix::remote::fetch::Status::NoPackReceived { .. } => 0,
    }
}

fn updates_of(status: &gix::remote::fetch::Status) -> &[gix::remote::fetch::refs::Update] {
    match status {
        gix::remote::fetch::Status::Change { update_refs, .. } => &update_refs.updates,
        gix::remote::fetch::Status::NoPackReceived { update_refs, .. } => &update_refs.updates,
    }
}
