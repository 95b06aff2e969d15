//! The suites themselves: plain async functions, each panicking with a
//! message that says which rule broke. Backends do not call them one by
//! one: the macros of [`super`] run all of them.

use std::sync::Arc;
use std::time::Duration;

use dagbench_core::ids::{JobId, RunId};
use dagbench_core::time::Timestamp;

use dagbench_runtime::ports::{
    Claim, Claimant, Finished, JobLedger, JobQueue, LedgerStatus, QueueError, ReceivedMessage,
    Recorded,
};

/// Receives until `n` messages arrived or `wait` passed (a real queue may
/// return fewer than asked per call).
async fn receive_n(queue: &dyn JobQueue, n: usize, wait: Duration) -> Vec<ReceivedMessage> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut got = Vec::new();
    while got.len() < n {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            break;
        }
        got.extend(
            queue
                .receive(10, left.min(Duration::from_secs(1)))
                .await
                .expect("receive"),
        );
    }
    got
}

fn bodies(prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("{{\"job_id\":\"{prefix}-{i}\"}}"))
        .collect()
}

/// Send, receive and delete; nothing comes back once deleted.
pub async fn queue_send_receive_delete(queue: &dyn JobQueue) {
    let sent = bodies("srd", 3);
    let results = queue.send_batch(&sent).await.expect("send");
    assert!(
        results.iter().all(Result::is_ok),
        "every entry of a valid batch is accepted: {results:?}"
    );
    let got = receive_n(queue, 3, Duration::from_secs(5)).await;
    let mut got_bodies: Vec<String> = got.iter().map(|m| m.body.clone()).collect();
    got_bodies.sort();
    assert_eq!(got_bodies, sent, "every message sent is received once");
    assert!(
        got.iter().all(|m| m.receive_count == 1),
        "first deliveries count 1"
    );
    let receipts: Vec<String> = got.iter().map(|m| m.receipt.clone()).collect();
    let deleted = queue.delete_batch(&receipts).await.expect("delete");
    assert!(
        deleted.iter().all(Result::is_ok),
        "current receipts delete: {deleted:?}"
    );
    let again = queue
        .receive(10, Duration::from_millis(500))
        .await
        .expect("receive");
    assert!(
        again.is_empty(),
        "deleted messages never come back: {again:?}"
    );
}

/// A delivery not deleted within the visibility timeout comes back, with a
/// higher receive count and a new receipt; the old receipt no longer deletes it.
pub async fn queue_visibility_timeout_redelivers(queue: &dyn JobQueue, visibility: Duration) {
    queue.send_batch(&bodies("vis", 1)).await.expect("send");
    let first = receive_n(queue, 1, Duration::from_secs(5)).await;
    assert_eq!(first.len(), 1, "the message is delivered");
    let hidden = queue.receive(10, Duration::ZERO).await.expect("receive");
    assert!(
        hidden.is_empty(),
        "an in-flight message is invisible to others"
    );
    tokio::time::sleep(visibility + Duration::from_millis(200)).await;
    let second = receive_n(queue, 1, Duration::from_secs(5)).await;
    assert_eq!(
        second.len(),
        1,
        "the message is delivered again after its visibility timeout"
    );
    assert_eq!(second[0].body, first[0].body);
    assert_eq!(second[0].receive_count, 2, "the receive count goes up");
    assert_ne!(
        second[0].receipt, first[0].receipt,
        "each delivery has its own receipt"
    );
    let deleted = queue
        .delete_batch(std::slice::from_ref(&second[0].receipt))
        .await
        .expect("delete");
    assert!(deleted[0].is_ok(), "the current receipt deletes");
    let after = queue
        .receive(10, Duration::from_millis(500))
        .await
        .expect("receive");
    assert!(after.is_empty(), "nothing is left");
}

