//! Whole runs on the embedded backends: results equal to a reference
//! computed in-process, failures blocking exactly their dependents, a
//! stalled run ending instead of hanging, interrupt and resume without
//! recomputation, and chaos — workers killed mid-job, duplicated messages,
//! visibility timeouts expiring mid-job — changing nothing in the results.

mod common;

use std::sync::Arc;
use std::time::Duration;

use dagbench_core::graph::{GraphBuilder, JobAttrs};
use dagbench_core::ids::RunId;
use dagbench_core::{JobGraph, Scheduler};
use dagbench_flight::aircraft::{AircraftRun, build_aircraft_graph};
use dagbench_flight::model::{compute_sequence, sequence_key};
use dagbench_flight::stats::reference_run;
use dagbench_flight::{Airports, GeneratorOptions, Sequence, generate_aircraft_daily_sequences};
use dagbench_local::run::{LocalConfig, Manifest, run_local, write_run_files};
use dagbench_local::{MemoryQueue, SqliteLedger};
use dagbench_runtime::driver::{DriverConfig, Queues, RunStatus, drive};
use dagbench_runtime::ports::{
    Clock, JobLedger, JobQueue, LedgerStatus, QueueDepth, QueueError, ReceivedMessage, SystemClock,
};
use dagbench_runtime::processor::WorkMode;
use dagbench_store::RunStore;
use tokio::sync::watch;

const SEED: u64 = 21;
const SAMPLES: u32 = 100;

fn sequences(n: u32) -> Vec<Sequence> {
    generate_aircraft_daily_sequences(n, SEED, &Airports::embedded(), &GeneratorOptions::default())
        .unwrap()
}

/// The merged percentiles computed directly, without any runtime.
fn reference(seqs: &[Sequence]) -> String {
    serde_json::to_string(&reference_run(seqs, SEED, SAMPLES).unwrap()).unwrap()
}

fn config(results: &std::path::Path, run: &str) -> LocalConfig {
    LocalConfig {
        results: results.to_path_buf(),
        run_id: RunId::new(run).unwrap(),
        test_run_id: "t".into(),
        workers: 3,
        work_mode: WorkMode::Sleep,
        visibility_timeout: Duration::from_secs(30),
        max_receive_count: 3,
        stall_timeout: Duration::from_secs(30),
        grace: Duration::from_secs(5),
    }
}

/// Writes the aircraft run's inputs into the results store, as `dagbench run` does.
async fn prepare_aircraft(results: &std::path::Path, run: &str, seqs: &[Sequence]) -> JobGraph {
    let built = build_aircraft_graph(
        seqs,
        &AircraftRun {
            run_id: RunId::new(run).unwrap(),
            run_seed: SEED,
            samples: SAMPLES,
            crew_probability: None,
        },
    );
    let store = RunStore::local(results).unwrap();
    for (job, details) in &built.details {
        store
            .put_job_details(&RunId::new(run).unwrap(), job, details)
            .await
            .unwrap();
    }
    built.graph
}

