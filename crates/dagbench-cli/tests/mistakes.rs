//! The mistakes a new user makes, each refused before anything runs or is
//! written: the exit code (2 for usage, 1 for the rest), a message naming
//! the flag or file, and an empty working directory afterwards.

mod common;

use std::process::{Command, Output};

use common::{Scratch, text};

/// Runs `dagbench args` in the empty directory `cwd` (results default to
/// `./results` there), with no `TEST_RUN_ID`/`ENV` from the caller.
fn dagbench_in(cwd: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dagbench"))
        .args(args)
        .current_dir(cwd)
        .env_remove("TEST_RUN_ID")
        .env_remove("ENV")
        .env_remove("DAGBENCH_PYTHON")
        .output()
        .expect("the dagbench binary runs")
}

/// `(arguments, exit code, what stderr must contain)`.
const MISTAKES: &[(&[&str], i32, &str)] = &[
    // Sizes: refused with their range or the memory they would need.
    (
        &["run", "--sequences", "4294967295"],
        2,
        "4294967295 is not in 1..=10000000",
    ),
    (
        &["run", "--messages", "4294967295"],
        2,
        "4294967295 is not in 1..=100000000",
    ),
    (
        &["run", "--samples", "4294967295"],
        2,
        "4294967295 is not in 1..=1000000",
    ),
    (
        &["run", "--workers", "100000"],
        2,
        "100000 is not in 1..=10000",
    ),
    (
        &["bench", "local", "--workers", "0"],
        2,
        "'--workers <WORKERS>': 0 is not in 1..=10000",
    ),
    (
        &["bench", "scheduler-io", "--jobs", "1000000000000"],
        2,
        "is not in 1..=10000000",
    ),
    (
        &["bench", "scheduler-io", "--latency-ms", "NaN"],
        2,
        "NaN is not a finite number",
    ),
    // Nonsense that used to be accepted.
    (
        &["compare", "--max-cost", "NaN", "a", "b"],
        2,
        "'--max-cost <USD>': NaN is not a finite number",
    ),
    (
        &["compare", "--min-throughput", "NaN", "a", "b"],
        2,
        "NaN is not a finite number",
    ),
    (
        &["compare", "--max-p99-ms=-1", "a", "b"],
        2,
        "-1 is negative",
    ),
    (
        &["run", "--max-receive-count", "0"],
        2,
        "'--max-receive-count <MAX_RECEIVE_COUNT>': 0 is not in 1..=1000",
    ),
    (
        &["run", "--visibility-timeout", "0"],
        2,
        "0 is not in 1..=43200",
    ),
    (
        &["run", "--stall-timeout", "0"],
        2,
        "'--stall-timeout <STALL_TIMEOUT>': 0 is not in 1..=86400",
    ),
    (
        &["run", "--crew", "--crew-probability", "1.5"],
        2,
        "1.5 is not between 0 and 1",
    ),
    (
        &["run", "--crew", "--crew-probability", "NaN"],
        2,
        "NaN is not a finite number",
    ),
    (
        &["run", "--min-leg-km", "inf"],
        2,
        "inf is not a finite number",
    ),
    (
        &["graph", "generate", "--out", "g.json", "--width", "0"],
        2,
        "'--width <WIDTH>': 0 is not in",
    ),
    (
        &[
            "graph",
            "generate",
            "--out",
            "g.json",
            "--shape",
            "chains",
            "--chain-length",
            "0",
        ],
        2,
        "'--chain-length <CHAIN_LENGTH>': 0 is not in",
    ),
    (
        &["graph", "generate", "--out", "g.json", "--max-deps", "0"],
        2,
        "'--max-deps <MAX_DEPS>': 0 is not in",
    ),
    (
        &["worker", "--visibility-timeout", "0"],
        2,
        "0 is not in 1..=43200",
    ),
    // Flags that would be ignored in this mode.
    (
        &["run", "--resume", "r", "--seed", "3"],
        2,
        "'--resume <RUN_ID>' cannot be used with '--seed <SEED>'",
    ),
    (
        &["run", "--resume", "r", "--samples", "3"],
        2,
        "cannot be used with '--samples <SAMPLES>'",
    ),
    (
        &["run", "--resume", "r", "--work-ms", "3"],
        2,
        "cannot be used with '--work-ms <WORK_MS>'",
    ),
    (
        &["run", "--messages", "5", "--samples", "3"],
        2,
        "'--messages <N>' cannot be used with '--samples <SAMPLES>'",
    ),
    (
        &["run", "--messages", "5", "--crew"],
        2,
        "'--messages <N>' cannot be used with '--crew'",
    ),
    (
        &["run", "--messages", "5", "--sequences", "3"],
        2,
        "cannot be used with '--sequences <SEQUENCES>'",
    ),
    (
        &["run", "--messages", "5", "--homes", "LHR"],
        2,
        "--homes cannot be combined with --messages",
    ),
    (
        &["run", "--graph", "g.json", "--seed", "3"],
        2,
        "'--graph <FILE>' cannot be used with '--seed <SEED>'",
    ),
    (&["run", "--work-ms", "5"], 2, "--messages <N>"),
    (&["run", "--crew-probability", "0.5"], 2, "--crew"),
    (
        &["run", "--messages", "5", "--width", "3"],
        2,
        "--width applies to --shape layered and fan, not independent",
    ),
    (
        &[
            "run",
            "--messages",
            "5",
            "--shape",
            "fan",
            "--chain-length",
            "3",
        ],
        2,
        "--chain-length applies to --shape chains, not fan",
    ),
    (
        &["run", "--messages", "5", "--shape", "aircraft"],
        2,
        "--shape aircraft is not a synthetic shape",
    ),
    // Run ids that would make two runs' jobs look alike on the wire.
    (
        &["run", "--messages", "5", "--run-id", "a.b"],
        2,
        "run ids may not",
    ),
    // Limits a job would only meet at run time, named by their flag.
    (
        &["run", "--messages", "3", "--work-ms", "70000"],
        1,
        "job j0 asks for 70000 ms of work (work_duration_ms) (and 2 more jobs), above the 60000 ms set by --visibility-timeout 60",
    ),
    (
        &[
            "run",
            "--messages",
            "3",
            "--work-ms",
            "70000",
            "--visibility-timeout",
            "65",
        ],
        1,
        "the longest job needs --visibility-timeout 70 or more",
    ),
    (
        &["run", "--messages", "3", "--data-kb", "100000"],
        1,
        "job j0 asks for an output of 100000 KiB (data_size_kb) (and 2 more jobs); processors write at most 10240 KiB",
    ),
    (
        &["report", "r", "--fargate-task-minutes", "NaN"],
        2,
        "NaN is not a finite number",
    ),
    // Flags that would do nothing, as usage errors.
    (
        &[
            "run",
            "--messages",
            "5",
            "--shape",
            "chains",
            "--max-deps",
            "2",
        ],
        2,
        "--max-deps applies to --shape layered, not chains",
    ),
    (
        &["run", "--env", "prod"],
        2,
        "--env applies to --scenario 1|2",
    ),
    (
        &["run", "--take-over"],
        2,
        "--take-over applies to --scenario 1|2",
    ),
    (
        &["asl", "--task", "sqs", "--function-arn", "arn:aws:lambda:x"],
        2,
        "--function-arn applies to --task lambda",
    ),
    (
        &["asl", "--task", "lambda", "--function-arn", ""],
        2,
        "is not a Lambda function ARN",
    ),
    (
        &["asl", "--task", "sqs", "--queue-url", "not a url"],
        2,
        "is not a queue URL",
    ),
    (
        &["asl", "--task", "step"],
        2,
        "unknown task integration `step`: expected lambda or sqs",
    ),
    (
        &["status", "--scenario", "1"],
        2,
        "--scenario 1 has no status to show",
    ),
    (
        &["run", "--run-id=-x", "--messages", "2"],
        2,
        "starts with `-`",
    ),
    (
        &["run", "--run-id=a/b", "--messages", "2"],
        2,
        "allowed are letters, digits and `_:-`",
    ),
    (
        &[
            "graph", "generate", "--out", "g.json", "--shape", "chains", "--width", "5",
        ],
        2,
        "--width applies to --shape layered and fan, not chains",
    ),
    (
        &[
            "graph", "generate", "--out", "g.json", "--shape", "aircraft", "--jobs", "5",
        ],
        2,
        "--jobs does not apply to --shape aircraft",
    ),
    (
        &["bench", "kernel", "--python", "/nonexistent/python"],
        1,
        "--python /nonexistent/python: cannot run it",
    ),
    (
        &[
            "graph",
            "generate",
            "--out",
            "g.json",
            "--shape",
            "chains",
            "--max-deps",
            "2",
        ],
        2,
        "--max-deps applies to --shape layered, not chains",
    ),
    // Files that are not files: refused before they are opened.
    (
        &["run", "--graph", "/dev/zero"],
        1,
        "--graph /dev/zero is not a regular file",
    ),
    (
        &["run", "--airports", "/dev/zero"],
        1,
        "--airports /dev/zero is not a regular file",
    ),
    (
        &["run", "--prices", "/dev/zero"],
        1,
        "--prices /dev/zero is not a regular file",
    ),
    (
        &["run", "--config", "/dev/zero"],
        1,
        "--config /dev/zero is not a regular file",
    ),
    (
        &["graph", "validate", "/tmp"],
        1,
        "graph file /tmp is not a regular file (a directory)",
    ),
    (
        &["run", "--results", "/dev/null", "--messages", "2"],
        1,
        "--results /dev/null is not a directory",
    ),
    (
        &["report", "no-such-run"],
        1,
        "there is no run results/no-such-run",
    ),
    (
        &["report", "r", "--fargate-task-minutes", "1e300"],
        2,
        "minutes is more than a year",
    ),
    // Options that only matter at the end, checked at the start.
    (
        &["run", "--messages", "3", "--region", "mars-1"],
        1,
        "no prices for region mars-1",
    ),
    (
        &[
            "run",
            "--messages",
            "3",
            "--prices",
            "/nonexistent/prices.json",
        ],
        1,
        "cannot read the price table /nonexistent/prices.json",
    ),
    (
        &[
            "run",
            "--messages",
            "3",
            "--config",
            "/nonexistent/dagbench.toml",
        ],
        1,
        "cannot read the configuration /nonexistent/dagbench.toml",
    ),
];

