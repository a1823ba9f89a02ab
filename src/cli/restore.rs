//! Restoring one piece: ls, repos, diff, restore.

use super::{RepoArgs, SnapshotOfPath};
use crate::collect::config::ForgeKind;
use crate::restore::{self, DiffRequest, ForgeTarget, ListRequest, RestoreRequest};
use crate::secret::Secret;
use crate::store::SnapshotChoice;
use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::PathBuf;

#[derive(Args)]
pub struct LsArgs {
    #[command(flatten)]
    repo: RepoArgs,
    #[command(flatten)]
    of: SnapshotOfPath,
    /// Only the entries of this folder, without their sub-folders' content.
    #[arg(long)]
    shallow: bool,
    /// JSON lines instead of text.
    #[arg(long)]
    json: bool,
    /// A path inside the snapshot (relative to the pushed folder); the whole snapshot by default.
    #[arg(value_name = "PATH_IN_SNAPSHOT", default_value = "")]
    under: String,
}

#[derive(Args)]
pub struct ReposArgs {
    #[command(flatten)]
    repo: RepoArgs,
    #[command(flatten)]
    of: SnapshotOfPath,
    /// JSON (an array) instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct DiffArgs {
    #[command(flatten)]
    repo: RepoArgs,
    #[arg(short = 's', long)]
    path: String,
    /// The older snapshot (id, unique prefix).
    from: String,
    /// The newer snapshot (id, unique prefix, or `latest`).
    #[arg(default_value = "latest")]
    to: String,
    /// Where a mirror is restored for a moment to tell a fast-forward from a force-push.
    #[arg(long)]
    work_dir: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    repo: RepoArgs,
    #[command(flatten)]
    of: SnapshotOfPath,
    /// The repository: OWNER/NAME, or HOST/OWNER/NAME when several forges share the volume.
    #[arg(long = "repo", value_name = "[HOST/]OWNER/NAME")]
    repository: String,
    /// Also its wiki (to TARGET/NAME.wiki.git).
    #[arg(long)]
    wiki: bool,
    /// Also its metadata folder: issues, pull requests, releases (to TARGET/NAME.metadata).
    #[arg(long)]
    metadata: bool,
    /// A working clone checked out at REF (a branch, tag or commit; the mirror's HEAD without
    /// one) instead of a bare mirror.
    #[arg(long, value_name = "REF", num_args = 0..=1, default_missing_value = "")]
    checkout: Option<String>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Also push the repository into a forge, creating it there when it does not exist: the
    /// forge's address (https://github.com, https://gitea.example.com, https://gitlab.example.com).
    /// Every branch and tag is pushed; issues and pull requests stay in the metadata folder.
    #[arg(long, value_name = "URL")]
    to_forge: Option<String>,
    /// Which forge --to-forge is, when its host does not tell (github.com, gitlab.com,
    /// gitea.com and codeberg.org do).
    #[arg(long, value_enum, requires = "to_forge")]
    forge_type: Option<ForgeType>,
    /// The environment variable that holds the forge token (a token that may create
    /// repositories and push). Never the token itself: arguments are visible to every user.
    #[arg(long, value_name = "VAR", requires = "to_forge")]
    token_env: Option<String>,
    /// The repository's name on the forge: OWNER/NAME, or NAME under the token's owner
    /// (default: its own owner and name).
    #[arg(long = "as", value_name = "[OWNER/]NAME", requires = "to_forge")]
    as_repo: Option<String>,
    /// Push into a repository that already has refs, overwriting those that differ (refs only
    /// the forge has are kept). Without it such a push is refused and the refs are listed.
    #[arg(long, requires = "to_forge")]
    force: bool,
    /// Create the repository public (default: private).
    #[arg(long, requires = "to_forge")]
    public: bool,
    /// Where the scratch copy goes when --to-forge has no TARGET (default: the temp folder).
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// Where it goes; replaced only once the restore is complete. Optional with --to-forge.
    target: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum ForgeType {
    Github,
    /// Gitea and Forgejo.
    Gitea,
    Gitlab,
}

impl From<ForgeType> for ForgeKind {
    fn from(kind: ForgeType) -> ForgeKind {
        match kind {
            ForgeType::Github => ForgeKind::Github,
            ForgeType::Gitea => ForgeKind::Gitea,
            ForgeType::Gitlab => ForgeKind::Gitlab,
        }
    }
}

pub fn ls(args: LsArgs) -> Result<()> {
    let request = ListRequest {
        snapshot: args.of.choice()?,
        name: args.of.path,
        under: args.under,
        shallow: args.shallow,
        json: args.json,
    };
    let store = args.repo.store()?;
    let mut out = std::io::stdout().lock();
    restore::list(&store, &request, &mut out)?;
    Ok(out.flush()?)
}

pub fn repos(args: ReposArgs) -> Result<()> {
    let store = args.repo.store()?;
    let (snapshot_id, repos) = restore::inventory::list(&store, &args.of.path, &args.of.choice()?)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&repos)?)?;
    } else {
        writeln!(
            out,
            "snapshot {} of {}: {} repositories",
            &snapshot_id[..8],
            args.of.path,
            repos.len()
        )?;
        for repo in &repos {
            writeln!(out, "{}", repo.summary_line())?;
        }
    }
    Ok(out.flush()?)
}

