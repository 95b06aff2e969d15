//! Conformance suites: the behaviour every adapter of a port must show,
//! written once (object_store's `integration.rs`), and applied to a
//! backend only whole, by one macro per port (apalis'
//! `generic_storage_test!`): a new backend cannot run some suites and miss
//! the others.
//!
//! A backend implements the port's `*Backend` trait here — how to make a
//! fresh queue, ledger or sink — and invokes the macro with the test
//! attribute it runs under (paused tokio time for the embedded adapters,
//! real time against the emulator) and an expression giving
//! `Option<backend>` (`None`: the backend is unavailable here, e.g. moto is
//! not installed outside CI; every test then says so and passes):
//!
//! ```ignore
//! dagbench_testkit::queue_conformance!(#[tokio::test(start_paused = true)] memory_queue, Some(MemoryQueues));
//! ```

pub mod suites;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use dagbench_runtime::ports::{Clock, JobLedger, JobQueue, MetricsSink};
pub use suites::ObservedMetric;

/// Makes fresh queues of one backend.
#[async_trait]
pub trait QueueBackend: Send + Sync {
    /// The visibility timeout of the queues it makes.
    fn visibility(&self) -> Duration;
    /// A new, empty queue.
    async fn queue(&self) -> Arc<dyn JobQueue>;
    /// A new queue and the dead-letter queue it redrives to after
    /// `max_receive_count` receives.
    async fn queue_with_dlq(
        &self,
        max_receive_count: u32,
    ) -> (Arc<dyn JobQueue>, Arc<dyn JobQueue>);
}

/// Makes fresh ledgers of one backend.
#[async_trait]
pub trait LedgerBackend: Send + Sync {
    /// A new, empty ledger.
    async fn ledger(&self) -> Arc<dyn JobLedger>;
    /// Whether concurrent conditional writes are serialized, as every real
    /// backend does. `false` only for an emulator known not to (moto's
    /// DynamoDB): the concurrency suite then says so and does not run.
    fn serializes_concurrent_writes(&self) -> bool {
        true
    }
}

/// A metrics sink and the backend's own view of what it recorded.
#[async_trait]
pub trait MetricsBackend: Send + Sync {
    fn sink(&self) -> &dyn MetricsSink;
    /// Makes everything recorded visible to [`Self::read`].
    async fn flush(&self);
    /// What the backend shows for metric `name` of `test_run_id`.
    async fn read(&self, name: &'static str, test_run_id: &str) -> Option<ObservedMetric>;
    /// Two test run ids no other test uses.
    fn test_runs(&self) -> (String, String);
}

/// Says a backend is not available here (the test passes without running).
pub fn unavailable(backend: &str) {
    eprintln!("skipped: the {backend} backend is not available on this machine");
}

/// Every queue suite against one [`QueueBackend`].
#[macro_export]
macro_rules! queue_conformance {
    (#[$test:meta] $name:ident, $backend:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use $crate::conformance::{QueueBackend as _, suites};

            macro_rules! backend {
                () => {
                    match $backend {
                        Some(b) => b,
                        None => return $crate::conformance::unavailable(stringify!($name)),
                    }
                };
            }

            #[$test]
            async fn send_receive_delete() {
                let b = backend!();
                suites::queue_send_receive_delete(b.queue().await.as_ref()).await;
            }

            #[$test]
            async fn visibility_timeout_redelivers() {
                let b = backend!();
                suites::queue_visibility_timeout_redelivers(
                    b.queue().await.as_ref(),
                    b.visibility(),
                )
                .await;
            }

            #[$test]
            async fn change_visibility() {
                let b = backend!();
                suites::queue_change_visibility(b.queue().await.as_ref()).await;
            }

            #[$test]
            async fn redrives_to_dead_letter_queue() {
                let b = backend!();
                let (queue, dlq) = b.queue_with_dlq(2).await;
                suites::queue_redrives_to_dead_letter_queue(
                    queue.as_ref(),
                    dlq.as_ref(),
                    b.visibility(),
                    2,
                )
                .await;
            }

            #[$test]
            async fn long_poll_wakes_on_send() {
                let b = backend!();
                suites::queue_long_poll_wakes_on_send(b.queue().await).await;
            }

            #[$test]
            async fn rejects_oversize() {
                let b = backend!();
                suites::queue_rejects_oversize(b.queue().await.as_ref()).await;
            }
        }
    };
}

/// Every ledger suite against one [`LedgerBackend`] (multi-threaded tokio
/// tests: the concurrency suite needs real parallelism).
#[macro_export]
macro_rules! ledger_conformance {
    ($name:ident, $backend:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use $crate::conformance::{LedgerBackend as _, suites};

            macro_rules! backend {
                () => {
                    match $backend {
                        Some(b) => b,
                        None => return $crate::conformance::unavailable(stringify!($name)),
                    }
                };
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn first_completion_wins() {
                let b = backend!();
                suites::ledger_first_completion_wins(b.ledger().await.as_ref()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn claims_expire() {
                let b = backend!();
                suites::ledger_claims_expire(b.ledger().await.as_ref()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn claims_know_their_message() {
                let b = backend!();
                suites::ledger_claims_know_their_message(b.ledger().await.as_ref()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn failures_and_resume_listing() {
                let b = backend!();
                suites::ledger_failures_and_resume_listing(b.ledger().await.as_ref()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_duplicates() {
                let b = backend!();
                if !b.serializes_concurrent_writes() {
                    eprintln!(
                        "skipped: the {} backend does not serialize concurrent conditional writes",
                        stringify!($name)
                    );
                    return;
                }
                suites::ledger_concurrent_duplicates(b.ledger().await).await;
            }
        }
    };
}

/// Every metrics suite against one [`MetricsBackend`].
#[macro_export]
macro_rules! metrics_conformance {
    ($name:ident, $backend:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test]
            async fn by_name_and_test_run() {
                let Some(b) = $backend else {
                    return $crate::conformance::unavailable(stringify!($name));
                };
                $crate::conformance::suites::metrics_by_name_and_test_run(&b).await;
            }
        }
    };
}

/// Every clock suite against one clock.
#[macro_export]
macro_rules! clock_conformance {
    ($name:ident, $clock:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            /// Real time: clocks stamp jobs with wall-clock time.
            #[tokio::test]
            async fn tells_unix_time_and_moves_forward() {
                $crate::conformance::check_clock(&$clock).await;
            }
        }
    };
}

/// The clock suite (for [`clock_conformance!`]).
pub async fn check_clock(clock: &dyn Clock) {
    suites::clock_tells_unix_time_and_moves_forward(clock).await;
}
