//! The `dagbench` binary as a user runs it: exit codes, messages, files.

mod common;

use common::{Scratch, dagbench, text};

use serde_json::Value;

#[test]
fn generate_then_validate_every_shape() {
    let dir = Scratch::new("shapes");
    for shape in ["independent", "chains", "layered", "fan"] {
        let out = dir.path(&format!("{shape}.json"));
        let generated = dagbench(&[
            "graph",
            "generate",
            "--shape",
            shape,
            "--jobs",
            "500",
            "--seed",
            "7",
            "--work-ms",
            "3",
            "--out",
            &out,
        ]);
        assert!(generated.status.success(), "{}", text(&generated.stderr));
        assert!(
            text(&generated.stderr).contains("500 jobs"),
            "{}",
            text(&generated.stderr)
        );

        let validated = dagbench(&["graph", "validate", &out, "--json"]);
        assert!(validated.status.success(), "{}", text(&validated.stderr));
        let figures: Value = serde_json::from_slice(&validated.stdout).unwrap();
        assert_eq!(figures["valid"], true);
        assert_eq!(figures["stats"]["jobs"], 500);
        assert_eq!(figures["stats"]["total_work_ms"], 1500);
        let levels = figures["stats"]["levels"].as_u64().unwrap();
        assert_eq!(
            figures["stats"]["critical_path_work_ms"].as_u64().unwrap(),
            3 * levels
        );
    }
}

#[test]
fn validate_prints_figures_for_people() {
    let dir = Scratch::new("human");
    let file = dir.file(
        "g.json",
        r#"{"jobs": [{"job_id": "a", "work_duration_ms": 5}, {"job_id": "b", "depends_on": ["a"], "work_duration_ms": 7}]}"#,
    );
    let out = dagbench(&["graph", "validate", &file]);
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("valid job graph\n"), "{stdout}");
    assert!(
        stdout.contains("critical path   12 ms of work over 2 jobs (a … b)"),
        "{stdout}"
    );
}

