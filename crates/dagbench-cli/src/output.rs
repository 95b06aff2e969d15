//! Where command output goes: a file, or standard output for `-`; and
//! the CLI's printing macros.
//!
//! Every line the CLI prints goes through `outln!`/`out!` (standard
//! output) or `errln!`/`errout!` (standard error) instead of `println!`
//! and friends, which panic when the reader has gone (`dagbench … | head`).
//! Messages to standard error are best effort: a run whose terminal closed
//! still finishes and writes its report. Standard output that is closed is
//! remembered and nothing more is written to it; a stream opened with
//! [`create`] fails with [`StdoutClosed`], which `main` treats as a quiet end.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes to standard output; a reader that has gone is remembered, and
/// later output is dropped instead of panicking.
pub(crate) fn write_stdout(args: std::fmt::Arguments<'_>) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = io::stdout().lock();
    if let Err(err) = out.write_fmt(args).and_then(|()| out.flush())
        && err.kind() == io::ErrorKind::BrokenPipe
    {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
    }
}

/// Writes to standard error, ignoring failure: there is nowhere left to
/// report it, and the work in progress matters more than the message.
pub(crate) fn write_stderr(args: std::fmt::Arguments<'_>) {
    let _ = io::stderr().lock().write_fmt(args);
}

#[allow(unused_macros)] // the worker-only build prints little
/// `println!` that survives a closed standard output.
macro_rules! outln {
    () => { $crate::output::write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}
#[allow(unused_macros)]
/// `print!` that survives a closed standard output.
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::write_stdout(format_args!($($arg)*)) };
}
/// `eprintln!` that survives a closed standard error.
macro_rules! errln {
    () => { $crate::output::write_stderr(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::write_stderr(format_args!("{}\n", format_args!($($arg)*))) };
}
#[allow(unused_macros)]
/// `eprint!` that survives a closed standard error.
macro_rules! errout {
    ($($arg:tt)*) => { $crate::output::write_stderr(format_args!($($arg)*)) };
}

/// Standard output's reader has gone (`dagbench graph generate -o - | head`):
/// the command stops quietly, which is what the reader asked for.
#[derive(Debug)]
pub(crate) struct StdoutClosed;

impl std::fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("standard output was closed")
    }
}

impl std::error::Error for StdoutClosed {}

/// Whether `err` comes from writing to a closed standard output.
pub(crate) fn is_stdout_closed(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.is::<StdoutClosed>()
            || cause
                .downcast_ref::<io::Error>()
                .and_then(|io| io.get_ref())
                .is_some_and(|inner| inner.is::<StdoutClosed>())
    })
}

/// Standard output as a stream whose closing is reported as [`StdoutClosed`].
struct Stdout(io::StdoutLock<'static>);

impl Stdout {
    fn map(err: io::Error) -> io::Error {
        if err.kind() == io::ErrorKind::BrokenPipe {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            io::Error::new(io::ErrorKind::BrokenPipe, StdoutClosed)
        } else {
            err
        }
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(Self::map)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().map_err(Self::map)
    }
}

/// Opens `path` for writing (`-` is standard output), buffered.
pub(crate) fn create(path: &Path) -> anyhow::Result<Box<dyn Write>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(BufWriter::new(Stdout(io::stdout().lock()))));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create directory {}", parent.display()))?;
    }
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(Box::new(BufWriter::with_capacity(1 << 20, file)))
}

/// `1234567` → `1,234,567`.
#[cfg(feature = "full")]
pub(crate) use dagbench_report::run::thousands;

/// A rate in a human unit: `12.3 M/s`, `850 k/s`, `12/s`.
pub(crate) fn rate(per_sec: f64) -> String {
    if per_sec >= 1e6 {
        format!("{:.2} M/s", per_sec / 1e6)
    } else if per_sec >= 1e3 {
        format!("{:.1} k/s", per_sec / 1e3)
    } else {
        format!("{per_sec:.0}/s")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats() {
        assert_eq!(super::rate(12_345_678.0), "12.35 M/s");
        assert_eq!(super::rate(850_000.0), "850.0 k/s");
        assert_eq!(super::rate(12.0), "12/s");
    }
}

/// A mistake in how a command was called, found after parsing (flags that
/// contradict each other or do nothing together): exits 2, as clap's own
/// usage errors do.
#[derive(Debug)]
pub(crate) struct Usage(pub(crate) String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// Fails with a [`Usage`] error.
#[allow(unused_macros)] // the worker build has no command that uses it
macro_rules! usage {
    ($($arg:tt)*) => {
        return Err(anyhow::Error::new($crate::output::Usage(format!($($arg)*))))
    };
}
