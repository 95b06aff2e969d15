//! Scenario 3 on the AWS emulator: moto's States Language interpreter runs
//! the state machine `dagbench asl` prints (created with CreateStateMachine:
//! moto's interpreter cannot see one made through CloudFormation), its
//! callback tasks send job messages with task tokens to the incoming
//! queue, and real `dagbench worker` processes run the jobs and finish the
//! tasks. `dagbench run --scenario 3` plans, starts and follows.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use dagbench_core::ids::RunId;
use dagbench_infra::asl::TaskIntegration;
use dagbench_testkit::moto::{Stack, moto};

fn worker(s: &Stack) -> Child {
    Command::new(env!("CARGO_BIN_EXE_dagbench"))
        .args(["worker", "--concurrency", "4"])
        .envs(s.process_env("s3-test"))
        .env("BATCH_SIZE", "4")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dagbench worker starts")
}

fn stop_workers(workers: &mut [Child]) {
    for w in workers.iter() {
        let _ = Command::new("kill")
            .args(["-TERM", &w.id().to_string()])
            .status();
    }
    for w in workers.iter_mut() {
        let _ = w.wait();
    }
}

/// `dagbench run --scenario 3` of `args` against `s` and `machine`.
fn run(s: &Stack, machine: &str, results: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dagbench"));
    c.args(["run", "--scenario", "3", "--results"])
        .arg(results)
        .args(["--json", "--stall-timeout", "60"])
        .args(args)
        .envs(s.process_env("s3-run"))
        .env("STATE_MACHINE_ARN", machine);
    c
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        !out.stdout.is_empty(),
        "no summary: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn report(results: &Path, run: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(results.join(run).join("report.json")).unwrap()).unwrap()
}

