//! The one worker: sleeps until the next scheduled backup or drill, runs it on a blocking thread,
//! records what happened, and goes back to sleep. One loop means never two runs of serve's own
//! at once; the volume lock (taken inside `backup`) also keeps out a `forgesafe backup` someone
//! execs into the container meanwhile, and the repository lock keeps out a conflicting delete.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Local, Utc};
use tokio::sync::watch;

use super::schedule::Timetable;
use super::state::{FailedRepository, RunRecord, RunResult, Running, ServeState};
use crate::backup::{backup, BackupOptions};
use crate::collect::ChangeReport;
use crate::drill::{drill, DrillReport, DrillRequest};
use crate::secret::{redact, Secret};
use crate::store::Store;

/// A backup on a timetable.
pub struct ScheduledBackup {
    pub timetable: Timetable,
    pub options: BackupOptions,
    pub store: Arc<Store>,
    /// How long a run waits for a volume or repository lock someone else holds.
    pub lock_wait: Duration,
    /// gickup's `metrics.heartbeat.urls`: a GET after every successful run.
    pub heartbeats: Vec<Secret>,
}

/// A restore drill on a timetable.
pub struct ScheduledDrill {
    pub timetable: Timetable,
    pub request: DrillRequest,
    pub store: Arc<Store>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Due {
    Backup,
    Drill,
}

/// Runs until `stop` turns true; a run in progress is finished first (the caller bounds that
/// with the grace period, and the process's stop flag makes the run itself stop early).
pub async fn run(
    backup: Option<Arc<ScheduledBackup>>,
    drill: Option<Arc<ScheduledDrill>>,
    state: ServeState,
    mut stop: watch::Receiver<bool>,
) {
    // Each job's next tick is counted from where that job last stood: a tick of one job that passed
    // while the other ran is still due (once), so a drill never starves behind backups; a job's
    // own ticks that pass while it runs are skipped, as cron skips overlapping runs.
    let mut backup_after = Local::now();
    let mut drill_after = Local::now();
    loop {
        let next_backup = backup
            .as_ref()
            .and_then(|b| b.timetable.next_after(backup_after));
        let next_drill = drill
            .as_ref()
            .and_then(|d| d.timetable.next_after(drill_after));
        state.set_next_runs(
            next_backup.map(|t| t.with_timezone(&Utc)),
            next_drill.map(|t| t.with_timezone(&Utc)),
        );
        let due = match (next_backup, next_drill) {
            (None, None) => {
                // Nothing scheduled: serve only answers its endpoints until stopped.
                let _ = stop.wait_for(|stopped| *stopped).await;
                return;
            }
            // On a tie the drill goes first: it is the rarer job.
            (Some(b), Some(d)) if d <= b => (d, Due::Drill),
            (Some(b), _) => (b, Due::Backup),
            (None, Some(d)) => (d, Due::Drill),
        };
        let (at, what) = due;
        tracing::info!(next = %at.to_rfc3339(), job = if what == Due::Backup { "backup" } else { "drill" }, "next scheduled run");
        tokio::select! {
            _ = sleep_until(at) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        if *stop.borrow() {
            return;
        }
        // A tick that waited for the other job must still start inside a window.
        let timetable = match what {
            Due::Backup => &backup.as_ref().expect("a backup was due").timetable,
            Due::Drill => &drill.as_ref().expect("a drill was due").timetable,
        };
        if !timetable.allows(Local::now()) {
            tracing::info!(tick = %at.to_rfc3339(), "skipped: the tick waited for another run and its window has closed");
            match what {
                Due::Backup => backup_after = Local::now(),
                Due::Drill => drill_after = Local::now(),
            }
            continue;
        }
        match what {
            Due::Backup => {
                let job = backup.clone().expect("a backup was due");
                state.set_running(Some(Running {
                    kind: "backup",
                    started: Utc::now(),
                }));
                let outcome = tokio::task::spawn_blocking(move || run_backup(&job)).await;
                state.set_running(None);
                match outcome {
                    Ok((record, changes)) => state.record_run(record, changes),
                    Err(err) => tracing::error!("the backup run ended abnormally: {err}"),
                }
                backup_after = Local::now().max(at);
                give_back_freed_memory();
            }
            Due::Drill => {
                let job = drill.clone().expect("a drill was due");
                state.set_running(Some(Running {
                    kind: "drill",
                    started: Utc::now(),
                }));
                let outcome = tokio::task::spawn_blocking(move || run_drill(&job)).await;
                state.set_running(None);
                match outcome {
                    Ok(report) => state.record_drill(report),
                    Err(err) => tracing::error!("the drill ended abnormally: {err}"),
                }
                drill_after = Local::now().max(at);
                give_back_freed_memory();
            }
        }
    }
}

/// Between runs the process holds almost nothing, but glibc's allocator keeps the pages a run freed
/// (in the arenas of the threads rustic and gix started): without this a long-lived serve grows run
/// after run (measured in bench/serve.sh: +55% over 30 runs). Returning them keeps it flat.
fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

async fn sleep_until(at: DateTime<Local>) {
    // Wall-clock time: re-checked every minute so a suspended or stepped clock is caught up with.
    loop {
        let left = (at - Local::now()).to_std().unwrap_or(Duration::ZERO);
        if left.is_zero() {
            return;
        }
        tokio::time::sleep(left.min(Duration::from_secs(60))).await;
    }
}

/// One scheduled backup: collect, push, retention; then the heartbeats if it succeeded.
pub fn run_backup(job: &ScheduledBackup) -> (RunRecord, Option<ChangeReport>) {
    let started = Utc::now();
    let clock = Instant::now();
    tracing::info!("scheduled backup run starting");
    // Partial results are pushed and reported here rather than turned into an error, so the
    // status shows which repositories failed and the snapshot that was still recorded.
    let options = BackupOptions {
        allow_partial: true,
        ..job.options.clone()
    };
    let mut artifact = Vec::new();
    let result = backup(&job.store, &options, job.lock_wait, &mut artifact);
    let mut record = RunRecord {
        started,
        finished: Utc::now(),
        duration_seconds: clock.elapsed().as_secs_f64(),
        collect_seconds: None,
        push_seconds: None,
        result: RunResult::Failed,
        error: None,
        snapshot_id: None,
        logical_bytes: None,
        added_bytes: None,
        fetched_bytes: 0,
        repositories_ok: 0,
        repositories_failed: 0,
        failed_repositories: Vec::new(),
        refs_force_pushed: 0,
        refs_deleted: 0,
        repositories_gone: 0,
    };
    let mut changes = None;
    match result {
        Ok(done) => {
            let totals = done.collected.totals();
            record.result = if totals.failed == 0 {
                RunResult::Success
            } else {
                RunResult::Partial
            };
            record.collect_seconds = Some(done.collect_seconds);
            record.push_seconds = Some(done.push_seconds);
            record.snapshot_id = Some(done.pushed.snapshot_id.clone());
            record.logical_bytes = Some(done.pushed.logical_size);
            record.added_bytes = Some(done.pushed.physical_size);
            record.fetched_bytes = totals.bytes_fetched;
            record.repositories_ok = totals.new + totals.updated + totals.unchanged;
            record.repositories_failed = totals.failed;
            record.failed_repositories = done
                .collected
                .failed()
                .map(|r| FailedRepository {
                    name: r.name.clone(),
                    reasons: r.failures.iter().map(|f| f.to_string()).collect(),
                })
                .collect();
            let report = done.collected.changes.into_iter().next();
            if let Some(report) = &report {
                record.refs_force_pushed = report.refs_force_pushed();
                record.refs_deleted = report.refs_deleted();
                record.repositories_gone = report.gone.len();
            }
            changes = report;
        }
        Err(err) => {
            let line = redact(&crate::store::errors::one_line(&format!("{err:#}")));
            tracing::error!("scheduled backup run failed: {line}");
            record.error = Some(line);
        }
    }
    match record.result {
        RunResult::Success => tracing::info!(
            snapshot = record.snapshot_id.as_deref().unwrap_or(""),
            seconds = record.duration_seconds,
            "scheduled backup run succeeded"
        ),
        RunResult::Partial => tracing::warn!(
            failed = record.repositories_failed,
            "scheduled backup run recorded its snapshot, but some repositories failed"
        ),
        RunResult::Failed => {}
    }
    if record.result == RunResult::Success {
        send_heartbeats(&job.heartbeats);
    }
    (record, changes)
}

/// gickup's heartbeats: a GET to each URL. A failed ping is logged, never fatal. Only the URL's
/// host is logged: a ping URL is often a secret.
fn send_heartbeats(urls: &[Secret]) {
    if urls.is_empty() {
        return;
    }
    let timeouts = crate::http::Timeouts {
        connect: Some(Duration::from_secs(10)),
        request: Duration::from_secs(30),
    };
    let client = match crate::http::Client::new(timeouts) {
        Ok(client) => client,
        Err(err) => {
            tracing::warn!("cannot send heartbeats: {err:#}");
            return;
        }
    };
    for url in urls {
        let host = crate::http::Url::parse(url.expose())
            .map(|u| crate::http::origin_display(&u))
            .unwrap_or_default();
        match client.get(url.expose(), Default::default()).send() {
            Ok(response) if response.status().is_success() => {
                tracing::debug!(host, "heartbeat sent")
            }
            Ok(response) => tracing::warn!(
                host,
                status = response.status().as_u16(),
                "the heartbeat was refused"
            ),
            Err(err) => tracing::warn!(
                host,
                "cannot send the heartbeat: {}",
                redact(&err.to_string())
            ),
        }
    }
}

/// One scheduled drill; a drill that cannot run at all is a failed report saying why.
pub fn run_drill(job: &ScheduledDrill) -> DrillReport {
    tracing::info!(path = %job.request.name, "scheduled restore drill starting");
    let started = Utc::now();
    match drill(&job.store, &job.request) {
        Ok(report) => {
            if report.ok {
                tracing::info!("{}", report.summary());
            } else {
                tracing::error!("{}", report.summary());
            }
            report
        }
        Err(err) => {
            let line = redact(&crate::store::errors::one_line(&format!("{err:#}")));
            tracing::error!("scheduled restore drill could not run: {line}");
            DrillReport::could_not_run(&job.request.name, started, line)
        }
    }
}