#[test]
fn every_mistake_is_refused_before_anything_is_written() {
    for (args, code, expected) in MISTAKES {
        let dir = Scratch::new("mistake");
        let out = dagbench_in(dir.root(), args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(*code), "{args:?}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{args:?}: expected {expected:?} in: {stderr}"
        );
        assert!(
            out.stdout.is_empty(),
            "{args:?} printed {}",
            text(&out.stdout)
        );
        let left: Vec<_> = std::fs::read_dir(dir.root())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "{args:?} left {left:?}");
    }
}

/// A size no machine here can hold is refused with the estimate, before a
/// run folder exists, instead of aborting when an allocation fails.
#[test]
fn a_workload_larger_than_memory_is_refused_with_its_estimate() {
    let dir = Scratch::new("memory");
    for args in [
        &["run", "--messages", "99999999"][..],
        &["run", "--sequences", "9999999"],
        &["graph", "generate", "--jobs", "99999999", "--out", "-"],
        &["bench", "local", "--jobs", "99999999"],
    ] {
        let out = dagbench_in(dir.root(), args);
        let stderr = text(&out.stderr);
        // This machine may have the memory: then the size is accepted (and
        // the command is not run to its end here).
        if stderr.contains("of memory and this machine has") {
            assert_eq!(out.status.code(), Some(1), "{stderr}");
            assert!(
                stderr.contains(" needs about ") && stderr.contains("choose a smaller --"),
                "{stderr}"
            );
            assert!(std::fs::read_dir(dir.root()).unwrap().next().is_none());
        } else {
            let total_gib = std::fs::read_to_string("/proc/meminfo")
                .ok()
                .and_then(|m| {
                    m.lines()
                        .find(|l| l.starts_with("MemAvailable:"))
                        .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                })
                .map_or(u64::MAX, |kib| kib >> 20);
            assert!(
                total_gib >= 38,
                "{args:?} was accepted with {total_gib} GiB: {stderr}"
            );
        }
    }
}

