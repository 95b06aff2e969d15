//! One process per run directory: an exclusive lock (`flock`) on the run
//! directory itself, held for the run's whole life and released by the OS
//! when the process ends however it ends (deleting a file cannot break
//! it). `<run>/.lock` names the holder — pid, host, since when — so a
//! second `run --run-id X` or `run --resume X` fails at once saying who has
//! it.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

use crate::RunError;

/// The lock of one run directory, held until dropped.
#[derive(Debug)]
pub struct RunLock {
    _dir: File,
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
    /// `since` (RFC 3339) in its `.lock` file.
    ///
    /// # Errors
    /// [`RunError::Busy`] naming the holder when another process has it;
    /// [`RunError::Io`] when the directory cannot be opened.
    pub fn acquire(dir: &Path, run: &str, since: &str) -> Result<Self, RunError> {
        let path = dir.join(".lock");
        let io = |e: std::io::Error| RunError::Io {
            path: dir.display().to_string(),
            error: e,
        };
        let handle = File::open(dir).map_err(io)?;
        match handle.try_lock() {
            Ok(()) => {
                let stamp = serde_json::json!({
                    "run_id": run,
                    "pid": std::process::id(),
                    "host": hostname(),
                    "since": since,
                });
                // Renamed into place: a `.lock` that is a link is replaced,
                // never followed.
                crate::manifest::write_atomic(&path, format!("{stamp}\n").as_bytes())?;
                Ok(Self { _dir: handle, path })
            }
            Err(TryLockError::WouldBlock) => {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let who: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                Err(RunError::Busy(format!(
                    "run {run} is in use by pid {} on {} since {} ({}): wait for it to end, or stop it",
                    who["pid"]
                        .as_u64()
                        .map_or("?".to_owned(), |p| p.to_string()),
                    who["host"].as_str().unwrap_or("?"),
                    who["since"].as_str().unwrap_or("?"),
                    dir.display()
                )))
            }
            Err(TryLockError::Error(e)) => Err(io(e)),
        }
    }

    /// The file naming the holder.
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
        // Deleting the note breaks nothing: the directory itself is locked.
        std::fs::remove_file(first.path()).unwrap();
        assert!(RunLock::acquire(dir.path(), "r1", "2026-12-01T10:00:06.000Z").is_err());
        drop(first);
        RunLock::acquire(dir.path(), "r1", "2026-12-01T10:00:09.000Z")
            .expect("free again once the holder is gone");
        // A `.lock` that links elsewhere is replaced, not written through.
        let target = dir.path().join("precious.txt");
        std::fs::write(&target, "keep me").unwrap();
        let lock = dir.path().join(".lock");
        std::fs::remove_file(&lock).unwrap();
        std::os::unix::fs::symlink(&target, &lock).unwrap();
        drop(RunLock::acquire(dir.path(), "r1", "2026-12-01T10:00:10.000Z").unwrap());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    }
}
