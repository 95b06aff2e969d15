//! Where command output goes: a file, or standard output for `-`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::Context as _;

/// Opens `path` for writing (`-` is standard output), buffered.
pub(crate) fn create(path: &Path) -> anyhow::Result<Box<dyn Write>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(BufWriter::new(io::stdout().lock())));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create directory {}", parent.display()))?;
    }
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(Box::new(BufWriter::with_capacity(1 << 20, file)))
}

/// `1234567` → `1,234,567`.
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
