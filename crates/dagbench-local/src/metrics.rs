//! `MemoryMetrics`: the embedded metrics sink. It keeps, per metric name
//! and `TestRunId`, the count, sum, min and max of the data points — what a
//! CloudWatch statistic query would return — for the run report.

use std::collections::BTreeMap;
use std::sync::Mutex;

use dagbench_runtime::ports::{Metric, MetricUnit, MetricsSink};

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Statistic {
    pub samples: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    /// The unit of the data points (CloudWatch keeps one per metric).
    pub unit: Option<MetricUnit>,
}

#[derive(Debug, Default)]
pub struct MemoryMetrics {
    stats: Mutex<BTreeMap<(String, String), Statistic>>,
}

impl MemoryMetrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// `(name, test_run_id) → statistic`.
    pub fn snapshot(&self) -> BTreeMap<(String, String), Statistic> {
        self.stats.lock().expect("metrics lock").clone()
    }

    pub fn get(&self, name: &str, test_run_id: &str) -> Option<Statistic> {
        self.stats
            .lock()
            .expect("metrics lock")
            .get(&(name.to_owned(), test_run_id.to_owned()))
            .copied()
    }
}

impl MetricsSink for MemoryMetrics {
    fn record(&self, metric: Metric) {
        let mut stats = self.stats.lock().expect("metrics lock");
        let s = stats
            .entry((metric.name.to_owned(), metric.test_run_id))
            .or_insert(Statistic {
                samples: 0,
                sum: 0.0,
                min: f64::INFINITY,
                max: f64::NEG_INFINITY,
                unit: None,
            });
        s.unit = Some(metric.unit);
        s.samples += 1;
        s.sum += metric.value;
        s.min = s.min.min(metric.value);
        s.max = s.max.max(metric.value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_per_name_and_run() {
        let m = MemoryMetrics::new();
        for (v, run) in [(10.0, "a"), (30.0, "a"), (5.0, "b")] {
            m.record(Metric {
                name: "ProcessingTimeMs",
                value: v,
                unit: MetricUnit::Milliseconds,
                test_run_id: run.into(),
            });
        }
        let a = m.get("ProcessingTimeMs", "a").unwrap();
        assert_eq!((a.samples, a.sum, a.min, a.max), (2, 40.0, 10.0, 30.0));
        assert_eq!(m.get("ProcessingTimeMs", "b").unwrap().samples, 1);
        assert!(m.get("JobsCompleted", "a").is_none());
        assert_eq!(m.snapshot().len(), 2);
    }
}
