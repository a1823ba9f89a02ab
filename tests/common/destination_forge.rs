//! A forge that receives pushes (`restore --to-forge`, gickup's forge destinations): the fake
//! forge API (`fake_github.rs`, in any of its shapes) creating real bare repositories, which real
//! git http-backend serves, receive-pack included, behind basic auth with the forge's user name
//! for tokens (`x-access-token` on GitHub, `oauth2` on Gitea and GitLab).

use std::path::PathBuf;

use super::fake_github::FakeGithub;
use super::git_http_server::{GitHttpServer, ServerOptions};

pub struct DestinationForge {
    pub server: GitHttpServer,
    pub api: FakeGithub,
    git_user: String,
    token: String,
}

impl DestinationForge {
    pub fn start(git_user: &str, token: &str) -> DestinationForge {
        let server = GitHttpServer::start_with(ServerOptions {
            basic_auth: Some((git_user.into(), token.into())),
            ..Default::default()
        });
        let api = FakeGithub::start(token, vec![], 100);
        api.host_repositories_in(&server.root, &server.url(""));
        DestinationForge {
            server,
            api,
            git_user: git_user.to_string(),
            token: token.to_string(),
        }
    }

    /// Where the forge keeps `owner/name`.
    pub fn git_dir(&self, full_name: &str) -> PathBuf {
        self.server.path(&format!("private/{full_name}.git"))
    }

    /// The URL with credentials, for the test's own git (never forgesafe's).
    pub fn authenticated_url(&self, full_name: &str) -> String {
        let url = self.server.url(&format!("private/{full_name}.git"));
        url.replacen(
            "http://",
            &format!("http://{}:{}@", self.git_user, self.token),
            1,
        )
    }
}
