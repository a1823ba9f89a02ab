//! rustic's progress reports shown as bars on a terminal (the same switch as every other bar:
//! [`crate::progress::enabled`]), hidden elsewhere.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rustic_core::{Progress, ProgressBars, ProgressType, RusticProgress};
use std::time::Duration;

/// What the repository uses to report progress.
#[derive(Debug, Clone, Copy)]
pub struct TerminalBars;

impl ProgressBars for TerminalBars {
    fn progress(&self, kind: ProgressType, prefix: &str) -> Progress {
        if !crate::progress::enabled() {
            return Progress::hidden();
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        let template = match kind {
            ProgressType::Spinner => "{spinner} {prefix} {elapsed}",
            ProgressType::Counter => "{spinner} {prefix} {pos}/{len} {elapsed}",
            ProgressType::Bytes => {
                "{spinner} {prefix} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
            }
        };
        bar.set_style(ProgressStyle::with_template(template).expect("templates are valid"));
        bar.set_prefix(prefix.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress::new(Bar(bar))
    }
}

#[derive(Debug)]
struct Bar(ProgressBar);

impl RusticProgress for Bar {
    fn is_hidden(&self) -> bool {
        false
    }
    fn set_length(&self, len: u64) {
        self.0.set_length(len);
    }
    fn set_title(&self, title: &str) {
        self.0.set_prefix(title.to_string());
    }
    fn inc(&self, inc: u64) {
        self.0.inc(inc);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}
