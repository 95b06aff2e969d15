//! Exact, mergeable statistics (delay-model.md §4): sparse histograms of
//! integer minutes, nearest-rank percentiles, per-sequence percentiles and
//! their merge. Percentiles are never averaged: merged figures come from
//! summed histograms, so they equal the percentiles of the pooled samples
//! in any merge order.

use std::collections::BTreeMap;

use dagbench_core::SequenceId;
use serde::{Deserialize, Serialize};

use crate::model::{CURFEW, LegDelays};

/// Delays of at least this many minutes count as delayed (not on time).
pub const DELAYED_MINUTES: i32 = 15;

/// Percentiles reported, in basis points, with their field names.
pub const PERCENTILES: [(u32, &str); 7] = [
    (5000, "p50"),
    (7500, "p75"),
    (9000, "p90"),
    (9500, "p95"),
    (9900, "p99"),
    (9950, "p99_5"),
    (9990, "p99_9"),
];

/// A sparse histogram: ascending distinct values and their counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    pub values: Vec<i32>,
    pub counts: Vec<u64>,
}

/// A histogram read from outside that breaks its invariants.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistogramError {
    #[error("histogram has {values} values but {counts} counts")]
    Lengths { values: usize, counts: usize },
    #[error("histogram values must strictly increase (at position {0})")]
    NotAscending(usize),
    #[error("histogram count at position {0} is zero")]
    ZeroCount(usize),
}

impl Histogram {
    /// Counts `values` (dense counting between min and max).
    pub fn from_values(values: &[i32]) -> Self {
        let (Some(&min), Some(&max)) = (values.iter().min(), values.iter().max()) else {
            return Self::default();
        };
        let mut dense = vec![0u64; (i64::from(max) - i64::from(min) + 1) as usize];
        for &v in values {
            dense[(v - min) as usize] += 1;
        }
        let mut h = Self::default();
        for (offset, &c) in dense.iter().enumerate() {
            if c > 0 {
                h.values.push(min + offset as i32);
                h.counts.push(c);
            }
        }
        h
    }

    pub fn validate(&self) -> Result<(), HistogramError> {
        if self.values.len() != self.counts.len() {
            return Err(HistogramError::Lengths {
                values: self.values.len(),
                counts: self.counts.len(),
            });
        }
        if let Some(i) = self.values.windows(2).position(|w| w[0] >= w[1]) {
            return Err(HistogramError::NotAscending(i + 1));
        }
        if let Some(i) = self.counts.iter().position(|&c| c == 0) {
            return Err(HistogramError::ZeroCount(i));
        }
        Ok(())
    }

    /// Adds `other`'s counts (a merge of two sorted lists).
    pub fn merge(&mut self, other: &Histogram) {
        let mut values = Vec::with_capacity(self.values.len() + other.values.len());
        let mut counts = Vec::with_capacity(values.capacity());
        let (mut i, mut j) = (0, 0);
        while i < self.values.len() || j < other.values.len() {
            let take_left = j == other.values.len()
                || (i < self.values.len() && self.values[i] < other.values[j]);
            let take_right = i == self.values.len()
                || (j < other.values.len() && other.values[j] < self.values[i]);
            if take_left {
                values.push(self.values[i]);
                counts.push(self.counts[i]);
                i += 1;
            } else if take_right {
                values.push(other.values[j]);
                counts.push(other.counts[j]);
                j += 1;
            } else {
                values.push(self.values[i]);
                counts.push(self.counts[i] + other.counts[j]);
                i += 1;
                j += 1;
            }
        }
        self.values = values;
        self.counts = counts;
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn sum(&self) -> i64 {
        self.values
            .iter()
            .zip(&self.counts)
            .map(|(&v, &c)| i64::from(v) * c as i64)
            .sum()
    }

    /// Nearest rank: `r = max(1, ceil(q·n / 10000))`, the smallest value
    /// whose cumulative count reaches r. `None` when empty.
    pub fn percentile(&self, q_bp: u32) -> Option<i32> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = ((u128::from(q_bp) * u128::from(n)).div_ceil(10_000) as u64).max(1);
        let mut cumulative = 0;
        for (&v, &c) in self.values.iter().zip(&self.counts) {
            cumulative += c;
            if cumulative >= rank {
                return Some(v);
            }
        }
        self.values.last().copied()
    }

    pub fn count_at_least(&self, threshold: i32) -> u64 {
        let from = self.values.partition_point(|&v| v < threshold);
        self.counts[from..].iter().sum()
    }
}

/// The statistics of one metric, with the histogram they come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricStats {
    pub count: u64,
    pub sum: i64,
    /// `sum / count` (0 when empty).
    pub mean: f64,
    pub min: Option<i32>,
    pub max: Option<i32>,
    pub p50: Option<i32>,
    pub p75: Option<i32>,
    pub p90: Option<i32>,
    pub p95: Option<i32>,
    pub p99: Option<i32>,
    pub p99_5: Option<i32>,
    pub p99_9: Option<i32>,
    /// Share of values ≥ 15 minutes.
    pub share_delayed: f64,
    /// On-time performance: share of values < 15 minutes.
    pub otp: f64,
    pub hist: Histogram,
}

