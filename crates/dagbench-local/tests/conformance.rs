//! The embedded adapters against the shared conformance suites, under
//! paused tokio time (visibility timeouts pass instantly).

use std::sync::Arc;
use std::time::Duration;

use dagbench_local::{MemoryQueue, SqliteLedger};
use dagbench_runtime::conformance as suite;
use dagbench_runtime::ports::{JobLedger, JobQueue};

const VISIBILITY: Duration = Duration::from_secs(30);

fn queue() -> MemoryQueue {
    MemoryQueue::new("q", VISIBILITY)
}

#[tokio::test(start_paused = true)]
async fn memory_queue_send_receive_delete() {
    suite::queue_send_receive_delete(&queue()).await;
}

#[tokio::test(start_paused = true)]
async fn memory_queue_visibility_timeout() {
    suite::queue_visibility_timeout_redelivers(&queue(), VISIBILITY).await;
}

#[tokio::test(start_paused = true)]
async fn memory_queue_change_visibility() {
    suite::queue_change_visibility(&queue()).await;
}

#[tokio::test(start_paused = true)]
async fn memory_queue_redrive() {
    let dlq = Arc::new(MemoryQueue::new("dlq", VISIBILITY));
    let q = queue().with_dead_letter_queue(Arc::clone(&dlq), 3);
    suite::queue_redrives_to_dead_letter_queue(&q, dlq.as_ref(), VISIBILITY, 3).await;
}

#[tokio::test(start_paused = true)]
async fn memory_queue_long_poll() {
    let q: Arc<dyn JobQueue> = Arc::new(queue());
    suite::queue_long_poll_wakes_on_send(q).await;
}

#[tokio::test(start_paused = true)]
async fn memory_queue_limits() {
    suite::queue_rejects_oversize(&queue()).await;
}

fn ledger(name: &str) -> (SqliteLedger, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("dagbench-ledger-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    (SqliteLedger::open(&dir.join("ledger.sqlite")).unwrap(), dir)
}

#[tokio::test]
async fn sqlite_ledger_first_completion_wins() {
    let (l, dir) = ledger("first");
    suite::ledger_first_completion_wins(&l).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn sqlite_ledger_failures_and_listing() {
    let (l, dir) = ledger("list");
    suite::ledger_failures_and_resume_listing(&l).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_ledger_concurrent_duplicates() {
    let (l, dir) = ledger("concurrent");
    let l: Arc<dyn JobLedger> = Arc::new(l);
    suite::ledger_concurrent_duplicates(l).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn sqlite_ledger_survives_reopen() {
    use dagbench_core::ids::{JobId, RunId};
    let (l, dir) = ledger("reopen");
    let run = RunId::new("r").unwrap();
    suite::ledger_failures_and_resume_listing(&l).await;
    drop(l);
    let again = SqliteLedger::open(&dir.join("ledger.sqlite")).unwrap();
    let done = again
        .completed_jobs(&RunId::new("conf-list").unwrap())
        .await
        .unwrap();
    assert_eq!(done.len(), 2, "completions persist across a reopen");
    assert!(
        again
            .get(&run, &JobId::new("x").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn memory_metrics_by_name_and_test_run() {
    use dagbench_local::MemoryMetrics;
    use dagbench_runtime::conformance::ObservedMetric;
    let metrics = MemoryMetrics::new();
    suite::metrics_by_name_and_test_run(
        &metrics,
        async || {},
        |name, run| {
            let seen = metrics.get(name, &run).map(|s| ObservedMetric {
                samples: s.samples,
                sum: s.sum,
                unit: s.unit.expect("a recorded metric has a unit"),
            });
            async move { seen }
        },
        "run-a",
        "run-b",
    )
    .await;
}

/// Real time: the system clock is what the local runtime stamps jobs with.
#[tokio::test]
async fn system_clock_tells_unix_time_and_moves_forward() {
    suite::clock_tells_unix_time_and_moves_forward(&dagbench_runtime::ports::SystemClock).await;
}
