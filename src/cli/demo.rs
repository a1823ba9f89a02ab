//! The embedded default: push a local folder into a local repository under ./forgesafe-data/,
//! pull it back, and show that what came back is identical.

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
    /// The folder to back up.
    #[arg(long, default_value = "src")]
    source: PathBuf,
    /// Where the repository, its password and the restored copy go.
    #[arg(long, default_value = "forgesafe-data")]
    data: PathBuf,
}

pub fn run(args: DemoArgs) -> Result<()> {
    if !args.source.is_dir() {
        bail!("demo source {} is not a directory: run from the forgesafe checkout, or give --source DIR", args.source.display());
    }
    std::fs::create_dir_all(&args.data).with_context(|| format!("cannot create {}", args.data.display()))?;
    let password = demo_password(&args.data.join("password"))?;
    let location = Location::Local { path: args.data.join("repository") };
    let store = Store::new(&location, password, None)?;

    let outcome = store::push(&store, &PushRequest { source: PushSource::Path(args.source.clone()), name: "demo".into() })?;
    let value = crate::phase_output::go_json(&serde_json::json!({
        "id": outcome.snapshot_id, "logicalSize": outcome.logical_size, "physicalSize": outcome.physical_size
    }));
    crate::phase_output::write_line(&mut std::io::stdout().lock(), "kandoOutput", &value)?;

    let restored = args.data.join("restored");
    store::pull(&store, &PullRequest { name: "demo".into(), snapshot: Some(outcome.snapshot_id.clone()), target: PullTarget::Path(restored.clone()) }, &mut std::io::sink())?;
    let (files, bytes) = compare_trees(&args.source, &restored)?;
    eprintln!(
        "forgesafe demo: pushed {} ({files} files, {bytes} bytes; {} bytes added to {}), pulled it back into {}: identical",
        args.source.display(),
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
