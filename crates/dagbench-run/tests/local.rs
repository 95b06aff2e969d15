//! Whole local runs through the run library: results equal to a reference
//! computed in-process, failures blocking exactly their dependents, a job
//! that never succeeds dead-lettered, interrupt and resume without
//! recomputation, and the run's files.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use dagbench_core::graph::{GraphBuilder, JobAttrs};
use dagbench_core::ids::RunId;
use dagbench_core::{JobGraph, Scenario};
use dagbench_local::SqliteLedger;
use dagbench_run::{AircraftWorkload, Finished, RunRequest, Settings, Start, Workload};
use dagbench_runtime::driver::RunStatus;
use dagbench_runtime::ports::{JobLedger, LedgerStatus};
use dagbench_runtime::processor::WorkMode;
use dagbench_store::RunStore;
use dagbench_testkit::Aircraft;
use tokio::sync::watch;

const SEED: u64 = 21;
const SAMPLES: u32 = 100;

fn options() -> Settings {
    Settings {
        workers: Some(3),
        work_mode: Some(WorkMode::Sleep),
        visibility_timeout: Some(Duration::from_secs(30)),
        max_receive_count: Some(3),
        ..Settings::default()
    }
}

fn request(results: &Path, run: &str, workload: Workload, settings: Settings) -> RunRequest {
    let mut r = RunRequest::new(results, workload.clone());
    r.start = Start::New {
        run_id: Some(RunId::new(run).unwrap()),
        test_run_id: "t".into(),
        workload,
    };
    r.settings = settings;
    r.stall_timeout = Duration::from_secs(30);
    r
}

fn aircraft(sequences: u32) -> Workload {
    Workload::Aircraft(AircraftWorkload {
        sequences,
        samples: SAMPLES,
        seed: SEED,
        ..AircraftWorkload::default()
    })
}

