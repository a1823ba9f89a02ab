//! The command line: clap arguments -> one call into a domain module each. Exit codes and the
//! final error line are decided here and only here.

mod blueprint;
mod collect;
mod demo;
mod location;
mod output;
mod repo;
mod restore;
mod serve;

use crate::logging::{self, LogFormat};
use crate::secret::redact;
use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "forgesafe",
    version,
    about = "Back up forges into restic-format repositories; a kando-compatible data mover"
)]
struct Cli {
    /// Log format on stderr.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "auto",
        env = "FORGESAFE_LOG_FORMAT"
    )]
    log_format: LogFormat,
    /// More logging (-v, -vv, -vvv).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Push to, pull from and delete from the profile's location (kando's `location`).
    Location(location::LocationArgs),
    /// Print a Kanister phase output line: `###Phase-output###: {"key":KEY,"value":VALUE}`.
    Output(output::OutputArgs),
    /// Create the repository at the profile's location (a first push does it too).
    Init(repo::InitArgs),
    /// List snapshots as JSON.
    Snapshots(repo::SnapshotsArgs),
    /// Verify the repository (with --read-data, every byte).
    Check(repo::CheckArgs),
    /// Apply a retention policy (restic's --keep-* rules) to the snapshots of one --path.
    Forget(repo::ForgetArgs),
    /// Repository size, snapshot count, and per path: count, newest, its size.
    Stats(repo::StatsArgs),
    /// Exit 0 if the newest snapshot of --path is younger than --max-age, 1 if not, 69 if unreadable.
    Health(repo::HealthArgs),
    /// Remove stale repository locks (restic's `unlock`); --remove-all removes every lock.
    Unlock(repo::UnlockArgs),
    /// List what a snapshot holds (like `restic ls`).
    Ls(restore::LsArgs),
    /// List the forge repositories in a snapshot: wiki, metadata, refs, newest commit.
    Repos(restore::ReposArgs),
    /// What changed between two snapshots: refs added, moved, force-pushed, deleted; repositories added or gone.
    Diff(restore::DiffArgs),
    /// Restore one repository (and its wiki, metadata) to a folder, bare or checked out.
    Restore(restore::RestoreArgs),
    /// Mirror forge accounts (repositories, wikis, metadata) into a folder, incrementally.
    Collect(collect::CollectArgs),
    /// Collect, then push the folder and print the artifact line.
    Backup(collect::BackupArgs),
    /// Lint or render Kanister blueprints.
    Blueprint(blueprint::BlueprintArgs),
    /// Render a Go template (Kanister's dialect) from stdin.
    Template(blueprint::TemplateArgs),
    /// Run the sidecar: /healthz, /readyz, /status, /metrics; backups and drills on a schedule.
    Serve(serve::ServeArgs),
    /// Rehearse a restore: pull a snapshot into a scratch folder and verify every mirror in it.
    Drill(serve::DrillArgs),
    /// The embedded default: push a local folder to ./forgesafe-data/ and pull it back.
    Demo(demo::DemoArgs),
}

/// Where the repository is and how to open it; shared by every repository command.
#[derive(Args, Clone)]
pub struct RepoArgs {
    /// Kanister Profile JSON, or @FILE (else FORGESAFE_PROFILE, FORGESAFE_PROFILE_FILE).
    #[arg(short = 'p', long)]
    profile: Option<String>,
    /// File whose first line is the repository password (else FORGESAFE_PASSWORD_FILE, FORGESAFE_PASSWORD).
    #[arg(long)]
    password_file: Option<PathBuf>,
    /// Cache for remote repositories' index and snapshot files.
    #[arg(long, env = "FORGESAFE_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// How long to wait for another process's repository lock (e.g. a running backup), and for
    /// another run writing the same destination (backup, serve), before failing.
    #[arg(long, value_name = "DURATION", default_value = "5m", env = "FORGESAFE_LOCK_WAIT", value_parser = humantime::parse_duration)]
    lock_wait: std::time::Duration,
}

impl RepoArgs {
    /// The repository when a profile is given anywhere (flag or environment), else `None`.
    fn store_if_configured(&self) -> anyhow::Result<Option<crate::store::Store>> {
        match crate::profile::load_text_if_given(self.profile.as_deref())? {
            Some(_) => self.store().map(Some),
            None => Ok(None),
        }
    }

