//! `forgesafe collect` (mirror forge accounts into a volume) and `forgesafe backup` (collect,
//! then push the volume and print the artifact line): arguments -> one library call each.

use super::RepoArgs;
use crate::backup::{backup, BackupOptions};
use crate::collect::{self, CollectOptions};
use anyhow::Result;
use clap::Args;

#[derive(Args)]
pub struct CollectArgs {
    #[command(flatten)]
    what: CollectOptions,
    /// How long to wait for another run (serve's schedule, a backup) that is writing the same destination.
    #[arg(long, value_name = "DURATION", default_value = "5m", env = "FORGESAFE_LOCK_WAIT", value_parser = humantime::parse_duration)]
    lock_wait: std::time::Duration,
}

/// What a backup collects and where it pushes it: the same for `backup` and `serve`'s runs.
#[derive(Args)]
pub struct BackupJobArgs {
    #[command(flatten)]
    pub what: CollectOptions,
    #[command(flatten)]
    pub repo: RepoArgs,
    /// Name the snapshot is filed under (default: the destination folder's name).
    #[arg(short = 's', long)]
    pub path: Option<String>,
    #[command(flatten)]
    pub limits: super::location::LimitArgs,
    #[command(flatten)]
    pub keep: crate::store::KeepOptions,
}

#[derive(Args)]
pub struct BackupArgs {
    #[command(flatten)]
    job: BackupJobArgs,
    #[arg(short = 'o', long, default_value = "kandoOutput")]
    output_name: String,
    /// Exit 0 even when some repositories failed (their last good mirrors are pushed either way).
    #[arg(long)]
    allow_partial: bool,
    /// The backup run this is part of (shards of one run share it; e.g. the Job's uid), kept as the tag run:ID.
    #[arg(long, env = "FORGESAFE_RUN_ID")]
    run_id: Option<String>,
}

pub fn run_collect(args: CollectArgs) -> Result<()> {
    collect::collect(&args.what, args.lock_wait)?.ensure_complete(false)
}

pub fn run_backup(args: BackupArgs) -> Result<()> {
    let job = args.job;
    let store = job.repo.store()?; // fail on a bad profile before any network work
    let options = BackupOptions {
        collect: job.what,
        snapshot_name: job.path,
        artifact_key: args.output_name,
        allow_partial: args.allow_partial,
        limits: job.limits.into(),
        retention: Some(job.keep),
        run_id: args.run_id,
    };
    backup(
        &store,
        &options,
        job.repo.lock_wait,
        &mut std::io::stdout().lock(),
    )
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(clap::Subcommand)]
    enum Command {
        Collect(CollectArgs),
        Backup(BackupArgs),
    }

    fn collect_options(args: &[&str]) -> CollectOptions {
        match Cli::try_parse_from(args)
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
            .command
        {
            Command::Collect(a) => a.what,
            Command::Backup(a) => a.job.what,
        }
    }

    #[test]
    fn dest_and_parallel_mean_the_same_before_and_after_the_source() {
        for args in [
            &[
                "fs",
                "collect",
                "--dest",
                "/v",
                "--parallel",
                "2",
                "url",
                "/srv/a",
            ][..],
            &[
                "fs",
                "collect",
                "url",
                "/srv/a",
                "--dest",
                "/v",
                "--parallel",
                "2",
            ],
            &[
                "fs",
                "collect",
                "--parallel",
                "2",
                "github",
                "--user",
                "octo",
                "--dest",
                "/v",
            ],
            &[
                "fs",
                "backup",
                "--dest",
                "/v",
                "--parallel",
                "2",
                "url",
                "/srv/a",
            ],
            &[
                "fs",
                "backup",
                "url",
                "/srv/a",
                "--parallel",
                "2",
                "--dest",
                "/v",
            ],
        ] {
            let options = collect_options(args);
            assert_eq!(
                options.dest.as_deref(),
                Some(std::path::Path::new("/v")),
                "{args:?}"
            );
            assert_eq!(options.parallel, 2, "{args:?}");
            assert!(options.source.is_some(), "{args:?}");
        }
        assert_eq!(
            collect_options(&["fs", "collect", "--config", "c.yml"]).parallel,
            4,
            "the default"
        );
    }
}
