//! Step 1 of a run: what to mirror and fetch, per repository, before any git traffic. Forge
//! sources are listed (their API says which repositories the account has, and gickup's rules
//! select among them); a plain git source is one repository.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use super::config::{BackupJob, ForgeSource, LocalDestination, PlainGitSource, Source};
use super::forge::{self, wiki_url_of, Forge, RepoSummary};
use super::mirror::{layout, MirrorJob, MirrorOptions, SshSettings};
use super::report::{RepoOutcome, Step};
use super::shard::Shard;
use super::state::CollectState;
use crate::secret::Secret;

/// Everything one destination of a job gets.
pub struct DestinationPlan {
    pub repos: Vec<RepoPlan>,
    /// The forges the repositories come from; [`MetadataPlan::forge`] indexes this.
    pub forges: Vec<Box<dyn Forge>>,
    /// Sources whose repositories could not be listed: failed, and nothing of them is mirrored.
    pub unlisted_sources: Vec<RepoOutcome>,
    /// Mirrors on disk whose repository the forge no longer lists: reported, kept.
    pub no_longer_listed: Vec<String>,
}

/// One repository: its mirror, its wiki's, its metadata and its Git LFS objects.
pub struct RepoPlan {
    /// `owner/name`, for messages and the report.
    pub name: String,
    pub git: MirrorJob,
    /// Only when the forge says the repository has a wiki (which may still not exist).
    pub wiki: Option<MirrorJob>,
    pub metadata: Option<MetadataPlan>,
    /// Only when the destination wants LFS objects (`lfs: true`).
    pub lfs: Option<LfsPlan>,
}

pub struct MetadataPlan {
    /// Index into [`DestinationPlan::forges`].
    pub forge: usize,
    pub repo: RepoSummary,
    /// Also download the files attached to releases.
    pub release_assets: bool,
}

pub struct LfsPlan {
    /// Locates the LFS server: an https URL even when git goes over ssh.
    pub url: String,
    /// `(user, token)` for that server.
    pub credentials: Option<(String, Secret)>,
}

/// Lists `job`'s sources for `destination` (listing caches are read from and written to
/// `state`). Fails only on what cannot run at all; a source whose listing fails is one failed
/// entry of the plan.
/// With `shard`, only the repositories that shard owns are planned (the mirrors on disk are
/// still compared with the whole listing, so another shard's repository is never "no longer
/// listed").
pub fn plan(
    job: &BackupJob,
    destination: &LocalDestination,
    shard: Option<Shard>,
    state: &mut CollectState,
) -> Result<DestinationPlan> {
    let dest = &destination.path;
    let mut plan = DestinationPlan {
        repos: Vec::new(),
        forges: Vec::new(),
        unlisted_sources: Vec::new(),
        no_longer_listed: Vec::new(),
    };
    for source in &job.sources {
        match source {
            Source::Forge(source) => {
                let forge = forge::connect(source)?;
                match forge::list_selected(forge.as_ref(), source, &mut state.listings) {
                    Ok(repos) => {
                        let listed = repos.iter().map(|r| {
                            (
                                r.clone_url.as_str(),
                                r.owner.login.as_str(),
                                r.name.as_str(),
                            )
                        });
                        plan.no_longer_listed.extend(layout::unlisted_mirrors(
                            dest,
                            destination.structured,
                            listed,
                        ));
                        let index = plan.forges.len();
                        for repo in repos {
                            let full_name =
                                format!("{}/{}", layout::host_of(&repo.clone_url), repo.full_name);
                            if shard.is_none_or(|s| s.owns(&full_name)) {
                                plan.repos.push(forge_repo(
                                    destination,
                                    source,
                                    forge.as_ref(),
                                    repo,
                                    index,
                                )?);
                            }
                        }
                        plan.forges.push(forge);
                    }
                    Err(err) => {
                        let name = format!(
                            "{}:{}",
                            source.kind.key(),
                            source.user.as_deref().unwrap_or("(token owner)")
                        );
                        plan.unlisted_sources
                            .push(RepoOutcome::failed(name, Step::Listing, &err));
                    }
                }
            }
            Source::Plain(source) => {
                let repo = plain_repo(destination, source);
                let full_name = format!("{}/{}", layout::host_of(&source.url), repo.name);
                if shard.is_none_or(|s| s.owns(&full_name)) {
                    plan.repos.push(repo);
                }
            }
        }
    }
    Ok(plan)
}

