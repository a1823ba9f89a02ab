//! serve's Prometheus metrics: one registry with the `forgesafe_` prefix (the `prometheus` crate,
//! the only user of it), written by the worker after each run and drill, read by `/metrics` in the
//! text format Prometheus scrapes. Timestamps are Unix seconds; a metric that has no value yet (no
//! run so far) is 0, which alert rules read as "never".

use prometheus::{
    Encoder, Gauge, GaugeVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// What one finished backup run tells the metrics.
#[derive(Debug, Default)]
pub struct RunFigures {
    pub finished_unix: f64,
    pub duration_seconds: f64,
    /// The run's steps, when it got that far (a run that failed in its collect has no push).
    pub collect_seconds: Option<f64>,
    pub push_seconds: Option<f64>,
    pub success: bool,
    pub repositories_ok: u64,
    pub repositories_failed: u64,
    pub fetched_bytes: u64,
    pub pushed_bytes: u64,
    /// The size of what the run's snapshot holds, when one was recorded.
    pub snapshot_logical_bytes: Option<u64>,
    pub refs_force_pushed: u64,
    pub refs_deleted: u64,
}

pub struct Metrics {
    registry: Registry,
    last_success: Gauge,
    last_run: Gauge,
    last_run_success: IntGauge,
    run_duration: Gauge,
    step_duration: GaugeVec,
    runs: IntCounterVec,
    repositories: IntGaugeVec,
    fetched_bytes: IntCounter,
    pushed_bytes: IntCounter,
    snapshot_logical_bytes: IntGauge,
    drill_last_success: Gauge,
    drill_last_run: Gauge,
    drill_last_run_success: IntGauge,
    drill_defects: IntGauge,
    refs_rewritten: IntCounterVec,
    next_run: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Registers `metric` in `registry` and hands it back. The names are fixed and distinct, so a
/// failure is a programming error.
fn register<M: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: M) -> M {
    registry
        .register(Box::new(metric.clone()))
        .expect("metric names are distinct and valid");
    metric
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry =
            Registry::new_custom(Some("forgesafe".into()), None).expect("a valid prefix");
        let gauge = |name: &str, help: &str| {
            register(&registry, Gauge::new(name, help).expect("a valid name"))
        };
        let int_gauge = |name: &str, help: &str| {
            register(&registry, IntGauge::new(name, help).expect("a valid name"))
        };
        let counter = |name: &str, help: &str| {
            register(
                &registry,
                IntCounter::new(name, help).expect("a valid name"),
            )
        };
        let counter_vec = |name: &str, help: &str, label: &str| {
            register(
                &registry,
                IntCounterVec::new(Opts::new(name, help), &[label]).expect("a valid name"),
            )
        };

        let build = register(
            &registry,
            IntGaugeVec::new(
                Opts::new("build_info", "forgesafe's version (always 1)"),
                &["version"],
            )
            .expect("a valid name"),
        );
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        let metrics = Metrics {
            last_success: gauge("last_success_timestamp_seconds", "When the last backup run that succeeded ended (Unix time; 0: none yet)"),
            last_run: gauge("last_run_timestamp_seconds", "When the last backup run ended, whatever its result (Unix time; 0: none yet)"),
            last_run_success: int_gauge("last_run_success", "1 if the last backup run collected every repository and recorded its snapshot, else 0"),
            run_duration: gauge("run_duration_seconds", "How long the last backup run took"),
            step_duration: register(
                &registry,
                GaugeVec::new(Opts::new("run_step_duration_seconds", "How long each step of the last backup run that reached it took (collect; push, with retention)"), &["step"]).expect("a valid name"),
            ),
            runs: counter_vec("runs_total", "Backup runs ended, by result", "result"),
            repositories: register(&registry, IntGaugeVec::new(Opts::new("repositories", "Repositories of the last run, by state (ok or failed)"), &["state"]).expect("a valid name")),
            fetched_bytes: counter("fetched_bytes_total", "Bytes fetched from the forges (git packs, LFS objects, release assets)"),
            pushed_bytes: counter("pushed_bytes_total", "Bytes added to the repository by pushes (after deduplication, compression and encryption)"),
            snapshot_logical_bytes: int_gauge("snapshot_logical_bytes", "Size of what the newest snapshot holds"),
            drill_last_success: gauge("drill_last_success_timestamp_seconds", "When the last restore drill that found nothing wrong ended (Unix time; 0: none yet)"),
            drill_last_run: gauge("drill_last_run_timestamp_seconds", "When the last restore drill ended (Unix time; 0: none yet)"),
            drill_last_run_success: int_gauge("drill_last_run_success", "1 if the last restore drill found nothing wrong, else 0"),
            drill_defects: int_gauge("drill_defects", "Defects the last restore drill found"),
            refs_rewritten: counter_vec("refs_rewritten_total", "Refs rewritten upstream since serve started, by kind (force_pushed or deleted)", "kind"),
            next_run: gauge("next_run_timestamp_seconds", "When the next scheduled backup run starts (Unix time; 0: none scheduled)"),
            registry,
        };
        // Every label value exists from the start, so a scrape before the first run shows them.
        for state in ["ok", "failed"] {
            metrics.repositories.with_label_values(&[state]).set(0);
        }
        for result in ["success", "failure"] {
            metrics.runs.with_label_values(&[result]).reset();
        }
        for kind in ["force_pushed", "deleted"] {
            metrics.refs_rewritten.with_label_values(&[kind]).reset();
        }
        for step in ["collect", "push"] {
            metrics.step_duration.with_label_values(&[step]).set(0.0);
        }
        metrics
    }

    pub fn record_run(&self, run: &RunFigures) {
        self.last_run.set(run.finished_unix);
        self.run_duration.set(run.duration_seconds);
        // A step the run did not reach keeps the last figure measured for it: the gauge reads
        // "how long this step takes", and a failed collect says nothing about the push.
        for (step, seconds) in [("collect", run.collect_seconds), ("push", run.push_seconds)] {
            if let Some(seconds) = seconds {
                self.step_duration.with_label_values(&[step]).set(seconds);
            }
        }
        self.last_run_success.set(i64::from(run.success));
        if run.success {
            self.last_success.set(run.finished_unix);
        }
        self.runs
            .with_label_values(&[if run.success { "success" } else { "failure" }])
            .inc();
        self.repositories
            .with_label_values(&["ok"])
            .set(run.repositories_ok as i64);
        self.repositories
            .with_label_values(&["failed"])
            .set(run.repositories_failed as i64);
        self.fetched_bytes.inc_by(run.fetched_bytes);
        self.pushed_bytes.inc_by(run.pushed_bytes);
        if let Some(bytes) = run.snapshot_logical_bytes {
            self.snapshot_logical_bytes.set(bytes as i64);
        }
        self.refs_rewritten
            .with_label_values(&["force_pushed"])
            .inc_by(run.refs_force_pushed);
        self.refs_rewritten
            .with_label_values(&["deleted"])
            .inc_by(run.refs_deleted);
    }

    pub fn record_drill(&self, finished_unix: f64, ok: bool, defects: usize) {
        self.drill_last_run.set(finished_unix);
        self.drill_last_run_success.set(i64::from(ok));
        self.drill_defects.set(defects as i64);
        if ok {
            self.drill_last_success.set(finished_unix);
        }
    }

    pub fn set_next_run(&self, unix: Option<f64>) {
        self.next_run.set(unix.unwrap_or(0.0));
    }

    /// The exposition, in the Prometheus text format (0.0.4).
    pub fn encode(&self) -> String {
        let mut text = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut text)
            .expect("writing to memory cannot fail");
        String::from_utf8(text).expect("the text format is UTF-8")
    }
}