fn ratio(numerator: u64, denominator: u64) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}

impl MetricStats {
    pub fn from_histogram(hist: Histogram) -> Self {
        let count = hist.count();
        let sum = hist.sum();
        let delayed = hist.count_at_least(DELAYED_MINUTES);
        let p = |q| hist.percentile(q);
        MetricStats {
            count,
            sum,
            mean: if count == 0 {
                0.0
            } else {
                sum as f64 / count as f64
            },
            min: hist.values.first().copied(),
            max: hist.values.last().copied(),
            p50: p(5000),
            p75: p(7500),
            p90: p(9000),
            p95: p(9500),
            p99: p(9900),
            p99_5: p(9950),
            p99_9: p(9990),
            share_delayed: ratio(delayed, count),
            otp: ratio(count - delayed, count),
            hist,
        }
    }

    pub fn from_values(values: &[i32]) -> Self {
        Self::from_histogram(Histogram::from_values(values))
    }

    fn percentiles(&self) -> FinalArrival {
        FinalArrival {
            p50: self.p50,
            p75: self.p75,
            p90: self.p90,
            p95: self.p95,
            p99: self.p99,
            p99_5: self.p99_5,
            p99_9: self.p99_9,
        }
    }
}

/// Percentiles of one aircraft's final arrival delay, kept in the merge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalArrival {
    pub p50: Option<i32>,
    pub p75: Option<i32>,
    pub p90: Option<i32>,
    pub p95: Option<i32>,
    pub p99: Option<i32>,
    pub p99_5: Option<i32>,
    pub p99_9: Option<i32>,
}

/// `<run>/percentiles/<sequence_id>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequencePercentiles {
    pub sequence_id: SequenceId,
    pub legs: u32,
    pub samples: u64,
    /// Samples whose last arrival is at or after 23:00 (`L_k + A_k ≥ 1380`).
    pub curfew_breaches: u64,
    /// Σ propagated delay / Σ departure delay.
    pub reactionary_share: f64,
    pub arr_delay: MetricStats,
    pub dep_delay: MetricStats,
    pub final_arr_delay: MetricStats,
    pub primary_delay: MetricStats,
    pub propagated_delay: MetricStats,
}

fn reactionary(propagated: &MetricStats, departure: &MetricStats) -> f64 {
    if departure.sum <= 0 {
        0.0
    } else {
        propagated.sum as f64 / departure.sum as f64
    }
}

impl SequencePercentiles {
    /// From all legs of one sequence (in leg order) and its scheduled last landing.
    pub fn from_legs(sequence_id: SequenceId, last_landing: u32, legs: &[LegDelays]) -> Self {
        let pooled = |f: fn(&LegDelays) -> &Vec<i32>| {
            let mut h = Histogram::default();
            for leg in legs {
                h.merge(&Histogram::from_values(f(leg)));
            }
            MetricStats::from_histogram(h)
        };
        let last = legs
            .last()
            .map(|l| l.arr_delay.as_slice())
            .unwrap_or_default();
        let curfew_breaches = last
            .iter()
            .filter(|&&a| last_landing as i32 + a >= CURFEW)
            .count() as u64;
        let dep_delay = pooled(|l| &l.dep_delay);
        let propagated_delay = pooled(|l| &l.propagated_delay);
        SequencePercentiles {
            sequence_id,
            legs: legs.len() as u32,
            samples: last.len() as u64,
            curfew_breaches,
            reactionary_share: reactionary(&propagated_delay, &dep_delay),
            arr_delay: pooled(|l| &l.arr_delay),
            final_arr_delay: MetricStats::from_values(last),
            primary_delay: pooled(|l| &l.primary_delay),
            dep_delay,
            propagated_delay,
        }
    }

    /// Checks the histograms of a file read from outside.
    pub fn validate(&self) -> Result<(), HistogramError> {
        for m in self.metrics() {
            m.hist.validate()?;
        }
        Ok(())
    }
}

macro_rules! metric_list {
    ($t:ty) => {
        impl $t {
            /// The five metrics, in file order: arrival, departure, final
            /// arrival, primary and propagated delay.
            pub fn metrics(&self) -> [&MetricStats; 5] {
                [
                    &self.arr_delay,
                    &self.dep_delay,
                    &self.final_arr_delay,
                    &self.primary_delay,
                    &self.propagated_delay,
                ]
            }
        }
    };
}

metric_list!(SequencePercentiles);
metric_list!(MergedPercentiles);

/// The merged percentiles of a whole run computed in this process,
/// sequence by sequence: what every architecture must reproduce exactly.
pub fn reference_run(
    sequences: &[crate::Sequence],
    run_seed: u64,
    samples: u32,
) -> Result<MergedPercentiles, MergeError> {
    let parts: Vec<SequencePercentiles> = sequences
        .iter()
        .map(|seq| {
            let key = crate::model::sequence_key(run_seed, seq.sequence_id);
            let legs = crate::model::compute_sequence(key, seq, samples)
                .expect("a valid sequence has at most 8 legs");
            SequencePercentiles::from_legs(seq.sequence_id, seq.last_landing(), &legs)
        })
        .collect();
    MergedPercentiles::merge(&parts)
}