#[test]
fn generate_to_stdout_is_a_valid_graph() {
    let out = dagbench(&[
        "graph",
        "generate",
        "--shape",
        "chains",
        "--jobs",
        "30",
        "--chain-length",
        "3",
        "--out",
        "-",
    ]);
    assert!(out.status.success());
    let graph: Value = serde_json::from_slice(&out.stdout).unwrap();
    let jobs = graph["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 30);
    assert_eq!(jobs[1]["depends_on"][0], "j0");
    assert!(jobs[3].get("depends_on").is_none());
}

#[test]
fn invalid_graphs_fail_with_the_reason() {
    let dir = Scratch::new("invalid");
    let cases = [
        (
            r#"{"jobs": [{"job_id": "a", "depends_on": ["b"]}, {"job_id": "b", "depends_on": ["a"]}]}"#,
            "the graph has a cycle: a -> b -> a",
        ),
        (
            r#"{"jobs": [{"job_id": "a", "depends_on": ["ghost"]}]}"#,
            "job \"a\" depends on \"ghost\", which is not a job of the graph",
        ),
        (
            r#"{"jobs": [{"job_id": "a"}, {"job_id": "a"}]}"#,
            "job id \"a\" appears more than once",
        ),
        (r#"{"jobs": []}"#, "the graph has no jobs"),
        (
            r#"{"jobs": [{"job_id": "a", "depends_on": ["a"]}]}"#,
            "job \"a\" depends on itself",
        ),
        (
            r#"{"jobs": [{"job_id": "../etc/passwd"}]}"#,
            "job #0: job id \"../etc/passwd\" contains '/'",
        ),
        (
            "{\"jobs\": [",
            "not a valid graph file: EOF while parsing a list at line 1 column 10",
        ),
        (
            r#"{"jobs": [{"job_id": "a", "work_duraton_ms": 5000}]}"#,
            "unknown field `work_duraton_ms`",
        ),
    ];
    for (i, (contents, expected)) in cases.iter().enumerate() {
        let file = dir.file(&format!("bad{i}.json"), contents);
        let out = dagbench(&["graph", "validate", &file]);
        assert_eq!(out.status.code(), Some(1), "{contents}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.starts_with(&format!("error: {file} is not a valid job graph: ")),
            "{stderr}"
        );
        assert!(stderr.contains(expected), "{contents}: {stderr}");
        assert!(out.stdout.is_empty());
    }
    let out = dagbench(&["graph", "validate", "/nonexistent/graph.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("error: cannot read /nonexistent/graph.json: "));
}

#[test]
fn usage_errors_are_explained() {
    let out = dagbench(&["graph", "generate", "--shape", "star", "--out", "-"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("invalid value 'star'"),
        "{}",
        text(&out.stderr)
    );
    let out = dagbench(&["graph", "generate", "--jobs", "0", "--out", "-"]);
    assert_eq!(out.status.code(), Some(2));
    // Refused before anything runs, with the range, not failed job by job.
    for command in [&["run"][..], &["graph", "generate", "--shape", "aircraft"]] {
        let out = dagbench(&[command, &["--samples", "4294967295"]].concat());
        assert_eq!(out.status.code(), Some(2));
        assert!(
            text(&out.stderr).contains("4294967295 is not in 1..=1000000"),
            "{}",
            text(&out.stderr)
        );
    }
}

fn bench_json(extra: &[&str]) -> Value {
    let mut args = vec![
        "bench",
        "scheduler",
        "--jobs",
        "3000",
        "--shape",
        "layered",
        "--repeat",
        "1",
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = dagbench(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn bench_scheduler_reports_rate_memory_and_baseline() {
    let report = bench_json(&[]);
    assert_eq!(report["bench"], "scheduler");
    assert_eq!(report["jobs"], 3000);
    let per_sec = report["per_sec"].as_f64().unwrap();
    assert!(per_sec > 0.0);
    assert!(report["heap_bytes_per_job"].as_f64().unwrap() > 0.0);
    assert!(report["build_jobs_per_sec"].as_f64().unwrap() > 0.0);
    assert!(report["baseline"].as_str().unwrap().contains("graphlib"));
    // python3 is part of the test environment: the baseline really ran.
    let baseline = report["baseline_per_sec"]
        .as_f64()
        .expect("graphlib baseline measured");
    let ratio = report["ratio"].as_f64().unwrap();
    assert!((ratio - per_sec / baseline).abs() <= 1e-9 * ratio);
}

#[test]
fn bench_without_python_says_so() {
    let report = bench_json(&["--python", "none"]);
    assert!(report["baseline_per_sec"].is_null());
    assert!(report["ratio"].is_null());
    let report = bench_json(&["--python", "/nonexistent/python3"]);
    assert!(report["baseline_per_sec"].is_null());
}

#[test]
fn help_explains_the_commands() {
    let out = dagbench(&["--help"]);
    let stdout = text(&out.stdout);
    for word in ["graph", "bench"] {
        assert!(stdout.contains(word), "{stdout}");
    }
    let out = dagbench(&["bench", "scheduler", "--help"]);
    assert!(text(&out.stdout).contains("graphlib"));
}

#[test]
fn a_reader_that_goes_away_ends_the_stream_quietly() {
    use std::io::Read as _;
    use std::process::{Command, Stdio};
    // `dagbench graph generate --out - | head -c 100`: far more than a pipe
    // buffer holds, so the writer meets the closed pipe.
    let mut child = Command::new(env!("CARGO_BIN_EXE_dagbench"))
        .args([
            "graph",
            "generate",
            "--shape",
            "independent",
            "--jobs",
            "200000",
            "--out",
            "-",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = [0u8; 100];
    child.stdout.take().unwrap().read_exact(&mut head).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
    assert!(text(&head).starts_with('{'), "{}", text(&head));
}
