//! The embedded default, the whole job on local parts: mirror a local git repository (this
//! checkout) into a volume under ./forgesafe-data/, push the volume into a local repository
//! there, pull it back, and show that what came back is identical.

use crate::collect::config::{BackupJob, Config, PlainGitSource, Source};
use crate::collect::{collect, CollectOptions};
use crate::profile::Location;
use crate::secret::Secret;
use crate::store::{self, PullRequest, PullTarget, PushRequest, PushSource, Store};
use anyhow::{bail, Context, Result};
use clap::Args;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};


#[derive(Args)]
pub struct DemoArgs {
    /// The git repository to collect (a path or URL).
    #[arg(long, default_value = ".")]
    source: String,
    /// Where the repository, its password and the restored copy go.
    #[arg(long, default_value = "forgesafe-data")]
    data: PathBuf,
}

pub fn run(args: DemoArgs) -> Result<()> {
    let source = if args.source.contains("://") {
        args.source.clone()
    } else {
        let path = std::fs::canonicalize(&args.source).with_context(|| format!("demo source {} does not exist", args.source))?;
        if !path.join(".git").exists() && !path.join("HEAD").exists() {
            bail!("demo source {} is not a git repository: run from the forgesafe checkout, or give --source PATH_OR_URL", path.display());
        }
        path.display().to_string()
    };
    std::fs::create_dir_all(&args.data).with_context(|| format!("cannot create {}", args.data.display()))?;
    let password = demo_password(&args.data.join("password"))?;
    let location = Location::Local { path: args.data.join("repository") };
    let store = Store::new(&location, password, None)?;

    let volume = args.data.join("volume");
    let config = Config {
        jobs: vec![BackupJob {
            document: 0,
            sources: vec![Source::Plain(PlainGitSource { url: source.clone(), name: None, username: None, password: None, token: None, ssh_key: None })],
            destinations: vec![],
            cron: None,
        }],
    };
    let report = collect(&config, &CollectOptions { dest_override: Some(volume.clone()), parallelism: 1 })?;
    if let Some((repo, why)) = report.failed.first() {
        bail!("collecting {repo} failed: {why}");
    }
    let outcome = store::push(&store, &PushRequest::new(PushSource::Path(volume.clone()), "demo"))?;
    super::print_artifact("kandoOutput", &outcome)?;

    let restored = args.data.join("restored");
    store::pull(&store, &PullRequest { name: "demo".into(), snapshot: store::SnapshotChoice::Id(outcome.snapshot_id.clone()), target: PullTarget::Path(restored.clone()) }, &mut std::io::sink())?;
    let (files, bytes) = compare_trees(&volume, &restored)?;
    eprintln!(
        "forgesafe demo: mirrored {source} into {} ({} new, {} updated, {} unchanged), pushed it ({files} files, {bytes} bytes; {} bytes added to {}), pulled it back into {}: identical",
        volume.display(),
        report.new,
        report.updated,
        report.unchanged,
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
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    std::io::Write::write_all(&mut file, text.as_bytes())?;
    Ok(Secret::new(text))
}

/// Compares two trees file by file; returns (files, bytes) when they are identical.
fn compare_trees(a: &Path, b: &Path) -> Result<(u64, u64)> {
    let mut files = 0;
    let mut bytes = 0;
    let mut names_a: Vec<_> = std::fs::read_dir(a)?.map(|e| e.map(|e| e.file_name())).collect::<Result<_, _>>()?;
    let mut names_b: Vec<_> = std::fs::read_dir(b)?.map(|e| e.map(|e| e.file_name())).collect::<Result<_, _>>()?;
    names_a.sort();
    names_b.sort();
    if names_a != names_b {
        bail!("restored {} differs from {}: entries differ", b.display(), a.display());
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