/// `<run>/merged_percentiles/merged_percentiles.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergedPercentiles {
    pub sequence_count: u64,
    pub samples: u64,
    pub curfew_breaches: u64,
    /// Σ breaches / Σ samples.
    pub curfew_share: f64,
    pub reactionary_share: f64,
    pub arr_delay: MetricStats,
    pub dep_delay: MetricStats,
    pub final_arr_delay: MetricStats,
    pub primary_delay: MetricStats,
    pub propagated_delay: MetricStats,
    /// Each aircraft's final-arrival percentiles, by sequence id.
    pub sequences: BTreeMap<SequenceId, FinalArrival>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("sequence {0} appears twice in the merge")]
    Duplicate(SequenceId),
    #[error("nothing to merge")]
    Empty,
}

impl MergedPercentiles {
    /// The merge of a single sequence.
    pub fn of_sequence(part: &SequencePercentiles) -> Self {
        Self::assemble(
            part.metrics().map(|m| m.hist.clone()),
            part.samples,
            part.curfew_breaches,
            BTreeMap::from([(part.sequence_id, part.final_arr_delay.percentiles())]),
        )
    }

    /// Merges per-sequence percentiles; the result does not depend on order.
    pub fn merge<'a>(
        parts: impl IntoIterator<Item = &'a SequencePercentiles>,
    ) -> Result<Self, MergeError> {
        let singles: Vec<MergedPercentiles> = parts.into_iter().map(Self::of_sequence).collect();
        Self::combine(&singles)
    }

    /// Merges merges: histograms, counts and sequences are summed, so any
    /// grouping and any order give the same result.
    pub fn combine<'a>(
        parts: impl IntoIterator<Item = &'a MergedPercentiles>,
    ) -> Result<Self, MergeError> {
        let mut hists: [Histogram; 5] = Default::default();
        let (mut samples, mut breaches) = (0u64, 0u64);
        let mut sequences = BTreeMap::new();
        for part in parts {
            for (id, figures) in &part.sequences {
                if sequences.insert(*id, figures.clone()).is_some() {
                    return Err(MergeError::Duplicate(*id));
                }
            }
            samples += part.samples;
            breaches += part.curfew_breaches;
            for (h, m) in hists.iter_mut().zip(part.metrics()) {
                h.merge(&m.hist);
            }
        }
        if sequences.is_empty() {
            return Err(MergeError::Empty);
        }
        Ok(Self::assemble(hists, samples, breaches, sequences))
    }

    fn assemble(
        hists: [Histogram; 5],
        samples: u64,
        curfew_breaches: u64,
        sequences: BTreeMap<SequenceId, FinalArrival>,
    ) -> Self {
        let [arr, dep, fin, primary, propagated] = hists.map(MetricStats::from_histogram);
        MergedPercentiles {
            sequence_count: sequences.len() as u64,
            samples,
            curfew_breaches,
            curfew_share: ratio(curfew_breaches, samples),
            reactionary_share: reactionary(&propagated, &dep),
            arr_delay: arr,
            dep_delay: dep,
            final_arr_delay: fin,
            primary_delay: primary,
            propagated_delay: propagated,
            sequences,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let h = Histogram::from_values(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(h.percentile(5000), Some(5));
        assert_eq!(h.percentile(9000), Some(9));
        assert_eq!(h.percentile(9900), Some(10));
        assert_eq!(h.percentile(1), Some(1));
        assert_eq!(Histogram::default().percentile(5000), None);
        let h = Histogram::from_values(&[-3, 7, 7, 7]);
        assert_eq!(
            h,
            Histogram {
                values: vec![-3, 7],
                counts: vec![1, 3]
            }
        );
        assert_eq!(h.percentile(2500), Some(-3));
        assert_eq!(h.percentile(2501), Some(7));
        assert_eq!((h.count(), h.sum()), (4, 18));
        assert_eq!(h.count_at_least(7), 3);
    }

    #[test]
    fn stats_fields() {
        let m = MetricStats::from_values(&[0, 0, 15, 30]);
        assert_eq!(
            (m.count, m.sum, m.mean, m.min, m.max),
            (4, 45, 11.25, Some(0), Some(30))
        );
        assert_eq!((m.share_delayed, m.otp), (0.5, 0.5));
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(
            json["hist"],
            serde_json::json!({"values": [0, 15, 30], "counts": [2, 1, 1]})
        );
        assert_eq!(json["p99_9"], 30);
    }

    #[test]
    fn histogram_validation() {
        let bad = Histogram {
            values: vec![1, 1],
            counts: vec![1, 1],
        };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "histogram values must strictly increase (at position 1)"
        );
        let bad = Histogram {
            values: vec![1],
            counts: vec![],
        };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "histogram has 1 values but 0 counts"
        );
        let bad = Histogram {
            values: vec![1],
            counts: vec![0],
        };
        assert!(bad.validate().is_err());
    }
}
