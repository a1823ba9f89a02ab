//! Kanister's template context (`param.TemplateParams`) as forgesafe builds it before an action
//! runs: from the cluster (`cluster`), from what the command line gives (`inputs`), and the
//! secrets in it registered for redaction (`secrets`). While the action runs, the executor keeps
//! `.Time`, `.Phases` and `.CurrentPhase` up to date.

pub mod cluster;
pub mod inputs;
mod secrets;

pub use cluster::{build_context, ClusterInputs, ObjectRef};
pub use secrets::register_secrets;
