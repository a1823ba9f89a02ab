//! Gitea and Forgejo (`/api/v1`): GitHub's REST shapes with a few differences, each said here —
//! `Authorization: token …`, pages of at most 50 (`limit=`), milestones keyed by id, review
//! comments under each review, release attachments downloaded from their web route with the
//! token, and the account's name as the git user of a token.

use anyhow::Result;
use serde_json::Value;

use super::github::GithubShaped;
use super::pages::list_all;
use super::rest::{instance_api, Dialect, RestClient};
use crate::secret::Secret;

const DIALECT: Dialect = Dialect {
    forge: "Gitea",
    token_scheme: "token",
    headers: &[("accept", "application/json")],
};

pub struct Gitea {
    rest: RestClient,
    /// The account's name (or `oauth2`): what Gitea wants beside a token over basic auth.
    git_user: String,
}

impl Gitea {
    /// `api_base` is `https://host/api/v1`.
    pub fn new(api_base: &str, token: Option<Secret>, git_user: String) -> Result<Self> {
        Ok(Gitea {
            rest: RestClient::new(&DIALECT, api_base, token.as_ref())?,
            git_user,
        })
    }

    /// The API of the instance at `url`, or of gitea.com.
    pub fn api_of(url: Option<&str>) -> String {
        instance_api(url, "https://gitea.com", "/api/v1")
    }
}

impl GithubShaped for Gitea {
    fn rest(&self) -> &RestClient {
        &self.rest
    }

    fn page(&self) -> &'static str {
        "limit=50"
    }

    /// Gitea's milestones have no per-repository number; their id is the key.
    fn milestone_key(&self) -> &'static str {
        "id"
    }

    /// Gitea sorts by update on its own and needs `type=all` to include pull requests.
    fn issues_url(&self, base: &str, since: &str) -> String {
        format!("{base}/issues?state=all&type=all&{}{since}", self.page())
    }

    /// Gitea lists the token owner's repositories without GitHub's `affiliation`.
    fn own_repos_url(&self) -> String {
        format!("{}/user/repos?{}", self.rest.api_base(), self.page())
    }

    /// Gitea accepts the token on its attachment download route.
    fn asset_url<'a>(&self, asset: &'a Value) -> Option<&'a str> {
        asset["browser_download_url"].as_str()
    }

    fn git_user(&self) -> String {
        self.git_user.clone()
    }

    /// Gitea keeps review comments under each review.
    fn review_comments(&self, base: &str, number: u64, reviews: &[Value]) -> Result<Vec<Value>> {
        let mut all = Vec::new();
        for id in reviews.iter().filter_map(|review| review["id"].as_u64()) {
            all.extend(list_all(
                &self.rest,
                &format!("{base}/pulls/{number}/reviews/{id}/comments"),
            )?);
        }
        Ok(all)
    }
}
