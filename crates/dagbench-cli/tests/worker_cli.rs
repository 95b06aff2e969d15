//! Scenario 2 on the AWS emulator: real `dagbench worker` processes polling
//! moto's SQS, writing to its S3 and DynamoDB, driven by the scheduler
//! driver; poison dead-lettered at once with its reason; SIGTERM releasing
//! the job in hand.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dagbench_aws::{DynamoLedger, SqsQueue};
use dagbench_core::Scheduler;
use dagbench_core::ids::RunId;
use dagbench_runtime::driver::{DriverConfig, RunStatus, drive};
use dagbench_runtime::ports::{JobLedger, JobQueue, SystemClock};
use dagbench_testkit::Aircraft;
use dagbench_testkit::moto::{Stack, moto};

fn worker(s: &Stack, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_dagbench"))
        .arg("worker")
        .args(extra)
        .envs(s.process_env("s2-test"))
        .env("BATCH_SIZE", "2")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dagbench worker starts")
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    terminate_all(std::slice::from_mut(child)).remove(0)
}

/// SIGTERM to every worker at once, then their exit statuses: each waits
/// for its open long polls to return (up to 20 s), so one at a time would
/// add those waits up.
fn terminate_all(children: &mut [Child]) -> Vec<std::process::ExitStatus> {
    for child in children.iter() {
        let ok = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }
    let started = Instant::now();
    children
        .iter_mut()
        .map(|child| {
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    return status;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "a worker did not stop after SIGTERM"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_run_an_aircraft_graph_with_results_equal_to_local() {
    let Some(m) = moto() else { return };
    let s = Stack::create(m, 30).await;
    let aircraft = Aircraft::new("s2-e2e", 4, 5, 64);
    let store = s.store();
    aircraft.seed(&store).await;
    // Poison first: dead-lettered at once, with the reason attached.
    let incoming = SqsQueue::new(s.sqs.clone(), &s.incoming);
    incoming
        .send_batch(&["this is not json".to_owned()])
        .await
        .unwrap();
    let mut workers = vec![
        worker(&s, &["--concurrency", "2"]),
        worker(&s, &["--concurrency", "2"]),
    ];
    let started = Instant::now();
    let dead = loop {
        let got = s
            .sqs
            .receive_message()
            .queue_url(&s.dlq)
            .message_attribute_names("All")
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        if let Some(msg) = got.messages().first() {
            break msg.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "poison never reached the DLQ"
        );
    };
    assert_eq!(dead.body(), Some("this is not json"));
    let reason = dead.message_attributes().unwrap()["DeadLetterReason"]
        .string_value()
        .unwrap()
        .to_owned();
    assert!(
        reason.starts_with("message body is not valid JSON"),
        "{reason}"
    );
    s.sqs
        .delete_message()
        .queue_url(&s.dlq)
        .receipt_handle(dead.receipt_handle().unwrap())
        .send()
        .await
        .unwrap();

    let graph = Arc::new(aircraft.graph());
    let mut cfg = DriverConfig::new(aircraft.run_id.clone());
    cfg.stall_timeout = Duration::from_secs(90);
    let (_stop, stop_rx) = tokio::sync::watch::channel(false);
    let outcome = drive(
        Scheduler::new(Arc::clone(&graph)),
        &s.queues(),
        Arc::new(SystemClock),
        &cfg,
        stop_rx,
        &mut |_| {},
    )
    .await;
    assert!(
        terminate_all(&mut workers).iter().all(|s| s.success()),
        "a worker exits 0 on SIGTERM"
    );
    assert_eq!(
        outcome.status,
        RunStatus::Completed,
        "{:?}",
        outcome.progress
    );

    // The merged percentiles in S3 equal those computed locally.
    aircraft.assert_matches_reference(&store).await;
    // One ledger item per job in DynamoDB, all completed.
    let ledger = DynamoLedger::new(s.dynamodb.clone(), &s.table);
    assert_eq!(
        ledger.completed_jobs(&aircraft.run_id).await.unwrap().len(),
        graph.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_releases_the_job_in_hand() {
    let Some(m) = moto() else { return };
    let s = Stack::create(m, 30).await;
    let incoming = SqsQueue::new(s.sqs.clone(), &s.incoming);
    incoming
        .send_batch(&[r#"{"job_id": "slow", "work_duration_ms": 20000}"#.to_owned()])
        .await
        .unwrap();
    let mut w = worker(&s, &["--concurrency", "1", "--shutdown-grace", "1"]);
    // Wait until the worker holds it (invisible to us).
    let started = Instant::now();
    loop {
        let depth = incoming.approximate_depth().await.unwrap();
        if depth.in_flight == 1 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the worker never took the job"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stopped_at = Instant::now();
    assert!(terminate(&mut w).success());
    assert!(
        stopped_at.elapsed() < Duration::from_secs(15),
        "the worker stopped within its grace"
    );
    // Released at once, not after the 30 s visibility timeout.
    let got = incoming.receive(1, Duration::from_secs(5)).await.unwrap();
    assert_eq!(got.len(), 1, "the unfinished job is visible again");
    assert_eq!(got[0].receive_count, 2);
}

/// `make run-ecs` on a stack that holds litter — a completion of an
/// earlier run and a malformed message naming one of this run's jobs —
/// computes exactly what a local run computes, fails nothing, and keeps a
/// second scheduler off the stack while it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dagbench_run_scenario_2_matches_a_local_run() {
    let Some(m) = moto() else { return };
    let s = Stack::create(m, 30).await;
    let results = dagbench_testkit::scratch("s2-run");
    let results_s = results.path().display().to_string();
    let workload = ["--sequences", "6", "--samples", "64", "--seed", "9"];
    // Litter: the last completion of an earlier run, and a malformed job
    // message naming this run's merge job.
    let stale = r#"{"job_id":"merge","status":"completed","output_key":"output/merge.json","processing_time_ms":1,"completed_at":"2026-11-30T10:00:00.000Z","test_run_id":"s2-run","run_id":"cloud-earlier"}"#.to_owned();
    SqsQueue::new(s.sqs.clone(), &s.outgoing)
        .send_batch(&[stale])
        .await
        .unwrap();
    SqsQueue::new(s.sqs.clone(), &s.incoming)
        .send_batch(&[r#"{"job_id":"merge","work_duration_ms":-1}"#.to_owned()])
        .await
        .unwrap();
    let mut workers = vec![
        worker(&s, &["--concurrency", "2"]),
        worker(&s, &["--concurrency", "2"]),
    ];
    let run = Command::new(env!("CARGO_BIN_EXE_dagbench"))
        .args([
            "run",
            "--scenario",
            "2",
            "--run-id",
            "cloud",
            "--results",
            &results_s,
            "--json",
        ])
        .args(workload)
        .envs(s.process_env("s2-run"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // While it runs, the stack is leased: a second run is refused at once.
    let started = Instant::now();
    loop {
        if s.lease_holder().await.as_deref() == Some("cloud") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no lease taken"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let second = Command::new(env!("CARGO_BIN_EXE_dagbench"))
        .args([
            "run",
            "--scenario",
            "2",
            "--run-id",
            "other",
            "--results",
            &results_s,
        ])
        .args(workload)
        .envs(s.process_env("s2-run"))
        .output()
        .unwrap();
    let refused = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{refused}");
    assert!(
        refused.contains("the stack is in use by run cloud"),
        "{refused}"
    );
    assert!(
        !results.path().join("other").exists(),
        "a refused run leaves nothing"
    );

    let run = run.wait_with_output().unwrap();
    assert!(terminate_all(&mut workers).iter().all(|s| s.success()));
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(summary["status"], "completed");
    assert_eq!(summary["counts"]["failed"], 0);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(results.path().join("cloud/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["scenario"], "scenario-2");
    assert!(
        report["anomalies"]["foreign_completions"].as_u64().unwrap() >= 1,
        "the litter was seen and left alone: {}",
        report["anomalies"]
    );
    eprintln!(
        "scenario 2 on moto, 2 workers × 2: {} jobs at {:.0} jobs/s",
        report["counts"]["completed"],
        report["throughput_jobs_per_s"].as_f64().unwrap()
    );
    // The same workload locally: identical merged percentiles.
    let local = Command::new(env!("CARGO_BIN_EXE_dagbench"))
        .args(["run", "--run-id", "here", "--results", &results_s, "--json"])
        .args(workload)
        .output()
        .unwrap();
    assert!(local.status.success());
    let here: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            results
                .path()
                .join("here/merged_percentiles/merged_percentiles.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let cloud = s
        .store()
        .get_merged_percentiles(&RunId::new("cloud").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(serde_json::to_value(&cloud).unwrap(), here);
}

/// The worker's logs are JSON lines: start, one `job` event per message
/// (id, outcome, attempt, ms; a dead letter's reason), stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_logs_one_json_line_per_job() {
    let Some(m) = moto() else { return };
    let s = Stack::create(m, 30).await;
    let incoming = SqsQueue::new(s.sqs.clone(), &s.incoming);
    let outgoing = SqsQueue::new(s.sqs.clone(), &s.outgoing);
    incoming
        .send_batch(&[
            r#"{"job_id": "logged", "work_duration_ms": 1}"#.to_owned(),
            "not json".to_owned(),
        ])
        .await
        .unwrap();
    let mut w = Command::new(env!("CARGO_BIN_EXE_dagbench"))
        .args(["worker", "--concurrency", "1"])
        .envs(s.process_env("logs"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while outgoing
        .receive(1, Duration::from_secs(1))
        .await
        .unwrap()
        .is_empty()
    {
        assert!(started.elapsed() < Duration::from_secs(60), "no completion");
    }
    // The poison goes to the DLQ at once; give the worker a moment for it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(terminate(&mut w).success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut w.stderr.take().unwrap(), &mut stderr).unwrap();
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let events: Vec<&str> = lines.iter().filter_map(|l| l["event"].as_str()).collect();
    assert_eq!(events.first(), Some(&"worker_started"), "{stderr}");
    assert_eq!(events.last(), Some(&"worker_stopped"), "{stderr}");
    let job = lines
        .iter()
        .find(|l| l["event"] == "job" && l["job_id"] == "logged")
        .unwrap_or_else(|| panic!("no job line: {stderr}"));
    assert_eq!(job["outcome"], "completed");
    assert_eq!(job["attempt"], 1);
    assert!(job["ms"].as_f64().unwrap() >= 1.0);
    let poison = lines
        .iter()
        .find(|l| l["outcome"] == "dead_lettered")
        .unwrap_or_else(|| panic!("no dead letter line: {stderr}"));
    assert!(
        poison["reason"].as_str().unwrap().contains("JSON"),
        "{poison}"
    );
}

/// A cloud run interrupted mid-way resumes from the stack's DynamoDB
/// ledger: completed jobs are restored, not run again, and the results
/// equal the reference.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_2_run_resumes_from_the_stack_ledger() {
    let Some(m) = moto() else { return };
    let s = Stack::create(m, 30).await;
    let results = dagbench_testkit::scratch("s2-resume");
    let results_s = results.path().display().to_string();
    let mut workers = vec![worker(&s, &["--concurrency", "2"])];
    let run = Command::new(env!("CARGO_BIN_EXE_dagbench"))
        .args([
            "run",
            "--scenario",
            "2",
            "--run-id",
            "again",
            "--results",
            &results_s,
        ])
        .args(["--sequences", "5", "--samples", "32", "--seed", "4"])
        .envs(s.process_env("s2-resume"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ledger = DynamoLedger::new(s.dynamodb.clone(), &s.table);
    let run_id = RunId::new("again").unwrap();
    let started = Instant::now();
    while ledger.completed_jobs(&run_id).await.unwrap().len() < 5 {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "the run never got going"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        Command::new("kill")
            .args(["-INT", &run.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let first = run.wait_with_output().unwrap();
    assert_eq!(
        first.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let done_before = ledger.completed_jobs(&run_id).await.unwrap().len() as u64;

    // `--resume` alone: the scenario and the stack come from the manifest.
    let resumed = Command::new(env!("CARGO_BIN_EXE_dagbench"))
        .args([
            "run",
            "--resume",
            "again",
            "--results",
            &results_s,
            "--json",
        ])
        .envs(s.process_env("s2-resume"))
        .output()
        .unwrap();
    assert!(terminate_all(&mut workers).iter().all(|s| s.success()));
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&resumed.stdout).unwrap();
    assert_eq!(summary["status"], "completed");
    assert!(summary["restored"].as_u64().unwrap() >= done_before.min(5));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(results.path().join("again/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["scenario"], "scenario-2");
    assert_eq!(report["sessions"][0]["status"], "interrupted");
    Aircraft::new("again", 5, 4, 32)
        .assert_matches_reference(&s.store())
        .await;
}

/// A worker named `name` (its completions and ledger rows say so).
fn named_worker(s: &Stack, name: &str, extra: &[&str]) -> Child {
    let log = std::fs::File::create(format!("/tmp/worker-{name}.log")).unwrap();
    Command::new(env!("CARGO_BIN_EXE_dagbench"))
        .arg("worker")
        .args(extra)
        .envs(s.process_env("held"))
        .env("HOSTNAME", name)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("dagbench worker starts")
}

/// A worker named `first` with `BATCH_SIZE` `batch`, returned once it
/// holds that many messages in flight.
async fn holding_worker(s: &Stack, incoming: &SqsQueue, args: &[&str], batch: usize) -> Child {
    let worker = Command::new(env!("CARGO_BIN_EXE_dagbench"))
        .arg("worker")
        .args(args)
        .envs(s.process_env("held"))
        .env("HOSTNAME", "first")
        .env("BATCH_SIZE", batch.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while (incoming.approximate_depth().await.unwrap().in_flight as usize) < batch {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the batch was never taken"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker
}

/// Receives completions until `n` arrived (or a minute passed).
async fn completions(s: &Stack, n: usize) -> Vec<dagbench_core::message::Completion> {
    let outgoing = SqsQueue::new(s.sqs.clone(), &s.outgoing);
    let started = Instant::now();
    let mut got = Vec::new();
    while got.len() < n && started.elapsed() < Duration::from_secs(60) {
        for m in outgoing.receive(10, Duration::from_secs(1)).await.unwrap() {
            got.push(dagbench_core::message::Completion::parse(m.body.as_bytes()).unwrap());
            outgoing.delete_batch(&[m.receipt]).await.unwrap();
        }
    }
    got
}

/// Ten slow jobs in one worker's batch, a 4 s visibility timeout, a second
/// worker polling: the first keeps every message of its batch invisible
/// until it gets to it, so each job runs exactly once, by the first worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_in_hand_stays_in_hand() {
    let Some(m) = moto() else { return };
    let s = Stack::create(m, 4).await;
    let incoming = SqsQueue::new(s.sqs.clone(), &s.incoming);
    let bodies: Vec<String> = (0..10)
        .map(|i| format!(r#"{{"job_id":"slow-{i}","work_duration_ms":1500}}"#))
        .collect();
    incoming.send_batch(&bodies).await.unwrap();
    let visibility = ["--concurrency", "1", "--visibility-timeout", "4"];
    let first = holding_worker(&s, &incoming, &visibility, 10).await;
    let second = named_worker(&s, "second", &visibility);
    let done = completions(&s, 10).await;
    let mut both = [first, second];
    assert!(terminate_all(&mut both).iter().all(|s| s.success()));
    assert_eq!(done.len(), 10, "every job completed");
    assert!(
        done.iter()
            .all(|c| c.worker.as_deref() == Some("first") && c.attempt == Some(1)),
        "the first worker ran all of them, each on its first delivery: {:?}",
        done.iter()
            .map(|c| (c.job_id.to_string(), c.worker.clone(), c.attempt))
            .collect::<Vec<_>>()
    );
    let ledger = DynamoLedger::new(s.dynamodb.clone(), &s.table);
    for i in 0..10 {
        let row = ledger
            .get(
                &RunId::new("held").unwrap(),
                &dagbench_core::ids::JobId::new(format!("slow-{i}")).unwrap(),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.attempts, 1, "slow-{i} ran once");
    }
}

/// SIGTERM while the worker's long polls are open: it exits 0, and what
/// those polls bring is released, so every message sent after the signal
/// is processed by the next worker within seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_long_polls_loses_nothing() {
    let Some(m) = moto() else { return };
    let s = Stack::create(m, 30).await;
    let mut leaving = named_worker(&s, "leaving", &["--concurrency", "4"]);
    // Let its four long polls open.
    tokio::time::sleep(Duration::from_secs(3)).await;
    Command::new("kill")
        .args(["-TERM", &leaving.id().to_string()])
        .status()
        .unwrap();
    let incoming = SqsQueue::new(s.sqs.clone(), &s.incoming);
    let bodies: Vec<String> = (0..3)
        .map(|i| format!(r#"{{"job_id":"after-{i}","data_size_kb":1}}"#))
        .collect();
    incoming.send_batch(&bodies).await.unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = leaving.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the worker did not stop"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "exit 0 on SIGTERM");
    let mut next = named_worker(&s, "next", &["--concurrency", "2"]);
    let handed_over = Instant::now();
    let done = completions(&s, 3).await;
    let took = handed_over.elapsed();
    assert!(terminate(&mut next).success());
    let mut ids: Vec<String> = done.iter().map(|c| c.job_id.to_string()).collect();
    ids.sort();
    assert_eq!(ids, ["after-0", "after-1", "after-2"], "nothing swallowed");
    assert!(done.iter().all(|c| c.is_completed()), "{done:?}");
    eprintln!("the next worker finished the released messages {took:?} after starting");
}

/// Chaos on the emulator: a worker killed with SIGKILL (and replaced) as
/// the run passes a quarter, a half and three quarters of its jobs, every
/// job message sent twice, a 4 s visibility timeout: the run completes
/// with the reference results, each job recorded once.
///
/// A kill costs a message at most two receives: the delivery it had in
/// hand, and one more if the dead worker's open long poll (which the
/// queue keeps serving for up to its 20 s wait, on SQS as on moto) is
/// handed the message when it returns. So the incoming queue here allows
/// `2 × kills + 1` receives before the DLQ, the bound a user running
/// workers that can die should keep too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_with_killed_workers_and_duplicates_changes_nothing() {
    const KILLS: usize = 3;
    const RECEIVES: usize = 2 * KILLS + 1;
    let Some(m) = moto() else { return };
    let s = Stack::create_with_receives(m, 4, RECEIVES as u32).await;
    let aircraft = Aircraft::new("chaos", 6, 31, 48);
    let store = s.store();
    aircraft.seed(&store).await;
    let env = s.process_env("chaos");
    let spawn = move |n: usize| {
        Command::new(env!("CARGO_BIN_EXE_dagbench"))
            .args(["worker", "--concurrency", "2", "--visibility-timeout", "4"])
            .envs(env.clone())
            .env("HOSTNAME", format!("chaos-{n}"))
            .env("BATCH_SIZE", "3")
            .env("MAX_RECEIVE_COUNT", RECEIVES.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut workers = vec![spawn(0), spawn(1)];
    let mut kills = 0;
    let mut queues = s.queues();
    queues.incoming = Arc::new(dagbench_testkit::fixtures::Duplicating::new(
        Arc::clone(&queues.incoming),
        1,
    ));
    let mut cfg = DriverConfig::new(aircraft.run_id.clone());
    cfg.stall_timeout = Duration::from_secs(90);
    let (_stop, stop_rx) = tokio::sync::watch::channel(false);
    // Work on every fourth job keeps messages in hand when a worker dies.
    let graph = dagbench_testkit::fixtures::with_work(&aircraft.graph(), 400);
    let total = graph.len() as u64;
    let outcome = drive(
        Scheduler::new(Arc::new(graph)),
        &queues,
        Arc::new(SystemClock),
        &cfg,
        stop_rx,
        &mut |p| {
            if kills < KILLS && p.completed >= total * (kills as u64 + 1) / (KILLS as u64 + 1) {
                let victim = kills % workers.len();
                let _ = workers[victim].kill();
                let _ = workers[victim].wait();
                workers[victim] = spawn(kills + 2);
                kills += 1;
            }
        },
    )
    .await;
    terminate_all(&mut workers);
    assert_eq!(
        outcome.status,
        RunStatus::Completed,
        "{:?} {:?} {:?}",
        outcome.progress,
        outcome.error,
        outcome.failed
    );
    assert_eq!(kills, KILLS, "workers really died during the run");
    assert!(
        outcome.anomalies.duplicate_completions > 0,
        "duplicates really happened: {:?}",
        outcome.anomalies
    );
    aircraft.assert_matches_reference(&store).await;
    let ledger = DynamoLedger::new(s.dynamodb.clone(), &s.table);
    assert_eq!(
        ledger.completed_jobs(&aircraft.run_id).await.unwrap().len(),
        aircraft.graph().len()
    );
}

/// The interpreter with boto3 and pyarrow: `DAGBENCH_PYTHON` (set by
/// `make test`), else the project's `.venv`.
fn python() -> std::path::PathBuf {
    std::env::var_os("DAGBENCH_PYTHON").map_or_else(
        || dagbench_testkit::repo_root().join(".venv/bin/python"),
        std::path::PathBuf::from,
    )
}

/// What a user of the original system does, with boto3 only
/// (`tests/boto3/seed_example.py`): the seed's example job with an
/// arbitrary input object, a missing input, the same job id sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_example_job_driven_by_boto3() {
    let Some(m) = moto() else { return };
    let s = Stack::create(m, 30).await;
    let mut w = worker(&s, &[]);
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/boto3/seed_example.py");
    let out = Command::new(python())
        .arg(&script)
        .envs(s.process_env("s2-test"))
        .env("AWS_DEFAULT_REGION", "us-east-1") // boto3 does not read AWS_REGION
        .output()
        .expect("python runs");
    assert!(terminate(&mut w).success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("ok: the seed's example job"), "{stdout}");
}

/// Job details of run `poison` planted in the bucket, each wrong in one
/// way a crafted or corrupted object could be, from a real leg's details.
fn crafted_details(leg: &serde_json::Value) -> Vec<(&'static str, String)> {
    let with = |field: &str, value: serde_json::Value| {
        let mut d = leg.clone();
        d[field] = value;
        d.to_string()
    };
    vec![
        ("samples-huge", with("samples", 4_294_967_295_u64.into())),
        ("samples-zero", with("samples", 0.into())),
        ("samples-text", with("samples", "many".into())),
        ("leg-zero", with("leg", 0.into())),
        ("leg-nine", with("leg", 9.into())),
        (
            "feeders-three",
            with("feeders", serde_json::json!([[1, 1], [2, 1], [3, 1]])),
        ),
        ("kind-unknown", with("kind", "teleport".into())),
        ("other-run", with("run_id", "victim".into())),
        ("marker-only", r#"{"dagbench_job_details":1}"#.into()),
        (
            "truncated",
            r#"{"dagbench_job_details":1,"kind":"leg","samples":"#.into(),
        ),
        (
            "sequence-no-legs",
            r#"{"dagbench_job_details":1,"kind":"sequence","run_id":"poison","sequence_id":1,"samples":5,"legs":[]}"#.into(),
        ),
        (
            "sequence-nine-legs",
            serde_json::json!({"dagbench_job_details":1,"kind":"sequence","run_id":"poison","sequence_id":1,"samples":5,
                "legs":["a","b","c","d","e","f","g","h","i"]}).to_string(),
        ),
    ]
}

/// The poison corpus: every way a message can be wrong that we know of.
fn poison_corpus(crafted: &[(&'static str, String)]) -> Vec<String> {
    use serde_json::json;
    let mut deep = String::new();
    for _ in 0..10_000 {
        deep.push('[');
    }
    let mut bodies: Vec<String> = vec![
        "this is not json".into(),
        "{".into(),
        "[]".into(),
        "42".into(),
        "null".into(),
        "\"just a string\"".into(),
        "{}".into(),
        " ".into(),
        deep,
        "x".repeat(250_000),
        format!(r#"{{"job_id":"{}"}}"#, "x".repeat(1000)),
    ];
    let objects = [
        json!({"job_id": 7}),
        json!({"job_id": null}),
        json!({"job_id": ""}),
        json!({"job_id": "../../etc/passwd"}),
        json!({"job_id": "a/b"}),
        json!({"job_id": "tab\there"}),
        json!({"job_id": "nul\u{0}"}),
        json!({"job_id": {"nested": 1}}),
        json!({"job_id": ["a"]}),
        json!({"job_id": "p-neg", "work_duration_ms": -1}),
        json!({"job_id": "p-frac", "work_duration_ms": 1.5}),
        json!({"job_id": "p-str", "work_duration_ms": "100"}),
        json!({"job_id": "p-huge-work", "work_duration_ms": 1e30}),
        json!({"job_id": "p-over-work", "work_duration_ms": 1_000_000_000_000_u64}),
        json!({"job_id": "p-huge-data", "data_size_kb": 1_000_000_000_000_u64}),
        json!({"job_id": "p-neg-data", "data_size_kb": -5}),
        json!({"job_id": "p-bool-data", "data_size_kb": true}),
        json!({"job_id": "p-ik-num", "input_key": 5}),
        json!({"job_id": "p-ik-trav", "input_key": "../outside.json"}),
        json!({"job_id": "p-ik-abs", "input_key": "/etc/passwd"}),
        json!({"job_id": "p-ik-empty", "input_key": ""}),
        json!({"job_id": "p-ik-long", "input_key": "k".repeat(200_000)}),
        json!({"job_id": "p-ik-missing", "input_key": "poison/jobs/nowhere.json"}),
        json!({"job_id": "p-ik-dots", "input_key": "poison/../victim/jobs/s1-l1.json"}),
        json!({"job_id": "p-ik-dir", "input_key": "poison/jobs/"}),
        json!({"job_id": "p-ik-nul", "input_key": "poison/jobs/a\u{0}b"}),
        json!({"job_id": "p-ik-backslash", "input_key": "poison\\..\\x"}),
        json!({"job_id": "p-ik-url", "input_key": "s3://other-bucket/key"}),
        json!({"job_id": "p-run-slash", "run_id": "a/b"}),
        json!({"job_id": "p-run-num", "run_id": 5}),
        json!({"job_id": "p-run-dots", "run_id": ".."}),
        json!({"job_id": "p-wide", "work_duration_ms": 18_446_744_073_709_551_615_u64, "data_size_kb": 1e300}),
        json!({"job_id": "p-victim-details", "run_id": "poison", "input_key": "victim/jobs/s1-l1.json"}),
        json!({"job_id": "p-merge-alone", "run_id": "poison", "input_key": "poison/jobs/merge.json"}),
        json!({"job_id": "p-unicode-ü", "work_duration_ms": "x"}),
    ];
    bodies.extend(objects.iter().map(serde_json::Value::to_string));
    for (name, _) in crafted {
        bodies.push(
            json!({"job_id": format!("p-c-{name}"), "run_id": "poison", "input_key": format!("poison/crafted/{name}.json")})
                .to_string(),
        );
    }
    bodies
}

/// The poison corpus through two workers: each message ends as a `failed`
/// completion with its reason or as a dead letter with its reason, nothing
/// is left in the queue, and nothing is written outside the message's own
/// run (another run's objects are byte for byte the same; the ledger holds
/// rows of run `poison` only; no output object).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_poison_corpus_fails_with_reasons_and_writes_nothing_elsewhere() {
    let Some(m) = moto() else { return };
    let s = Stack::create(m, 30).await;
    let store = s.store();
    Aircraft::new("poison", 1, 3, 8).seed(&store).await;
    Aircraft::new("victim", 1, 4, 8).seed(&store).await;
    let leg: serde_json::Value = serde_json::from_slice(
        &store
            .get_bytes(&dagbench_core::key::ObjectKey::new("poison/jobs/s1-l2.json").unwrap())
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    let crafted = crafted_details(&leg);
    for (name, body) in &crafted {
        store
            .put_bytes(
                &dagbench_core::key::ObjectKey::new(format!("poison/crafted/{name}.json")).unwrap(),
                body.clone().into(),
            )
            .await
            .unwrap();
    }
    let before = dagbench_testkit::fixtures::every_object(&store).await;
    let corpus = poison_corpus(&crafted);
    assert!(corpus.len() >= 50, "{} messages", corpus.len());
    for body in &corpus {
        s.sqs
            .send_message()
            .queue_url(&s.incoming)
            .message_body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("send {:.80}: {e:?}", body));
    }
    let mut workers: Vec<Child> = (0..2)
        .map(|i| {
            Command::new(env!("CARGO_BIN_EXE_dagbench"))
                .args(["worker", "--concurrency", "4"])
                .envs(s.process_env("poison"))
                .env("HOSTNAME", format!("poison-{i}"))
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(format!("/tmp/poison-{i}.log")).unwrap())
                .spawn()
                .unwrap()
        })
        .collect();

    let outgoing = SqsQueue::new(s.sqs.clone(), &s.outgoing);
    let mut failed = std::collections::BTreeMap::new();
    let mut dead = Vec::new();
    let started = Instant::now();
    while failed.len() + dead.len() < corpus.len() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{} completions and {} dead letters of {} messages",
            failed.len(),
            dead.len(),
            corpus.len()
        );
        for m in outgoing.receive(10, Duration::from_secs(1)).await.unwrap() {
            let c = dagbench_core::message::Completion::parse(m.body.as_bytes()).unwrap();
            outgoing.delete_batch(&[m.receipt]).await.unwrap();
            let dagbench_core::message::Outcome::Failed { error } = &c.outcome else {
                panic!("a poison message completed: {c:?}");
            };
            assert!(!error.is_empty(), "{c:?}");
            // At least once: a message redelivered (its worker slowed down
            // past the visibility timeout under load) re-sends the recorded
            // outcome — the same reason, never a second run.
            if let Some(first) = failed.insert(c.job_id.to_string(), error.clone()) {
                assert_eq!(
                    &first, error,
                    "a re-sent completion of {} changed",
                    c.job_id
                );
            }
        }
        let got = s
            .sqs
            .receive_message()
            .queue_url(&s.dlq)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap();
        for msg in got.messages() {
            let reason = msg
                .message_attributes()
                .and_then(|a| a.get("DeadLetterReason"))
                .and_then(|v| v.string_value())
                .unwrap_or_default()
                .to_owned();
            assert!(
                !reason.is_empty(),
                "a dead letter without its reason: {:.200}",
                msg.body().unwrap_or_default()
            );
            dead.push((msg.body().unwrap_or_default().to_owned(), reason));
            s.sqs
                .delete_message()
                .queue_url(&s.dlq)
                .receipt_handle(msg.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    assert!(terminate_all(&mut workers).iter().all(|s| s.success()));
    // Each message accounted for once: a dead letter is the message itself.
    for (body, _) in &dead {
        assert!(corpus.contains(body), "a dead letter not of the corpus");
    }
    assert_eq!(failed.len() + dead.len(), corpus.len());
    let depth = SqsQueue::new(s.sqs.clone(), &s.incoming)
        .approximate_depth()
        .await
        .unwrap();
    assert_eq!((depth.visible, depth.in_flight), (0, 0), "nothing left");
    // Reasons say what is wrong, e.g. the crafted details' field and limit.
    assert!(
        failed["p-c-samples-huge"].contains("samples"),
        "{}",
        failed["p-c-samples-huge"]
    );
    assert!(
        failed["p-ik-missing"].contains("poison/jobs/nowhere.json"),
        "{}",
        failed["p-ik-missing"]
    );

    // Nothing written outside the run: the objects are those seeded.
    let after = dagbench_testkit::fixtures::every_object(&store).await;
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "no object added or removed"
    );
    assert!(after == before, "no object rewritten");
    for item in s.ledger_items().await {
        let pk = item["pk"].as_s().unwrap();
        assert_eq!(pk, "poison", "a ledger row outside the run: {item:?}");
        assert_eq!(item["status"].as_s().unwrap(), "failed", "{item:?}");
    }
}

/// A worker killed while the second job of its batch runs: the message
/// comes back when the batch's heartbeat lapses, and by then the job's
/// claim has run out too, so the next delivery (the second receive) runs
/// it instead of finding it busy and wasting a receive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_workers_claim_is_gone_when_its_message_returns() {
    let Some(m) = moto() else { return };
    let s = Stack::create(m, 4).await;
    let incoming = SqsQueue::new(s.sqs.clone(), &s.incoming);
    incoming
        .send_batch(&[
            r#"{"job_id":"quick","work_duration_ms":1000}"#.to_owned(),
            r#"{"job_id":"long","work_duration_ms":6000}"#.to_owned(),
        ])
        .await
        .unwrap();
    let args = ["--concurrency", "1", "--visibility-timeout", "4"];
    let mut first = holding_worker(&s, &incoming, &args, 2).await;
    // `quick` is done after 1 s; `long` has run 2.5 s of its 6 s.
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    first.kill().unwrap();
    first.wait().unwrap();
    let next = named_worker(&s, "second", &args);
    let done = completions(&s, 2).await;
    let mut next = [next];
    assert!(terminate_all(&mut next).iter().all(|s| s.success()));
    let long = done
        .iter()
        .find(|c| c.job_id.as_str() == "long")
        .unwrap_or_else(|| panic!("no completion of `long`: {done:?}"));
    assert!(long.is_completed());
    assert_eq!(
        (long.worker.as_deref(), long.attempt),
        (Some("second"), Some(2)),
        "the second delivery ran it"
    );
}