/// Changing visibility to zero makes a delivery visible at once.
pub async fn queue_change_visibility(queue: &dyn JobQueue) {
    queue.send_batch(&bodies("chg", 1)).await.expect("send");
    let first = receive_n(queue, 1, Duration::from_secs(5)).await;
    assert_eq!(first.len(), 1);
    queue
        .change_visibility(&first[0].receipt, Duration::ZERO)
        .await
        .expect("change visibility");
    let again = receive_n(queue, 1, Duration::from_secs(5)).await;
    assert_eq!(again.len(), 1, "visible again immediately");
    assert_eq!(again[0].receive_count, 2);
    queue
        .delete_batch(&[again[0].receipt.clone()])
        .await
        .expect("delete");
}

/// After `max_receive_count` deliveries without a delete, the message goes
/// to the dead-letter queue.
pub async fn queue_redrives_to_dead_letter_queue(
    queue: &dyn JobQueue,
    dlq: &dyn JobQueue,
    visibility: Duration,
    max_receive_count: u32,
) {
    let sent = bodies("dead", 1);
    queue.send_batch(&sent).await.expect("send");
    for attempt in 1..=max_receive_count {
        let got = receive_n(queue, 1, Duration::from_secs(5)).await;
        assert_eq!(got.len(), 1, "delivery {attempt} happens");
        assert_eq!(got[0].receive_count, attempt);
        tokio::time::sleep(visibility + Duration::from_millis(200)).await;
    }
    let main = queue
        .receive(10, Duration::from_millis(500))
        .await
        .expect("receive");
    assert!(
        main.is_empty(),
        "past max_receive_count the message leaves the queue: {main:?}"
    );
    let dead = receive_n(dlq, 1, Duration::from_secs(5)).await;
    assert_eq!(dead.len(), 1, "the message is in the dead-letter queue");
    assert_eq!(dead[0].body, sent[0], "with its body intact");
    dlq.delete_batch(&[dead[0].receipt.clone()])
        .await
        .expect("delete");
}

/// A long poll returns as soon as a message arrives.
pub async fn queue_long_poll_wakes_on_send(queue: Arc<dyn JobQueue>) {
    let sender = Arc::clone(&queue);
    let send = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        sender.send_batch(&bodies("poll", 1)).await.expect("send");
    });
    let started = tokio::time::Instant::now();
    let got = queue
        .receive(10, Duration::from_secs(10))
        .await
        .expect("receive");
    assert_eq!(got.len(), 1, "the long poll returns the message");
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "the long poll returned early, not at its deadline"
    );
    send.await.expect("sender");
    queue
        .delete_batch(&[got[0].receipt.clone()])
        .await
        .expect("delete");
}

/// Batches over ten and oversize bodies are refused.
pub async fn queue_rejects_oversize(queue: &dyn JobQueue) {
    let too_many = bodies("many", 11);
    assert!(
        queue.send_batch(&too_many).await.is_err(),
        "eleven messages in one batch are refused"
    );
    let huge = vec!["x".repeat(256 * 1024 + 1), "{}".to_owned()];
    // A backend may refuse the whole batch instead.
    if let Ok(results) = queue.send_batch(&huge).await {
        assert!(
            matches!(results[0], Err(QueueError::Rejected(_))),
            "an oversize body is rejected: {results:?}"
        );
        assert!(results[1].is_ok(), "the valid entry of the batch is sent");
    }
    for m in receive_n(queue, 1, Duration::from_secs(2)).await {
        queue.delete_batch(&[m.receipt]).await.expect("delete");
    }
}

fn finished(outcome: Result<&str, &str>, worker: &str) -> Finished {
    Finished {
        completed_at: Timestamp::from_unix_millis(1_769_000_000_000),
        processing_time_ms: 12.5,
        worker: worker.to_owned(),
        outcome: outcome.map(str::to_owned).map_err(str::to_owned),
    }
}

fn claimant(worker: &str, at: i64, until: i64) -> Claimant<'_> {
    Claimant {
        worker,
        test_run_id: "conf-test-run",
        message: None,
        at: Timestamp::from_unix_millis(1_769_000_000_000 + at),
        until: Timestamp::from_unix_millis(1_769_000_000_000 + until),
    }
}

