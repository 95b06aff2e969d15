//! `process_job` against real embedded adapters: the poison corpus,
//! idempotent reprocessing, transient errors, domain jobs.

mod common;

use std::sync::Arc;
use std::time::Duration;

use dagbench_core::ids::JobId;
use dagbench_core::key::ObjectKey;
use dagbench_core::message::{Completion, Outcome};
use dagbench_flight::aircraft::{AircraftRun, JobDetails, build_aircraft_graph};
use dagbench_flight::{Airports, GeneratorOptions, generate_aircraft_daily_sequences};
use dagbench_local::MemoryQueue;
use dagbench_runtime::ports::{JOBS_COMPLETED, JobLedger, JobQueue, LedgerStatus};
use dagbench_runtime::processor::{Disposition, Ended};
use dagbench_runtime::worker::{WorkerConfig, run_worker};
use futures::TryStreamExt as _;
use object_store::ObjectStoreExt as _;

/// How long a test delivery claims its job.
const CLAIM: Duration = Duration::from_secs(30);

/// At least fifty malformed messages.
fn poison_corpus() -> Vec<String> {
    let mut corpus: Vec<String> = [
        "",
        " ",
        "{",
        "}",
        "null",
        "true",
        "[]",
        "[1,2]",
        "42",
        "-1",
        "\"job\"",
        "{\"job_id\":",
        "{'job_id': 'a'}",
        "\u{0}",
        "{\"job_id\": \"a\",}",
        "{\"job_id\": 1e400}",
        "{}",
        "{\"work_duration_ms\": 10}",
        "{\"job_id\": null}",
        "{\"job_id\": 7}",
        "{\"job_id\": true}",
        "{\"job_id\": []}",
        "{\"job_id\": {}}",
        "{\"job_id\": 1.5}",
        "{\"job_id\": \"\"}",
        "{\"job_id\": \".\"}",
        "{\"job_id\": \"..\"}",
        "{\"job_id\": \"../x\"}",
        "{\"job_id\": \"a/b\"}",
        "{\"job_id\": \"/abs\"}",
        "{\"job_id\": \"a\\\\b\"}",
        "{\"job_id\": \"a b\"}",
        "{\"job_id\": \"é\"}",
        "{\"job_id\": \"a\\u0000b\"}",
        "{\"job_id\": \"..%2F..\"}",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    corpus.push(format!("{{\"job_id\": \"{}\"}}", "x".repeat(129)));
    for (field, value) in [
        ("work_duration_ms", "-1"),
        ("work_duration_ms", "1.5"),
        ("work_duration_ms", "\"100\""),
        ("work_duration_ms", "1e20"),
        ("work_duration_ms", "99999999"),
        ("work_duration_ms", "true"),
        ("data_size_kb", "-5"),
        ("data_size_kb", "10241"),
        ("data_size_kb", "\"x\""),
        ("data_size_kb", "[1]"),
        ("input_key", "\"../../etc/passwd\""),
        ("input_key", "\"/etc/passwd\""),
        ("input_key", "\"a//b\""),
        ("input_key", "\"a/./b\""),
        ("input_key", "\"a\\\\..\\\\b\""),
        ("input_key", "\"\""),
        ("input_key", "5"),
        ("run_id", "\"../x\""),
        ("run_id", "5"),
        ("run_id", "\"a/b\""),
    ] {
        corpus.push(format!(
            "{{\"job_id\": \"victim-{field}\", \"{field}\": {value}}}"
        ));
    }
    corpus.push(format!(
        "{{\"job_id\": \"big\", \"pad\": \"{}\"}}",
        "x".repeat(300 * 1024)
    ));
    corpus
}

#[tokio::test]
async fn every_poison_message_fails_cleanly_and_writes_nothing() {
    let h = common::harness("poison");
    let corpus = poison_corpus();
    assert!(corpus.len() >= 50, "{} messages", corpus.len());
    let mut failed = 0;
    let mut poison = 0;
    for body in &corpus {
        match h.processor.process_job(body, 1, CLAIM).await {
            // A job id seen before gets its recorded failure again.
            Disposition::Done {
                ended: Ended::Failed | Ended::Resent,
                reason: Some(_),
                ..
            } => failed += 1,
            Disposition::Poison { reason } => {
                assert!(!reason.is_empty());
                poison += 1;
            }
            other => panic!("{body:.60}: {other:?}"),
        }
    }
    // Each reported failure is a well-formed `failed` completion naming the field.
    let mut seen = 0;
    loop {
        let got = h.outgoing.receive(10, Duration::ZERO).await.unwrap();
        if got.is_empty() {
            break;
        }
        for m in got {
            let c = Completion::parse(m.body.as_bytes()).unwrap();
            let Outcome::Failed { error } = &c.outcome else {
                panic!("{}", m.body)
            };
            assert!(
                c.job_id.as_str().starts_with("victim-") || c.job_id.as_str() == "big",
                "{}",
                m.body
            );
            if let Some(field) = c.job_id.as_str().strip_prefix("victim-") {
                assert!(error.contains(field), "the reason names the field: {error}");
            }
            let row = h.ledger.get(&h.run_id, &c.job_id).await.unwrap().unwrap();
            assert_eq!(row.status, LedgerStatus::Failed);
            seen += 1;
        }
    }
    assert_eq!(seen, failed);
    assert!(
        failed >= 20 && poison >= 30,
        "failed {failed}, poison {poison}"
    );
    // Nothing was written to the store, inside or outside the run's prefix.
    let listed: Vec<object_store::ObjectMeta> = h
        .store
        .object_store()
        .list(None)
        .try_collect()
        .await
        .unwrap();
    assert!(listed.is_empty(), "{listed:?}");
    assert!(h.metrics.get(JOBS_COMPLETED, "test-1").is_none());
}

#[tokio::test]
async fn the_worker_keeps_running_through_poison() {
    let h = common::harness("worker-poison");
    let dlq = Arc::new(MemoryQueue::new("dlq", Duration::from_secs(30)));
    let incoming = Arc::new(MemoryQueue::new("incoming", Duration::from_secs(30)));
    let corpus = poison_corpus();
    let mut bodies = corpus.clone();
    for i in 0..10 {
        bodies.push(format!("{{\"job_id\": \"good-{i}\", \"data_size_kb\": 1}}"));
    }
    for chunk in bodies.chunks(10) {
        let results = incoming.send_batch(chunk).await.unwrap();
        // The oversize body is refused by the queue itself, as SQS would.
        assert!(results.iter().filter(|r| r.is_err()).count() <= 1);
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(run_worker(
        h.processor.clone(),
        incoming.clone(),
        Some(dlq.clone()),
        WorkerConfig {
            batch_size: 10,
            wait: Duration::from_millis(50),
            ..Default::default()
        },
        stop_rx,
    ));
    // Wait until the incoming queue is drained.
    for _ in 0..200 {
        let depth = incoming.approximate_depth().await.unwrap();
        if depth.visible == 0 && depth.in_flight == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop_tx.send(true).unwrap();
    let stats = worker.await.unwrap();
    assert_eq!(stats.completed, 10, "{stats:?}");
    assert!(stats.poison >= 30, "{stats:?}");
    let dead = dlq.approximate_depth().await.unwrap();
    assert_eq!(dead.visible, stats.poison, "poison lands in the DLQ");
    for i in 0..10 {
        let job = JobId::new(format!("good-{i}")).unwrap();
        assert_eq!(
            h.ledger.get(&h.run_id, &job).await.unwrap().unwrap().status,
            LedgerStatus::Completed
        );
    }
}

fn aircraft(
    samples: u32,
) -> (
    Vec<dagbench_flight::Sequence>,
    dagbench_flight::aircraft::AircraftGraph,
) {
    let airports = Airports::embedded();
    let seqs =
        generate_aircraft_daily_sequences(2, 8, &airports, &GeneratorOptions::default()).unwrap();
    let run = AircraftRun {
        run_id: dagbench_core::ids::RunId::new("run-1").unwrap(),
        run_seed: 8,
        samples,
        crew_probability: None,
    };
    let g = build_aircraft_graph(&seqs, &run);
    (seqs, g)
}

/// Stores every job's details, as a run does before dispatching.
async fn seed(h: &common::Harness, g: &dagbench_flight::aircraft::AircraftGraph) {
    for (job, details) in &g.details {
        h.store
            .put_job_details(&h.run_id, job, details)
            .await
            .unwrap();
    }
}

fn message(job: &JobId, data_kb: u64) -> String {
    dagbench_core::message::JobMessage {
        job_id: job.clone(),
        work_duration_ms: 0,
        data_size_kb: data_kb,
        input_key: Some(ObjectKey::new(format!("run-1/jobs/{job}.json")).unwrap()),
        run_id: Some(dagbench_core::ids::RunId::new("run-1").unwrap()),
        task_token: None,
        released_at: None,
    }
    .to_json()
}

#[tokio::test]
async fn reprocessing_writes_identical_objects_and_one_completion() {
    let h = common::harness("reprocess");
    let (_, g) = aircraft(64);
    seed(&h, &g).await;
    let first_leg = &g.details[0].0;
    assert_eq!(first_leg.as_str(), "s1-l1");
    let body = message(first_leg, 2);
    assert_eq!(
        h.processor.process_job(&body, 1, CLAIM).await,
        Disposition::Done {
            job_id: first_leg.clone(),
            ended: Ended::Completed,
            reason: None,
        }
    );
    let delays_key = dagbench_core::keys::delays(&h.run_id, first_leg);
    let row = h.ledger.get(&h.run_id, first_leg).await.unwrap().unwrap();
    let output = ObjectKey::new(row.output_key.clone().unwrap()).unwrap();
    let head = |key: &ObjectKey| {
        let store = h.store.object_store().clone();
        let path = object_store::path::Path::from(key.as_str());
        async move { store.head(&path).await.unwrap() }
    };
    let (delays_before, output_before) = (head(&delays_key).await, head(&output).await);
    // The same job again: its recorded outcome is sent, nothing is re-run.
    assert_eq!(
        h.processor.process_job(&body, 2, CLAIM).await,
        Disposition::Done {
            job_id: first_leg.clone(),
            ended: Ended::Resent,
            reason: None,
        }
    );
    assert_eq!(head(&delays_key).await, delays_before, "delays untouched");
    assert_eq!(head(&output).await, output_before, "output untouched");
    let row = h.ledger.get(&h.run_id, first_leg).await.unwrap().unwrap();
    assert_eq!((row.status, row.attempts), (LedgerStatus::Completed, 1));
    assert_eq!(
        h.store.get_bytes(&output).await.unwrap().unwrap().len(),
        2048
    );
    // Two completions went out, alike but for the delivery attempt; one metric.
    let sent = h.outgoing.receive(10, Duration::ZERO).await.unwrap();
    assert_eq!(sent.len(), 2);
    assert_eq!(h.metrics.get(JOBS_COMPLETED, "test-1").unwrap().samples, 1);
    let a = Completion::parse(sent[0].body.as_bytes()).unwrap();
    let b = Completion::parse(sent[1].body.as_bytes()).unwrap();
    assert_eq!((a.attempt, b.attempt), (Some(1), Some(2)));
    assert_eq!(
        (&a.outcome, a.processing_time_ms, a.completed_at),
        (&b.outcome, b.processing_time_ms, b.completed_at),
        "the re-sent completion is the recorded one"
    );
    assert_eq!(a.test_run_id, "test-1");
    assert!(a.completed_at.to_string().ends_with('Z'));
}

#[tokio::test]
async fn missing_dependency_output_is_transient_and_missing_details_permanent() {
    let h = common::harness("transient");
    let (_, g) = aircraft(32);
    seed(&h, &g).await;
    let second = JobId::new("s1-l2").unwrap();
    match h
        .processor
        .process_job(&message(&second, 0), 1, CLAIM)
        .await
    {
        Disposition::Retry { job_id, reason } => {
            assert_eq!(job_id, Some(second.clone()));
            assert!(reason.contains("s1-l1"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        h.outgoing
            .receive(10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty(),
        "no completion for a retry"
    );
    let ghost = JobId::new("ghost").unwrap();
    assert_eq!(
        h.processor.process_job(&message(&ghost, 0), 1, CLAIM).await,
        Disposition::Done {
            job_id: ghost.clone(),
            ended: Ended::Failed,
            reason: Some("input_key run-1/jobs/ghost.json does not exist".into()),
        }
    );
    let row = h.ledger.get(&h.run_id, &ghost).await.unwrap().unwrap();
    assert_eq!(
        row.error.as_deref(),
        Some("input_key run-1/jobs/ghost.json does not exist")
    );
}

#[tokio::test]
async fn domain_jobs_in_order_produce_the_reference_results() {
    let h = common::harness("domain");
    let (seqs, g) = aircraft(128);
    seed(&h, &g).await;
    // Graph order is a topological order for aircraft graphs.
    for (job, _) in &g.details {
        assert!(
            matches!(
                h.processor.process_job(&message(job, 0), 1, CLAIM).await,
                Disposition::Done {
                    ended: Ended::Completed,
                    ..
                }
            ),
            "{job}"
        );
    }
    let reference = dagbench_flight::stats::reference_run(&seqs, 8, 128).unwrap();
    let merged = h
        .store
        .get_merged_percentiles(&h.run_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        serde_json::to_string(&merged).unwrap(),
        serde_json::to_string(&reference).unwrap()
    );
    assert!(matches!(g.details.last().unwrap().1, JobDetails::Merge(_)));
}

/// The source document's own example: a generic job whose input is any
/// object, not dagbench job details.
#[tokio::test]
async fn the_seed_example_job_runs_on_any_input() {
    let h = common::harness("seed-job");
    h.store
        .put_bytes(
            &ObjectKey::new("jobs/job-123.json").unwrap(),
            bytes::Bytes::from_static(b"{\"hello\":\"world\"}"),
        )
        .await
        .unwrap();
    let body = r#"{"job_id":"unique-id","work_duration_ms":100,"data_size_kb":10,"input_key":"jobs/job-123.json"}"#;
    let outcome = h.processor.process_job(body, 1, CLAIM).await;
    assert_eq!(
        outcome,
        Disposition::Done {
            job_id: JobId::new("unique-id").unwrap(),
            ended: Ended::Completed,
            reason: None,
        }
    );
    let sent = h.outgoing.receive(10, Duration::ZERO).await.unwrap();
    let c = Completion::parse(sent[0].body.as_bytes()).unwrap();
    let Outcome::Completed { output_key } = &c.outcome else {
        panic!("{:?}", c.outcome)
    };
    assert!(
        output_key.as_str().starts_with("output/")
            && output_key.as_str().ends_with("/unique-id.json")
    );
    assert_eq!(
        c.run_id, None,
        "a message of no run gets a completion of no run"
    );
    assert!(c.processing_time_ms >= 100.0, "the simulated work was done");
    let output = h.store.get_bytes(output_key).await.unwrap().unwrap();
    assert_eq!(output.len(), 10 * 1024);
    let v: serde_json::Value = serde_json::from_slice(&output).unwrap();
    assert_eq!(
        (&v["job_id"], &v["input_bytes"]),
        (&"unique-id".into(), &17.into())
    );
    let meta = h
        .store
        .object_store()
        .get(&object_store::path::Path::from(output_key.as_str()))
        .await
        .unwrap();
    assert_eq!(
        meta.attributes
            .get(&object_store::Attribute::ContentType)
            .map(|v| v.as_ref()),
        Some("application/json"),
        "stored as JSON"
    );
}

#[tokio::test]
async fn job_details_of_another_run_or_of_no_run_are_refused() {
    let h = common::harness("foreign-details");
    let (_, g) = aircraft(16);
    seed(&h, &g).await;
    let leg = &g.details[0].0;
    let key = format!("run-1/jobs/{leg}.json");
    for (body, says) in [
        (
            format!(r#"{{"job_id":"x","input_key":"{key}","run_id":"run-2"}}"#),
            "holds job details of run run-1, the message is of run run-2",
        ),
        (
            format!(r#"{{"job_id":"y","input_key":"{key}"}}"#),
            "a message for them must name that run",
        ),
    ] {
        match h.processor.process_job(&body, 1, CLAIM).await {
            Disposition::Done {
                ended: Ended::Failed,
                reason: Some(reason),
                ..
            } => assert!(reason.contains(says), "{reason}"),
            other => panic!("{body}: {other:?}"),
        }
    }
    // Nothing of run-1 was written by them.
    assert!(h.store.get_delays(&h.run_id, leg).await.unwrap().is_none());
}

#[tokio::test]
async fn a_job_held_by_another_delivery_is_left_for_later() {
    use dagbench_runtime::ports::Claimant;
    let h = common::harness("busy");
    let job = JobId::new("held").unwrap();
    let now = dagbench_runtime::ports::Clock::now(&dagbench_runtime::ports::SystemClock);
    h.ledger
        .claim(
            &h.run_id,
            &job,
            &Claimant {
                worker: "other",
                message: None,
                test_run_id: "t",
                at: now,
                until: now.plus_millis(60_000),
            },
        )
        .await
        .unwrap();
    match h
        .processor
        .process_job(r#"{"job_id":"held","data_size_kb":1}"#, 2, CLAIM)
        .await
    {
        Disposition::Busy {
            job_id,
            until,
            duplicate,
        } => {
            assert!(!duplicate, "a delivery of no known message");
            assert_eq!(job_id, job);
            assert_eq!(until, now.plus_millis(60_000));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        h.outgoing
            .receive(10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A full disk is no job's fault: the processor says so in a `fatal`
/// completion (the scheduler stops the run) and leaves the job resumable.
#[tokio::test]
async fn a_full_disk_is_fatal_and_leaves_the_job_resumable() {
    let h = common::harness("full-disk");
    let mut processor = (*h.processor).clone();
    processor.store =
        dagbench_store::RunStore::new(Arc::new(dagbench_testkit::fixtures::FullDisk::default()));
    let body = r#"{"job_id":"run-1.j1","data_size_kb":1,"run_id":"run-1"}"#;
    match processor.process_job(body, 1, CLAIM).await {
        Disposition::Done {
            ended: Ended::Fatal,
            reason: Some(reason),
            ..
        } => assert!(reason.contains("No space left on device"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let sent = h.outgoing.receive(10, Duration::ZERO).await.unwrap();
    let c = Completion::parse(sent[0].body.as_bytes()).unwrap();
    assert!(c.fatal && !c.is_completed());
    let row = h
        .ledger
        .get(&h.run_id, &JobId::new("run-1.j1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.status,
        LedgerStatus::Running,
        "not ended: a resume runs it"
    );
    assert_eq!(row.claim_until, None, "and nobody holds it");
}

#[tokio::test]
async fn a_job_still_failing_on_its_last_delivery_fails_with_its_reason() {
    let h = common::harness("last-delivery");
    let (_, g) = aircraft(32);
    seed(&h, &g).await;
    // The queue dead-letters after 3 deliveries.
    let mut processor = (*h.processor).clone();
    processor.config.max_attempts = Some(3);
    let second = JobId::new("s1-l2").unwrap();
    for attempt in 1..=2 {
        assert!(
            matches!(
                processor
                    .process_job(&message(&second, 0), attempt, CLAIM)
                    .await,
                Disposition::Retry { .. }
            ),
            "delivery {attempt} of 3 is retried"
        );
    }
    let Disposition::Done {
        ended: Ended::Failed,
        reason: Some(reason),
        ..
    } = processor.process_job(&message(&second, 0), 3, CLAIM).await
    else {
        panic!("the last delivery reports the job failed");
    };
    assert!(
        reason.starts_with("still failing on delivery 3 of 3") && reason.contains("s1-l1"),
        "{reason}"
    );
    let sent = h.outgoing.receive(10, Duration::ZERO).await.unwrap();
    assert_eq!(sent.len(), 1, "one failed completion");
    let completion = Completion::parse(sent[0].body.as_bytes()).unwrap();
    assert!(!completion.is_completed());
    let row = h.ledger.get(&h.run_id, &second).await.unwrap().unwrap();
    assert_eq!(row.error.as_deref(), Some(reason.as_str()));
}
