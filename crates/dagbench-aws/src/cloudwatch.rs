//! Metrics sent with batched `PutMetricData` (the Fargate worker's way;
//! the Lambda function writes EMF lines instead and links none of this).

use std::sync::{Arc, Mutex};

use dagbench_runtime::ports::{
    METRIC_DIMENSION, METRIC_NAMESPACE, Metric, MetricUnit, MetricsSink,
};

/// Metrics sent with batched `PutMetricData` (the container's way): data
/// points are buffered and flushed every `interval` or 20 points.
#[derive(Debug)]
pub struct CloudWatchSink {
    buffer: Arc<Mutex<Vec<Metric>>>,
    /// Wakes the task; with a sender, it answers once that flush is done.
    flush: tokio::sync::mpsc::UnboundedSender<Option<tokio::sync::oneshot::Sender<()>>>,
}

/// Most data points per `PutMetricData` call used here.
const PUT_BATCH: usize = 20;

impl CloudWatchSink {
    /// Starts the flushing task on the current tokio runtime.
    pub fn start(
        client: aws_sdk_cloudwatch::Client,
        interval: std::time::Duration,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let buffer: Arc<Mutex<Vec<Metric>>> = Arc::default();
        let (flush, mut wake) =
            tokio::sync::mpsc::unbounded_channel::<Option<tokio::sync::oneshot::Sender<()>>>();
        let pending = Arc::clone(&buffer);
        let task = tokio::spawn(async move {
            loop {
                let (closed, ack) = tokio::select! {
                    w = wake.recv() => match w {
                        None => (true, None),
                        Some(ack) => (false, ack),
                    },
                    () = tokio::time::sleep(interval) => (false, None),
                };
                let batch: Vec<Metric> =
                    std::mem::take(&mut *pending.lock().expect("metrics lock"));
                for chunk in batch.chunks(PUT_BATCH) {
                    let _ = put(&client, chunk).await;
                }
                if let Some(ack) = ack {
                    let _ = ack.send(());
                }
                if closed {
                    return;
                }
            }
        });
        (Self { buffer, flush }, task)
    }

    /// Sends what is buffered soon (the task ends when the sink is dropped).
    pub fn flush(&self) {
        let _ = self.flush.send(None);
    }

    /// Sends what is buffered and waits until it was sent.
    pub async fn flush_and_wait(&self) {
        let (ack, done) = tokio::sync::oneshot::channel();
        if self.flush.send(Some(ack)).is_ok() {
            let _ = done.await;
        }
    }
}

impl MetricsSink for CloudWatchSink {
    fn record(&self, metric: Metric) {
        let full = {
            let mut buffer = self.buffer.lock().expect("metrics lock");
            buffer.push(metric);
            buffer.len() >= PUT_BATCH
        };
        if full {
            self.flush();
        }
    }
}

async fn put(client: &aws_sdk_cloudwatch::Client, metrics: &[Metric]) -> Result<(), String> {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
    let data = metrics
        .iter()
        .map(|m| {
            MetricDatum::builder()
                .metric_name(m.name)
                .value(m.value)
                .unit(match m.unit {
                    MetricUnit::Milliseconds => StandardUnit::Milliseconds,
                    MetricUnit::Count => StandardUnit::Count,
                })
                .dimensions(
                    Dimension::builder()
                        .name(METRIC_DIMENSION)
                        .value(&m.test_run_id)
                        .build(),
                )
                .build()
        })
        .collect::<Vec<_>>();
    client
        .put_metric_data()
        .namespace(METRIC_NAMESPACE)
        .set_metric_data(Some(data))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws_sdk_cloudwatch::error::DisplayErrorContext(e).to_string())
}