/// One delivery at a time holds a job; the first completion wins; a job
/// that ended answers every later claim with its record.
pub async fn ledger_first_completion_wins(ledger: &dyn JobLedger) {
    let run = RunId::new("conf-run").unwrap();
    let job = JobId::new("conf-run.job-a").unwrap();
    assert!(
        ledger.get(&run, &job).await.expect("get").is_none(),
        "an unknown job has no row"
    );
    let first = ledger
        .claim(&run, &job, &claimant("w1", 0, 30_000))
        .await
        .expect("claim");
    assert_eq!(first, Claim::Run { attempt: 1 }, "a free job is claimed");
    let row = ledger.get(&run, &job).await.expect("get").expect("row");
    assert_eq!((row.status, row.attempts), (LedgerStatus::Running, 1));
    assert_eq!(row.test_run_id.as_deref(), Some("conf-test-run"));
    // A second delivery while the first holds it is told to wait.
    match ledger
        .claim(&run, &job, &claimant("w2", 1_000, 31_000))
        .await
        .expect("claim")
    {
        Claim::Busy {
            worker,
            until,
            duplicate,
        } => {
            assert!(
                !duplicate,
                "deliveries of unknown messages are not told apart"
            );
            assert_eq!(worker, "w1");
            assert_eq!(until, Timestamp::from_unix_millis(1_769_000_030_000));
        }
        other => panic!("a held job is busy, not {other:?}"),
    }
    // Only the holder extends or releases; then the next delivery runs it.
    let later = Timestamp::from_unix_millis(1_769_000_060_000);
    assert!(
        ledger
            .extend(&run, &job, "w1", later)
            .await
            .expect("extend")
    );
    assert!(
        !ledger
            .extend(&run, &job, "w2", later)
            .await
            .expect("extend")
    );
    ledger.release(&run, &job, "w1").await.expect("release");
    assert_eq!(
        ledger
            .claim(&run, &job, &claimant("w2", 2_000, 32_000))
            .await
            .expect("claim"),
        Claim::Run { attempt: 2 },
        "a released job is claimed at once"
    );
    let recorded = ledger
        .record_finished(&run, &job, &finished(Ok("output/a.json"), "w2"))
        .await
        .expect("finished");
    assert_eq!(recorded, Recorded::First);
    let again = ledger
        .record_finished(&run, &job, &finished(Ok("output/b.json"), "w3"))
        .await
        .expect("finished");
    assert_eq!(
        again,
        Recorded::Duplicate,
        "a second completion is a duplicate"
    );
    let failed_late = ledger
        .record_finished(&run, &job, &finished(Err("late"), "w4"))
        .await
        .expect("finished");
    assert_eq!(
        failed_late,
        Recorded::Duplicate,
        "a failure after completion changes nothing"
    );
    // A re-sent job gets its record back, not a run.
    match ledger
        .claim(&run, &job, &claimant("w5", 3_000, 33_000))
        .await
        .expect("claim")
    {
        Claim::Ended(row) => {
            assert_eq!(row.status, LedgerStatus::Completed);
            assert_eq!(row.attempts, 2, "claims that ran the job");
            assert_eq!(
                row.output_key.as_deref(),
                Some("output/a.json"),
                "the first completion's output stays"
            );
            assert_eq!(row.worker.as_deref(), Some("w2"));
            assert_eq!(row.processing_time_ms, Some(12.5));
            assert_eq!(row.error, None);
        }
        other => panic!("an ended job answers with its record, not {other:?}"),
    }
}

