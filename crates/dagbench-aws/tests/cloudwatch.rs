//! The metrics conformance suite against both AWS sinks: batched
//! PutMetricData read back from moto with GetMetricStatistics, and EMF
//! lines read back as CloudWatch Logs would extract them.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, StandardUnit, Statistic};
use dagbench_aws::config;
use dagbench_aws::emulator::{moto, unique};
use dagbench_aws::metrics::{CloudWatchSink, EmfSink};
use dagbench_runtime::conformance::{self as suite, ObservedMetric};
use dagbench_runtime::ports::{METRIC_DIMENSION, METRIC_NAMESPACE, MetricUnit, SystemClock};

#[tokio::test]
async fn put_metric_data_by_name_and_test_run() {
    let Some(m) = moto() else { return };
    let client =
        aws_sdk_cloudwatch::Client::new(&config::for_endpoint(&m.endpoint, "us-east-1").await);
    let (run_a, run_b) = (unique("cw-a"), unique("cw-b"));
    let (sink, _task) = CloudWatchSink::start(client.clone(), Duration::from_secs(3600));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // What CloudWatch answers for one metric: the statistics of the data
    // points in the unit they were sent with.
    let read = |name: &'static str, run: String| {
        let client = client.clone();
        async move {
            for (unit, ours) in [
                (StandardUnit::Milliseconds, MetricUnit::Milliseconds),
                (StandardUnit::Count, MetricUnit::Count),
            ] {
                let out = client
                    .get_metric_statistics()
                    .namespace(METRIC_NAMESPACE)
                    .metric_name(name)
                    .dimensions(
                        Dimension::builder()
                            .name(METRIC_DIMENSION)
                            .value(&run)
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
    };
    suite::metrics_by_name_and_test_run(
        &sink,
        async || sink.flush_and_wait().await,
        read,
        &run_a,
        &run_b,
    )
    .await;
}

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

#[tokio::test]
async fn emf_lines_by_name_and_test_run() {
    let lines = Lines::default();
    let sink = EmfSink::new(Box::new(lines.clone()), Arc::new(SystemClock));
    let read = |name: &'static str, run: String| {
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let seen = extract_emf(&text).get(&(name.to_owned(), run)).copied();
        async move { seen }
    };
    suite::metrics_by_name_and_test_run(&sink, async || {}, read, "emf-a", "emf-b").await;
}