    fn store(&self) -> anyhow::Result<crate::store::Store> {
        let location = crate::profile::load(self.profile.as_deref())?;
        let password = crate::password::load(self.password_file.as_deref())?;
        // The one way to reach the panic path on purpose, once the secrets are known: its test
        // proves the line is redacted and the status is 69. Never set outside that test.
        if let Ok(message) = std::env::var("FORGESAFE_DEBUG_PANIC") {
            panic!("{message}");
        }
        let locking = crate::store::LockSettings {
            wait: self.lock_wait,
            refresh: lock_refresh()?,
        };
        Ok(
            crate::store::Store::new(&location, password, self.cache_dir.clone())?
                .with_locking(locking),
        )
    }
}

/// One snapshot of one `--path`: what the reading commands (ls, repos, restore, drill) open.
#[derive(Args, Clone)]
pub struct SnapshotOfPath {
    /// The --path the snapshot was pushed under.
    #[arg(short = 's', long)]
    path: String,
    /// A snapshot id or a unique prefix of one, or `latest` (the default): the newest of --path.
    #[arg(long)]
    snapshot: Option<String>,
}

impl SnapshotOfPath {
    fn choice(&self) -> anyhow::Result<crate::store::SnapshotChoice> {
        crate::store::SnapshotChoice::parse(self.snapshot.as_deref())
    }
}

/// How often a held repository lock is rewritten: restic's 5 minutes, or `FORGESAFE_LOCK_REFRESH`
/// (tests use seconds to watch a refresh happen).
fn lock_refresh() -> anyhow::Result<std::time::Duration> {
    match std::env::var("FORGESAFE_LOCK_REFRESH") {
        Ok(text) => humantime::parse_duration(&text).map_err(|_| {
            anyhow::anyhow!("FORGESAFE_LOCK_REFRESH is {text:?}: give a duration such as 5m")
        }),
        Err(_) => Ok(crate::store::lock::DEFAULT_REFRESH),
    }
}

/// Prints the artifact line of a push on stdout (the only thing a push command prints there).
fn print_artifact(key: &str, outcome: &crate::store::PushOutcome) -> anyhow::Result<()> {
    crate::phase_output::write_line(&mut std::io::stdout().lock(), key, &outcome.artifact())
}

/// Runs the command line and returns the process exit status (0, or 69 on any failure).
pub fn run(args: Vec<OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version
            let _ = e.print();
            return 0;
        }
        Err(e) => {
            let text = e.to_string();
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid arguments");
            eprintln!(
                "forgesafe: {} (see forgesafe --help)",
                redact(first.trim_start_matches("error: "))
            );
            return crate::EXIT_FAILURE;
        }
    };
    logging::init(cli.log_format, cli.verbose, cli.quiet);
    // serve shuts down gracefully on its own; every other command removes its locks and exits.
    crate::shutdown::install(!matches!(cli.command, Command::Serve(_)));
    crate::progress::enable(
        !cli.quiet && logging::is_human(cli.log_format) && std::io::stderr().is_terminal(),
    );
    let result = match cli.command {
        Command::Location(a) => location::run(a),
        Command::Output(a) => output::run(a),
        Command::Init(a) => repo::init(a),
        Command::Snapshots(a) => repo::snapshots(a),
        Command::Check(a) => repo::check(a),
        Command::Forget(a) => repo::forget(a),
        Command::Stats(a) => repo::stats(a),
        Command::Health(a) => repo::health(a),
        Command::Unlock(a) => repo::unlock(a),
        Command::Demo(a) => demo::run(a),
        Command::Ls(a) => restore::ls(a),
        Command::Repos(a) => restore::repos(a),
        Command::Diff(a) => restore::diff(a),
        Command::Restore(a) => restore::restore(a),
        Command::Collect(a) => collect::run_collect(a),
        Command::Blueprint(a) => blueprint::run_blueprint(a),
        Command::Template(a) => blueprint::run_template(a),
        Command::Backup(a) => collect::run_backup(a),
        Command::Serve(a) => serve::run(a),
        Command::Drill(a) => serve::drill(a),
    };
    match result {
        Ok(()) => 0,
        Err(e) if e.downcast_ref::<crate::ExitStatus>().is_some() => {
            let status = e
                .downcast_ref::<crate::ExitStatus>()
                .expect("checked above");
            if !status.message.is_empty() {
                println!("{}", redact(&status.message));
            }
            status.code
        }
        Err(e) => {
            let line = format!("{e:#}");
            tracing::debug!(error = %redact(&line), "command failed");
            eprintln!(
                "forgesafe: error: {}",
                redact(&crate::store::errors::one_line(&line))
            );
            crate::EXIT_FAILURE
        }
    }
}
