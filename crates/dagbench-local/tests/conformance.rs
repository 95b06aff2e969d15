//! The embedded adapters against the shared conformance suites, under
//! paused tokio time (visibility timeouts pass instantly).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use dagbench_local::{MemoryMetrics, MemoryQueue, SqliteLedger};
use dagbench_runtime::ports::{JobLedger, JobQueue, MetricsSink};
use dagbench_testkit::conformance::{LedgerBackend, MetricsBackend, ObservedMetric, QueueBackend};

const VISIBILITY: Duration = Duration::from_secs(30);

/// Fresh memory queues.
struct MemoryQueues;

#[async_trait]
impl QueueBackend for MemoryQueues {
    fn visibility(&self) -> Duration {
        VISIBILITY
    }

    async fn queue(&self) -> Arc<dyn JobQueue> {
        Arc::new(MemoryQueue::new("q", VISIBILITY))
    }

    async fn queue_with_dlq(
        &self,
        max_receive_count: u32,
    ) -> (Arc<dyn JobQueue>, Arc<dyn JobQueue>) {
        let dlq = Arc::new(MemoryQueue::new("dlq", VISIBILITY));
        let queue = MemoryQueue::new("q", VISIBILITY)
            .with_dead_letter_queue(Arc::clone(&dlq), max_receive_count);
        (Arc::new(queue), dlq)
    }
}

dagbench_testkit::queue_conformance!(
    #[tokio::test(start_paused = true)]
    memory_queue,
    Some(MemoryQueues)
);

/// Fresh SQLite ledgers, each in its own scratch directory.
struct SqliteLedgers {
    dir: tempfile::TempDir,
}

#[async_trait]
impl LedgerBackend for SqliteLedgers {
    async fn ledger(&self) -> Arc<dyn JobLedger> {
        Arc::new(SqliteLedger::open(&self.dir.path().join("ledger.sqlite")).unwrap())
    }
}

dagbench_testkit::ledger_conformance!(
    sqlite_ledger,
    Some(SqliteLedgers {
        dir: dagbench_testkit::scratch("ledger")
    })
);

/// Completions persist across a reopen of the file.
#[tokio::test]
async fn sqlite_ledger_survives_reopen() {
    use dagbench_core::ids::{JobId, RunId};
    let dir = dagbench_testkit::scratch("reopen");
    let path = dir.path().join("ledger.sqlite");
    let l = SqliteLedger::open(&path).unwrap();
    dagbench_testkit::conformance::suites::ledger_failures_and_resume_listing(&l).await;
    drop(l);
    let again = SqliteLedger::open(&path).unwrap();
    let done = again
        .completed_jobs(&RunId::new("conf-list").unwrap())
        .await
        .unwrap();
    assert_eq!(done.len(), 2, "completions persist across a reopen");
    assert!(
        again
            .get(&RunId::new("r").unwrap(), &JobId::new("x").unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

/// The memory sink, read back by its own accessor.
struct Memory(MemoryMetrics);

#[async_trait]
impl MetricsBackend for Memory {
    fn sink(&self) -> &dyn MetricsSink {
        &self.0
    }

    async fn flush(&self) {}

    async fn read(&self, name: &'static str, run: &str) -> Option<ObservedMetric> {
        self.0.get(name, run).map(|s| ObservedMetric {
            samples: s.samples,
            sum: s.sum,
            unit: s.unit.expect("a recorded metric has a unit"),
        })
    }

    fn test_runs(&self) -> (String, String) {
        ("run-a".into(), "run-b".into())
    }
}

dagbench_testkit::metrics_conformance!(memory_metrics, Some(Memory(MemoryMetrics::new())));

dagbench_testkit::clock_conformance!(system_clock, dagbench_runtime::ports::SystemClock);
