//! forgesafe: back up forge accounts into restic-format repositories; a kando-compatible data
//! mover and Kanister blueprint runner in one binary.

pub mod blueprint;
pub mod cli;
pub mod collect;
pub mod kube;
pub mod logging;
pub mod password;
pub mod phase_output;
pub mod profile;
pub mod progress;
pub mod secret;
pub mod serve;
pub mod store;

/// Exit status of every failure, as kando (kanister #3376).
pub const EXIT_FAILURE: i32 = 69;
