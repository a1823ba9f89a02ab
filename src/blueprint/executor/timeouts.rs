//! Per-action default timeouts, the ones Kasten K10 applies to the actions it calls by name,
//! so a Blueprint behaves the same under forgesafe as under K10.

use std::time::Duration;

const MINUTE: u64 = 60;

/// Kasten's default for `action`: backup/delete 45 min, restore 600 min, hooks 20 min;
/// any other action gets 45 min.
pub fn default_timeout(action: &str) -> Duration {
    let minutes = match action {
        "restore" => 600,
        "backupPrehook" | "backupPosthook" | "restorePosthook" => 20,
        _ => 45, // backup, delete and actions K10 never calls
    };
    Duration::from_secs(minutes * MINUTE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kasten_defaults() {
        assert_eq!(default_timeout("backup"), Duration::from_secs(45 * 60));
        assert_eq!(default_timeout("restore"), Duration::from_secs(600 * 60));
        assert_eq!(default_timeout("delete"), Duration::from_secs(45 * 60));
        assert_eq!(
            default_timeout("backupPosthook"),
            Duration::from_secs(20 * 60)
        );
        assert_eq!(default_timeout("custom"), Duration::from_secs(45 * 60));
    }
}
