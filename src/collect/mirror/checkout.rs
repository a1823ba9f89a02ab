//! A restored bare mirror turned into a working clone: `<worktree>/.git` holds the mirror, the
//! worktree is checked out at the ref asked for, with an index, as `git clone` leaves it. Done
//! with gix (its `worktree-mutation` checkout, the one `gix clone` uses), so the image needs no
//! git binary.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use anyhow::{bail, Context, Result};
use gix::bstr::ByteSlice;

/// What the worktree was checked out at.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckedOut {
    /// The full ref name HEAD points to, or `None` for a detached HEAD (a tag or a commit).
    pub branch: Option<String>,
    pub commit: String,
    pub files: usize,
}

/// Turns the bare mirror at `<worktree>/.git` into a working clone checked out at `reference`:
/// a branch name (`main` or `refs/heads/main`), a tag, any ref, or a commit id; by default the
/// mirror's HEAD. The mirror refspec (`+refs/*:refs/*`, which would overwrite the checked-out
/// branch on a fetch) becomes a clone's (`refs/heads/*` into `refs/remotes/origin/*`).
pub fn make_working_clone(worktree: &Path, reference: Option<&str>) -> Result<CheckedOut> {
    let git_dir = worktree.join(".git");
    let repo = super::open(&git_dir)?;
    let (branch, commit) = resolve(&repo, reference)?;
    drop(repo);

    rewrite_config_for_a_worktree(&git_dir)?;
    let head = match &branch {
        Some(name) => format!("ref: {name}\n"),
        None => format!("{commit}\n"),
    };
    std::fs::write(git_dir.join("HEAD"), head)
        .with_context(|| format!("cannot write {}", git_dir.join("HEAD").display()))?;

    let repo = gix::open_opts(worktree, gix::open::Options::isolated())
        .with_context(|| format!("cannot open {} as a working clone", worktree.display()))?;
    let workdir = repo
        .workdir()
        .map(Path::to_path_buf)
        .with_context(|| format!("{} did not become a working clone", worktree.display()))?;
    let no_tree = || format!("commit {commit} has no tree in the restored mirror");
    let tree = repo
        .find_object(commit)
        .with_context(no_tree)?
        .peel_to_tree()
        .with_context(no_tree)?
        .id;
    let mut index = repo
        .index_from_tree(&tree)
        .with_context(|| format!("cannot build the index of {commit}"))?;
    let mut options = repo
        .checkout_options(gix::worktree::stack::state::attributes::Source::IdMapping)
        .context("cannot read the checkout settings")?;
    options.destination_is_initially_empty = true;
    let objects = repo
        .objects
        .clone()
        .into_arc()
        .context("cannot share the object database")?;
    let should_interrupt = AtomicBool::new(false);
    let progress = gix::progress::Discard;
    let outcome = gix::worktree::state::checkout(
        &mut index,
        &workdir,
        objects,
        &progress,
        &progress,
        &should_interrupt,
        options,
    )
    .with_context(|| format!("cannot check out {commit} into {}", workdir.display()))?;
    if let Some(first) = outcome.errors.first() {
        bail!(
            "cannot check out {} into {}: {} ({} file(s) failed)",
            first.path,
            workdir.display(),
            first.error,
            outcome.errors.len()
        );
    }
    if let Some(first) = outcome.collisions.first() {
        bail!(
            "cannot check out {commit}: {} collides with another path on this filesystem",
            first.path
        );
    }
    index
        .write(Default::default())
        .context("cannot write the working clone's index")?;
    Ok(CheckedOut {
        branch,
        commit: commit.to_string(),
        files: index.entries().len(),
    })
}

/// `(branch HEAD should name, commit to check out)` for what the user asked.
fn resolve(
    repo: &gix::Repository,
    reference: Option<&str>,
) -> Result<(Option<String>, gix::ObjectId)> {
    let Some(wanted) = reference else {
        let head = repo
            .head()
            .context("the restored mirror has no readable HEAD")?;
        let branch = head
            .referent_name()
            .map(|name| name.as_bstr().to_str_lossy().into_owned());
        let id = head
            .into_peeled_id()
            .context("the restored mirror's HEAD names no commit: give --checkout REF")?;
        return Ok((branch, peel_to_commit(repo, id.detach())?));
    };
    for candidate in [
        wanted.to_string(),
        format!("refs/heads/{wanted}"),
        format!("refs/tags/{wanted}"),
    ] {
        if let Ok(Some(mut reference)) = repo.try_find_reference(candidate.as_str()) {
            let name = reference.name().as_bstr().to_str_lossy().into_owned();
            let id = reference
                .peel_to_id()
                .with_context(|| format!("{name} names no object in the restored mirror"))?;
            let branch = name.starts_with("refs/heads/").then_some(name);
            return Ok((branch, peel_to_commit(repo, id.detach())?));
        }
    }
    match repo.rev_parse_single(wanted) {
        Ok(id) => Ok((None, peel_to_commit(repo, id.detach())?)),
        Err(_) => bail!("{wanted:?} is no branch, tag or commit of the restored repository: list its refs with `forgesafe repos --json`"),
    }
}

fn peel_to_commit(repo: &gix::Repository, id: gix::ObjectId) -> Result<gix::ObjectId> {
    let object = repo
        .find_object(id)
        .with_context(|| format!("object {id} is missing from the restored mirror"))?;
    Ok(object
        .peel_to_commit()
        .with_context(|| format!("{id} does not name a commit"))?
        .id)
}

fn rewrite_config_for_a_worktree(git_dir: &Path) -> Result<()> {
    let path = git_dir.join("config");
    let mut config =
        gix::config::File::from_path_no_includes(path.clone(), gix::config::Source::Local)
            .with_context(|| format!("cannot read {}", path.display()))?;
    config
        .set_raw_value("core.bare", "false")
        .context("cannot set core.bare")?;
    if config.string("remote.origin.url").is_some() {
        config
            .set_raw_value("remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*")
            .context("cannot set remote.origin.fetch")?;
        config
            .set_raw_value("remote.origin.mirror", "false")
            .context("cannot set remote.origin.mirror")?;
    }
    let mut staged =
        tempfile::NamedTempFile::new_in(git_dir).context("cannot stage the clone's config")?;
    config
        .write_to(&mut staged)
        .context("cannot write the clone's config")?;
    staged
        .persist(&path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}
