//! The embedded default, the whole job on local parts: mirror a local git repository (this
//! checkout) into a volume under ./forgesafe-data/, push the volume into a local repository
//! there, pull it back, and show that what came back is identical.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::collect::config::{PlainGitSource, Source};
use crate::collect::{one_job, run_config, RunSettings};
use crate::profile::Location;
use crate::secret::Secret;
use crate::store::{self, PullRequest, PullTarget, PushRequest, PushSource, Store};

#[derive(Debug, Clone, clap::Args)]
pub struct DemoOptions {
    /// The git repository to collect (a path or URL).
    #[arg(long, default_value = ".")]
    pub source: String,
    /// Where the repository, its password and the restored copy go.
    #[arg(long, default_value = "forgesafe-data")]
    pub data: PathBuf,
}

/// Runs the demo; the artifact line goes to `out`, the account of what happened to the log.
pub fn run(options: &DemoOptions, out: &mut impl Write) -> Result<()> {
    let source = if options.source.contains("://") {
        options.source.clone()
    } else {
        let path = std::fs::canonicalize(&options.source)
            .with_context(|| format!("demo source {} does not exist", options.source))?;
        if !path.join(".git").exists() && !path.join("HEAD").exists() {
            bail!("demo source {} is not a git repository: run from the forgesafe checkout, or give --source PATH_OR_URL", path.display());
        }
        path.display().to_string()
    };
    let data = &options.data;
    std::fs::create_dir_all(data).with_context(|| format!("cannot create {}", data.display()))?;
    let password = demo_password(&data.join("password"))?;
    let store = Store::new(
        &Location::Local {
            path: data.join("repository"),
        },
        password,
        None,
    )?;

    let volume = data.join("volume");
    let plain = PlainGitSource {
        url: source.clone(),
        name: None,
        username: None,
        password: None,
        token: None,
        ssh_key: None,
    };
    let config = one_job(vec![Source::Plain(plain)], &volume, true, false);
    let report = run_config(
        &config,
        &RunSettings {
            dest_override: None,
            parallelism: 1,
            api_parallelism: 1,
            shard: None,
            lock_wait: std::time::Duration::ZERO,
        },
    )?;
    if let Some(failed) = report.failed().next() {
        bail!("collecting {} failed: {}", failed.name, failed.reasons());
    }
    let outcome = store::push(
        &store,
        &PushRequest::new(PushSource::Path(volume.clone()), "demo"),
    )?;
    crate::phase_output::write_line(out, "kandoOutput", &outcome.artifact())?;

    let restored = data.join("restored");
    let pull = PullRequest {
        name: "demo".into(),
        snapshot: store::SnapshotChoice::Id(outcome.snapshot_id.clone()),
        target: PullTarget::Path(restored.clone()),
        include: None,
    };
    store::pull(&store, &pull, &mut std::io::sink())?;
    let (files, bytes) = compare_trees(&volume, &restored)?;
    let totals = report.totals();
    tracing::info!(
        "forgesafe demo: mirrored {source} into {} ({} new, {} updated, {} unchanged), pushed it ({files} files, {bytes} bytes; {} bytes added to {}), pulled it back into {}: identical",
        volume.display(),
        totals.new,
        totals.updated,
        totals.unchanged,
        outcome.physical_size,
        store.describe(),
        restored.display()
    );
    Ok(())
}

/// The demo's password lives beside its repository (mode 0600), made once from the OS's
/// random source; real use takes the password from FORGESAFE_PASSWORD(_FILE).
fn demo_password(path: &Path) -> Result<Secret> {
    if let Ok(text) = std::fs::read_to_string(path) {
        return Ok(Secret::new(text.trim().to_string()));
    }
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    Ok(Secret::new(text))
}

/// Compares two trees file by file; returns (files, bytes) when they are identical.
fn compare_trees(a: &Path, b: &Path) -> Result<(u64, u64)> {
    let mut files = 0;
    let mut bytes = 0;
    let mut names_a: Vec<_> = std::fs::read_dir(a)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    let mut names_b: Vec<_> = std::fs::read_dir(b)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    names_a.sort();
    names_b.sort();
    if names_a != names_b {
        bail!(
            "restored {} differs from {}: entries differ",
            b.display(),
            a.display()
        );
    }
    for name in names_a {
        let (pa, pb) = (a.join(&name), b.join(&name));
        let meta = std::fs::symlink_metadata(&pa)?;
        if meta.is_dir() {
            let (f, s) = compare_trees(&pa, &pb)?;
            files += f;
            bytes += s;
        } else if meta.is_file() {
            if std::fs::read(&pa)? != std::fs::read(&pb)? {
                bail!("restored {} differs from {}", pb.display(), pa.display());
            }
            files += 1;
            bytes += meta.len();
        }
    }
    Ok((files, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trees_compare_by_names_and_bytes() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        for root in [a.path(), b.path()] {
            std::fs::create_dir_all(root.join("x/y")).unwrap();
            std::fs::write(root.join("x/y/f"), "same").unwrap();
        }
        assert_eq!(compare_trees(a.path(), b.path()).unwrap(), (1, 4));
        std::fs::write(b.path().join("x/y/f"), "diff").unwrap();
        assert!(compare_trees(a.path(), b.path()).is_err());
        std::fs::write(b.path().join("x/extra"), "").unwrap();
        assert!(
            format!("{:#}", compare_trees(a.path(), b.path()).unwrap_err())
                .contains("entries differ")
        );
    }

    #[test]
    fn the_password_is_made_once_and_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("password");
        let first = demo_password(&path).unwrap();
        assert_eq!(first.expose().len(), 48);
        assert_eq!(demo_password(&path).unwrap().expose(), first.expose());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
