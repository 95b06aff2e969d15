//! Metrics as CloudWatch Embedded Metric Format: one JSON line per data
//! point on standard output, which Lambda (and the ECS awslogs driver with
//! the CloudWatch agent) turn into metrics — namespace `PerfTesting`,
//! dimension `TestRunId`, units `Milliseconds` / `Count`.

use std::io::Write;
use std::sync::{Arc, Mutex};

use dagbench_runtime::ports::{
    Clock, METRIC_DIMENSION, METRIC_NAMESPACE, Metric, MetricUnit, MetricsSink,
};

/// Writes EMF lines to a writer (standard output by default).
pub struct EmfSink {
    out: Mutex<Box<dyn Write + Send>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for EmfSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmfSink")
    }
}

impl EmfSink {
    pub fn stdout(clock: Arc<dyn Clock>) -> Self {
        Self::new(Box::new(std::io::stdout()), clock)
    }

    pub fn new(out: Box<dyn Write + Send>, clock: Arc<dyn Clock>) -> Self {
        Self {
            out: Mutex::new(out),
            clock,
        }
    }
}

/// The EMF document of one data point.
pub fn emf_line(metric: &Metric, timestamp_ms: i64) -> String {
    let unit = match metric.unit {
        MetricUnit::Milliseconds => "Milliseconds",
        MetricUnit::Count => "Count",
    };
    let mut doc = serde_json::Map::new();
    doc.insert(
        "_aws".into(),
        serde_json::json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": METRIC_NAMESPACE,
                "Dimensions": [[METRIC_DIMENSION]],
                "Metrics": [{"Name": metric.name, "Unit": unit}],
            }],
        }),
    );
    doc.insert(METRIC_DIMENSION.into(), metric.test_run_id.clone().into());
    doc.insert(metric.name.into(), metric.value.into());
    serde_json::Value::Object(doc).to_string()
}

impl MetricsSink for EmfSink {
    fn record(&self, metric: Metric) {
        let line = emf_line(&metric, self.clock.now().unix_millis());
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_documents_name_namespace_dimension_and_unit() {
        let line = emf_line(
            &Metric {
                name: "ProcessingTimeMs",
                value: 12.5,
                unit: MetricUnit::Milliseconds,
                test_run_id: "baseline-001".into(),
            },
            1_769_000_000_000,
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "_aws": {"Timestamp": 1_769_000_000_000i64, "CloudWatchMetrics": [{"Namespace": "PerfTesting",
                    "Dimensions": [["TestRunId"]], "Metrics": [{"Name": "ProcessingTimeMs", "Unit": "Milliseconds"}]}]},
                "TestRunId": "baseline-001",
                "ProcessingTimeMs": 12.5
            })
        );
    }
}
