//! The scheduler driver over the embedded adapters, below the run
//! library: a stalled run ends instead of hanging, and chaos — workers
//! killed mid-job, duplicated messages, visibility timeouts expiring
//! mid-job — changes nothing in the results.

use std::sync::Arc;
use std::time::Duration;

use dagbench_core::Scheduler;
use dagbench_core::graph::{GraphBuilder, JobAttrs};
use dagbench_core::ids::RunId;
use dagbench_flight::model::{compute_sequence, sequence_key};
use dagbench_local::{MemoryQueue, SqliteLedger};
use dagbench_runtime::driver::{DriverConfig, Queues, RunStatus, drive};
use dagbench_runtime::ports::{
    Clock, JobLedger, JobQueue, QueueDepth, QueueError, ReceivedMessage, SystemClock,
};
use dagbench_runtime::processor::WorkMode;
use dagbench_store::RunStore;
use dagbench_testkit::Aircraft;
use tokio::sync::watch;

const SEED: u64 = 21;
const SAMPLES: u32 = 100;

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
    let (_stop, stop_rx) = watch::channel(false);
    // No worker: the job is dispatched and never completes.
    let outcome = drive(
        Scheduler::new(graph),
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
async fn chaos_changes_nothing_in_the_results() {
    let dir = dagbench_testkit::scratch("chaos");
    let aircraft = Aircraft::new("chaos", 10, SEED, SAMPLES);
    let run_id = aircraft.run_id.clone();
    let store = RunStore::local(dir.path()).unwrap();
    aircraft.seed(&store).await;
    let graph = Arc::new(dagbench_testkit::fixtures::with_work(
        &aircraft.graph(),
        200,
    ));
    let ledger = Arc::new(SqliteLedger::open(&dir.path().join("chaos.sqlite")).unwrap());
    // Visibility (150 ms) shorter than the slow jobs (200 ms): they are
    // redelivered mid-job and processed twice, concurrently.
    let visibility = Duration::from_millis(150);
    let dlq = Arc::new(MemoryQueue::new("dlq", visibility));
    let raw_incoming =
        Arc::new(MemoryQueue::new("in", visibility).with_dead_letter_queue(dlq.clone(), 50));
    let incoming: Arc<dyn JobQueue> = Arc::new(dagbench_testkit::fixtures::Duplicating::new(
        raw_incoming,
        4,
    ));
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
                callbacks: None,
                config: dagbench_runtime::processor::ProcessorConfig {
                    test_run_id: "chaos".into(),
                    run_id: run_id.clone(),
                    worker: format!("w{w}"),
                    limits: Default::default(),
                    work_mode: WorkMode::Sleep,
                    max_attempts: None,
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
                    // As the queue's: a dead worker's claims expire with its
                    // deliveries.
                    visibility,
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
    let mut cfg = DriverConfig::new(run_id.clone());
    cfg.stall_timeout = Duration::from_secs(60);
    let (_stop, stop_rx) = watch::channel(false);
    let outcome = drive(
        Scheduler::new(Arc::clone(&graph)),
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
    for s in &aircraft.sequences {
        let legs = compute_sequence(sequence_key(SEED, s.sequence_id), s, SAMPLES).unwrap();
        for (i, leg) in legs.iter().enumerate() {
            let job = dagbench_flight::aircraft::leg_job_id(s.sequence_id, i as u32 + 1);
            let stored = store.get_delays(&run_id, &job).await.unwrap().unwrap();
            assert_eq!(&stored.delays, leg, "{job}");
        }
    }
    aircraft.assert_matches_reference(&store).await;
    // One ledger completion per job.
    assert_eq!(
        ledger.completed_jobs(&run_id).await.unwrap().len(),
        graph.len()
    );
}

/// A queue that refuses every third entry it is sent, or every call of a
/// kind outright.
#[derive(Debug)]
struct Refusing {
    inner: Arc<MemoryQueue>,
    sent: std::sync::atomic::AtomicUsize,
    /// Receives fail with this, when set.
    receive_error: Option<QueueError>,
}

#[async_trait::async_trait]
impl JobQueue for Refusing {
    async fn send_batch(
        &self,
        bodies: &[String],
    ) -> Result<Vec<Result<(), QueueError>>, QueueError> {
        let mut results = Vec::with_capacity(bodies.len());
        for body in bodies {
            let n = self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if n % 3 == 2 {
                results.push(Err(QueueError::Unavailable("throttled".into())));
            } else {
                results.extend(self.inner.send_batch(std::slice::from_ref(body)).await?);
            }
        }
        Ok(results)
    }
    async fn receive(
        &self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        match &self.receive_error {
            Some(e) => Err(e.clone()),
            None => self.inner.receive(max, wait).await,
        }
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

/// Echoes every job message of `incoming` as its completion on `outgoing`.
async fn echo(incoming: Arc<MemoryQueue>, outgoing: Arc<MemoryQueue>) {
    use dagbench_core::key::ObjectKey;
    use dagbench_core::message::{Completion, JobMessage, Limits, Outcome};
    loop {
        let got = incoming.receive(10, Duration::from_secs(1)).await.unwrap();
        for m in got {
            let job = JobMessage::parse(m.body.as_bytes(), &Limits::default()).unwrap();
            let now = SystemClock.now();
            let done = Completion {
                outcome: Outcome::Completed {
                    output_key: ObjectKey::new("output/x.json").unwrap(),
                },
                job_id: job.job_id,
                processing_time_ms: 0.0,
                completed_at: now,
                test_run_id: "t".into(),
                started_at: Some(now),
                worker: None,
                attempt: Some(m.receive_count),
                run_id: job.run_id,
                fatal: false,
                calls: dagbench_core::calls::Calls::default(),
                released_at: None,
            };
            outgoing.send_batch(&[done.to_json()]).await.unwrap();
            incoming.delete_batch(&[m.receipt]).await.unwrap();
        }
    }
}

fn chain(n: usize) -> Arc<dagbench_core::JobGraph> {
    let mut b = GraphBuilder::new();
    let none: [&str; 0] = [];
    for i in 0..n {
        let deps: Vec<String> = if i % 2 == 1 {
            vec![format!("j{}", i - 1)]
        } else {
            vec![]
        };
        if deps.is_empty() {
            b.add_job(&format!("j{i}"), none, JobAttrs::default())
                .unwrap();
        } else {
            b.add_job(&format!("j{i}"), &deps, JobAttrs::default())
                .unwrap();
        }
    }
    Arc::new(b.finish().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_that_pushes_back_still_gets_every_job() {
    let raw_in = Arc::new(MemoryQueue::new("in", Duration::from_secs(30)));
    let out = Arc::new(MemoryQueue::new("out", Duration::from_secs(30)));
    let echoing = tokio::spawn(echo(raw_in.clone(), out.clone()));
    let queues = Queues {
        incoming: Arc::new(Refusing {
            inner: raw_in,
            sent: Default::default(),
            receive_error: None,
        }),
        outgoing: out,
        dlq: Arc::new(MemoryQueue::new("dlq", Duration::from_secs(30))),
    };
    let mut cfg = DriverConfig::new(RunId::new("pushback").unwrap());
    cfg.stall_timeout = Duration::from_secs(30);
    cfg.send_backoff = Duration::from_millis(5);
    let (_stop, stop_rx) = watch::channel(false);
    let outcome = drive(
        Scheduler::new(chain(200)),
        &queues,
        Arc::new(SystemClock),
        &cfg,
        stop_rx,
        &mut |_| {},
    )
    .await;
    echoing.abort();
    assert_eq!(
        outcome.status,
        RunStatus::Completed,
        "{:?}",
        outcome.progress
    );
    assert!(
        outcome.anomalies.send_failures > 0,
        "{:?}",
        outcome.anomalies
    );
    assert_eq!(outcome.error, None, "a run that completed reports no error");
}

#[tokio::test(start_paused = true)]
async fn an_unusable_queue_ends_the_run_at_once_naming_it() {
    let raw_in = Arc::new(MemoryQueue::new("in", Duration::from_secs(30)));
    let out = Arc::new(MemoryQueue::new("out", Duration::from_secs(30)));
    let queues = Queues {
        incoming: raw_in,
        outgoing: Arc::new(Refusing {
            inner: out,
            sent: Default::default(),
            receive_error: Some(QueueError::Unusable(
                "AWS.SimpleQueueService.NonExistentQueue: the queue does not exist".into(),
            )),
        }),
        dlq: Arc::new(MemoryQueue::new("dlq", Duration::from_secs(30))),
    };
    let cfg = DriverConfig::new(RunId::new("broken").unwrap());
    let (_stop, stop_rx) = watch::channel(false);
    let started = tokio::time::Instant::now();
    let outcome = drive(
        Scheduler::new(chain(4)),
        &queues,
        Arc::new(SystemClock),
        &cfg,
        stop_rx,
        &mut |_| {},
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Aborted);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "not a stall timeout later: {:?}",
        started.elapsed()
    );
    let error = outcome.error.unwrap();
    assert!(
        error.starts_with("receive from the outgoing queue failed: queue unusable: AWS.SimpleQueueService.NonExistentQueue"),
        "{error}"
    );
}

/// A processor that cannot write (a full disk) stops the run at once with
/// the OS error, and the ledger keeps every job resumable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_the_run_at_once_and_fails_no_job() {
    use dagbench_local::cluster::Shared;
    use dagbench_local::{ClusterConfig, LocalCluster, MemoryMetrics};
    let dir = dagbench_testkit::scratch("full-disk-run");
    let ledger = Arc::new(SqliteLedger::open(&dir.path().join("ledger.sqlite")).unwrap());
    let run_id = RunId::new("full").unwrap();
    let cluster = LocalCluster::start(
        &ClusterConfig {
            run_id: run_id.clone(),
            test_run_id: "t".into(),
            workers: 2,
            work_mode: WorkMode::Sleep,
            visibility_timeout: Duration::from_secs(30),
            max_receive_count: 3,
            grace: Duration::from_secs(1),
        },
        &Shared {
            store: RunStore::new(Arc::new(dagbench_testkit::fixtures::FullDisk::default())),
            ledger: ledger.clone(),
            metrics: Arc::new(MemoryMetrics::new()),
            clock: Arc::new(SystemClock),
        },
    );
    let mut cfg = DriverConfig::new(run_id.clone());
    cfg.stall_timeout = Duration::from_secs(60);
    let (_stop, stop_rx) = watch::channel(false);
    let outcome = drive(
        Scheduler::new(chain(40)),
        cluster.queues(),
        Arc::new(SystemClock),
        &cfg,
        stop_rx,
        &mut |_| {},
    )
    .await;
    cluster.shutdown().await;
    assert_eq!(outcome.status, RunStatus::Aborted, "{:?}", outcome.progress);
    assert_eq!(outcome.progress.failed, 0, "no job is blamed for the disk");
    let error = outcome.error.unwrap();
    assert!(error.contains("No space left on device"), "{error}");
    assert!(
        ledger.completed_jobs(&run_id).await.unwrap().is_empty(),
        "nothing recorded as done"
    );
}
