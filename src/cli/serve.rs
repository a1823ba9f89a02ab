//! `forgesafe serve` (the sidecar: endpoints, and backups and drills on a schedule) and
//! `forgesafe drill` (a restore rehearsed once): arguments -> one library call each.

use super::{RepoArgs, SnapshotOfPath};
use crate::serve::{ServeRequest, Window};
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args)]
pub struct ServeArgs {
    /// Address of the HTTP endpoints (/healthz, /readyz, /status, /metrics); port 0 picks a free port.
    #[arg(long, default_value = "0.0.0.0:8080", env = "FORGESAFE_LISTEN")]
    listen: SocketAddr,
    /// What a scheduled run backs up (--config conf.yml, or a source such as `url URL --dest DIR`)
    /// and where it pushes it.
    #[command(flatten)]
    job: super::collect::BackupJobArgs,
    /// When to back up: 5 cron fields (6 with seconds first), @daily, or @every 6h; in the
    /// process's time zone (TZ). Default: the config's `cron`; none: serve only answers and waits.
    #[arg(long, env = "FORGESAFE_SCHEDULE")]
    schedule: Option<String>,
    /// Only start a run inside this window (HH:MM-HH:MM, local time; repeatable).
    #[arg(long = "window", value_name = "HH:MM-HH:MM")]
    windows: Vec<Window>,
    /// When to rehearse a restore of the newest snapshot (same forms as --schedule).
    #[arg(long)]
    drill_schedule: Option<String>,
    /// Where drills restore to (default: TMPDIR); needs room for a whole snapshot.
    #[arg(long)]
    drill_work_dir: Option<PathBuf>,
    /// After SIGTERM, how long the run in progress may take to stop (Kubernetes waits 30s).
    #[arg(long, default_value = "25s", value_parser = humantime::parse_duration)]
    grace: Duration,
}

#[derive(Args)]
pub struct DrillArgs {
    #[command(flatten)]
    repo: RepoArgs,
    #[command(flatten)]
    of: SnapshotOfPath,
    /// Where to restore to (default: TMPDIR); removed afterwards.
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// The report as JSON on stdout (else one line per defect).
    #[arg(long)]
    json: bool,
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let job = args.job;
    let has_source = job.what.config.is_some() || job.what.source.is_some();
    crate::serve::run(ServeRequest {
        listen: args.listen,
        collect: has_source.then_some(job.what),
        store: job.repo.store_if_configured()?,
        path: job.path,
        schedule: args.schedule,
        windows: args.windows,
        drill_schedule: args.drill_schedule,
        drill_work_dir: args.drill_work_dir,
        grace: args.grace,
        lock_wait: job.repo.lock_wait,
        limits: job.limits.into(),
        retention: Some(job.keep),
    })
}

/// Exit 0 when the snapshot restored and nothing is wrong, 1 when the drill found defects, 69 when
/// it could not run.
pub fn drill(args: DrillArgs) -> anyhow::Result<()> {
    let store = args.repo.store()?;
    let request = crate::drill::DrillRequest {
        snapshot: args.of.choice()?,
        name: args.of.path,
        work_dir: args.work_dir,
    };
    let report = crate::drill::drill(&store, &request)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for defect in report.defects() {
            println!("{}", crate::drill::describe(defect));
        }
    }
    if report.ok {
        tracing::info!("{}", report.summary());
        Ok(())
    } else {
        // The report is on stdout already; the summary goes to stderr.
        tracing::error!("{}", report.summary());
        Err(crate::ExitStatus {
            code: 1,
            message: String::new(),
        }
        .into())
    }
}
