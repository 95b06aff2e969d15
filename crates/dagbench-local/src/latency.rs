//! `LatencyQueue`: any queue, with every call answering only after a given
//! latency (plus optional jitter) — what SQS's tens of milliseconds per call
//! look like to the scheduler, in memory. It also counts calls and the
//! most in flight at once, which is what `dagbench bench scheduler-io`
//! reports.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use dagbench_runtime::ports::{JobQueue, QueueDepth, QueueError, ReceivedMessage};

/// Calls made through a [`LatencyQueue`] (shared by several, to sum them).
#[derive(Debug, Default)]
pub struct CallGauge {
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    calls: AtomicU64,
}

impl CallGauge {
    /// The most calls that were in flight at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Calls made.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    fn enter(&self) -> GaugeGuard<'_> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
        GaugeGuard(self)
    }
}

struct GaugeGuard<'a>(&'a CallGauge);

impl Drop for GaugeGuard<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `inner`, slowed down.
#[derive(Debug)]
pub struct LatencyQueue {
    inner: Arc<dyn JobQueue>,
    latency: Duration,
    jitter: Duration,
    gauge: Arc<CallGauge>,
    /// SplitMix64 state for the jitter.
    seed: AtomicU64,
}

impl LatencyQueue {
    /// Every call of `inner` takes `latency` plus up to `jitter` (uniform)
    /// more; calls are counted in `gauge`.
    pub fn new(
        inner: Arc<dyn JobQueue>,
        latency: Duration,
        jitter: Duration,
        gauge: Arc<CallGauge>,
    ) -> Self {
        Self {
            inner,
            latency,
            jitter,
            gauge,
            seed: AtomicU64::new(0x9E37_79B9_7F4A_7C15),
        }
    }

    async fn delay(&self) {
        let extra = if self.jitter.is_zero() {
            Duration::ZERO
        } else {
            let x = dagbench_core::rng::mix64(
                self.seed
                    .fetch_add(dagbench_core::rng::GAMMA, Ordering::Relaxed),
            );
            self.jitter.mul_f64((x >> 11) as f64 / (1u64 << 53) as f64)
        };
        let total = self.latency + extra;
        if !total.is_zero() {
            tokio::time::sleep(total).await;
        }
    }
}

#[async_trait]
impl JobQueue for LatencyQueue {
    async fn send_batch(
        &self,
        bodies: &[String],
    ) -> Result<Vec<Result<(), QueueError>>, QueueError> {
        let _g = self.gauge.enter();
        self.delay().await;
        self.inner.send_batch(bodies).await
    }

    async fn receive(
        &self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let _g = self.gauge.enter();
        self.delay().await;
        self.inner.receive(max, wait).await
    }

    async fn delete_batch(
        &self,
        receipts: &[String],
    ) -> Result<Vec<Result<(), QueueError>>, QueueError> {
        let _g = self.gauge.enter();
        self.delay().await;
        self.inner.delete_batch(receipts).await
    }

    async fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), QueueError> {
        let _g = self.gauge.enter();
        self.delay().await;
        self.inner.change_visibility(receipt, timeout).await
    }

    async fn approximate_depth(&self) -> Result<QueueDepth, QueueError> {
        let _g = self.gauge.enter();
        self.delay().await;
        self.inner.approximate_depth().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryQueue;

    #[tokio::test(start_paused = true)]
    async fn every_call_takes_the_latency_and_is_counted() {
        let gauge = Arc::new(CallGauge::default());
        let q = Arc::new(LatencyQueue::new(
            Arc::new(MemoryQueue::new("q", Duration::from_secs(30))),
            Duration::from_millis(15),
            Duration::from_millis(5),
            Arc::clone(&gauge),
        ));
        let started = tokio::time::Instant::now();
        let body = ["{}".to_owned()];
        let (a, b) = tokio::join!(q.send_batch(&body), q.send_batch(&body));
        assert!(a.is_ok() && b.is_ok());
        let took = started.elapsed();
        assert!(
            (Duration::from_millis(15)..=Duration::from_millis(20)).contains(&took),
            "two concurrent calls take one latency (plus jitter): {took:?}"
        );
        let got = q.receive(10, Duration::ZERO).await.unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!((gauge.calls(), gauge.peak()), (3, 2));
    }
}