/// The Content-Type of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_names_every_metric_with_the_prefix_and_follows_runs() {
        let metrics = Metrics::new();
        let before = metrics.encode();
        assert!(
            before.contains("forgesafe_last_success_timestamp_seconds 0\n"),
            "{before}"
        );
        assert!(
            before.contains("forgesafe_repositories{state=\"failed\"} 0"),
            "{before}"
        );
        assert!(
            before.contains(&format!(
                "forgesafe_build_info{{version=\"{}\"}} 1",
                env!("CARGO_PKG_VERSION")
            )),
            "{before}"
        );
        assert!(
            before.contains("# TYPE forgesafe_fetched_bytes_total counter"),
            "{before}"
        );

        metrics.record_run(&RunFigures {
            finished_unix: 1_800_000_000.5,
            duration_seconds: 3.25,
            collect_seconds: Some(2.5),
            push_seconds: Some(0.75),
            success: false,
            repositories_ok: 4,
            repositories_failed: 1,
            fetched_bytes: 1000,
            pushed_bytes: 300,
            snapshot_logical_bytes: Some(5000),
            refs_force_pushed: 2,
            refs_deleted: 1,
        });
        metrics.record_run(&RunFigures {
            finished_unix: 1_800_000_100.0,
            success: true,
            repositories_ok: 5,
            fetched_bytes: 24,
            ..RunFigures::default()
        });
        let after = metrics.encode();
        for line in [
            "forgesafe_last_run_timestamp_seconds 1800000100\n",
            "forgesafe_last_success_timestamp_seconds 1800000100\n",
            "forgesafe_last_run_success 1",
            "forgesafe_runs_total{result=\"failure\"} 1",
            "forgesafe_runs_total{result=\"success\"} 1",
            "forgesafe_repositories{state=\"ok\"} 5",
            "forgesafe_fetched_bytes_total 1024",
            "forgesafe_pushed_bytes_total 300",
            "forgesafe_snapshot_logical_bytes 5000",
            "forgesafe_refs_rewritten_total{kind=\"force_pushed\"} 2",
            "forgesafe_refs_rewritten_total{kind=\"deleted\"} 1",
            // The second run reached no step: the first run's figures stand.
            "forgesafe_run_step_duration_seconds{step=\"collect\"} 2.5\n",
            "forgesafe_run_step_duration_seconds{step=\"push\"} 0.75\n",
        ] {
            assert!(after.contains(line), "{line} missing from\n{after}");
        }
        metrics.record_drill(1_800_000_200.0, true, 0);
        assert!(metrics
            .encode()
            .contains("forgesafe_drill_last_success_timestamp_seconds 1800000200\n"));
    }
}