pub fn diff(args: DiffArgs) -> Result<()> {
    let request = DiffRequest {
        name: args.path,
        from: SnapshotChoice::parse(Some(&args.from))?,
        to: SnapshotChoice::parse(Some(&args.to))?,
        work_dir: args.work_dir,
    };
    let store = args.repo.store()?;
    let report = restore::diff(&store, &request)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else if report.is_empty() {
        writeln!(
            out,
            "no change between {} and {}",
            &report.from[..8],
            &report.to[..8]
        )?;
    } else {
        for line in report.lines() {
            writeln!(out, "{line}")?;
        }
    }
    Ok(out.flush()?)
}

pub fn restore(args: RestoreArgs) -> Result<()> {
    let forge = args
        .to_forge
        .as_deref()
        .map(|url| forge_target(url, &args))
        .transpose()?;
    let target = match (&args.target, &forge) {
        (Some(target), _) => target.clone(),
        (None, Some(_)) if args.wiki || args.metadata || args.checkout.is_some() => {
            bail!("--wiki, --metadata and --checkout need a TARGET folder to restore into; add one after the options")
        }
        (None, Some(_)) => PathBuf::new(),
        (None, None) => bail!("missing TARGET: the folder to restore into (or --to-forge URL to push the repository into a forge)"),
    };
    let request = RestoreRequest {
        snapshot: args.of.choice()?,
        name: args.of.path.clone(),
        repo: args.repository.clone(),
        wiki: args.wiki,
        metadata: args.metadata,
        checkout: args
            .checkout
            .clone()
            .map(|r| Some(r).filter(|r| !r.is_empty())),
        target,
    };
    let store = args.repo.store()?;
    let report = match &forge {
        None => restore::restore(&store, &request)?,
        Some(forge) => {
            let both = restore::restore_to_forge(&store, &request, forge, args.work_dir.clone())?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&both)?);
            }
            let published = &both.published;
            tracing::info!(repository = %published.repository, url = %published.url, created = published.created,
                "pushed to the forge: {}", published.push.summary());
            if args.target.is_some() {
                log_restored(&both.restored);
            }
            return Ok(());
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    log_restored(&report);
    Ok(())
}

fn log_restored(report: &restore::RestoreReport) {
    tracing::info!(snapshot = %&report.snapshot_id[..8], repository = %report.repository, target = %report.target.display(),
        pieces = report.pieces.len(), pack_bytes_read = report.pack_bytes_read, "restored");
    if let Some(checkout) = &report.checkout {
        tracing::info!(branch = ?checkout.branch, commit = %checkout.commit, files = checkout.files, "checked out");
    }
}

/// The forge of `--to-forge`, with the token read from `--token-env`.
fn forge_target(url: &str, args: &RestoreArgs) -> Result<ForgeTarget> {
    let Some(var) = &args.token_env else {
        bail!("--to-forge needs --token-env VAR: the environment variable holding a token that may create repositories and push");
    };
    let token = match std::env::var(var) {
        Ok(token) if !token.trim().is_empty() => Secret::new(token.trim()),
        _ => bail!("--token-env {var}: the environment variable {var} is not set or empty; export the forge token in it"),
    };
    ForgeTarget::new(
        url,
        args.forge_type.map(ForgeKind::from),
        token,
        args.as_repo.as_deref(),
        args.force,
        !args.public,
    )
}
