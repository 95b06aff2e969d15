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
}

impl ProgressDisplay {
    pub(crate) fn new(total: u64, quiet: bool) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let bar = (!quiet && terminal).then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} jobs  {per_sec}  ETA {eta}  {msg}",
                )
                .expect("a valid template"),
            );
            bar
        });
        Self {
            bar,
            plain: !quiet && !terminal,
            started: Instant::now(),
            last_line: Instant::now(),
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
            let rate = done as f64 / secs.max(1e-9);
            let eta = if rate > 0.0 {
                (p.total - done) as f64 / rate
            } else {
                f64::NAN
            };
            eprintln!(
                "{done}/{} jobs  {rate:.0} jobs/s  ETA {eta:.0} s  in flight {}  failed {}  blocked {}",
                p.total, p.dispatched, p.failed, p.blocked
            );
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
