//! `dagbench run` as a user runs it: the default workload's files and
//! summary, failures with a non-zero exit, and a SIGKILL mid-run followed by
//! `--resume` that recomputes nothing and ends with identical results.

mod common;

use common::{Scratch, dagbench, text};

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dagbench_core::ids::RunId;
use dagbench_local::SqliteLedger;
use dagbench_runtime::ports::JobLedger;
use serde_json::Value;

fn merged(results: &Path, run: &str) -> Value {
    let path = results
        .join(run)
        .join("merged_percentiles/merged_percentiles.json");
    serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

#[test]
fn the_default_workload_leaves_results_ledger_and_report() {
    let dir = Scratch::new("default");
    let out = dagbench(&[
        "run",
        "--sequences",
        "8",
        "--samples",
        "50",
        "--results",
        &dir.s(),
        "--run-id",
        "r1",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("run r1 completed: "), "{stdout}");
    for line in [
        "stage p50/p99 ms:",
        "final arrival delay (min):",
        "results: ",
        "report:  ",
    ] {
        assert!(stdout.contains(line), "{line} missing in {stdout}");
    }
    for file in [
        "r1/manifest.json",
        "r1/graph.json",
        "r1/ledger.sqlite",
        "r1/report.json",
        "r1/sequences/sequence_8.json",
        "r1/percentiles/8.json",
    ] {
        assert!(dir.root().join(file).is_file(), "{file} missing");
    }
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.root().join("r1/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(
        (
            manifest["workload"].as_str(),
            manifest["samples"].as_u64(),
            manifest["seed"].as_u64()
        ),
        (Some("aircraft"), Some(50), Some(1))
    );
    let report: Value =
        serde_json::from_slice(&std::fs::read(dir.root().join("r1/report.json")).unwrap()).unwrap();
    assert_eq!(report["status"], "completed");
    assert_eq!(report["counts"]["completed"], report["graph"]["jobs"]);
    // Same seed, same numbers, whatever the run id and worker count.
    let again = dagbench(&[
        "run",
        "--sequences",
        "8",
        "--samples",
        "50",
        "--results",
        &dir.s(),
        "--run-id",
        "r2",
        "--workers",
        "1",
        "--json",
    ]);
    assert!(again.status.success());
    let summary: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(summary["status"], "completed");
    assert_eq!(merged(dir.root(), "r1"), merged(dir.root(), "r2"));
    // A run id is never reused by accident.
    let clash = dagbench(&[
        "run",
        "--sequences",
        "8",
        "--results",
        &dir.s(),
        "--run-id",
        "r1",
    ]);
    assert_eq!(clash.status.code(), Some(1));
    assert!(
        text(&clash.stderr).contains("run r1 already exists"),
        "{}",
        text(&clash.stderr)
    );
}

#[test]
fn a_failing_graph_exits_non_zero_naming_the_job() {
    let dir = Scratch::new("failing");
    let graph = dir.root().join("g.json");
    std::fs::write(
        &graph,
        r#"{"jobs": [{"job_id": "a"}, {"job_id": "b", "depends_on": ["a"], "input_key": "nowhere/jobs/b.json"}, {"job_id": "c", "depends_on": ["b"]}]}"#,
    )
    .unwrap();
    let out = dagbench(&[
        "run",
        "--graph",
        &graph.display().to_string(),
        "--results",
        &dir.s(),
        "--run-id",
        "f",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error: run f finished with 1 failed and 1 blocked jobs (first: b: input_key nowhere/jobs/b.json does not exist)"),
        "{stderr}"
    );
}

#[test]
fn synthetic_messages_run() {
    let dir = Scratch::new("messages");
    let out = dagbench(&[
        "run",
        "--messages",
        "300",
        "--shape",
        "layered",
        "--work-ms",
        "1",
        "--data-kb",
        "2",
        "--results",
        &dir.s(),
        "--run-id",
        "m",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["counts"]["completed"], 300);
    assert!(summary["efficiency"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_run_whose_terminal_closed_still_finishes_with_its_report() {
    // `dagbench run … 2>&1 | head -1`, or a terminal closed mid-run: both
    // standard output and standard error are pipes nobody reads any more.
    let dir = Scratch::new("closed");
    let mut child = Command::new(env!("CARGO_BIN_EXE_dagbench"))
        .args([
            "run",
            "--sequences",
            "6",
            "--samples",
            "40",
            "--results",
            &dir.s(),
            "--run-id",
            "closed",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let report: Value =
        serde_json::from_slice(&std::fs::read(dir.root().join("closed/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["status"], "completed");
    assert!(dir.root().join("closed/report.html").is_file());
}

#[test]
fn sigkill_mid_run_then_resume_recomputes_nothing() {
    let dir = Scratch::new("sigkill");
    let args = [
        "run",
        "--sequences",
        "60",
        "--samples",
        "3000",
        "--results",
        &dir.s(),
        "--workers",
        "2",
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_dagbench"))
        .args(args)
        .args(["--run-id", "k"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ledger_path = dir.root().join("k/ledger.sqlite");
    let run = RunId::new("k").unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let started = Instant::now();
    // Kill it once some, not all, jobs are done.
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the run never got going"
        );
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the run ended ({status}) before it could be killed");
        }
        if ledger_path.exists() {
            let ledger = SqliteLedger::open(&ledger_path).unwrap();
            let done = runtime.block_on(ledger.completed_jobs(&run)).unwrap().len();
            if done >= 40 {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let ledger = SqliteLedger::open(&ledger_path).unwrap();
    let before: Vec<(String, u32)> = runtime.block_on(async {
        let mut rows = Vec::new();
        for job in ledger.completed_jobs(&run).await.unwrap() {
            rows.push((
                job.to_string(),
                ledger.get(&run, &job).await.unwrap().unwrap().attempts,
            ));
        }
        rows
    });
    assert!(before.len() >= 40);
    drop(ledger);

    let resumed = dagbench(&["run", "--resume", "k", "--results", &dir.s(), "--json"]);
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    let summary: Value = serde_json::from_slice(&resumed.stdout).unwrap();
    assert_eq!(summary["status"], "completed");
    assert!(summary["restored"].as_u64().unwrap() >= before.len() as u64);
    // Jobs completed before the kill were not run again.
    let ledger = SqliteLedger::open(&ledger_path).unwrap();
    runtime.block_on(async {
        for (job, attempts) in &before {
            let row = ledger
                .get(&run, &dagbench_core::ids::JobId::new(job.as_str()).unwrap())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(row.attempts, *attempts, "{job} was recomputed");
        }
    });
    // And the results equal a clean run's.
    let clean = dagbench(&[
        "run",
        "--sequences",
        "60",
        "--samples",
        "3000",
        "--results",
        &dir.s(),
        "--run-id",
        "clean",
        "--json",
    ]);
    assert!(clean.status.success());
    assert_eq!(merged(dir.root(), "k"), merged(dir.root(), "clean"));
}

#[test]
fn ctrl_c_stops_cleanly_and_leaves_a_resumable_run() {
    let dir = Scratch::new("sigint");
    let child = Command::new(env!("CARGO_BIN_EXE_dagbench"))
        .args([
            "run",
            "--messages",
            "400",
            "--shape",
            "chains",
            "--work-ms",
            "40",
            "--workers",
            "4",
        ])
        .args(["--results", &dir.s(), "--run-id", "i"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ledger_path = dir.root().join("i/ledger.sqlite");
    let run = RunId::new("i").unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the run never got going"
        );
        if ledger_path.exists() {
            let ledger = SqliteLedger::open(&ledger_path).unwrap();
            if runtime.block_on(ledger.completed_jobs(&run)).unwrap().len() >= 10 {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // While it runs, nothing else may run it: not a resume, not a new run
    // of the same id.
    for args in [
        vec!["run", "--resume", "i", "--results", &dir.s()],
        vec![
            "run",
            "--run-id",
            "i",
            "--messages",
            "5",
            "--results",
            &dir.s(),
        ],
    ] {
        let busy = dagbench(&args);
        assert_eq!(busy.status.code(), Some(1));
        let stderr = text(&busy.stderr);
        assert!(
            stderr.contains(&format!("error: run i is in use by pid {} on ", child.id())),
            "{stderr}"
        );
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("stopping: no new jobs are dispatched"),
        "{stderr}"
    );
    assert!(stderr.contains("error: run i interrupted with"), "{stderr}");
    assert!(stderr.contains("resume it with --resume i"), "{stderr}");
    // A resume keeps the run's settings: another worker count is refused,
    // and workload flags cannot go with it.
    let other = dagbench(&[
        "run",
        "--resume",
        "i",
        "--results",
        &dir.s(),
        "--workers",
        "8",
    ]);
    assert_eq!(other.status.code(), Some(1));
    assert!(
        text(&other.stderr).contains("--workers 8 (the run has 4)"),
        "{}",
        text(&other.stderr)
    );
    let seeded = dagbench(&["run", "--resume", "i", "--results", &dir.s(), "--seed", "3"]);
    assert_eq!(seeded.status.code(), Some(2), "{}", text(&seeded.stderr));
    let resumed = dagbench(&["run", "--resume", "i", "--results", &dir.s(), "--json"]);
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    let summary: Value = serde_json::from_slice(&resumed.stdout).unwrap();
    assert_eq!(summary["counts"]["completed"], 400);
    let restored = summary["restored"].as_u64().unwrap();
    assert!(restored >= 10);
    let report: Value =
        serde_json::from_slice(&std::fs::read(dir.root().join("i/report.json")).unwrap()).unwrap();
    assert_eq!(report["workers"], 4, "the run's own worker count");
    assert_eq!(report["restored"], restored);
    assert_eq!(report["sessions"][0]["status"], "interrupted");
    let efficiency = report["efficiency"].as_f64().unwrap();
    assert!(efficiency > 0.0 && efficiency <= 1.0, "{efficiency}");
    // Resuming a completed run leaves it as it is.
    let again = dagbench(&["run", "--resume", "i", "--results", &dir.s()]);
    assert!(again.status.success());
    assert!(text(&again.stdout).contains("run i already completed"));
    let after: Value =
        serde_json::from_slice(&std::fs::read(dir.root().join("i/report.json")).unwrap()).unwrap();
    assert_eq!(after, report);
}

/// The README's example graph file, as printed there, runs to completion.
#[test]
fn the_readme_example_graph_runs() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let section = &readme[readme.find("## The graph file").expect("the section")..];
    let start = section.find("```json\n").expect("a JSON block") + "```json\n".len();
    let example = &section[start..start + section[start..].find("```").unwrap()];
    let dir = Scratch::new("readme-graph");
    let file = dir.file("graph.json", example);
    let out = dagbench(&[
        "run",
        "--graph",
        &file,
        "--results",
        &dir.s(),
        "--run-id",
        "readme",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["counts"]["completed"], 3, "{summary}");
}
