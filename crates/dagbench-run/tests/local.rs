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
use dagbench_run::{
    AircraftWorkload, Finished, LocalOptions, RunRequest, Start, TargetSpec, Workload,
};
use dagbench_runtime::driver::RunStatus;
use dagbench_runtime::ports::{JobLedger, LedgerStatus};
use dagbench_runtime::processor::WorkMode;
use dagbench_store::RunStore;
use dagbench_testkit::Aircraft;
use tokio::sync::watch;

const SEED: u64 = 21;
const SAMPLES: u32 = 100;

fn options() -> LocalOptions {
    LocalOptions {
        workers: 3,
        work_mode: WorkMode::Sleep,
        visibility_timeout: Duration::from_secs(30),
        max_receive_count: 3,
    }
}

fn request(results: &Path, run: &str, workload: Workload, options: LocalOptions) -> RunRequest {
    RunRequest {
        results: results.to_path_buf(),
        start: Start::New {
            run_id: Some(RunId::new(run).unwrap()),
            test_run_id: "t".into(),
            workload,
        },
        target: TargetSpec::Local(options),
        stall_timeout: Duration::from_secs(30),
        grace: Duration::from_secs(5),
    }
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

    let mut resume = request(dir.path(), "res", aircraft(1), options());
    resume.start = Start::Resume {
        run_id: RunId::new("res").unwrap(),
    };
    let second = run(resume).await;
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
        LocalOptions {
            visibility_timeout: Duration::from_millis(100),
            max_receive_count: 2,
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
