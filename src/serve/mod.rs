//! `forgesafe serve`: the long-running sidecar. Without a schedule it answers its endpoints and
//! waits (the container Kasten and Kanister exec into); with one it also runs `backup` (collect,
//! push, retention) and restore drills on their timetables, and tells monitoring how that went.
//!
//! * `schedule.rs` — cron / `@every` and backup windows (croner);
//! * `worker.rs` — the one loop that runs backups and drills;
//! * `state.rs` — what `/status` shows; `metrics.rs` — what `/metrics` shows (prometheus);
//! * `http.rs` — the endpoints (axum); `shutdown.rs` — SIGTERM and SIGINT.
//!
//! The worker, the readiness check and the HTTP servers are started and joined here, in one place.

mod http;
mod metrics;
mod schedule;
mod shutdown;
mod state;
mod worker;

pub use schedule::{Fields, Recurrence, Timetable, Window};
pub use state::ServeState;
pub use worker::{ScheduledBackup, ScheduledDrill};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use chrono::Local;

use crate::backup::BackupOptions;
use crate::collect::config::MetricsSettings;
use crate::drill::DrillRequest;
use crate::store::{PushLimits, SnapshotChoice, Store};

/// What `serve` was asked to do, as the command line gives it.
pub struct ServeRequest {
    /// Where the endpoints listen (`0.0.0.0:8080` in a pod; port 0 picks a free one).
    pub listen: SocketAddr,
    /// What a scheduled run collects (with `serving` set); `None`: nothing to collect.
    pub collect: Option<crate::collect::CollectOptions>,
    /// The repository, when a profile and a password are configured.
    pub store: Option<Store>,
    /// The `--path` runs push under and drills restore (default: the destination folder's name).
    pub path: Option<String>,
    /// `--schedule` (else the config's `cron`).
    pub schedule: Option<String>,
    pub windows: Vec<Window>,
    pub drill_schedule: Option<String>,
    pub drill_work_dir: Option<std::path::PathBuf>,
    /// How long a run in progress may take to finish after SIGTERM.
    pub grace: Duration,
    pub lock_wait: Duration,
    pub limits: PushLimits,
    pub retention: Option<crate::store::KeepOptions>,
}

/// Everything `serve` runs, resolved and checked before anything starts.
struct Plan {
    listen: SocketAddr,
    store: Option<Arc<Store>>,
    backup: Option<Arc<ScheduledBackup>>,
    drill: Option<Arc<ScheduledDrill>>,
    /// gickup's `metrics.prometheus`: a second listener, and its path.
    gickup_metrics: Option<(SocketAddr, String)>,
    grace: Duration,
}

/// Runs until SIGTERM or SIGINT, then returns Ok (exit 0): no new run starts, the one in progress
/// gets `grace` to finish (it stops at its next safe point), and no lock is left behind.
pub fn run(request: ServeRequest) -> Result<()> {
    limit_allocator_arenas();
    let plan = plan(request)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(4)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(serve(plan));
    // A run still going after the grace period is abandoned with the process: its locks were
    // removed, and nothing it wrote is recorded (mirrors and pushes are safe to interrupt).
    runtime.shutdown_background();
    result
}

/// glibc gives every thread that allocates its own arena, up to 8 per core, and keeps what a run
/// freed in them; rustic and gix start many threads per run, so a long-lived serve grew run after
/// run (bench/serve.sh: +55% RSS over 30 runs, 111 -> 171 MiB). Two arenas keep it flat (43 -> 44
/// MiB over 30 runs) at no measurable cost on 2 cores. Set before any thread exists.
fn limit_allocator_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator settings; called while this is the only thread.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

