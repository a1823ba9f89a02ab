//! How the process ends when it is not its own choice: a panic, SIGINT or SIGTERM. Each ends with
//! one redacted line on stderr, exit status 69, and no repository lock left behind.

use crate::secret::redact;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Set once the process is asked to stop (serve's SIGTERM): running work stops at its next safe
/// point — a fetch is interrupted (gix checks this flag), the repository takes no more writes (so
/// no snapshot is recorded), no new repository is started.
pub fn stop_flag() -> Arc<AtomicBool> {
    static STOP: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    STOP.get_or_init(Default::default).clone()
}

pub fn request_stop() {
    stop_flag().store(true, Ordering::SeqCst);
}

pub fn stop_requested() -> bool {
    stop_flag().load(Ordering::SeqCst)
}

fn scratch_dirs() -> &'static Mutex<Vec<PathBuf>> {
    static DIRS: OnceLock<Mutex<Vec<PathBuf>>> = OnceLock::new();
    DIRS.get_or_init(Default::default)
}

/// A temporary folder removed when dropped *and* when the process is stopped by a signal or a
/// panic (a drill's restore: "removed afterwards whatever happens").
pub struct ScratchDir {
    dir: Option<tempfile::TempDir>,
}

impl ScratchDir {
    pub fn new_in(parent: &std::path::Path, prefix: &str) -> std::io::Result<ScratchDir> {
        let dir = tempfile::Builder::new().prefix(prefix).tempdir_in(parent)?;
        scratch_dirs()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(dir.path().to_path_buf());
        Ok(ScratchDir { dir: Some(dir) })
    }

    pub fn path(&self) -> &std::path::Path {
        self.dir.as_ref().expect("present until dropped").path()
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            let path = dir.path().to_path_buf();
            scratch_dirs()
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|p| *p != path);
            drop(dir);
        }
    }
}

fn contained() -> &'static std::sync::atomic::AtomicUsize {
    static CONTAINED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    &CONTAINED
}

/// Runs `work`, turning a panic inside it (on any of its threads: rayon hands a worker's panic
/// back to the caller) into `Err(message)` instead of ending the process. For third-party code
/// that panics on bad input (rustic's restorer unwraps its reads), where the caller can report the
/// failure and carry on (a drill in `serve`).
pub fn contain_panics<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    contained().fetch_add(1, Ordering::SeqCst);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
    contained().fetch_sub(1, Ordering::SeqCst);
    result.map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        crate::store::errors::one_line(&message)
    })
}

/// What a process that is ending early must not leave behind: its repository locks and its
/// scratch folders. (Volume locks are the kernel's and end with the process.)
pub fn clean_up() {
    crate::store::lock::release_all();
    let dirs = std::mem::take(&mut *scratch_dirs().lock().unwrap_or_else(|e| e.into_inner()));
    for dir in dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
}

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
        if contained().load(Ordering::SeqCst) > 0 {
            tracing::debug!("contained panic: {}", redact(&info.to_string()));
            return;
        }
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let line = crate::store::errors::one_line(&format!(
            "internal error: {message}{place}; please report it"
        ));
        eprintln!("forgesafe: error: {}", redact(&line));
        clean_up();
        std::process::exit(crate::EXIT_FAILURE);
    }));
    if handle_signals {
        match signal_hook::iterator::Signals::new([signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM]) {
            Ok(mut signals) => {
                std::thread::spawn(move || {
                    if let Some(signal) = signals.forever().next() {
                        let name = if signal == signal_hook::consts::SIGINT { "SIGINT" } else { "SIGTERM" };
                        clean_up();
                        eprintln!("forgesafe: error: stopped by {name} before the command finished; its repository lock was removed");
                        std::process::exit(crate::EXIT_FAILURE);
                    }
                });
            }
            Err(e) => tracing::warn!("cannot watch for SIGINT/SIGTERM ({e}); a stopped command may leave its repository lock behind"),
        }
    }
}
