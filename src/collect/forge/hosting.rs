//! The other direction: a repository forgesafe pushes to (a restore, or gickup's forge
//! destinations), looked up through the forge's API and created, empty, when it is missing.
//!
//! GitHub and Gitea/Forgejo share the shape (`GET /repos/{owner}/{name}`, `POST /user/repos`
//! or `POST /orgs/{org}/repos`, `PATCH` for the default branch); GitLab has its own
//! (`/projects/{url-encoded path}`, `POST /projects` with a `namespace_id`, `PUT` for the
//! default branch). A create that loses a race with another one (409/422, or GitLab's 400
//! "has already been taken") is answered by looking the repository up again.

use anyhow::{Context, Result};
use serde_json::{json, Value};

use super::pages::get_one;
use super::rest::{http_status, RestClient};
use crate::http::Method;

/// The repository a push should land in.
#[derive(Debug, Clone)]
pub struct WantedRepo {
    /// User or organisation (GitLab: group path); `None` means the token's owner.
    pub owner: Option<String>,
    pub name: String,
    /// Visibility when it has to be created; an existing repository keeps its own.
    pub private: bool,
    pub description: String,
}

/// A repository on a forge, as its API describes it.
#[derive(Debug, Clone)]
pub struct HostedRepo {
    /// `owner/name` as the forge spells it.
    pub full_name: String,
    /// Where git pushes to (`clone_url`, GitLab's `http_url_to_repo`).
    pub push_url: String,
    /// `true` when this call created it.
    pub created: bool,
    pub default_branch: Option<String>,
    /// What the API calls it in URLs: `owner/name`, or GitLab's numeric project id.
    api_key: String,
}

fn not_found(err: &anyhow::Error) -> bool {
    http_status(err) == Some(404)
}

/// GitHub and Gitea: the repository, created under the token's owner or an organisation.
pub(super) fn github_shaped_find_or_create(
    rest: &RestClient,
    token_owner: &str,
    wanted: &WantedRepo,
) -> Result<HostedRepo> {
    let api = rest.api_base();
    let owner = wanted.owner.as_deref().unwrap_or(token_owner);
    let url = format!("{api}/repos/{owner}/{}", wanted.name);
    match get_one(rest, &url) {
        Ok(repo) => return github_shaped(repo, false),
        Err(err) if not_found(&err) => {}
        Err(err) => return Err(err),
    }
    let create = if owner.eq_ignore_ascii_case(token_owner) {
        format!("{api}/user/repos")
    } else {
        format!("{api}/orgs/{owner}/repos")
    };
    let body = json!({ "name": wanted.name, "private": wanted.private, "description": wanted.description, "auto_init": false });
    match rest.send_json(Method::POST, &create, &body) {
        Ok(repo) => github_shaped(repo, true),
        Err(err) if matches!(http_status(&err), Some(409 | 422)) => {
            github_shaped(get_one(rest, &url)?, false)
        }
        Err(err) => Err(err.context(format!(
            "cannot create the repository {owner}/{}",
            wanted.name
        ))),
    }
}

fn github_shaped(repo: Value, created: bool) -> Result<HostedRepo> {
    let full_name = text(&repo, "full_name")?;
    Ok(HostedRepo {
        push_url: text(&repo, "clone_url")?,
        default_branch: repo["default_branch"]
            .as_str()
            .filter(|b| !b.is_empty())
            .map(str::to_string),
        api_key: full_name.clone(),
        full_name,
        created,
    })
}

pub(super) fn github_shaped_set_default_branch(
    rest: &RestClient,
    repo: &HostedRepo,
    branch: &str,
) -> Result<()> {
    let url = format!("{}/repos/{}", rest.api_base(), repo.api_key);
    rest.send_json(Method::PATCH, &url, &json!({ "default_branch": branch }))?;
    Ok(())
}

/// GitLab: the project, created in the token owner's namespace or a group's.
pub(super) fn gitlab_find_or_create(
    rest: &RestClient,
    token_owner: &str,
    wanted: &WantedRepo,
) -> Result<HostedRepo> {
    let api = rest.api_base();
    let owner = wanted.owner.as_deref().unwrap_or(token_owner);
    let url = format!(
        "{api}/projects/{}",
        encode_path(&format!("{owner}/{}", wanted.name))
    );
    match get_one(rest, &url) {
        Ok(project) => return gitlab_shaped(project, false),
        Err(err) if not_found(&err) => {}
        Err(err) => return Err(err),
    }
    let mut body = json!({
        "name": wanted.name,
        "path": wanted.name,
        "visibility": if wanted.private { "private" } else { "public" },
        "description": wanted.description,
    });
    if !owner.eq_ignore_ascii_case(token_owner) {
        let namespace = get_one(rest, &format!("{api}/namespaces/{}", encode_path(owner)))
            .with_context(|| {
                format!("GitLab has no group or user {owner} the token can create projects in")
            })?;
        body["namespace_id"] = namespace["id"].clone();
    }
    match rest.send_json(Method::POST, &format!("{api}/projects"), &body) {
        Ok(project) => gitlab_shaped(project, true),
        Err(err) if matches!(http_status(&err), Some(400 | 409 | 422)) => match get_one(rest, &url)
        {
            Ok(project) => gitlab_shaped(project, false),
            Err(_) => {
                Err(err.context(format!("cannot create the project {owner}/{}", wanted.name)))
            }
        },
        Err(err) => Err(err.context(format!("cannot create the project {owner}/{}", wanted.name))),
    }
}

fn gitlab_shaped(project: Value, created: bool) -> Result<HostedRepo> {
    let id = project["id"]
        .as_u64()
        .context("GitLab's project has no id")?;
    Ok(HostedRepo {
        full_name: text(&project, "path_with_namespace")?,
        push_url: text(&project, "http_url_to_repo")?,
        default_branch: project["default_branch"]
            .as_str()
            .filter(|b| !b.is_empty())
            .map(str::to_string),
        api_key: id.to_string(),
        created,
    })
}

pub(super) fn gitlab_set_default_branch(
    rest: &RestClient,
    repo: &HostedRepo,
    branch: &str,
) -> Result<()> {
    let url = format!("{}/projects/{}", rest.api_base(), repo.api_key);
    rest.send_json(Method::PUT, &url, &json!({ "default_branch": branch }))?;
    Ok(())
}

/// GitLab takes a project or group path in a URL with its slashes encoded.
fn encode_path(path: &str) -> String {
    path.replace('%', "%25").replace('/', "%2F")
}

fn text(value: &Value, key: &str) -> Result<String> {
    value[key]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("the forge's answer has no {key}"))
}