fn forge_repo(
    destination: &LocalDestination,
    source: &ForgeSource,
    forge: &dyn Forge,
    repo: RepoSummary,
    forge_index: usize,
) -> Result<RepoPlan> {
    let host = layout::host_of(&repo.clone_url);
    let git_dir = layout::repo_dir(
        &destination.path,
        destination.structured,
        &host,
        &repo.owner.login,
        &repo.name,
    );
    // gickup's `ssh: true`: git goes over ssh with the key; the token is for the API only.
    let clone_url = match (&repo.ssh_url, source.ssh) {
        (_, false) => repo.clone_url.clone(),
        (Some(ssh_url), true) => ssh_url.clone(),
        (None, true) => bail!(
            "{}: the forge lists no ssh URL for it; remove `ssh: true` to clone over https",
            repo.full_name
        ),
    };
    let token = source.token.clone().map(|t| (forge.git_user(), t));
    // Over ssh the key authenticates git; the token is not sent.
    let git_credentials = token.clone().filter(|_| !source.ssh);
    let options = mirror_options(&destination.path, source.ssh_key.clone());
    let wiki = (source.wiki && repo.has_wiki).then(|| MirrorJob {
        url: wiki_url_of(&clone_url),
        dest: layout::wiki_dir(&git_dir),
        credentials: git_credentials.clone(),
        options: options.clone(),
    });
    Ok(RepoPlan {
        name: repo.full_name.clone(),
        git: MirrorJob {
            url: clone_url,
            dest: git_dir,
            credentials: git_credentials,
            options,
        },
        wiki,
        // The forge serves LFS over https with the token, whichever way git goes.
        lfs: destination.lfs.then(|| LfsPlan {
            url: repo.clone_url.clone(),
            credentials: token,
        }),
        metadata: source.issues.then_some(MetadataPlan {
            forge: forge_index,
            release_assets: source.release_assets,
            repo,
        }),
    })
}

fn plain_repo(destination: &LocalDestination, source: &PlainGitSource) -> RepoPlan {
    let (name, git_dir) = layout::url_repo_dir(
        &destination.path,
        destination.structured,
        &source.url,
        source.name.as_deref(),
    );
    let credentials = match (&source.token, &source.password) {
        (Some(t), _) => Some((
            source
                .username
                .clone()
                .unwrap_or_else(|| "x-access-token".into()),
            t.clone(),
        )),
        (None, Some(p)) => Some((source.username.clone().unwrap_or_default(), p.clone())),
        (None, None) => None,
    };
    RepoPlan {
        name,
        lfs: destination.lfs.then(|| LfsPlan {
            url: source.url.clone(),
            credentials: credentials.clone(),
        }),
        git: MirrorJob {
            url: source.url.clone(),
            dest: git_dir,
            credentials,
            options: mirror_options(&destination.path, source.ssh_key.clone()),
        },
        wiki: None,
        metadata: None,
    }
}

/// Host keys of ssh remotes are pinned on the volume, beside the collector's state; a fetch stops
/// when the process is asked to (serve's SIGTERM).
fn mirror_options(dest: &Path, ssh_key: Option<PathBuf>) -> MirrorOptions {
    MirrorOptions {
        ssh: SshSettings {
            key: ssh_key,
            known_hosts: Some(layout::known_hosts(dest)),
        },
        should_interrupt: crate::shutdown::stop_flag(),
    }
}