async fn run(request: RunRequest) -> Finished {
    let (_stop, stop_rx) = watch::channel(false);
    dagbench_run::prepare(request)
        .await
        .unwrap()
        .ready()
        .unwrap()
        .execute(stop_rx, &mut |_| {})
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aircraft_run_matches_the_reference() {
    let dir = dagbench_testkit::scratch("run-ok");
    let reference = Aircraft::new("ok", 12, SEED, SAMPLES);
    let run = run(request(dir.path(), "ok", aircraft(12), options())).await;
    let report = &run.report;
    let jobs = reference.graph().len();
    assert_eq!(report.status, RunStatus::Completed);
    assert_eq!((report.scenario, report.workers), (Scenario::Local, 3));
    assert_eq!(report.counts.completed as usize, jobs);
    assert!(report.makespan_ms >= 0.0 && report.throughput_jobs_per_s > 0.0);
    assert_eq!(report.stages.processing.count as usize, jobs);
    assert_eq!(report.jobs.as_ref().unwrap().len(), jobs);
    assert_eq!(
        report.critical_path.last().map(String::as_str),
        Some("merge")
    );
    let domain = report
        .domain
        .as_ref()
        .expect("aircraft runs report their results");
    assert_eq!(domain.sequences, 12);
    reference
        .assert_matches_reference(&RunStore::local(dir.path()).unwrap())
        .await;
    // The files of the run: the report on disk is the one returned, the
    // manifest says how to reproduce it, the graph is the one run.
    let on_disk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&run.report_path).unwrap()).unwrap();
    assert_eq!(on_disk["status"], "completed");
    assert_eq!(
        on_disk["counts"]["completed"].as_u64().unwrap() as usize,
        jobs
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("ok/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(
        (
            &manifest["workload"],
            &manifest["seed"],
            &manifest["samples"],
            &manifest["scenario"]
        ),
        (
            &serde_json::json!("aircraft"),
            &serde_json::json!(SEED),
            &serde_json::json!(SAMPLES),
            &serde_json::json!("local")
        )
    );
    let graph =
        JobGraph::from_json_slice(&std::fs::read(dir.path().join("ok/graph.json")).unwrap())
            .unwrap();
    assert_eq!(graph.len(), jobs);
    // The ledger file alone holds every row: copied elsewhere, it reads.
    assert!(
        std::fs::metadata(dir.path().join("ok/ledger.sqlite-wal")).map_or(true, |m| m.len() == 0),
        "the WAL was checkpointed into ledger.sqlite"
    );
    let copy = dagbench_testkit::scratch("ledger-copy");
    std::fs::copy(
        dir.path().join("ok/ledger.sqlite"),
        copy.path().join("ledger.sqlite"),
    )
    .unwrap();
    let copied = SqliteLedger::open(&copy.path().join("ledger.sqlite")).unwrap();
    assert_eq!(
        copied
            .completed_jobs(&RunId::new("ok").unwrap())
            .await
            .unwrap()
            .len(),
        jobs
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_id_that_exists_is_refused_before_anything_is_written() {
    let dir = dagbench_testkit::scratch("run-twice");
    run(request(dir.path(), "twice", aircraft(2), options())).await;
    let before = std::fs::read(dir.path().join("twice/report.json")).unwrap();
    let err = dagbench_run::prepare(request(dir.path(), "twice", aircraft(3), options()))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("run twice already exists"), "{err}");
    assert_eq!(
        std::fs::read(dir.path().join("twice/report.json")).unwrap(),
        before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_job_blocks_exactly_its_transitive_dependents() {
    let dir = dagbench_testkit::scratch("run-fail");
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
    let run = run(request(
        dir.path(),
        "fail",
        Workload::Graph(graph),
        options(),
    ))
    .await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupt_then_resume_recomputes_nothing() {
    let dir = dagbench_testkit::scratch("run-resume");
    let reference = Aircraft::new("res", 15, SEED, SAMPLES);
    // Some simulated work, so the run lasts long enough to interrupt.
    let store = RunStore::local(dir.path()).unwrap();
    reference.seed(&store).await;
    let graph = Arc::new(dagbench_testkit::fixtures::with_work(
        &reference.graph(),
        60,
    ));
    let (stop, stop_rx) = watch::channel(false);
    let half = graph.len() as u64 / 2;
    let first = dagbench_run::prepare(request(
        dir.path(),
        "res",
        Workload::Graph(Arc::clone(&graph)),
        options(),
    ))
    .await
    .unwrap()
    .ready()
    .unwrap()
    .execute(stop_rx, &mut |p| {
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

    let mut resume = request(dir.path(), "res", aircraft(1), Settings::default());
    resume.start = Start::Resume {
        run_id: RunId::new("res").unwrap(),
    };
    // While the first session holds the run, a resume is refused at once.
    let busy = dagbench_run::prepare(resume.clone())
        .await
        .unwrap_err()
        .to_string();
    assert!(busy.starts_with("run res is in use by pid "), "{busy}");
    drop(first);
    // A resume that asks for other settings than the run's own is refused.
    let mut other = resume.clone();
    other.settings.workers = Some(7);
    let err = dagbench_run::prepare(other).await.unwrap_err().to_string();
    assert!(err.contains("--workers 7 (the run has 3)"), "{err}");
    let second = run(resume.clone()).await;
    assert_eq!(second.report.status, RunStatus::Completed);
    assert_eq!(second.restored, done_before);
    assert_eq!(second.report.counts.completed as usize, graph.len());
    // No job completed in the first part ran again.
    let ledger = SqliteLedger::open(&dir.path().join("res/ledger.sqlite")).unwrap();
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
    reference.assert_matches_reference(&store).await;
    // The report accounts for both sessions: this one's throughput counts
    // only the jobs it processed, and efficiency never exceeds 1.
    let r = &second.report;
    assert_eq!(r.restored, done_before);
    assert_eq!(r.completed_in_session(), graph.len() as u64 - done_before);
    assert_eq!(r.sessions[0].completed, done_before);
    assert_eq!(
        r.sessions.iter().map(|s| s.completed).sum::<u64>(),
        r.restored,
        "the sessions add up to what was restored"
    );
    let expected = r.completed_in_session() as f64 / (r.makespan_ms / 1e3);
    assert!((r.throughput_jobs_per_s - expected).abs() < 1e-6);
    assert!(
        r.efficiency.is_some_and(|e| e > 0.0 && e <= 1.0),
        "{:?}",
        r.efficiency
    );
    // Resuming a completed run changes nothing.
    let report_before = std::fs::read(&second.report_path).unwrap();
    drop(second);
    match dagbench_run::prepare(resume).await.unwrap() {
        dagbench_run::Preparation::AlreadyCompleted { run_id, .. } => {
            assert_eq!(run_id.as_str(), "res");
        }
        dagbench_run::Preparation::Ready(_) => panic!("a completed run is not run again"),
    }
    assert_eq!(
        std::fs::read(dir.path().join("res/report.json")).unwrap(),
        report_before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_never_succeeds_goes_to_the_dlq_and_blocks_its_dependents() {
    use dagbench_flight::aircraft::{JobDetails, LegJob};
    let dir = dagbench_testkit::scratch("run-dlq");
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
    RunStore::local(dir.path())
        .unwrap()
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
    let run = run(request(
        dir.path(),
        "dlq",
        Workload::Graph(graph),
        Settings {
            visibility_timeout: Some(Duration::from_millis(100)),
            max_receive_count: Some(2),
            ..options()
        },
    ))
    .await;
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

fn files_under(dir: &Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .map(|e| e.unwrap().path())
            .map(|p| if p.is_dir() { files_under(&p) } else { 1 })
            .sum()
    })
}

/// The run counts its billed calls where they are made: its uploads, the
/// scheduler's queue calls, and what each processor reports with its
/// completions; the estimate prices those counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runs_billed_calls_are_counted_where_they_are_made() {
    let dir = dagbench_testkit::scratch("run-calls");
    let run = run(request(dir.path(), "calls", aircraft(6), options())).await;
    let report = &run.report;
    assert_eq!(report.status, RunStatus::Completed);
    let jobs = report.counts.completed;
    let calls = report.calls.expect("a run counts its calls");
    // Every input object the run uploaded before dispatch, one PUT each.
    let inputs = files_under(&dir.path().join("calls/sequences"))
        + files_under(&dir.path().join("calls/jobs"));
    assert!(inputs > 0);
    assert_eq!(calls.setup.s3_put, inputs, "{calls:?}");
    // One completion per job (no duplicates here), each one request.
    assert_eq!(calls.processors.sqs_requests, jobs, "{calls:?}");
    // A claim and a finish per job; two metric data points per job.
    assert!(
        calls.processors.dynamodb_write_units >= 2 * jobs,
        "{calls:?}"
    );
    assert_eq!(calls.processors.metric_points, 2 * jobs, "{calls:?}");
    // Every job writes its output and reads its inputs.
    assert!(
        calls.processors.s3_put >= jobs && calls.processors.s3_get >= jobs,
        "{calls:?}"
    );
    // The scheduler sends in batches of up to ten and polls for completions.
    assert!(
        calls.scheduler.sqs_requests >= jobs.div_ceil(10),
        "{calls:?}"
    );
    assert!(calls.scheduler.sqs_polling_requests > 0, "{calls:?}");

    let measured = dagbench_report::run::measured(report);
    let table = dagbench_report::cost::PriceTable::bundled();
    let config = dagbench_infra::Config::default();
    let total = calls.total();
    for setup in [
        dagbench_report::cost::Setup::Lambda(config.lambda_setup()),
        dagbench_report::cost::Setup::Fargate(config.fargate_setup(2)),
    ] {
        let e = dagbench_report::cost::estimate(&measured, &setup, "us-east-1", &table).unwrap();
        let quantity = |item: &str| {
            e.lines
                .iter()
                .find(|l| l.item == item)
                .unwrap_or_else(|| panic!("no line {item}: {e}"))
                .quantity
        };
        assert_eq!(
            quantity("PUT and LIST (counted)"),
            (total.s3_put + total.s3_list) as f64
        );
        assert_eq!(quantity("GET (counted)"), total.s3_get as f64);
        assert_eq!(
            quantity("write request units (counted)"),
            total.dynamodb_write_units as f64
        );
        assert_eq!(
            quantity("completions and dead letters sent (counted)"),
            jobs as f64
        );
        // A local run's queue consumption is not a cloud scenario's: it
        // stays modelled, and says so.
        assert!(e.lines.iter().any(|l| l.item.contains("(modelled")), "{e}");
    }
}
