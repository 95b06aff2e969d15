//! One process per run directory: an exclusive lock (`flock`) on
//! `<run>/.lock`, held for the run's whole life and released by the OS
//! when the process ends however it ends. The file names its holder — pid,
//! host, since when — so a second `run --run-id X` or `run --resume X`
//! fails at once saying who has it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};

use crate::RunError;

/// The lock of one run directory, held until dropped.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    path: PathBuf,
}

/// This machine's name, for holders of locks and leases.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// `pid@host`: who holds a lock or lease.
pub fn holder() -> String {
    format!("{}@{}", std::process::id(), hostname())
}

impl RunLock {
    /// Locks run directory `dir` (which must exist) for run `run`, stamping
    /// `since` (RFC 3339) in the lock file.
    ///
    /// # Errors
    /// [`RunError::Busy`] naming the holder when another process has it;
    /// [`RunError::Io`] when the file cannot be opened.
    pub fn acquire(dir: &Path, run: &str, since: &str) -> Result<Self, RunError> {
        let path = dir.join(".lock");
        let io = |e: std::io::Error| RunError::Io {
            path: path.display().to_string(),
            source: e,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {
                let stamp = serde_json::json!({
                    "run_id": run,
                    "pid": std::process::id(),
                    "host": hostname(),
                    "since": since,
                });
                file.set_len(0).map_err(io)?;
                file.rewind().map_err(io)?;
                file.write_all(format!("{stamp}\n").as_bytes())
                    .map_err(io)?;
                Ok(Self { _file: file, path })
            }
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let who: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                Err(RunError::Busy(format!(
                    "run {run} is in use by pid {} on {} since {} (lock {}): wait for it to end, or stop it",
                    who["pid"]
                        .as_u64()
                        .map_or("?".to_owned(), |p| p.to_string()),
                    who["host"].as_str().unwrap_or("?"),
                    who["since"].as_str().unwrap_or("?"),
                    path.display()
                )))
            }
            Err(TryLockError::Error(e)) => Err(io(e)),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_name() {
        let dir = dagbench_testkit::scratch("lock");
        let first = RunLock::acquire(dir.path(), "r1", "2026-12-01T10:00:00.000Z").unwrap();
        let err = RunLock::acquire(dir.path(), "r1", "2026-12-01T10:00:05.000Z")
            .unwrap_err()
            .to_string();
        let expected = format!(
            "run r1 is in use by pid {} on {} since 2026-12-01T10:00:00.000Z",
            std::process::id(),
            hostname()
        );
        assert!(err.starts_with(&expected), "{err}");
        drop(first);
        RunLock::acquire(dir.path(), "r1", "2026-12-01T10:00:09.000Z")
            .expect("free again once the holder is gone");
    }
}
