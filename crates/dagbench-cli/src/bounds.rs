//! What a numeric flag may be: value parsers that refuse NaN, infinities
//! and values outside a sensible range, and the memory check that refuses
//! a workload this machine cannot hold before anything is written.

/// The largest synthetic graph `run --messages` and `graph generate --jobs`
/// take (a graph this size needs about 40 GB; the memory check below
/// refuses smaller ones a machine cannot hold).
pub(crate) const MAX_JOBS: u32 = 100_000_000;
/// The most aircraft sequences a run takes.
pub(crate) const MAX_SEQUENCES: u32 = 10_000_000;
/// The most concurrent local processors.
pub(crate) const MAX_WORKERS: u32 = 10_000;

fn number(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number"))?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(format!("{s} is not a finite number"))
    }
}

/// A probability: a finite number from 0 to 1.
pub(crate) fn fraction(s: &str) -> Result<f64, String> {
    let v = number(s)?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not between 0 and 1"))
    }
}

/// A finite number of at least 0 (thresholds, distances, latencies).
pub(crate) fn non_negative(s: &str) -> Result<f64, String> {
    let v = number(s)?;
    if v >= 0.0 {
        Ok(v)
    } else {
        Err(format!("{v} is negative"))
    }
}

/// A latency in milliseconds: from 0 to one minute.
pub(crate) fn latency_ms(s: &str) -> Result<f64, String> {
    let v = non_negative(s)?;
    if v <= 60_000.0 {
        Ok(v)
    } else {
        Err(format!("{v} ms is more than a minute"))
    }
}

/// Checks that `path` (given with `flag`) is a regular file of at most
/// `max_bytes` before it is read: a FIFO would block the reader for ever,
/// `/dev/zero` would fill memory, a directory cannot be read.
pub(crate) fn input_file(path: &std::path::Path, flag: &str, max_bytes: u64) -> anyhow::Result<()> {
    // A file that cannot be looked at is reported by the read that
    // follows, in its own words.
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    if !meta.is_file() {
        anyhow::bail!(
            "{flag} {} is not a regular file ({}); give a file",
            path.display(),
            if meta.is_dir() {
                "a directory"
            } else {
                "a device, pipe or socket"
            }
        );
    }
    if meta.len() > max_bytes {
        anyhow::bail!(
            "{flag} {} has {} bytes; the most this flag reads is {max_bytes}",
            path.display(),
            meta.len()
        );
    }
    Ok(())
}

/// The largest graph file read (a million-job graph is about 100 MB).
pub(crate) const MAX_GRAPH_BYTES: u64 = 4 << 30;
/// The largest price table, configuration or airports file read.
pub(crate) const MAX_SMALL_FILE_BYTES: u64 = 64 << 20;

/// How long a Fargate task ran, minutes: from 0 to a year.
pub(crate) fn task_minutes(s: &str) -> Result<f64, String> {
    let v = non_negative(s)?;
    if v <= 366.0 * 24.0 * 60.0 {
        Ok(v)
    } else {
        Err(format!("{v} minutes is more than a year"))
    }
}

/// Bytes of memory available to new processes (`MemAvailable` of
/// `/proc/meminfo`), when the system says.
fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Refuses a workload whose estimated memory (`needs` bytes) exceeds what
/// this machine has available, naming the flag that sized it; called
/// before anything is written.
pub(crate) fn check_memory(needs: u64, sized_by: &str) -> anyhow::Result<()> {
    match available_memory() {
        Some(available) if needs > available => anyhow::bail!(
            "{sized_by} needs about {} of memory and this machine has {} available; choose a smaller {}",
            gib(needs),
            gib(available),
            sized_by.split_whitespace().next().unwrap_or(sized_by)
        ),
        _ => Ok(()),
    }
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_infinities_and_out_of_range_values_are_refused() {
        for bad in ["NaN", "nan", "inf", "-inf", "1e400", "x", ""] {
            assert!(non_negative(bad).is_err(), "{bad}");
            assert!(fraction(bad).is_err(), "{bad}");
        }
        assert_eq!(fraction("0.3"), Ok(0.3));
        assert!(fraction("1.5").unwrap_err().contains("between 0 and 1"));
        assert!(non_negative("-1").unwrap_err().contains("negative"));
        assert_eq!(non_negative("0"), Ok(0.0));
        assert!(latency_ms("60001").is_err());
        assert_eq!(latency_ms("15"), Ok(15.0));
    }

    #[test]
    fn a_workload_larger_than_memory_is_refused_with_its_estimate() {
        let err = check_memory(u64::MAX / 2, "--messages 4294967295")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("--messages 4294967295 needs about ")
                && err.ends_with("choose a smaller --messages"),
            "{err}"
        );
        check_memory(1, "--messages 1").unwrap();
    }
}