fn plan(request: ServeRequest) -> Result<Plan> {
    let store = request.store.map(Arc::new);
    let collect = request.collect.map(|mut options| {
        options.serving = true;
        options
    });
    // Resolving now checks the config (and the token variables) before anything listens.
    let resolved = collect.as_ref().map(|c| c.resolve()).transpose()?;
    let metrics = resolved
        .as_ref()
        .map(|r| first_metrics(&r.config.jobs))
        .unwrap_or_default();
    let config_cron = resolved
        .as_ref()
        .map(|r| config_cron(&r.config.jobs))
        .transpose()?
        .flatten();
    let origin = Local::now();

    let schedule = match (&request.schedule, &config_cron) {
        (Some(text), _) => Some(Recurrence::parse(text, Fields::FiveOrSix, origin)?),
        (None, Some(text)) => Some(
            Recurrence::parse(text, Fields::FiveOnly, origin).context("the config's `cron` key")?,
        ),
        (None, None) => None,
    };
    if schedule.is_none() && !request.windows.is_empty() {
        bail!("--window restricts a schedule, and there is none: give --schedule (or the config's cron)");
    }
    let path = |resolved: Option<&crate::collect::Resolved>| -> Result<String> {
        if let Some(path) = &request.path {
            return Ok(path.clone());
        }
        let dest = resolved
            .ok_or_else(|| anyhow!("give --path: the name the backups were pushed under"))?
            .single_destination()?;
        Ok(dest
            .file_name()
            .map_or("forge".into(), |n| n.to_string_lossy().into_owned()))
    };

    let backup = match schedule {
        None => None,
        Some(recurrence) => {
            let collect = collect.clone().ok_or_else(|| anyhow!("a schedule needs something to back up: give --config conf.yml (or a source such as `url URL --dest DIR`)"))?;
            let store = store.clone().ok_or_else(|| anyhow!("a schedule needs a repository to push to: give --profile (or FORGESAFE_PROFILE_FILE) and the password (FORGESAFE_PASSWORD_FILE)"))?;
            resolved
                .as_ref()
                .expect("resolved with collect")
                .single_destination()?;
            let options = BackupOptions {
                collect,
                snapshot_name: Some(path(resolved.as_ref())?),
                artifact_key: "kandoOutput".into(),
                allow_partial: true,
                limits: request.limits,
                retention: request.retention.clone(),
                run_id: None,
            };
            let timetable = Timetable::new(recurrence, request.windows.clone())?;
            Some(Arc::new(ScheduledBackup {
                timetable,
                options,
                store,
                lock_wait: request.lock_wait,
                heartbeats: metrics.heartbeat_urls.clone(),
            }))
        }
    };
    let drill = match &request.drill_schedule {
        None => None,
        Some(text) => {
            let store = store.clone().ok_or_else(|| {
                anyhow!("--drill-schedule needs the repository: give --profile and the password")
            })?;
            let timetable = Timetable::new(
                Recurrence::parse(text, Fields::FiveOrSix, origin)?,
                Vec::new(),
            )?;
            let name = match &backup {
                Some(b) => b.options.snapshot_name.clone().expect("set above"),
                None => path(resolved.as_ref())?,
            };
            let request = DrillRequest {
                name,
                snapshot: SnapshotChoice::Latest,
                work_dir: request.drill_work_dir.clone(),
            };
            Some(Arc::new(ScheduledDrill {
                timetable,
                request,
                store,
            }))
        }
    };
    let gickup_metrics = match &metrics.prometheus {
        Some(p) => Some((go_listen_addr(&p.listen_addr)?, p.endpoint.clone())),
        None => None,
    };
    Ok(Plan {
        listen: request.listen,
        store,
        backup,
        drill,
        gickup_metrics,
        grace: request.grace,
    })
}

/// gickup's settings come from its config's documents; the first that sets them wins.
fn first_metrics(jobs: &[crate::collect::config::BackupJob]) -> MetricsSettings {
    let prometheus = jobs.iter().find_map(|j| j.metrics.prometheus.clone());
    let heartbeat_urls = jobs
        .iter()
        .flat_map(|j| j.metrics.heartbeat_urls.clone())
        .collect();
    MetricsSettings {
        prometheus,
        heartbeat_urls,
    }
}

/// The config's `cron`: one schedule for the whole file (documents that differ are refused, as
/// one serve runs one backup).
fn config_cron(jobs: &[crate::collect::config::BackupJob]) -> Result<Option<String>> {
    let mut crons: Vec<&str> = jobs.iter().filter_map(|j| j.cron.as_deref()).collect();
    crons.dedup();
    match crons.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.to_string())),
        _ => bail!("the config's documents have different `cron` keys ({}); give --schedule, or run one serve per config", crons.join(", ")),
    }
}

/// Go's listen address forms: `:6178` (every interface), `host:port`.
fn go_listen_addr(text: &str) -> Result<SocketAddr> {
    let full = if text.starts_with(':') {
        format!("0.0.0.0{text}")
    } else {
        text.to_string()
    };
    full.parse().map_err(|_| anyhow!("metrics.prometheus.listen_addr {text:?} is not an address: give :PORT or HOST:PORT (e.g. \":6178\")"))
}

