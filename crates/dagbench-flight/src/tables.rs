//! The two normative sampling tables of delay-model.md §3
//! (`data/delay-tables/*.csv`, `value,threshold`): a 32-bit uniform `u`
//! maps to the value of the first entry whose threshold exceeds `u`.
//!
//! Lookup is exact and branch-light: a 4,096-entry index on the top 12 bits
//! of `u` gives the first candidate entry, and a short scan finishes.

use std::sync::OnceLock;

pub const PRIMARY_DELAY_CSV: &str = include_str!("../data/delay-tables/primary_delay_cdf.csv");
pub const ENROUTE_PERMILLE_CSV: &str =
    include_str!("../data/delay-tables/enroute_permille_cdf.csv");

const INDEX_BITS: u32 = 12;

/// A table that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}, line {line}: {reason}")]
pub struct TableError {
    name: String,
    line: usize,
    reason: String,
}

/// A sampling table: values with strictly increasing thresholds, the last
/// one 2^32.
#[derive(Debug, Clone)]
pub struct DelayTable {
    values: Vec<i32>,
    thresholds: Vec<u64>,
    /// `index[b]`: the first entry whose threshold exceeds `b << 20`.
    index: Vec<u16>,
}

impl DelayTable {
    /// Parses `value,threshold` rows; `#` lines are comments, the header is
    /// `value,threshold`.
    pub fn parse(text: &str, name: &str) -> Result<Self, TableError> {
        let err = |line: usize, reason: String| TableError {
            name: name.to_owned(),
            line,
            reason,
        };
        let mut values = Vec::new();
        let mut thresholds: Vec<u64> = Vec::new();
        let mut seen_header = false;
        for (i, row) in text.lines().enumerate() {
            let line = i + 1;
            let row = row.trim();
            if row.is_empty() || row.starts_with('#') {
                continue;
            }
            if !seen_header {
                if row != "value,threshold" {
                    return Err(err(
                        line,
                        format!("expected the header `value,threshold`, found {row:?}"),
                    ));
                }
                seen_header = true;
                continue;
            }
            let (v, t) = row
                .split_once(',')
                .ok_or_else(|| err(line, format!("{row:?} is not `value,threshold`")))?;
            let v: i32 = v
                .trim()
                .parse()
                .map_err(|_| err(line, format!("value {v:?} is not an integer")))?;
            let t: u64 = t
                .trim()
                .parse()
                .map_err(|_| err(line, format!("threshold {t:?} is not an integer")))?;
            if thresholds.last().is_some_and(|&last| t <= last) {
                return Err(err(line, format!("threshold {t} does not increase")));
            }
            values.push(v);
            thresholds.push(t);
        }
        if thresholds.last() != Some(&(1u64 << 32)) {
            return Err(err(
                text.lines().count(),
                "the last threshold must be 4294967296 (2^32)".into(),
            ));
        }
        if values.len() > usize::from(u16::MAX) {
            return Err(err(0, "too many entries".into()));
        }
        let index = (0..1u64 << INDEX_BITS)
            .map(|b| {
                let start = b << (32 - INDEX_BITS);
                thresholds.partition_point(|&t| t <= start) as u16
            })
            .collect();
        Ok(Self {
            values,
            thresholds,
            index,
        })
    }

    /// The table's value for a 64-bit draw: `u = draw >> 32`, first entry
    /// with `threshold > u`.
    #[inline]
    pub fn sample(&self, draw: u64) -> i32 {
        let u = draw >> 32;
        let mut i = usize::from(self.index[(u >> (32 - INDEX_BITS)) as usize]);
        while self.thresholds[i] <= u {
            i += 1;
        }
        self.values[i]
    }

    /// The reference lookup (binary search), for tests.
    pub fn sample_by_search(&self, draw: u64) -> i32 {
        let u = draw >> 32;
        self.values[self.thresholds.partition_point(|&t| t <= u)]
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Values with their probabilities (for baselines and calibration).
    pub fn entries(&self) -> impl Iterator<Item = (i32, u64)> + '_ {
        self.values
            .iter()
            .zip(&self.thresholds)
            .map(|(&v, &t)| (v, t))
    }
}

/// Primary departure delay, minutes.
pub fn primary() -> &'static DelayTable {
    static TABLE: OnceLock<DelayTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        DelayTable::parse(PRIMARY_DELAY_CSV, "primary_delay_cdf.csv").expect("embedded table")
    })
}

/// En-route deviation of airborne time, per mille.
pub fn enroute() -> &'static DelayTable {
    static TABLE: OnceLock<DelayTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        DelayTable::parse(ENROUTE_PERMILLE_CSV, "enroute_permille_cdf.csv").expect("embedded table")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dagbench_core::rng::SplitMix64;

    #[test]
    fn fast_lookup_equals_binary_search() {
        for table in [primary(), enroute()] {
            // Every threshold boundary, both sides, plus random draws.
            for (_, t) in table.entries() {
                for u in [t.saturating_sub(1), t, t + 1] {
                    if u < 1 << 32 {
                        let draw = u << 32 | 0xFFFF;
                        assert_eq!(table.sample(draw), table.sample_by_search(draw), "u = {u}");
                    }
                }
            }
            let mut rng = SplitMix64::new(3);
            for _ in 0..100_000 {
                let d = rng.next_u64();
                assert_eq!(table.sample(d), table.sample_by_search(d));
            }
            assert_eq!(table.sample(0), table.sample_by_search(0));
            assert_eq!(table.sample(u64::MAX), table.sample_by_search(u64::MAX));
        }
    }

    #[test]
    fn embedded_tables_have_their_ranges() {
        let p: Vec<i32> = primary().entries().map(|(v, _)| v).collect();
        assert_eq!((p[0], *p.last().unwrap()), (0, 360));
        let e: Vec<i32> = enroute().entries().map(|(v, _)| v).collect();
        assert_eq!((e[0], *e.last().unwrap()), (-150, 250));
    }

    #[test]
    fn malformed_tables_name_the_line() {
        let check = |text: &str, expected: &str| {
            assert_eq!(
                DelayTable::parse(text, "t.csv").unwrap_err().to_string(),
                expected
            );
        };
        check(
            "value,thr\n",
            "t.csv, line 1: expected the header `value,threshold`, found \"value,thr\"",
        );
        check(
            "# c\nvalue,threshold\n1,10\n2,10\n",
            "t.csv, line 4: threshold 10 does not increase",
        );
        check(
            "value,threshold\n1,10\n",
            "t.csv, line 2: the last threshold must be 4294967296 (2^32)",
        );
        check(
            "value,threshold\nx,10\n",
            "t.csv, line 2: value \"x\" is not an integer",
        );
    }
}
