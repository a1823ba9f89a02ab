//! How the process ends when it is not its own choice: a panic, SIGINT or SIGTERM. Each ends with
//! one redacted line on stderr, exit status 69, and no repository lock left behind.

use crate::secret::redact;

/// Installs the panic hook (every command) and, unless the command handles signals itself
/// (`serve` shuts down gracefully), a SIGINT/SIGTERM handler.
pub fn install(handle_signals: bool) {
    // restic checks whether a lock's process still lives by sending it SIGHUP (and ignores the
    // signal itself): a forgesafe push found by a restic on the same host must survive that.
    // SAFETY: setting a signal's disposition to SIG_IGN has no memory-safety preconditions.
    unsafe {
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
    }
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        let place = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        let line = crate::store::errors::one_line(&format!("internal error: {message}{place}; please report it"));
        eprintln!("forgesafe: error: {}", redact(&line));
        crate::store::lock::release_all();
        std::process::exit(crate::EXIT_FAILURE);
    }));
    if handle_signals {
        match signal_hook::iterator::Signals::new([signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM]) {
            Ok(mut signals) => {
                std::thread::spawn(move || {
                    if let Some(signal) = signals.forever().next() {
                        let name = if signal == signal_hook::consts::SIGINT { "SIGINT" } else { "SIGTERM" };
                        crate::store::lock::release_all();
                        eprintln!("forgesafe: error: stopped by {name} before the command finished; its repository lock was removed");
                        std::process::exit(crate::EXIT_FAILURE);
                    }
                });
            }
            Err(e) => tracing::warn!("cannot watch for SIGINT/SIGTERM ({e}); a stopped command may leave its repository lock behind"),
        }
    }
}
