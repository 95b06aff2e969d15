//! The metrics conformance suite against both AWS sinks: batched
//! PutMetricData read back from moto with GetMetricStatistics, and EMF
//! lines read back as CloudWatch Logs would extract them.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use dagbench_aws::metrics::EmfSink;
use dagbench_runtime::ports::{
    METRIC_DIMENSION, METRIC_NAMESPACE, MetricUnit, MetricsSink, SystemClock,
};
use dagbench_testkit::conformance::{MetricsBackend, ObservedMetric};

/// Batched PutMetricData, read back with GetMetricStatistics.
#[cfg(feature = "worker")]
mod put_metric_data {
    use std::time::Duration;

    use aws_sdk_cloudwatch::primitives::DateTime;
    use aws_sdk_cloudwatch::types::{Dimension, StandardUnit, Statistic};
    use dagbench_aws::cloudwatch::CloudWatchSink;
    use dagbench_aws::config;
    use dagbench_testkit::moto::{moto, unique};

    use super::*;

    pub(super) struct PutMetricData {
        client: aws_sdk_cloudwatch::Client,
        sink: CloudWatchSink,
        _task: tokio::task::JoinHandle<()>,
    }

    impl PutMetricData {
        pub(super) async fn new() -> Option<Self> {
            let m = moto()?;
            let client = aws_sdk_cloudwatch::Client::new(
                &config::for_endpoint(&m.endpoint, "us-east-1").await,
            );
            let (sink, task) = CloudWatchSink::start(client.clone(), Duration::from_secs(3600));
            Some(Self {
                client,
                sink,
                _task: task,
            })
        }
    }

    #[async_trait]
    impl MetricsBackend for PutMetricData {
        fn sink(&self) -> &dyn MetricsSink {
            &self.sink
        }

        async fn flush(&self) {
            self.sink.flush_and_wait().await;
        }

        /// What CloudWatch answers for one metric: the statistics of the
        /// data points in the unit they were sent with.
        async fn read(&self, name: &'static str, run: &str) -> Option<ObservedMetric> {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64;
            for (unit, ours) in [
                (StandardUnit::Milliseconds, MetricUnit::Milliseconds),
                (StandardUnit::Count, MetricUnit::Count),
            ] {
                let out = self
                    .client
                    .get_metric_statistics()
                    .namespace(METRIC_NAMESPACE)
                    .metric_name(name)
                    .dimensions(
                        Dimension::builder()
                            .name(METRIC_DIMENSION)
                            .value(run)
                            .build(),
                    )
                    .start_time(DateTime::from_secs(now - 3600))
                    .end_time(DateTime::from_secs(now + 3600))
                    .period(3600)
                    .statistics(Statistic::Sum)
                    .statistics(Statistic::SampleCount)
                    .unit(unit)
                    .send()
                    .await
                    .unwrap();
                let points = out.datapoints();
                if !points.is_empty() {
                    return Some(ObservedMetric {
                        samples: points.iter().filter_map(|d| d.sample_count()).sum::<f64>() as u64,
                        sum: points.iter().filter_map(|d| d.sum()).sum(),
                        unit: ours,
                    });
                }
            }
            None
        }

        fn test_runs(&self) -> (String, String) {
            (unique("cw-a"), unique("cw-b"))
        }
    }
}

#[cfg(feature = "worker")]
dagbench_testkit::metrics_conformance!(cloudwatch, put_metric_data::PutMetricData::new().await);

/// A writer the test can read back.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Extracts metrics from EMF lines as CloudWatch Logs does: each line names
/// its namespace, dimension set and metrics with units in `_aws`, and
/// carries the values as top-level members.
fn extract_emf(text: &str) -> HashMap<(String, String), ObservedMetric> {
    let mut out: HashMap<(String, String), ObservedMetric> = HashMap::new();
    for line in text.lines() {
        let doc: serde_json::Value =
            serde_json::from_str(line).expect("one JSON document per line");
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], METRIC_NAMESPACE);
        assert_eq!(
            directive["Dimensions"],
            serde_json::json!([[METRIC_DIMENSION]])
        );
        assert!(doc["_aws"]["Timestamp"].is_i64());
        let run = doc[METRIC_DIMENSION]
            .as_str()
            .expect("the dimension's value")
            .to_owned();
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap().to_owned();
            let unit = match metric["Unit"].as_str().unwrap() {
                "Milliseconds" => MetricUnit::Milliseconds,
                "Count" => MetricUnit::Count,
                other => panic!("unit {other}"),
            };
            let value = doc[&name].as_f64().expect("the metric's value");
            let seen = out.entry((name, run.clone())).or_insert(ObservedMetric {
                samples: 0,
                sum: 0.0,
                unit,
            });
            assert_eq!(seen.unit, unit, "one unit per metric");
            seen.samples += 1;
            seen.sum += value;
        }
    }
    out
}

/// EMF lines, read back as CloudWatch Logs extracts them.
struct Emf {
    lines: Lines,
    sink: EmfSink,
}

impl Emf {
    fn new() -> Self {
        let lines = Lines::default();
        Self {
            sink: EmfSink::new(Box::new(lines.clone()), Arc::new(SystemClock)),
            lines,
        }
    }
}

#[async_trait]
impl MetricsBackend for Emf {
    fn sink(&self) -> &dyn MetricsSink {
        &self.sink
    }

    async fn flush(&self) {}

    async fn read(&self, name: &'static str, run: &str) -> Option<ObservedMetric> {
        let text = String::from_utf8(self.lines.0.lock().unwrap().clone()).unwrap();
        extract_emf(&text)
            .get(&(name.to_owned(), run.to_owned()))
            .copied()
    }

    fn test_runs(&self) -> (String, String) {
        ("emf-a".into(), "emf-b".into())
    }
}

dagbench_testkit::metrics_conformance!(emf, Some(Emf::new()));
