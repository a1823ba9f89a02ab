//! Hand credentials to gix in memory only.
//!
//! The secret goes into a closure that gix calls when the server answers 401; gix keeps it
//! in the transport and sends it as an `Authorization` header. It is never put into the
//! URL, the repository's config, a process argument or a message.

use gix::credentials::{helper::Action, protocol::Outcome};
use gix::sec::identity::Account;

use crate::secret::Secret;

/// The callback gix's connection uses instead of git's credential helpers.
///
/// With `None` it answers "no credentials" rather than falling back to the user's configured
/// helpers, which could prompt on a terminal or pick up an unrelated stored password: an
/// unattended backup must be deterministic.
pub fn callback(
    credentials: Option<(&str, &Secret)>,
) -> impl FnMut(Action) -> gix::Result<Option<Outcome>> + 'static {
    let account = credentials.map(|(user, secret)| Account {
        username: user.to_string(),
        password: secret.expose().to_string(),
        oauth_refresh_token: None,
    });
    move |action| match action {
        Action::Get(context) => Ok(account.clone().map(|identity| Outcome {
            identity,
            // The context gix hands us holds the URL only; it never sees the secret.
            next: context.into(),
        })),
        // Nothing is stored between runs: the token comes from the config each time.
        Action::Store(_) | Action::Erase(_) => Ok(None),
    }
}
