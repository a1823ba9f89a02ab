//! forgesafe: back up forge accounts into restic-format repositories; a kando-compatible data
//! mover and Kanister blueprint runner in one binary.

pub mod backup;
pub mod blueprint;
pub mod cli;
pub mod collect;
pub mod command_output;
pub mod demo;
pub mod drill;
pub mod http;
pub mod kube;
pub mod logging;
pub mod parallel;
pub mod password;
pub mod phase_output;
pub mod profile;
pub mod progress;
pub mod restore;
pub mod secret;
pub mod serve;
pub mod shutdown;
pub mod store;

/// Exit status of every failure, as kando (kanister #3376).
pub const EXIT_FAILURE: i32 = 69;

/// A command's answer that is not success but not a failure either, with its own exit status
/// (`health`: 1 when the newest snapshot is too old). The message is printed as it is.
#[derive(Debug)]
pub struct ExitStatus {
    pub code: i32,
    pub message: String,
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExitStatus {}