/// The merged percentiles of a local run of `args`.
fn local_merged(results: &Path, run_id: &str, args: &[&str]) -> serde_json::Value {
    let local = Command::new(env!("CARGO_BIN_EXE_dagbench"))
        .args(["run", "--run-id", run_id, "--results"])
        .arg(results)
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    assert!(
        local.status.success(),
        "{}",
        String::from_utf8_lossy(&local.stderr)
    );
    serde_json::from_slice(
        &std::fs::read(
            results
                .join(run_id)
                .join("merged_percentiles/merged_percentiles.json"),
        )
        .unwrap(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_definitions_are_accepted_by_create_state_machine() {
    let Some(m) = moto() else { return };
    let s = Stack::create(m, 30).await;
    for task in [TaskIntegration::Sqs, TaskIntegration::Lambda] {
        let arn = s.state_machine(task).await;
        assert!(arn.contains(":stateMachine:"), "{arn}");
    }
    // And what the command prints is what the helper created.
    let printed = Command::new(env!("CARGO_BIN_EXE_dagbench"))
        .args(["asl", "--task", "sqs", "--queue-url", &s.incoming])
        .output()
        .unwrap();
    assert!(printed.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&printed.stdout).unwrap();
    let task = &printed["States"]["Level"]["ItemProcessor"]["States"]["RunJob"];
    assert_eq!(task["Parameters"]["QueueUrl"], s.incoming.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aircraft_runs_through_task_tokens_match_local_runs() {
    let Some(m) = moto() else { return };
    let s = Stack::create(m, 30).await;
    let machine = s.state_machine(TaskIntegration::Sqs).await;
    let results = dagbench_testkit::scratch("s3-run");
    let mut workers = vec![worker(&s), worker(&s)];
    // Seed 4's eight aircraft have two crew connections: levels.
    for (run_id, workload, plan) in [
        (
            "chains",
            &["--sequences", "5", "--samples", "64", "--seed", "11"][..],
            "chains",
        ),
        (
            "crew",
            &[
                "--sequences",
                "8",
                "--samples",
                "64",
                "--seed",
                "4",
                "--crew",
                "--crew-probability",
                "1",
            ][..],
            "levels",
        ),
    ] {
        let out = run(
            &s,
            &machine,
            results.path(),
            &[&["--run-id", run_id][..], workload].concat(),
        )
        .output()
        .unwrap();
        assert!(
            out.status.success(),
            "{run_id}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary = json(&out);
        assert_eq!(summary["status"], "completed", "{run_id}");
        let r = report(results.path(), run_id);
        assert_eq!(r["scenario"], "scenario-3");
        assert_eq!(
            r["orchestration"]["plan"], plan,
            "{run_id}: {}",
            r["orchestration"]
        );
        assert!(
            r["orchestration"]["execution_arn"]
                .as_str()
                .unwrap()
                .contains(":execution:")
        );
        // Released by the state machine: dispatched is when it entered the
        // job's task, after the job was ready (its dependencies completed)
        // and before it started.
        for j in r["jobs"].as_array().unwrap() {
            let at = |k: &str| j[k].as_i64().unwrap_or_else(|| panic!("{k} of {j}"));
            assert!(at("ready_ms") <= at("dispatched_ms"), "{run_id}: {j}");
            assert!(at("dispatched_ms") <= at("started_ms"), "{run_id}: {j}");
        }
        let cloud = s
            .store()
            .get_merged_percentiles(&RunId::new(run_id).unwrap())
            .await
            .unwrap()
            .unwrap();
        let here = local_merged(results.path(), &format!("{run_id}-local"), workload);
        assert_eq!(serde_json::to_value(&cloud).unwrap(), here, "{run_id}");
        eprintln!(
            "scenario 3 ({plan}) on moto, 2 workers × 4: {} jobs at {:.0} jobs/s, efficiency {}",
            r["counts"]["completed"],
            r["throughput_jobs_per_s"].as_f64().unwrap(),
            r["efficiency"]
        );
    }
    // The same workload through Scenario 2 on the same stack and workers,
    // then the three side by side: identical results, each priced.
    let out = Command::new(env!("CARGO_BIN_EXE_dagbench"))
        .args(["run", "--scenario", "2", "--run-id", "queues", "--results"])
        .arg(results.path())
        .args([
            "--json",
            "--sequences",
            "5",
            "--samples",
            "64",
            "--seed",
            "11",
        ])
        .envs(s.process_env("s3-run"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stop_workers(&mut workers);
    let compared = Command::new(env!("CARGO_BIN_EXE_dagbench"))
        .args([
            "compare",
            "chains-local",
            "queues",
            "chains",
            "--json",
            "--results",
        ])
        .arg(results.path())
        .output()
        .unwrap();
    assert!(
        compared.status.success(),
        "{}",
        String::from_utf8_lossy(&compared.stderr)
    );
    let c: serde_json::Value = serde_json::from_slice(&compared.stdout).unwrap();
    assert_eq!(c["results"]["outcome"], "identical", "{c}");
    let runs = c["runs"].as_array().unwrap();
    let scenarios: Vec<&str> = runs
        .iter()
        .map(|r| r["scenario"].as_str().unwrap())
        .collect();
    assert_eq!(scenarios, ["local", "scenario-2", "scenario-3"]);
    for r in runs {
        assert!(
            r["cost"].as_f64().unwrap() > 0.0,
            "every run is priced: {r}"
        );
    }
    // Kept for a look at the estimate (`dagbench report`).
    if let Ok(dir) = std::env::var("DAGBENCH_KEEP_S3_RUN") {
        let _ = Command::new("cp")
            .args(["-r"])
            .arg(results.path())
            .arg(dir)
            .status();
    }
    assert!(
        runs[2]["cost_basis"].as_str().unwrap().starts_with("S3 "),
        "{}",
        runs[2]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_fails_for_good_fails_its_dependents_and_the_run() {
    let Some(m) = moto() else { return };
    let s = Stack::create(m, 30).await;
    let machine = s.state_machine(TaskIntegration::Sqs).await;
    let results = dagbench_testkit::scratch("s3-fail");
    let graph = results.path().join("graph.json");
    std::fs::write(
        &graph,
        r#"{"jobs": [
            {"job_id": "a"},
            {"job_id": "lost", "depends_on": ["a"], "input_key": "nowhere/missing.json"},
            {"job_id": "after", "depends_on": ["lost"]}
        ]}"#,
    )
    .unwrap();
    let mut workers = vec![worker(&s)];
    let out = run(
        &s,
        &machine,
        results.path(),
        &["--run-id", "fails", "--graph"],
    )
    .arg(&graph)
    .output()
    .unwrap();
    stop_workers(&mut workers);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = json(&out);
    assert_eq!(summary["status"], "failed");
    let r = report(results.path(), "fails");
    let failed = r["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["job_id"], "lost");
    assert!(
        failed[0]["reason"]
            .as_str()
            .unwrap()
            .contains("does not exist"),
        "{failed:?}"
    );
    assert_eq!(r["counts"]["completed"], 1);
    assert_eq!(r["counts"]["blocked"], 1, "its dependent never ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execution_stopped_from_outside_ends_the_run_with_its_status() {
    let Some(m) = moto() else { return };
    let s = Stack::create(m, 30).await;
    let machine = s.state_machine(TaskIntegration::Sqs).await;
    let results = dagbench_testkit::scratch("s3-stop");
    // Long jobs, so the execution is still running when it is stopped.
    let graph = results.path().join("graph.json");
    std::fs::write(
        &graph,
        r#"{"jobs": [
            {"job_id": "slow", "work_duration_ms": 20000},
            {"job_id": "next", "depends_on": ["slow"]}
        ]}"#,
    )
    .unwrap();
    let mut workers = vec![worker(&s)];
    let child = run(
        &s,
        &machine,
        results.path(),
        &["--run-id", "stopped", "--graph"],
    )
    .arg(&graph)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let sdk = dagbench_aws::config::for_endpoint(&s.endpoint, "us-east-1").await;
    let sfn = aws_sdk_sfn::Client::new(&sdk);
    let started = Instant::now();
    let execution = loop {
        let list = sfn
            .list_executions()
            .state_machine_arn(&machine)
            .send()
            .await
            .unwrap();
        if let Some(e) = list.executions().first() {
            break e.execution_arn().to_owned();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no execution started"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    sfn.stop_execution()
        .execution_arn(&execution)
        .cause("stopped by the test")
        .send()
        .await
        .unwrap();
    let out = child.wait_with_output().unwrap();
    stop_workers(&mut workers);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = json(&out);
    assert_eq!(summary["status"], "aborted", "{summary}");
    let r = report(results.path(), "stopped");
    let error = r["error"].as_str().unwrap();
    assert!(error.contains("ABORTED"), "{error}");
}
