//! Progress of a long run on standard error: a bar on a terminal, a plain
//! line every two seconds otherwise (logs, CI), nothing with `--json`.

use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use dagbench_core::scheduler::Progress;
use indicatif::{ProgressBar, ProgressStyle};

pub(crate) struct ProgressDisplay {
    bar: Option<ProgressBar>,
    plain: bool,
    started: Instant,
    last_line: Instant,
    /// Jobs already done when this session began (restored on resume):
    /// they count toward the position but not toward the rate.
    restored: u64,
}

impl ProgressDisplay {
    pub(crate) fn new(total: u64, restored: u64, quiet: bool) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let bar = (!quiet && terminal).then(|| {
            let bar = ProgressBar::new(total).with_position(restored);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} jobs  {per_sec}  ETA {eta}  {msg}",
                )
                .expect("a valid template"),
            );
            // The jump to the restored position is not progress made now.
            bar.reset_eta();
            bar
        });
        Self {
            bar,
            plain: !quiet && !terminal,
            started: Instant::now(),
            last_line: Instant::now(),
            restored,
        }
    }

    pub(crate) fn update(&mut self, p: &Progress) {
        let done = p.done();
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            bar.set_message(format!(
                "in flight {}  failed {}  blocked {}",
                p.dispatched, p.failed, p.blocked
            ));
        } else if self.plain && self.last_line.elapsed() >= Duration::from_secs(2) {
            self.last_line = Instant::now();
            let secs = self.started.elapsed().as_secs_f64();
            let rate = done.saturating_sub(self.restored) as f64 / secs.max(1e-9);
            let eta = if rate > 0.0 {
                format!("{:.0} s", p.total.saturating_sub(done) as f64 / rate)
            } else {
                "unknown".to_string()
            };
            errln!(
                "{done}/{} jobs  {rate:.0} jobs/s  ETA {eta}  in flight {}  failed {}  blocked {}",
                p.total,
                p.dispatched,
                p.failed,
                p.blocked
            );
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
