//! What serve knows, behind one cheap-to-clone type: the worker writes it after each run and
//! drill, the readiness check after each probe of the repository, the HTTP endpoints read it.
//! Everything here may be shown to anyone who reaches the port: failure reasons are redacted when
//! they are made, and no URL, token or profile field is kept.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::metrics::Metrics;
use crate::collect::ChangeReport;
use crate::drill::DrillReport;

#[derive(Clone)]
pub struct ServeState {
    inner: Arc<Inner>,
}

struct Inner {
    ready: AtomicBool,
    status: Mutex<Status>,
    metrics: Metrics,
}

/// `/status`.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub version: &'static str,
    pub started: DateTime<Utc>,
    pub readiness: Readiness,
    /// The backup schedule, if serve runs one.
    pub schedule: Option<ScheduleStatus>,
    /// The drill schedule, if serve runs one.
    pub drill_schedule: Option<ScheduleStatus>,
    /// The run or drill in progress.
    pub running: Option<Running>,
    pub last_run: Option<RunRecord>,
    pub last_drill: Option<DrillReport>,
    /// The newest collect's change report that named something (force-pushes, deleted refs,
    /// repositories gone), and when it was made.
    pub last_changes: Option<ChangeReport>,
    pub runs_succeeded: u64,
    pub runs_failed: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Readiness {
    pub ready: bool,
    /// Why not, in one redacted line.
    pub reason: Option<String>,
    pub checked: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScheduleStatus {
    pub expression: String,
    pub windows: Vec<String>,
    pub next_run: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Running {
    /// `backup` or `drill`.
    pub kind: &'static str,
    pub started: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunResult {
    /// Every repository collected, the snapshot recorded.
    Success,
    /// The snapshot was recorded, but some repositories failed (their last good mirrors were pushed).
    Partial,
    /// No snapshot was recorded.
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    pub duration_seconds: f64,
    /// The run's two steps, when the run got that far: the collect, and the push (with retention).
    pub collect_seconds: Option<f64>,
    pub push_seconds: Option<f64>,
    pub result: RunResult,
    /// Why the run failed, in one redacted line.
    pub error: Option<String>,
    pub snapshot_id: Option<String>,
    /// What the snapshot holds.
    pub logical_bytes: Option<u64>,
    /// What the push added to the repository.
    pub added_bytes: Option<u64>,
    pub fetched_bytes: u64,
    pub repositories_ok: u64,
    pub repositories_failed: u64,
    pub failed_repositories: Vec<FailedRepository>,
    pub refs_force_pushed: usize,
    pub refs_deleted: usize,
    pub repositories_gone: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct FailedRepository {
    pub name: String,
    pub reasons: Vec<String>,
}

impl ServeState {
    pub fn new(
        schedule: Option<ScheduleStatus>,
        drill_schedule: Option<ScheduleStatus>,
    ) -> ServeState {
        let status = Status {
            version: env!("CARGO_PKG_VERSION"),
            started: Utc::now(),
            readiness: Readiness::default(),
            schedule,
            drill_schedule,
            running: None,
            last_run: None,
            last_drill: None,
            last_changes: None,
            runs_succeeded: 0,
            runs_failed: 0,
        };
        ServeState {
            inner: Arc::new(Inner {
                ready: AtomicBool::new(false),
                status: Mutex::new(status),
                metrics: Metrics::new(),
            }),
        }
    }

    fn status_mut<T>(&self, change: impl FnOnce(&mut Status) -> T) -> T {
        change(&mut self.inner.status.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn status(&self) -> Status {
        self.status_mut(|s| s.clone())
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Whether `/readyz` answers 200.
    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::Acquire)
    }

    pub fn set_readiness(&self, readiness: Readiness) {
        self.inner.ready.store(readiness.ready, Ordering::Release);
        self.status_mut(|s| s.readiness = readiness);
    }

    pub fn set_running(&self, running: Option<Running>) {
        self.status_mut(|s| s.running = running);
    }

    pub fn set_next_runs(&self, backup: Option<DateTime<Utc>>, drill: Option<DateTime<Utc>>) {
        self.inner.metrics.set_next_run(backup.map(unix));
        self.status_mut(|s| {
            if let Some(schedule) = &mut s.schedule {
                schedule.next_run = backup;
            }
            if let Some(schedule) = &mut s.drill_schedule {
                schedule.next_run = drill;
            }
        });
    }

    pub fn record_run(&self, record: RunRecord, changes: Option<ChangeReport>) {
        self.inner.metrics.record_run(&super::metrics::RunFigures {
            finished_unix: unix(record.finished),
            duration_seconds: record.duration_seconds,
            collect_seconds: record.collect_seconds,
            push_seconds: record.push_seconds,
            success: record.result == RunResult::Success,
            repositories_ok: record.repositories_ok,
            repositories_failed: record.repositories_failed,
            fetched_bytes: record.fetched_bytes,
            pushed_bytes: record.added_bytes.unwrap_or(0),
            snapshot_logical_bytes: record.logical_bytes,
            refs_force_pushed: record.refs_force_pushed as u64,
            refs_deleted: record.refs_deleted as u64,
        });
        self.status_mut(|s| {
            if record.result == RunResult::Success {
                s.runs_succeeded += 1;
            } else {
                s.runs_failed += 1;
            }
            s.last_run = Some(record);
            if let Some(changes) = changes.filter(|c| !c.is_empty()) {
                s.last_changes = Some(changes);
            }
        });
    }

    pub fn record_drill(&self, report: DrillReport) {
        self.inner.metrics.record_drill(
            unix(report.finished),
            report.ok,
            report.check.defects.len(),
        );
        self.status_mut(|s| s.last_drill = Some(report));
    }
}

pub fn unix(time: DateTime<Utc>) -> f64 {
    time.timestamp_millis() as f64 / 1000.0
}