/// `graph validate` checks what `run` would refuse: work over the local
/// visibility timeout (naming the flag, which it takes too) and job ids too
/// long for any run id; ids too long for the default run id get a note.
#[test]
fn validate_checks_the_limits_a_run_would_meet() {
    let dir = Scratch::new("limits");
    let long_work = dir.file(
        "work.json",
        r#"{"jobs": [{"job_id": "a", "work_duration_ms": 90000}, {"job_id": "b", "depends_on": ["a"]}]}"#,
    );
    let out = dagbench_in(dir.root(), &["graph", "validate", &long_work]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cannot run: job a asks for 90000 ms of work (work_duration_ms), above the 60000 ms set by --visibility-timeout 60")
            && stderr.contains("the longest job needs --visibility-timeout 90 or more"),
        "{stderr}"
    );
    let out = dagbench_in(
        dir.root(),
        &[
            "graph",
            "validate",
            &long_work,
            "--visibility-timeout",
            "90",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    let id = |n: usize| "x".repeat(n);
    let unusable = dir.file(
        "ids.json",
        &format!(r#"{{"jobs": [{{"job_id": "{}"}}]}}"#, id(127)),
    );
    let out = dagbench_in(dir.root(), &["graph", "validate", &unusable]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("has 127 characters: on the wire a job goes by <run id>.<job id>, at most 128 characters, so a job id may have at most 126"),
        "{}",
        text(&out.stderr)
    );
    let tight = dir.file(
        "tight.json",
        &format!(r#"{{"jobs": [{{"job_id": "{}"}}]}}"#, id(120)),
    );
    let out = dagbench_in(dir.root(), &["graph", "validate", &tight]);
    assert!(out.status.success());
    assert!(
        text(&out.stderr).contains(
            "choose a run id (--run-id) of at most 7 characters (the default run id has 21)"
        ),
        "{}",
        text(&out.stderr)
    );
}

/// Scenario 3 on a stack given by its variables needs its state machine
/// too: said before anything is written.
#[test]
fn scenario_3_without_its_state_machine_is_refused() {
    let dir = Scratch::new("sfn");
    let out = Command::new(env!("CARGO_BIN_EXE_dagbench"))
        .args(["run", "--scenario", "3", "--messages", "3"])
        .current_dir(dir.root())
        .env("INCOMING_QUEUE_URL", "http://127.0.0.1:1/q-in")
        .env("OUTGOING_QUEUE_URL", "http://127.0.0.1:1/q-out")
        .env("DLQ_URL", "http://127.0.0.1:1/q-dlq")
        .env("BUCKET_NAME", "data")
        .env("TABLE_NAME", "jobs")
        .env_remove("STATE_MACHINE_ARN")
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("needs STATE_MACHINE_ARN too"),
        "{}",
        text(&out.stderr)
    );
    assert!(std::fs::read_dir(dir.root()).unwrap().next().is_none());
}

/// A parse error is printed once, not once per cause.
#[test]
fn a_parse_error_is_printed_once() {
    let dir = Scratch::new("parse");
    let file = dir.file("bad.json", "{\"jobs\": [");
    let out = dagbench_in(dir.root(), &["graph", "validate", &file]);
    let stderr = text(&out.stderr);
    assert_eq!(stderr.matches("EOF while parsing").count(), 1, "{stderr}");
}
