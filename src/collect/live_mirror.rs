//! gickup's forge destinations (`gitea`, `gitlab`, `github` under `destination:`): after each
//! collect, every repository the job collected is pushed to a second forge, created there
//! first when missing, so that forge holds a live mirror. The push is a mirror push of
//! branches and tags: force-pushes and deleted branches upstream are repeated there. Wikis,
//! metadata and LFS objects stay in the local volume.
//!
//! One repository at a time: a push whose refs did not move costs one API request and one
//! ref listing. A failure is that repository's failure in the run's report; the others go on.

use std::collections::BTreeSet;

use anyhow::anyhow;

use super::config::ForgeDestination;
use super::forge::{connect_destination, WantedRepo};
use super::mirror::push::PushMode;
use super::plan::RepoPlan;
use super::publish::publish;
use super::report::{RepoOutcome, Step};

/// Pushes each repository of `repos` whose mirror is in place to every destination, recording
/// what happened in its outcome (`outcomes` are in the order of `repos`).
pub fn push_to_forges(
    destinations: &[ForgeDestination],
    repos: &[RepoPlan],
    outcomes: &mut [RepoOutcome],
) {
    for destination in destinations {
        let label = destination.label();
        let forge = match connect_destination(destination) {
            Ok(forge) => forge,
            Err(err) => {
                let err = err.context(format!("push to {label}"));
                for outcome in outcomes.iter_mut().filter(|o| o.git.is_some()) {
                    outcome.fail(Step::Push, &err);
                }
                continue;
            }
        };
        let mut names = BTreeSet::new();
        for (repo, outcome) in repos.iter().zip(outcomes.iter_mut()) {
            if outcome.git.is_none() || outcome.name != repo.name {
                continue; // no mirror to push (its failure is already reported)
            }
            let name = repo
                .name
                .rsplit('/')
                .next()
                .unwrap_or(&repo.name)
                .to_string();
            let result = if names.insert(name.clone()) {
                let wanted = WantedRepo {
                    owner: destination.owner.clone(),
                    name,
                    private: destination.private,
                    description: format!("mirror of {} kept by forgesafe", repo.name),
                };
                publish(
                    &*forge,
                    &destination.token,
                    &wanted,
                    &repo.git.dest,
                    PushMode::Mirror,
                )
            } else {
                Err(anyhow!("another repository of this run is already pushed as {name}; give each destination one owner's repositories"))
            };
            match result {
                Ok(published) => {
                    tracing::debug!(repository = %repo.name, to = %published.repository, created = published.created, "{}", published.push.summary());
                    outcome.pushed.push(published);
                }
                Err(err) => outcome.fail(Step::Push, &err.context(format!("push to {label}"))),
            }
        }
    }
}
