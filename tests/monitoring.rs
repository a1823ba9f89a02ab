//! The alert rules the README recommends (`manifests/monitoring/alerts.yml`), judged by Prometheus's
//! own `promtool`: the file is valid, and each alert fires on the series serve exports when it
//! should and stays quiet when it should not (`promtool test rules`).

mod common;

use std::path::Path;
use std::process::Command;

fn promtool() -> std::path::PathBuf {
    common::require_tool(
        "promtool",
        "apt-get install prometheus (Debian's package carries promtool)",
    )
}

fn rules() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests/monitoring/alerts.yml")
}

#[test]
fn the_alert_rules_are_valid_and_fire_exactly_when_backups_stop_or_drills_fail() {
    let out = Command::new(promtool())
        .args(["check", "rules"])
        .arg(rules())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        common::stdout(&out),
        common::stderr(&out)
    );

    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(rules(), tmp.path().join("alerts.yml")).unwrap();
    // Time in promtool tests starts at 0; the series are what serve exports (see tests/serve_schedule.rs).
    let tests = r#"rule_files: [alerts.yml]
evaluation_interval: 1m
tests:
- interval: 1m
  input_series:
  # A pod whose backups stopped at t=0 (or never succeeded: 0 as well).
  - series: 'forgesafe_last_success_timestamp_seconds{instance="stale"}'
    values: '0+0x2000'
  # A pod whose daily backups keep succeeding: the timestamp follows the clock.
  - series: 'forgesafe_last_success_timestamp_seconds{instance="fresh"}'
    values: '0+60x2000'
  - series: 'forgesafe_drill_last_run_timestamp_seconds{instance="stale"}'
    values: '600+0x2000'
  - series: 'forgesafe_drill_last_run_success{instance="stale"}'
    values: '0+0x2000'
  - series: 'forgesafe_drill_last_run_timestamp_seconds{instance="fresh"}'
    values: '600+0x2000'
  - series: 'forgesafe_drill_last_run_success{instance="fresh"}'
    values: '1+0x2000'
  - series: 'forgesafe_refs_rewritten_total{instance="fresh",kind="force_pushed"}'
    values: '0 0 0 1+0x100'
  alert_rule_test:
  - eval_time: 25h
    alertname: ForgeBackupTooOld
    exp_alerts: []
  - eval_time: 27h
    alertname: ForgeBackupTooOld
    exp_alerts:
    - exp_labels: {severity: critical, instance: stale}
      exp_annotations:
        summary: No successful forge backup for more than 26 hours
        description: "The last successful run ended 1d 3h 0m 0s ago; see /status for the last run's error and failed repositories."
  - eval_time: 1h
    alertname: ForgeRestoreDrillFailing
    exp_alerts:
    - exp_labels: {severity: critical, instance: stale}
      exp_annotations:
        summary: The last restore drill found defects; the newest snapshot may not restore (see /status)
  - eval_time: 50m
    alertname: ForgeHistoryRewritten
    exp_alerts:
    - exp_labels: {severity: warning, instance: fresh, kind: force_pushed}
      exp_annotations:
        summary: Refs were force-pushed or deleted upstream; /status names them and the snapshot that still holds the old tips
"#;
    std::fs::write(tmp.path().join("tests.yml"), tests).unwrap();
    let out = Command::new(promtool())
        .args(["test", "rules", "tests.yml"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool test rules:\n{}{}",
        common::stdout(&out),
        common::stderr(&out)
    );
}
