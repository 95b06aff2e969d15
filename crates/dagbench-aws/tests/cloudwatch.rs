//! Batched PutMetricData on moto, read back with GetMetricStatistics.

use std::time::Duration;

use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use dagbench_aws::config;
use dagbench_aws::emulator::{moto, unique};
use dagbench_aws::metrics::CloudWatchSink;
use dagbench_runtime::ports::{Metric, MetricUnit, MetricsSink};

#[tokio::test]
async fn metrics_reach_cloudwatch_under_the_namespace_and_dimension() {
    let Some(m) = moto() else { return };
    let client =
        aws_sdk_cloudwatch::Client::new(&config::for_endpoint(&m.endpoint, "us-east-1").await);
    let run = unique("cw-run");
    let (sink, task) = CloudWatchSink::start(client.clone(), Duration::from_secs(3600));
    for ms in [10.0, 20.0, 30.0] {
        sink.record(Metric {
            name: "ProcessingTimeMs",
            value: ms,
            unit: MetricUnit::Milliseconds,
            test_run_id: run.clone(),
        });
        sink.record(Metric {
            name: "JobsCompleted",
            value: 1.0,
            unit: MetricUnit::Count,
            test_run_id: run.clone(),
        });
    }
    drop(sink); // flushes what is buffered and ends the task
    task.await.unwrap();
    let now = aws_sdk_cloudwatch::primitives::DateTime::from_secs(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
    );
    let from = aws_sdk_cloudwatch::primitives::DateTime::from_secs(now.secs() - 3600);
    let to = aws_sdk_cloudwatch::primitives::DateTime::from_secs(now.secs() + 3600);
    let stats = |name: &'static str| {
        let client = client.clone();
        let run = run.clone();
        async move {
            client
                .get_metric_statistics()
                .namespace("PerfTesting")
                .metric_name(name)
                .dimensions(Dimension::builder().name("TestRunId").value(run).build())
                .start_time(from)
                .end_time(to)
                .period(3600)
                .statistics(Statistic::Sum)
                .statistics(Statistic::SampleCount)
                .send()
                .await
                .unwrap()
        }
    };
    let processing = stats("ProcessingTimeMs").await;
    let total: f64 = processing.datapoints().iter().filter_map(|d| d.sum()).sum();
    assert_eq!(total, 60.0, "{processing:?}");
    let completed = stats("JobsCompleted").await;
    let count: f64 = completed.datapoints().iter().filter_map(|d| d.sum()).sum();
    assert_eq!(count, 3.0);
}