async fn serve(plan: Plan) -> Result<()> {
    // Handlers first: a SIGTERM that arrives as soon as we say we listen must still be handled.
    let stop_signal = shutdown::signal()?;
    let describe = |s: &Timetable| state::ScheduleStatus {
        expression: s.recurrence.to_string(),
        windows: s.windows.iter().map(Window::to_string).collect(),
        next_run: None,
    };
    let state = ServeState::new(
        plan.backup.as_ref().map(|b| describe(&b.timetable)),
        plan.drill.as_ref().map(|d| describe(&d.timetable)),
    );
    if plan.store.is_none() {
        // Nothing to reach: ready as soon as the endpoints answer.
        state.set_readiness(state::Readiness {
            ready: true,
            reason: None,
            checked: Some(chrono::Utc::now()),
        });
    }

    let listener = tokio::net::TcpListener::bind(plan.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}; choose a free address with --listen",
                plan.listen
            )
        })?;
    let address = listener
        .local_addr()
        .context("cannot read the listening address")?;
    let same_listener = plan
        .gickup_metrics
        .as_ref()
        .is_some_and(|(addr, _)| *addr == plan.listen);
    let extra_path = plan
        .gickup_metrics
        .as_ref()
        .filter(|_| same_listener)
        .map(|(_, path)| path.as_str());
    let mut servers = tokio::task::JoinSet::new();
    servers.spawn(http::serve(
        listener,
        http::router(state.clone(), extra_path),
    ));
    if let Some((addr, path)) = plan.gickup_metrics.as_ref().filter(|_| !same_listener) {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on metrics.prometheus.listen_addr {addr}"))?;
        tracing::info!(address = %addr, path = %path, "serving gickup's metrics endpoint");
        servers.spawn(http::serve(
            listener,
            http::metrics_only(state.clone(), path),
        ));
    }
    tracing::info!(%address, scheduled = plan.backup.is_some(), drills = plan.drill.is_some(), "serving /healthz, /readyz, /status and /metrics");

    if let Some(store) = plan.store.clone() {
        tokio::spawn(readiness(state.clone(), store));
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut worker = tokio::spawn(worker::run(
        plan.backup.clone(),
        plan.drill.clone(),
        state.clone(),
        stop_rx,
    ));

    tokio::select! {
        signal = stop_signal => {
            tracing::info!(signal, "stopping: no new run starts");
            crate::shutdown::request_stop();
            let _ = stop_tx.send(true);
            if state.status().running.is_some() {
                tracing::info!(grace = ?plan.grace, "waiting for the run in progress to stop");
            }
            match tokio::time::timeout(plan.grace, &mut worker).await {
                Ok(_) => tracing::info!("stopped cleanly"),
                Err(_) => {
                    tracing::warn!(grace = ?plan.grace, "the run did not stop within the grace period; its locks are removed and nothing it was writing is recorded");
                    crate::shutdown::clean_up();
                }
            }
        }
        Some(result) = servers.join_next() => {
            result.context("the HTTP server stopped")?.context("the HTTP server stopped")?;
            bail!("the HTTP server stopped");
        }
    }
    Ok(())
}

/// Readiness: the config and profile were loaded (or serve would not have started), and the
/// repository answered at the last check. Checked once a minute, not on every probe; until the
/// first check has answered, `/readyz` says "starting".
async fn readiness(state: ServeState, store: Arc<Store>) {
    loop {
        let probe = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || store.probe()).await
        };
        let result = probe
            .map_err(|e| anyhow!("the check did not finish: {e}"))
            .and_then(|r| r);
        let readiness = match result {
            Ok(_) => state::Readiness {
                ready: true,
                reason: None,
                checked: Some(chrono::Utc::now()),
            },
            Err(err) => {
                let reason =
                    crate::secret::redact(&crate::store::errors::one_line(&format!("{err:#}")));
                if state.is_ready() || state.status().readiness.checked.is_none() {
                    tracing::warn!("not ready: {reason}");
                }
                state::Readiness {
                    ready: false,
                    reason: Some(reason),
                    checked: Some(chrono::Utc::now()),
                }
            }
        };
        state.set_readiness(readiness);
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
}
