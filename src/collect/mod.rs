//! Collecting forge accounts onto local disk, in three steps per destination: plan (list each
//! source's repositories: `plan.rs`), run (mirrors, metadata, Git LFS objects: `run.rs`) and
//! report (one outcome per repository: `report.rs`).
//!
//! * `options.rs` — what a `collect` is asked to do (the CLI flattens these types);
//! * `config/` — gickup's `conf.yml`, accepted unchanged;
//! * `forge/` — the forges' APIs behind one trait (list repositories, metadata, release assets);
//! * `mirror/` — bare git mirrors with gix, and the volume's layout;
//! * `lfs/` — Git LFS objects of the mirrors;
//! * `metadata.rs` — one JSON file per item; `state.rs` — what is remembered between runs;
//! * `shard.rs` — which repositories one of several pods backs up (`--shard INDEX/COUNT`);
//! * `volume_lock.rs` — one run at a time per destination; `record.rs` — every mirror's refs as
//!   the run left them; `changes.rs` — refs force-pushed or deleted, repositories gone;
//! * `verify.rs` — a restored volume checked as a restore drill needs it;
//! * `publish.rs` — a mirror pushed into a repository on a forge (created when missing), for
//!   `restore --to-forge` and `live_mirror.rs`, gickup's forge destinations kept as mirrors.

pub mod changes;
pub mod config;
pub mod forge;
pub mod lfs;
mod live_mirror;
pub mod metadata;
pub mod mirror;
mod options;
mod plan;
pub mod publish;
pub mod record;
pub mod report;
mod run;
mod shard;
pub mod state;
pub mod verify;
pub mod volume_lock;

pub use changes::ChangeReport;
pub use options::{one_job, CollectOptions, GitUrls, GithubAccount, Resolved, SourceSpec};
pub use report::{CollectReport, RepoOutcome, RepoStatus, Totals};
pub use run::{collect, run_config, RunSettings};
pub use shard::Shard;
