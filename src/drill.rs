//! `forgesafe drill`: a restore rehearsed. The snapshot is pulled into a scratch folder exactly as
//! a user would pull it after a disaster, then the volume is checked as that user needs it
//! (`collect::verify`): mirrors whole, refs as recorded, metadata readable, LFS objects intact.
//! The scratch folder is removed afterwards whatever happens (also on SIGTERM or a panic).
//!
//! Joins `store` (the restore) and `collect` (the checks), as `backup` joins them for the push.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::collect::verify::{verify_volume, Defect, VolumeCheck};
use crate::store::{self, PullRequest, PullTarget, SnapshotChoice, Store};

#[derive(Debug, Clone)]
pub struct DrillRequest {
    /// The `--path` the snapshot was pushed under.
    pub name: String,
    pub snapshot: SnapshotChoice,
    /// Where the scratch folder goes (default: the system's temporary folder, `TMPDIR`).
    pub work_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DrillReport {
    pub path: String,
    /// The snapshot restored (absent when none could be chosen).
    pub snapshot_id: Option<String>,
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    pub restore_seconds: f64,
    pub check_seconds: f64,
    /// Nothing is wrong: the snapshot restored and every check passed.
    pub ok: bool,
    pub check: VolumeCheck,
}

impl DrillReport {
    pub fn defects(&self) -> &[Defect] {
        &self.check.defects
    }

    /// One line for logs and stderr.
    pub fn summary(&self) -> String {
        let id = self
            .snapshot_id
            .as_deref()
            .map_or("?", |id| &id[..id.len().min(8)]);
        let c = &self.check;
        if self.ok {
            format!(
                "drill of {id} ({}) passed: {} mirrors, {} refs, {} objects hashed, {} metadata files, {} LFS objects; restore {:.1}s, checks {:.1}s",
                self.path, c.mirrors_checked, c.refs_checked, c.objects_checked, c.metadata_files_checked, c.lfs_objects_checked, self.restore_seconds, self.check_seconds
            )
        } else {
            format!(
                "drill of {id} ({}) FAILED: {} defect(s); the first: {}",
                self.path,
                c.defects.len(),
                c.defects.first().map_or_else(String::new, describe)
            )
        }
    }
}

impl DrillReport {
    /// A drill that could not run at all (no snapshot yet, the repository unreachable): failed,
    /// with the reason as its one defect.
    pub fn could_not_run(path: &str, started: DateTime<Utc>, reason: String) -> DrillReport {
        let mut check = VolumeCheck::default();
        check.defects.push(Defect {
            repository: "(repository)".into(),
            subject: "drill".into(),
            problem: format!("could not run: {reason}"),
        });
        DrillReport {
            path: path.to_string(),
            snapshot_id: None,
            started,
            finished: Utc::now(),
            restore_seconds: 0.0,
            check_seconds: 0.0,
            ok: false,
            check,
        }
    }
}

/// `repository: subject: problem`.
pub fn describe(defect: &Defect) -> String {
    format!(
        "{}: {}: {}",
        defect.repository, defect.subject, defect.problem
    )
}

/// Reads `request`'s snapshot, restores it into a scratch folder and checks it. An error means the
/// drill could not run (no such snapshot, the repository unreachable); a snapshot that does not
/// restore or verify is a report with defects.
pub fn drill(store: &Store, request: &DrillRequest) -> Result<DrillReport> {
    let started = Utc::now();
    let parent = request.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let scratch = crate::shutdown::ScratchDir::new_in(&parent, ".forgesafe-drill-")
        .with_context(|| format!("cannot create a scratch folder in {}: give --work-dir on a writable volume with room for the snapshot", parent.display()))?;
    let volume = scratch.path().join("volume");
    let mut check = VolumeCheck::default();

    let clock = Instant::now();
    // First read every pack the snapshot uses: rustic's restorer stops the process on a corrupt
    // pack instead of naming it, so a damaged snapshot is found (and named) here.
    let data = store::check_snapshot(store, &request.name, &request.snapshot)?;
    for error in &data.errors {
        check.defects.push(Defect {
            repository: "(repository)".into(),
            subject: format!("snapshot {}", &data.snapshot_id[..8]),
            problem: error.clone(),
        });
    }
    let pull = PullRequest {
        name: request.name.clone(),
        snapshot: SnapshotChoice::Id(data.snapshot_id.clone()),
        target: PullTarget::Path(volume.clone()),
        include: None,
    };
    let restored = if check.defects.is_empty() {
        match crate::shutdown::contain_panics(|| store::pull(store, &pull, &mut std::io::sink())) {
            Ok(Ok(_)) => true,
            Ok(Err(err)) => return Err(err),
            Err(panic) => {
                let problem = crate::secret::redact(&format!("the restore stopped: {panic}"));
                check.defects.push(Defect {
                    repository: "(repository)".into(),
                    subject: format!("snapshot {}", &data.snapshot_id[..8]),
                    problem,
                });
                false
            }
        }
    } else {
        false
    };
    let snapshot_id = Some(data.snapshot_id);
    let restore_seconds = clock.elapsed().as_secs_f64();

    let clock = Instant::now();
    if restored {
        check = verify_volume(&volume, &crate::shutdown::stop_flag())?;
    }
    let check_seconds = clock.elapsed().as_secs_f64();
    drop(scratch);
    let ok = restored && check.defects.is_empty();
    Ok(DrillReport {
        path: request.name.clone(),
        snapshot_id,
        started,
        finished: Utc::now(),
        restore_seconds,
        check_seconds,
        ok,
        check,
    })
}
