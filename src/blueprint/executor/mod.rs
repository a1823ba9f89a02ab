//! Runs a Blueprint action the way Kanister's controller does: phases in order, each rendered
//! just before it runs, `deferPhase` always last, output artifacts rendered at the end.
//!
//! `run` drives an action; `functions` holds the phase functions (KubeExec, KubeTask, …) in one
//! explicit registry; the other files are small helpers with one job each.

pub mod args;
mod context_prep;
pub mod functions;
mod local_command;
pub mod log_sink;
mod phase_call;
mod request;
mod run;
mod timeouts;

pub use crate::command_output::{tail_lines, Captured, CommandFailed};
pub use functions::{registry, BuiltinFunctions, PhaseFunction, Registry};
pub use log_sink::{stderr_sink, tracing_sink, LogSink};
pub use phase_call::{Outputs, PhaseCall, PhaseFunctions};
pub use request::{PhaseOutcome, RunOutcome, RunRequest};
pub use run::run_action;
pub use timeouts::default_timeout;
