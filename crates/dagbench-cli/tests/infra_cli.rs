//! The infrastructure commands as a user runs them: configuration and its
//! errors, `synth`, the Makefile's targets, and the whole Scenario 2
//! lifecycle against moto — deploy, workers configured from the stack, a
//! `dagbench run --scenario 2` that finds the stack from its CloudFormation
//! outputs, scale, status, destroy.

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Scratch, text};
use dagbench_deploy::Aws;
use dagbench_deploy::lifecycle::discover;
use dagbench_infra::StackKind;
use dagbench_testkit::moto::{moto, unique};
use serde_json::Value;

/// `dagbench args…` in `dir`, with none of the caller's deployment or
/// processor variables, plus `env`.
fn dagbench_in(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dagbench"));
    cmd.current_dir(dir).args(args).stdin(Stdio::null());
    for var in ["ENV", "TEST_RUN_ID", "INCOMING_QUEUE_URL", "AWS_PROFILE"] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    cmd.output().expect("dagbench runs")
}

#[test]
fn config_comes_from_the_file_the_environment_and_flags_in_that_order() {
    let dir = Scratch::new("infra-config");
    let out = dagbench_in(dir.root(), &["config"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.contains("env = \"dev\"") && shown.contains("memory_mb = 256"),
        "{shown}"
    );

    dir.file(
        "dagbench.toml",
        "env = \"qa\"\n[lambda]\nmemory_mb = 1024\n",
    );
    let out = dagbench_in(dir.root(), &["config"], &[]);
    let shown = text(&out.stdout);
    assert!(
        shown.contains("env = \"qa\"") && shown.contains("memory_mb = 1024"),
        "{shown}"
    );

    let out = dagbench_in(
        dir.root(),
        &["config", "--lambda-memory", "2048"],
        &[
            ("ENV", "prod".into()),
            ("TEST_RUN_ID", "memory-2048".into()),
        ],
    );
    let shown = text(&out.stdout);
    assert!(
        shown.contains("env = \"prod\"")
            && shown.contains("test_run_id = \"memory-2048\"")
            && shown.contains("memory_mb = 2048"),
        "{shown}"
    );
    let out = dagbench_in(
        dir.root(),
        &["config", "--env", "stage"],
        &[("ENV", "prod".into())],
    );
    assert!(
        text(&out.stdout).contains("env = \"stage\""),
        "a flag beats the environment"
    );
}

#[test]
fn invalid_configuration_is_rejected_with_the_setting_and_allowed_values() {
    let dir = Scratch::new("infra-invalid");
    let out = dagbench_in(
        dir.root(),
        &["synth", "--scenario", "2", "--fargate-memory", "4096"],
        &[],
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("fargate.memory_mb = 4096") && err.contains("512, 1024, 2048 MiB"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "nothing is synthesized");

    let out = dagbench_in(
        dir.root(),
        &[
            "config",
            "--lambda-memory",
            "64",
            "--lambda-timeout",
            "1000",
        ],
        &[],
    );
    let err = text(&out.stderr);
    assert!(
        err.contains("lambda.memory_mb = 64") && err.contains("lambda.timeout_s = 1000"),
        "every problem is listed: {err}"
    );

    let bad = dir.file("bad.toml", "[queues]\nvisibility_timeout_s = 100\n");
    let out = dagbench_in(dir.root(), &["config", "--config", &bad], &[]);
    let err = text(&out.stderr);
    assert!(
        err.contains("queues.visibility_timeout_s = 100") && err.contains("360"),
        "{err}"
    );

    let typo = dir.file("typo.toml", "[lambda]\nmemroy_mb = 512\n");
    let out = dagbench_in(dir.root(), &["config", "--config", &typo], &[]);
    let err = text(&out.stderr);
    assert!(
        err.contains("typo.toml") && err.contains("memroy_mb"),
        "{err}"
    );

    let out = dagbench_in(dir.root(), &["config", "--config", "missing.toml"], &[]);
    assert!(text(&out.stderr).contains("missing.toml"));
}

#[test]
fn synth_prints_one_template_or_writes_all_five() {
    let dir = Scratch::new("infra-synth");
    let out = dagbench_in(
        dir.root(),
        &["synth", "--scenario", "1", "--lambda-memory", "512"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let t: Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = &t["Resources"]["ProcessorFunction"]["Properties"];
    assert_eq!(f["FunctionName"], "scenario-1-dev-processor");
    assert_eq!(f["MemorySize"], 512);

    let out = dagbench_in(
        dir.root(),
        &["synth", "--out", "templates", "--env", "qa"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut files: Vec<String> = std::fs::read_dir(dir.root().join("templates"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "dagbench-bootstrap-qa.json",
            "perf-shared-qa.json",
            "scenario-1-qa.json",
            "scenario-2-qa.json",
            "scenario-3-qa.json"
        ]
    );
    for f in &files {
        let t: Value =
            serde_json::from_slice(&std::fs::read(dir.root().join("templates").join(f)).unwrap())
                .unwrap();
        assert_eq!(t["AWSTemplateFormatVersion"], "2010-09-09");
    }

    let out = dagbench_in(dir.root(), &["synth"], &[]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--scenario"),
        "{}",
        text(&out.stderr)
    );
    let out = dagbench_in(dir.root(), &["synth", "--scenario", "4"], &[]);
    assert!(
        text(&out.stderr).contains("bootstrap, shared, 1, 2 or 3"),
        "{}",
        text(&out.stderr)
    );
}

/// The Makefile's targets are the source document's, each one `dagbench`
/// call with the variables passed through.
#[test]
fn make_targets_are_thin_calls_of_dagbench() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let make = |args: &[&str]| -> String {
        let out = Command::new("make")
            .current_dir(&root)
            .args(["-n", "-s", "DAGBENCH=dagbench"])
            .args(args)
            .env_remove("TEST_RUN_ID")
            .env_remove("ENV")
            .output()
            .expect("make runs");
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let help = make(&["help"]);
    let out = Command::new("make")
        .current_dir(&root)
        .arg("help")
        .output()
        .unwrap();
    let help_text = text(&out.stdout);
    assert!(help.contains("awk"));
    for target in [
        "bootstrap",
        "synth",
        "deploy",
        "run",
        "destroy",
        "deploy-ecs",
        "destroy-ecs",
        "scale-up",
        "scale-down",
        "ecs-status",
        "run-ecs",
        "test",
    ] {
        assert!(
            help_text
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{target} "))),
            "make help lists {target}:\n{help_text}"
        );
    }
    let vars = [
        "ENV=qa",
        "TEST_RUN_ID=baseline-7",
        "MESSAGES=50",
        "DESIRED_COUNT=3",
    ];
    let with = |target: &str| {
        let mut args = vec![target];
        args.extend(vars);
        make(&args)
    };
    let cases = [
        (
            "bootstrap",
            "dagbench bootstrap --env qa --test-run-id baseline-7",
        ),
        (
            "synth",
            "dagbench synth --env qa --test-run-id baseline-7 --out synth",
        ),
        (
            "deploy",
            "dagbench deploy --scenario 1 --env qa --test-run-id baseline-7 --lambda-zip ",
        ),
        (
            "run",
            "dagbench run --scenario 1 --env qa --messages 50 --test-run-id baseline-7",
        ),
        (
            "destroy",
            "dagbench destroy --scenario 1 --env qa --test-run-id baseline-7",
        ),
        (
            "deploy-ecs",
            "dagbench deploy --scenario shared --env qa --test-run-id baseline-7\ndagbench deploy --scenario 2 --env qa --test-run-id baseline-7",
        ),
        (
            "destroy-ecs",
            "dagbench destroy --scenario 2 --env qa --test-run-id baseline-7",
        ),
        ("scale-up", "dagbench scale --desired 3 --env qa"),
        ("scale-down", "dagbench scale --desired 0 --env qa"),
        ("ecs-status", "dagbench status --env qa"),
        (
            "run-ecs",
            "dagbench run --scenario 2 --env qa --messages 50 --test-run-id baseline-7",
        ),
    ];
    for (target, expected) in cases {
        let shown = with(target);
        assert!(
            shown.contains(expected),
            "make {target}:\n{shown}\nexpected: {expected}"
        );
    }
    assert!(make(&["destroy", "YES=1"]).contains("--yes"));
    assert!(
        make(&["run"]).contains("--env dev --messages 1000"),
        "defaults"
    );
    // Every command line the targets produce parses.
    for (_, expected) in cases {
        for line in expected.lines() {
            let args: Vec<&str> = line.split_whitespace().skip(1).collect();
            let mut args: Vec<&str> = args.into_iter().filter(|a| *a != "--lambda-zip").collect();
            args.push("--help");
            let out = Command::new(env!("CARGO_BIN_EXE_dagbench"))
                .args(&args)
                .output()
                .unwrap();
            assert!(out.status.success(), "{line}: {}", text(&out.stderr));
        }
    }
}

fn emulator_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ALLOW_HTTP", "true".into()),
    ]
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "a worker did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_2_lifecycle_through_the_cli() {
    let Some(m) = moto() else { return };
    let dir = Scratch::new("infra-lifecycle");
    let env_name = unique("c");
    let aws_env = emulator_env(&m.endpoint);
    let run = |args: &[&str]| dagbench_in(dir.root(), args, &aws_env);
    let common = [
        "--env",
        env_name.as_str(),
        "--direct",
        "--poll-seconds",
        "1",
    ];

    let out = run(&[&["bootstrap"][..], &common].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("dagbench-bootstrap-{env_name} created")));

    // The worker image, pushed. No Docker engine here: a minimal manifest
    // that ECR (moto) stores and digests is enough for the deploy to pin it.
    let aws = Aws::for_endpoint(&m.endpoint, "us-east-1").await;
    aws.ecr
        .put_image()
        .repository_name(format!("dagbench-{env_name}-worker"))
        .image_tag("latest")
        .image_manifest(r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"layers":[]}"#)
        .send()
        .await
        .unwrap();
    let out = run(&[
        &["deploy", "--scenario", "2", "--test-run-id", "cli-run"][..],
        &common,
    ]
    .concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.contains(&format!("perf-shared-{env_name} created"))
            && shown.contains(&format!("scenario-2-{env_name} created"))
            && shown.contains("IncomingQueueUrl"),
        "{shown}"
    );
    let progress = text(&out.stderr);
    assert!(
        progress.contains("CREATE_COMPLETE"),
        "events are streamed: {progress}"
    );

    // Two workers configured as the task definition configures a task.
    let found = discover(&aws, StackKind::Scenario2, &env_name)
        .await
        .unwrap();
    let workers: Vec<Child> = (0..2)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_dagbench"))
                .args(["worker", "--concurrency", "2"])
                .envs(aws_env.iter().map(|(k, v)| (*k, v.as_str())))
                .envs([
                    ("INCOMING_QUEUE_URL", found.incoming_queue_url.as_str()),
                    ("OUTGOING_QUEUE_URL", found.outgoing_queue_url.as_str()),
                    ("DLQ_URL", found.dlq_url.as_str()),
                    ("BUCKET_NAME", found.bucket_name.as_str()),
                    ("TABLE_NAME", found.table_name.as_str()),
                    ("TEST_RUN_ID", found.test_run_id.as_str()),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    // `make run-ecs`: the scheduler finds the queues from the stack's outputs.
    let out = run(&[
        "run",
        "--scenario",
        "2",
        "--env",
        &env_name,
        "--messages",
        "20",
        "--results",
        "results",
        "--json",
    ]);
    for w in workers {
        stop(w);
    }
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!("stack scenario-2-{env_name}")),
        "{}",
        text(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["status"], "completed");
    assert_eq!(summary["counts"]["completed"], 20, "{summary}");
    // The run recorded how the stack was deployed, and is priced on it.
    let run_dir = Path::new(summary["results"].as_str().unwrap());
    let run_dir = if run_dir.is_absolute() {
        run_dir.to_path_buf()
    } else {
        dir.root().join(run_dir)
    };
    let deployment: Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("deployment.json")).unwrap()).unwrap();
    assert_eq!(deployment["region"], "us-east-1");
    assert_eq!(deployment["setup"]["scenario"], "scenario-2");
    assert_eq!(deployment["setup"]["cpu"], 256);
    let estimates = summary["estimates"].as_array().unwrap();
    assert_eq!(estimates.len(), 1, "{summary}");
    assert_eq!(estimates[0]["setup"]["scenario"], "scenario-2");
    assert!(run_dir.join("report.html").exists());

    let out = run(&["scale", "--desired", "2", "--env", &env_name]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(&["status", "--env", &env_name]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("2 desired")
            && text(&out.stdout).contains("standing cost while idle: $"),
        "{}",
        text(&out.stdout)
    );

    // Destroy asks first; without a terminal it refuses unless --yes.
    let out = run(&["destroy", "--scenario", "2", "--env", &env_name]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--yes"), "{}", text(&out.stderr));
    let out = run(&[
        "destroy",
        "--scenario",
        "2",
        "--env",
        &env_name,
        "--yes",
        "--poll-seconds",
        "1",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(&["status", "--env", &env_name]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("not deployed"),
        "{}",
        text(&out.stderr)
    );
}

/// Queues a Cost Explorer answer in moto (its API for configuring
/// `GetCostAndUsage`, which otherwise answers with nothing).
fn queue_cost_explorer_result(endpoint: &str, result: &Value) {
    use std::io::{Read as _, Write as _};
    let host = endpoint.trim_start_matches("http://");
    let body = serde_json::json!({ "results": [result] }).to_string();
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "POST /moto-api/static/ce/cost-and-usage-results HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
}

#[test]
fn cost_reads_cost_explorer_by_tag_beside_the_estimates() {
    let Some(m) = moto() else { return };
    let dir = Scratch::new("infra-cost");
    let aws_env = emulator_env(&m.endpoint);
    let run = |args: &[&str]| dagbench_in(dir.root(), args, &aws_env);

    // Nothing tagged yet: say why that is usual and what to do.
    let out = run(&["cost", "--test-run-id", "nothing-here"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.contains("no costs tagged PerfTestRun=nothing-here")
            && shown.contains("24 hours")
            && shown.contains("activate PerfTestRun"),
        "{shown}"
    );

    // A cloud run of that test run, so its estimate is shown beside.
    let out = run(&[
        "run",
        "--sequences",
        "4",
        "--samples",
        "32",
        "--run-id",
        "s2",
        "--test-run-id",
        "baseline",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report_path = dir.root().join("results/s2/report.json");
    let mut report: Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    report["scenario"] = "scenario-2".into();
    std::fs::write(&report_path, report.to_string()).unwrap();
    std::fs::write(
        dir.root().join("results/s2/deployment.json"),
        r#"{"region":"us-east-1","setup":{"scenario":"scenario-2","cpu":256,"memory_mb":512,"arch":"x86_64","tasks":2,"concurrency":4,"batch_size":10}}"#,
    )
    .unwrap();

    let day = |start: &str, end: &str, lambda: &str, sqs: &str| {
        serde_json::json!({
            "TimePeriod": {"Start": start, "End": end},
            "Total": {},
            "Groups": [
                {"Keys": ["AWS Lambda"], "Metrics": {"UnblendedCost": {"Amount": lambda, "Unit": "USD"}}},
                {"Keys": ["Amazon Simple Queue Service"], "Metrics": {"UnblendedCost": {"Amount": sqs, "Unit": "USD"}}},
            ],
            "Estimated": true,
        })
    };
    queue_cost_explorer_result(
        &m.endpoint,
        &serde_json::json!({
            "ResultsByTime": [
                day("2026-11-26", "2026-11-27", "0.0100", "0.0020"),
                day("2026-11-27", "2026-11-28", "0.0023", "0.0001"),
            ],
            "DimensionValueAttributes": [],
        }),
    );
    let out = run(&["cost", "--test-run-id", "baseline", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let costs: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        costs["services"][0]["service"], "AWS Lambda",
        "largest first: {costs}"
    );
    assert!((costs["services"][0]["amount"].as_f64().unwrap() - 0.0123).abs() < 1e-12);
    assert!((costs["total"].as_f64().unwrap() - 0.0144).abs() < 1e-12);
    assert_eq!(costs["estimated_by_aws"], true);
    // Asking Cost Explorer is billed too: one request for one page.
    assert_eq!(costs["cost_explorer_requests"], 1);
    assert_eq!(costs["cost_explorer_requests_usd"], 0.01);
    assert_eq!(costs["runs"], serde_json::json!(["s2"]));
    assert!(costs["dagbench_estimate"].as_f64().unwrap() > 0.0);

    // The same answer in words (moto repeats an answer for the same query).
    let out = run(&["cost", "--test-run-id", "baseline"]);
    let shown = text(&out.stdout);
    assert!(
        shown.contains("AWS Lambda")
            && shown.contains("0.012300")
            && shown.contains("still AWS estimates"),
        "{shown}"
    );
    assert!(
        shown.contains("dagbench's estimate for 1 run (s2)")
            && shown
                .contains("this query made 1 Cost Explorer request ($0.01, billed at $0.01 each)"),
        "{shown}"
    );
}