/// Claims name their message: a later delivery of the same message takes
/// the claim over at once (its earlier delivery died: the queue delivers a
/// message again only once nobody holds it); a delivery of another message
/// for the same job is told it is a duplicate.
pub async fn ledger_claims_know_their_message(ledger: &dyn JobLedger) {
    let run = RunId::new("conf-message").unwrap();
    let job = JobId::new("conf-message.j").unwrap();
    let of = |worker, at, message| Claimant {
        message: Some(message),
        ..claimant(worker, at, at + 60_000)
    };
    assert_eq!(
        ledger
            .claim(&run, &job, &of("dead", 0, "m-1"))
            .await
            .expect("claim"),
        Claim::Run { attempt: 1 }
    );
    match ledger
        .claim(&run, &job, &of("copy", 1_000, "m-2"))
        .await
        .expect("claim")
    {
        Claim::Busy { duplicate, .. } => assert!(duplicate, "another message's delivery"),
        other => panic!("a held job is busy, not {other:?}"),
    }
    assert_eq!(
        ledger
            .claim(&run, &job, &of("next", 2_000, "m-1"))
            .await
            .expect("claim"),
        Claim::Run { attempt: 2 },
        "the same message's next delivery takes the claim over"
    );
    let row = ledger.get(&run, &job).await.expect("get").expect("row");
    assert_eq!(
        (row.worker.as_deref(), row.claim_message.as_deref()),
        (Some("next"), Some("m-1"))
    );
    ledger
        .record_finished(&run, &job, &finished(Ok("output/m.json"), "next"))
        .await
        .expect("finished");
    assert!(matches!(
        ledger
            .claim(&run, &job, &of("late", 3_000, "m-2"))
            .await
            .expect("claim"),
        Claim::Ended(_)
    ));
}

/// A claim whose holder died (it was never extended) expires: the next
/// delivery takes the job over, and the dead holder can no longer extend it.
pub async fn ledger_claims_expire(ledger: &dyn JobLedger) {
    let run = RunId::new("conf-expire").unwrap();
    let job = JobId::new("conf-expire.j").unwrap();
    assert_eq!(
        ledger
            .claim(&run, &job, &claimant("dead", 0, 10_000))
            .await
            .expect("claim"),
        Claim::Run { attempt: 1 }
    );
    assert!(matches!(
        ledger
            .claim(&run, &job, &claimant("next", 9_999, 20_000))
            .await
            .expect("claim"),
        Claim::Busy { .. }
    ));
    assert_eq!(
        ledger
            .claim(&run, &job, &claimant("next", 10_001, 20_000))
            .await
            .expect("claim"),
        Claim::Run { attempt: 2 },
        "an expired claim is taken over"
    );
    let until = Timestamp::from_unix_millis(1_769_000_050_000);
    assert!(
        !ledger
            .extend(&run, &job, "dead", until)
            .await
            .expect("extend"),
        "the old holder lost it"
    );
}

/// A failure is terminal too; `completed_jobs` lists completed jobs of one run only.
pub async fn ledger_failures_and_resume_listing(ledger: &dyn JobLedger) {
    let run = RunId::new("conf-list").unwrap();
    let other = RunId::new("conf-other").unwrap();
    let job = |s: &str| JobId::new(s).unwrap();
    let f = ledger
        .record_finished(&run, &job("bad"), &finished(Err("input_key missing"), "w"))
        .await
        .expect("failed");
    assert_eq!(f, Recorded::First);
    let row = ledger
        .get(&run, &job("bad"))
        .await
        .expect("get")
        .expect("row");
    assert_eq!(
        (row.status, row.error.as_deref()),
        (LedgerStatus::Failed, Some("input_key missing"))
    );
    let later = ledger
        .record_finished(&run, &job("bad"), &finished(Ok("o"), "w"))
        .await
        .expect("finished");
    assert_eq!(later, Recorded::Duplicate, "the first terminal record wins");
    for id in ["c1", "c2"] {
        ledger
            .record_finished(&run, &job(id), &finished(Ok("o"), "w"))
            .await
            .expect("completed");
    }
    ledger
        .claim(&run, &job("running"), &claimant("w", 0, 1_000))
        .await
        .expect("claimed");
    ledger
        .record_finished(&other, &job("c3"), &finished(Ok("o"), "w"))
        .await
        .expect("other run");
    let mut done: Vec<String> = ledger
        .completed_jobs(&run)
        .await
        .expect("list")
        .iter()
        .map(ToString::to_string)
        .collect();
    done.sort();
    assert_eq!(done, ["c1", "c2"], "completed jobs of this run only");
}