fn manifest(run: &str) -> Manifest {
    Manifest {
        run_id: RunId::new(run).unwrap(),
        test_run_id: "t".into(),
        created_at: "2026-11-28T00:00:00.000Z".into(),
        dagbench_version: "test".into(),
        workload: "aircraft".into(),
        seed: Some(SEED),
        samples: Some(SAMPLES),
        sequences: None,
        crew: false,
        graph: "graph.json".into(),
        source_graph: None,
        workers: 3,
        work_mode: "sleep".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aircraft_run_matches_the_reference() {
    let dir = common::Scratch::new("run-ok");
    let seqs = sequences(12);
    let graph = Arc::new(prepare_aircraft(&dir.0, "ok", &seqs).await);
    let (_stop, stop_rx) = watch::channel(false);
    let run = run_local(
        Arc::clone(&graph),
        &config(&dir.0, "ok"),
        false,
        stop_rx,
        &mut |_| {},
    )
    .await
    .unwrap();
    let report = &run.report;
    assert_eq!(report.status, RunStatus::Completed);
    assert_eq!(report.counts.completed as usize, graph.len());
    assert!(report.makespan_ms >= 0.0 && report.throughput_jobs_per_s > 0.0);
    assert_eq!(report.stages.processing.count as usize, graph.len());
    assert_eq!(report.jobs.as_ref().unwrap().len(), graph.len());
    assert_eq!(
        report.critical_path.last().map(String::as_str),
        Some("merge")
    );
    let domain = report
        .domain
        .as_ref()
        .expect("aircraft runs report their results");
    assert_eq!(domain.sequences, 12);
    let store = RunStore::local(&dir.0).unwrap();
    let merged = store
        .get_merged_percentiles(&RunId::new("ok").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(serde_json::to_string(&merged).unwrap(), reference(&seqs));
    // The report on disk is the one returned.
    let on_disk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&run.report_path).unwrap()).unwrap();
    assert_eq!(on_disk["status"], "completed");
    assert_eq!(
        on_disk["counts"]["completed"].as_u64().unwrap() as usize,
        graph.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_job_blocks_exactly_its_transitive_dependents() {
    let dir = common::Scratch::new("run-fail");
    // root → bad → {c1 → c2}, root → fine; bad's input_key does not exist.
    let mut b = GraphBuilder::new();
    let none: [&str; 0] = [];
    b.add_job("root", none, JobAttrs::default()).unwrap();
    b.add_job(
        "bad",
        ["root"],
        JobAttrs {
            input_key: Some("fail/jobs/missing.json"),
            ..JobAttrs::default()
        },
    )
    .unwrap();
    b.add_job("c1", ["bad"], JobAttrs::default()).unwrap();
    b.add_job("c2", ["c1", "root"], JobAttrs::default())
        .unwrap();
    b.add_job("fine", ["root"], JobAttrs::default()).unwrap();
    b.add_job("after-fine", ["fine"], JobAttrs::default())
        .unwrap();
    let graph = Arc::new(b.finish().unwrap());
    let (_stop, stop_rx) = watch::channel(false);
    let run = run_local(
        Arc::clone(&graph),
        &config(&dir.0, "fail"),
        false,
        stop_rx,
        &mut |_| {},
    )
    .await
    .unwrap();
    let r = &run.report;
    assert_eq!(r.status, RunStatus::Failed);
    assert_eq!(
        (r.counts.completed, r.counts.failed, r.counts.blocked),
        (3, 1, 2)
    );
    assert_eq!(r.failed.len(), 1);
    assert_eq!(r.failed[0].job_id, "bad");
    assert!(
        r.failed[0].reason.contains("does not exist"),
        "{}",
        r.failed[0].reason
    );
}

#[tokio::test(start_paused = true)]
async fn a_run_with_nothing_moving_ends_as_stalled() {
    let graph = {
        let mut b = GraphBuilder::new();
        let none: [&str; 0] = [];
        b.add_job("only", none, JobAttrs::default()).unwrap();
        Arc::new(b.finish().unwrap())
    };
    let queues = Queues {
        incoming: Arc::new(MemoryQueue::new("in", Duration::from_secs(30))),
        outgoing: Arc::new(MemoryQueue::new("out", Duration::from_secs(30))),
        dlq: Arc::new(MemoryQueue::new("dlq", Duration::from_secs(30))),
    };
    let mut cfg = DriverConfig::new(RunId::new("stall").unwrap());
    cfg.stall_timeout = Duration::from_secs(90);
    let mut scheduler = Scheduler::new(graph);
    let (_stop, stop_rx) = watch::channel(false);
    // No worker: the job is dispatched and never completes.
    let outcome = drive(
        &mut scheduler,
        &queues,
        Arc::new(SystemClock),
        &cfg,
        stop_rx,
        &mut |_| {},
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Stalled);
    assert_eq!(outcome.progress.dispatched, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupt_then_resume_recomputes_nothing() {
    let dir = common::Scratch::new("run-resume");
    let seqs = sequences(15);
    // Some simulated work, so the run lasts long enough to interrupt.
    let graph = with_work(&prepare_aircraft(&dir.0, "res", &seqs).await, 60);
    write_run_files(&dir.0.join("res"), &manifest("res"), &graph).unwrap();
    let graph = Arc::new(graph);
    let cfg = config(&dir.0, "res");
    let (stop, stop_rx) = watch::channel(false);
    let half = graph.len() as u64 / 2;
    let first = run_local(Arc::clone(&graph), &cfg, false, stop_rx, &mut |p| {
        if p.completed >= half {
            let _ = stop.send(true);
        }
    })
    .await
    .unwrap();
    assert_eq!(first.report.status, RunStatus::Interrupted);
    let done_before = first.report.counts.completed;
    assert!(
        done_before >= half && done_before < graph.len() as u64,
        "{done_before}"
    );

    let (_stop, stop_rx) = watch::channel(false);
    let second = run_local(Arc::clone(&graph), &cfg, true, stop_rx, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(second.report.status, RunStatus::Completed);
    assert_eq!(second.restored, done_before);
    assert_eq!(second.report.counts.completed as usize, graph.len());
    // No job completed in the first part ran again.
    let ledger = SqliteLedger::open(&dir.0.join("res/ledger.sqlite")).unwrap();
    let run_id = RunId::new("res").unwrap();
    let mut attempts = 0;
    for job in ledger.completed_jobs(&run_id).await.unwrap() {
        let row = ledger.get(&run_id, &job).await.unwrap().unwrap();
        assert_eq!(row.status, LedgerStatus::Completed);
        attempts += row.attempts;
    }
    assert_eq!(
        attempts as usize,
        graph.len(),
        "every job ran exactly once across both parts"
    );
    let merged = RunStore::local(&dir.0)
        .unwrap()
        .get_merged_percentiles(&run_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(serde_json::to_string(&merged).unwrap(), reference(&seqs));
}

/// A queue that delivers some messages twice (a duplicate send).
#[derive(Debug)]
struct Duplicating {
    inner: Arc<MemoryQueue>,
    every: usize,
    sent: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl JobQueue for Duplicating {
    async fn send_batch(
        &self,
        bodies: &[String],
    ) -> Result<Vec<Result<(), QueueError>>, QueueError> {
        let result = self.inner.send_batch(bodies).await?;
        for body in bodies {
            if self
                .sent
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                .is_multiple_of(self.every)
            {
                self.inner.send_batch(std::slice::from_ref(body)).await?;
            }
        }
        Ok(result)
    }
    async fn receive(
        &self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        self.inner.receive(max, wait).await
    }
    async fn delete_batch(
        &self,
        receipts: &[String],
    ) -> Result<Vec<Result<(), QueueError>>, QueueError> {
        self.inner.delete_batch(receipts).await
    }
    async fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), QueueError> {
        self.inner.change_visibility(receipt, timeout).await
    }
    async fn approximate_depth(&self) -> Result<QueueDepth, QueueError> {
        self.inner.approximate_depth().await
    }
}

/// The same graph with simulated work on every fourth job, so deliveries
/// outlive a short visibility timeout.
fn with_work(graph: &JobGraph, ms: u32) -> JobGraph {
    let (start, deps) = graph.dependencies_csr();
    let mut b = GraphBuilder::new();
    for job in graph.jobs() {
        let j = job.index.get();
        let names: Vec<&str> = deps[start[j] as usize..start[j + 1] as usize]
            .iter()
            .map(|&d| graph.id(dagbench_core::JobIndex(d)))
            .collect();
        let attrs = JobAttrs {
            work_duration_ms: if j.is_multiple_of(4) { ms } else { 0 },
            data_size_kb: 1,
            input_key: job.input_key,
            kind: job.kind,
        };
        b.add_job(job.job_id, names, attrs).unwrap();
    }
    b.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_changes_nothing_in_the_results() {
    let dir = common::Scratch::new("chaos");
    let seqs = sequences(10);
    let run = "chaos";
    let run_id = RunId::new(run).unwrap();
    let graph = Arc::new(with_work(&prepare_aircraft(&dir.0, run, &seqs).await, 200));
    let store = RunStore::local(&dir.0).unwrap();
    let ledger = Arc::new(SqliteLedger::open(&dir.0.join("chaos.sqlite")).unwrap());
    // Visibility (150 ms) shorter than the slow jobs (200 ms): they are
    // redelivered mid-job and processed twice, concurrently.
    let visibility = Duration::from_millis(150);
    let dlq = Arc::new(MemoryQueue::new("dlq", visibility));
    let raw_incoming =
        Arc::new(MemoryQueue::new("in", visibility).with_dead_letter_queue(dlq.clone(), 50));
    let incoming: Arc<dyn JobQueue> = Arc::new(Duplicating {
        inner: raw_incoming,
        every: 4,
        sent: Default::default(),
    });
    let outgoing = Arc::new(MemoryQueue::new("out", Duration::from_secs(30)));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let metrics = Arc::new(dagbench_local::MemoryMetrics::new());
    let make_processor = {
        let (store, ledger, metrics, clock, outgoing, run_id) = (
            store.clone(),
            ledger.clone(),
            metrics.clone(),
            Arc::clone(&clock),
            outgoing.clone(),
            run_id.clone(),
        );
        move |w: usize| {
            Arc::new(dagbench_runtime::processor::Processor {
                store: store.clone(),
                ledger: ledger.clone(),
                metrics: metrics.clone(),
                clock: Arc::clone(&clock),
                completions: outgoing.clone(),
                config: dagbench_runtime::processor::ProcessorConfig {
                    test_run_id: "chaos".into(),
                    run_id: run_id.clone(),
                    worker: format!("w{w}"),
                    limits: Default::default(),
                    work_mode: WorkMode::Sleep,
                },
            })
        }
    };
    let (stop_workers, workers_rx) = watch::channel(false);
    let spawn = {
        let (incoming, dlq) = (Arc::clone(&incoming), dlq.clone());
        move |w: usize| {
            tokio::spawn(dagbench_runtime::worker::run_worker(
                make_processor(w),
                Arc::clone(&incoming),
                Some(dlq.clone() as Arc<dyn JobQueue>),
                dagbench_runtime::worker::WorkerConfig {
                    batch_size: 2,
                    wait: Duration::from_millis(50),
                    ..Default::default()
                },
                workers_rx.clone(),
            ))
        }
    };
    let workers: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<_>>>> =
        Arc::new(std::sync::Mutex::new((0..4).map(spawn.clone()).collect()));
    // The killer: every 250 ms, abort a worker mid-whatever and start a new one.
    let killer = {
        let workers = Arc::clone(&workers);
        let spawn = spawn.clone();
        tokio::spawn(async move {
            let mut next = 4;
            let mut killed = 0;
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let mut ws = workers.lock().unwrap();
                let victim = next % ws.len();
                ws[victim].abort();
                ws[victim] = spawn(next);
                next += 1;
                killed += 1;
                if killed > 1000 {
                    break;
                }
            }
        })
    };
    let queues = Queues {
        incoming: Arc::clone(&incoming),
        outgoing: outgoing.clone(),
        dlq: dlq.clone(),
    };
    let mut scheduler = Scheduler::new(Arc::clone(&graph));
    let mut cfg = DriverConfig::new(run_id.clone());
    cfg.stall_timeout = Duration::from_secs(60);
    let (_stop, stop_rx) = watch::channel(false);
    let outcome = drive(
        &mut scheduler,
        &queues,
        Arc::clone(&clock),
        &cfg,
        stop_rx,
        &mut |_| {},
    )
    .await;
    killer.abort();
    let _ = stop_workers.send(true);
    assert_eq!(
        outcome.status,
        RunStatus::Completed,
        "{:?}",
        outcome.progress
    );
    assert!(
        outcome.anomalies.duplicate_completions > 0,
        "duplicates really happened: {:?}",
        outcome.anomalies
    );
    // Every delays file equals the reference computation; merged percentiles too.
    for s in &seqs {
        let legs = compute_sequence(sequence_key(SEED, s.sequence_id), s, SAMPLES).unwrap();
        for (i, leg) in legs.iter().enumerate() {
            let job = dagbench_flight::aircraft::leg_job_id(s.sequence_id, i as u32 + 1);
            let stored = store.get_delays(&run_id, &job).await.unwrap().unwrap();
            assert_eq!(&stored.delays, leg, "{job}");
        }
    }
    let merged = store
        .get_merged_percentiles(&run_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(serde_json::to_string(&merged).unwrap(), reference(&seqs));
    // One ledger completion per job.
    assert_eq!(
        ledger.completed_jobs(&run_id).await.unwrap().len(),
        graph.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_never_succeeds_goes_to_the_dlq_and_blocks_its_dependents() {
    use dagbench_flight::aircraft::{JobDetails, LegJob};
    let dir = common::Scratch::new("run-dlq");
    let run_id = RunId::new("dlq").unwrap();
    // A leg whose previous leg's delays never appear: a transient error on
    // every delivery, until the queue gives up on it.
    let stuck = JobDetails::Leg(LegJob {
        run_id: run_id.clone(),
        run_seed: 1,
        samples: 10,
        sequence_id: dagbench_core::SequenceId(1),
        leg: 2,
        flight_no: "DB0102".into(),
        origin: "LHR".into(),
        destination: "CDG".into(),
        takeoff: 300,
        landing: 360,
        previous_landing: Some(200),
        previous_job: Some(dagbench_core::ids::JobId::new("never").unwrap()),
        feeders: vec![],
    });
    let store = RunStore::local(&dir.0).unwrap();
    store
        .put_job_details(
            &run_id,
            &dagbench_core::ids::JobId::new("stuck").unwrap(),
            &stuck,
        )
        .await
        .unwrap();
    let mut b = GraphBuilder::new();
    let none: [&str; 0] = [];
    b.add_job(
        "stuck",
        none,
        JobAttrs {
            input_key: Some("dlq/jobs/stuck.json"),
            ..JobAttrs::default()
        },
    )
    .unwrap();
    b.add_job("after", ["stuck"], JobAttrs::default()).unwrap();
    b.add_job("other", none, JobAttrs::default()).unwrap();
    let graph = Arc::new(b.finish().unwrap());
    let mut cfg = config(&dir.0, "dlq");
    cfg.visibility_timeout = Duration::from_millis(100);
    cfg.max_receive_count = 2;
    let (_stop, stop_rx) = watch::channel(false);
    let run = run_local(graph, &cfg, false, stop_rx, &mut |_| {})
        .await
        .unwrap();
    let r = &run.report;
    assert_eq!(r.status, RunStatus::Failed);
    assert_eq!(
        (r.counts.completed, r.counts.failed, r.counts.blocked),
        (1, 1, 1)
    );
    assert_eq!(r.failed[0].job_id, "stuck");
    assert!(
        r.failed[0].reason.contains("dead-letter queue"),
        "{}",
        r.failed[0].reason
    );
}
