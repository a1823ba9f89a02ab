//! Remotes reached over ssh (gickup's `ssh: true` / `sshkey`).
//!
//! gix runs the `ssh` program for these. We tell it which command line to use through the
//! repository's in-memory `core.sshCommand` (never written to the mirror's config), so that:
//! * the key is the one the config names (`-i KEY -o IdentitiesOnly=yes`), not whatever an
//!   agent or `~/.ssh` happens to hold;
//! * it never prompts (`BatchMode=yes`): an unattended backup fails with a message instead;
//! * host keys are trusted on first use and then pinned in a `known_hosts` file kept on the
//!   backup volume (`StrictHostKeyChecking=accept-new`), so a pod without `~/.ssh` works and a
//!   changed host key later stops the run rather than handing the repository to an impostor.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshSettings {
    /// Private key file (`sshkey`); `None` leaves the choice to ssh's defaults.
    pub key: Option<PathBuf>,
    /// Where host keys are pinned; `None` uses ssh's default (`~/.ssh/known_hosts`).
    pub known_hosts: Option<PathBuf>,
}

/// `ssh://…` and scp-like `user@host:path` URLs; not `https://`, `file://` or local paths.
pub fn is_ssh_url(url: &str) -> bool {
    if let Some((scheme, _)) = url.split_once("://") {
        return scheme == "ssh" || scheme == "git+ssh" || scheme == "ssh+git";
    }
    // scp-like: a colon before any slash, and not a Windows drive letter.
    match (url.find(':'), url.find('/')) {
        (Some(colon), slash) => colon > 1 && slash.is_none_or(|s| colon < s),
        (None, _) => false,
    }
}

/// The command line gix runs in place of plain `ssh` (through `sh -c`, so paths are quoted).
pub fn ssh_command(settings: &SshSettings) -> Result<String> {
    let mut command = String::from("ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new");
    if let Some(known_hosts) = &settings.known_hosts {
        // Unhashed, so an operator can read which hosts the volume trusts.
        command.push_str(&format!(
            " -o UserKnownHostsFile={} -o HashKnownHosts=no",
            shell_quote(known_hosts)?
        ));
    }
    if let Some(key) = &settings.key {
        command.push_str(&format!(" -o IdentitiesOnly=yes -i {}", shell_quote(key)?));
    }
    Ok(command)
}

/// Makes `repo` (an in-memory handle, nothing is written to disk) use our ssh command line.
pub fn configure(repo: &mut gix::Repository, settings: &SshSettings) -> Result<()> {
    if let Some(dir) = settings.known_hosts.as_deref().and_then(Path::parent) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let command = ssh_command(settings)?;
    let mut config = repo.config_snapshot_mut();
    config
        .set_value(&gix::config::tree::Core::SSH_COMMAND, command.as_str())
        .context("cannot set core.sshCommand")?;
    config.commit().context("cannot apply core.sshCommand")?;
    Ok(())
}

fn shell_quote(path: &Path) -> Result<String> {
    let text = path
        .to_str()
        .with_context(|| format!("{}: the path is not UTF-8", path.display()))?;
    Ok(format!("'{}'", text.replace('\'', r"'\''")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_urls_are_told_apart_from_http_and_paths() {
        for url in [
            "ssh://git@host:2222/o/r.git",
            "git@github.com:o/r.git",
            "host:o/r.git",
            "git+ssh://h/r",
        ] {
            assert!(is_ssh_url(url), "{url}");
        }
        for url in [
            "https://github.com/o/r.git",
            "file:///srv/r.git",
            "/srv/git/r.git",
            "./a:b/c",
            "C:/repos/r",
        ] {
            assert!(!is_ssh_url(url), "{url}");
        }
    }

    #[test]
    fn the_command_pins_host_keys_and_quotes_paths() {
        let settings = SshSettings {
            key: Some("/keys/it's key".into()),
            known_hosts: Some("/v/.forgesafe/known_hosts".into()),
        };
        assert_eq!(
            ssh_command(&settings).unwrap(),
            r"ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile='/v/.forgesafe/known_hosts' -o HashKnownHosts=no -o IdentitiesOnly=yes -i '/keys/it'\''s key'"
        );
    }
}