/// Many concurrent deliveries of the same jobs: each job is claimed to run
/// by exactly one of them, and completes exactly once.
pub async fn ledger_concurrent_duplicates(ledger: Arc<dyn JobLedger>) {
    let run = RunId::new("conf-concurrent").unwrap();
    let mut tasks = Vec::new();
    for copy in 0..4 {
        for j in 0..50 {
            let ledger = Arc::clone(&ledger);
            let run = run.clone();
            tasks.push(tokio::spawn(async move {
                let job = JobId::new(format!("j{j}")).unwrap();
                let worker = format!("w{copy}");
                let claim = ledger
                    .claim(&run, &job, &claimant(&worker, 0, 60_000))
                    .await
                    .expect("claim");
                let recorded = ledger
                    .record_finished(&run, &job, &finished(Ok("o"), &worker))
                    .await
                    .expect("finished");
                (
                    matches!(claim, Claim::Run { .. }),
                    recorded == Recorded::First,
                )
            }));
        }
    }
    let (mut runs, mut firsts) = (0, 0);
    for t in tasks {
        let (ran, first) = t.await.expect("task");
        runs += u32::from(ran);
        firsts += u32::from(first);
    }
    assert_eq!(runs, 50, "exactly one delivery per job runs it");
    assert_eq!(firsts, 50, "exactly one first completion per job");
    assert_eq!(ledger.completed_jobs(&run).await.expect("list").len(), 50);
}

/// What a metrics backend shows for one metric of one test run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ObservedMetric {
    /// Data points recorded.
    pub samples: u64,
    /// Their sum.
    pub sum: f64,
    /// Their unit.
    pub unit: dagbench_runtime::ports::MetricUnit,
}

/// Metrics are kept per name and test run, with their units: three
/// processing times and three completions for one run, one processing time
/// for another, read back through the backend's own view (after a flush,
/// for sinks that buffer).
pub async fn metrics_by_name_and_test_run(backend: &dyn super::MetricsBackend) {
    use dagbench_runtime::ports::{JOBS_COMPLETED, Metric, MetricUnit, PROCESSING_TIME_MS};
    let (run_a, run_b) = backend.test_runs();
    let (run_a, run_b) = (run_a.as_str(), run_b.as_str());
    let point = |name, value, unit, run: &str| Metric {
        name,
        value,
        unit,
        test_run_id: run.to_owned(),
    };
    let sink = backend.sink();
    for ms in [10.0, 20.0, 30.5] {
        sink.record(point(
            PROCESSING_TIME_MS,
            ms,
            MetricUnit::Milliseconds,
            run_a,
        ));
        sink.record(point(JOBS_COMPLETED, 1.0, MetricUnit::Count, run_a));
    }
    sink.record(point(
        PROCESSING_TIME_MS,
        5.0,
        MetricUnit::Milliseconds,
        run_b,
    ));
    backend.flush().await;
    assert_eq!(
        backend.read(PROCESSING_TIME_MS, run_a).await,
        Some(ObservedMetric {
            samples: 3,
            sum: 60.5,
            unit: MetricUnit::Milliseconds
        }),
        "processing times of run {run_a}"
    );
    assert_eq!(
        backend.read(JOBS_COMPLETED, run_a).await,
        Some(ObservedMetric {
            samples: 3,
            sum: 3.0,
            unit: MetricUnit::Count
        }),
        "completions of run {run_a}"
    );
    assert_eq!(
        backend.read(PROCESSING_TIME_MS, run_b).await,
        Some(ObservedMetric {
            samples: 1,
            sum: 5.0,
            unit: MetricUnit::Milliseconds
        }),
        "another test run is kept apart"
    );
    assert_eq!(
        backend.read(JOBS_COMPLETED, run_b).await,
        None,
        "nothing recorded, nothing shown"
    );
}

/// A clock tells Unix time in milliseconds and never goes backwards.
pub async fn clock_tells_unix_time_and_moves_forward(clock: &dyn dagbench_runtime::ports::Clock) {
    let system = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_millis() as i64
    };
    let before = system();
    let a = clock.now().unix_millis();
    assert!(
        (a - before).abs() < 1_000,
        "the clock says {a} ms since 1970, the system {before}"
    );
    let mut last = a;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(1)).await;
        let t = clock.now().unix_millis();
        assert!(t >= last, "the clock went back from {last} to {t}");
        last = t;
    }
    assert!(last > a, "the clock did not move in 50 ms");
}
