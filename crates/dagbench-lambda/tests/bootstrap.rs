//! The real `bootstrap` binary end to end: this harness serves the Lambda
//! Runtime API on loopback (`/2018-06-01/runtime/invocation/next`,
//! `/response`, `/error`), plays the SQS event source mapping (receive from
//! moto's incoming queue, invoke, delete what did not fail), and checks
//! completions on moto's outgoing queue, objects in its S3 and items in its
//! DynamoDB. Real Lambda cannot run here (moto's needs Docker).

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use dagbench_aws::{DynamoLedger, SqsQueue};
use dagbench_core::ids::RunId;
use dagbench_core::message::{Completion, Outcome};
use dagbench_runtime::ports::{JobLedger, JobQueue, LedgerStatus};
use dagbench_testkit::moto::{Stack, moto};

#[derive(Default)]
struct State {
    /// Invocations waiting for `next`: id, payload, deadline (epoch ms).
    events: VecDeque<(String, String, u128)>,
    /// Answers, with when they arrived (epoch ms).
    results: HashMap<String, (Result<String, String>, u128)>,
    first_next: Option<Instant>,
}

fn epoch_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

#[derive(Clone, Default)]
struct RuntimeApi {
    state: Arc<(Mutex<State>, Condvar)>,
}

impl RuntimeApi {
    fn start(&self) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let api = self.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let api = api.clone();
                std::thread::spawn(move || api.serve(stream));
            }
        });
        port
    }

    /// Waits until the function asks for its first invocation (its cold
    /// start is over), so a deadline measures the invocation alone.
    fn wait_ready(&self) {
        let (lock, cv) = &*self.state;
        let mut state = lock.lock().unwrap();
        let started = Instant::now();
        while state.first_next.is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the bootstrap never asked for work"
            );
            state = cv.wait_timeout(state, Duration::from_millis(50)).unwrap().0;
        }
    }

    /// Queues an invocation with a 60 s deadline.
    fn invoke(&self, id: &str, payload: String) {
        self.invoke_until(id, payload, epoch_ms() + 60_000);
    }

    /// Queues an invocation whose deadline is `deadline` (epoch ms), as
    /// `Lambda-Runtime-Deadline-Ms` says it.
    fn invoke_until(&self, id: &str, payload: String, deadline: u128) {
        let (lock, cv) = &*self.state;
        lock.lock()
            .unwrap()
            .events
            .push_back((id.to_owned(), payload, deadline));
        cv.notify_all();
    }

    fn result(&self, id: &str, timeout: Duration) -> Result<String, String> {
        self.answer(id, timeout).0
    }

    /// The answer to invocation `id` and when it came (epoch ms).
    fn answer(&self, id: &str, timeout: Duration) -> (Result<String, String>, u128) {
        let (lock, cv) = &*self.state;
        let deadline = Instant::now() + timeout;
        let mut state = lock.lock().unwrap();
        loop {
            if let Some(r) = state.results.remove(id) {
                return r;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no result for invocation {id}");
            state = cv.wait_timeout(state, left).unwrap().0;
        }
    }

    /// One keep-alive connection: requests until the client closes it.
    fn serve(&self, stream: TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut out = stream;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let mut parts = line.split_whitespace();
            let (method, path) = (
                parts.next().unwrap_or("").to_owned(),
                parts.next().unwrap_or("").to_owned(),
            );
            let mut length = 0;
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                let header = header.trim_end();
                if header.is_empty() {
                    break;
                }
                if let Some((k, v)) = header.split_once(':')
                    && k.eq_ignore_ascii_case("content-length")
                {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let body = String::from_utf8_lossy(&body).into_owned();
            let (lock, cv) = &*self.state;
            if method == "GET" && path == "/2018-06-01/runtime/invocation/next" {
                let (id, payload, deadline) = {
                    let mut state = lock.lock().unwrap();
                    state.first_next.get_or_insert_with(Instant::now);
                    loop {
                        if let Some(e) = state.events.pop_front() {
                            break e;
                        }
                        state = cv.wait(state).unwrap();
                    }
                };
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: {id}\r\n\
                     Lambda-Runtime-Deadline-Ms: {deadline}\r\n\
                     Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:scenario-1-test-processor\r\n\
                     Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000\r\nContent-Length: {}\r\n\r\n",
                    payload.len()
                );
                if out
                    .write_all(head.as_bytes())
                    .and_then(|()| out.write_all(payload.as_bytes()))
                    .is_err()
                {
                    return;
                }
            } else if method == "POST" && path.starts_with("/2018-06-01/runtime/invocation/") {
                let rest = &path["/2018-06-01/runtime/invocation/".len()..];
                let (id, kind) = rest.split_once('/').unwrap_or((rest, ""));
                let result = if kind == "response" {
                    Ok(body)
                } else {
                    Err(body)
                };
                lock.lock()
                    .unwrap()
                    .results
                    .insert(id.to_owned(), (result, epoch_ms()));
                cv.notify_all();
                let reply = "{\"status\":\"OK\"}";
                let _ = write!(
                    out,
                    "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{reply}",
                    reply.len()
                );
            } else {
                let _ = write!(out, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
            }
        }
    }
}

fn spawn_bootstrap(stack: &Stack, port: u16) -> std::process::Child {
    spawn_function(stack, port, &[])
}

/// The bootstrap as Lambda starts it: its Runtime API, its variables,
/// Lambda's 1,024 open files (`prlimit`), and `extra` variables.
fn spawn_function(stack: &Stack, port: u16, extra: &[(&str, &str)]) -> std::process::Child {
    Command::new("prlimit")
        .args(["--nofile=1024:1024", "--"])
        .arg(env!("CARGO_BIN_EXE_bootstrap"))
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "scenario-1-test-processor")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/28/[$LATEST]test")
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            "/aws/lambda/scenario-1-test-processor",
        )
        .envs(stack.process_env("s1-test"))
        .envs(extra.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The SQS record of a delivered message, as the event source mapping sends it.
fn record(m: &dagbench_runtime::ports::ReceivedMessage) -> serde_json::Value {
    serde_json::json!({"messageId": m.message_id, "receiptHandle": m.receipt, "body": m.body,
        "attributes": {"ApproximateReceiveCount": m.receive_count.to_string()}, "messageAttributes": {},
        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:incoming", "awsRegion": "us-east-1"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_bootstrap_processes_sqs_events() {
    let Some(m) = moto() else { return };
    let stack = Stack::create(m, 30).await;
    let api = RuntimeApi::default();
    let port = api.start();
    let spawned = Instant::now();
    let mut bootstrap = spawn_bootstrap(&stack, port);

    // Messages on the incoming queue, delivered as the event source mapping does.
    let incoming = SqsQueue::new(stack.sqs.clone(), &stack.incoming);
    let bodies: Vec<String> = (0..4)
        .map(|i| format!("{{\"job_id\":\"lam-{i}\",\"data_size_kb\":1,\"run_id\":\"s1\"}}"))
        .collect();
    incoming.send_batch(&bodies).await.unwrap();
    let mut delivered = Vec::new();
    while delivered.len() < 4 {
        delivered.extend(incoming.receive(10, Duration::from_secs(1)).await.unwrap());
    }
    let records: Vec<serde_json::Value> = delivered.iter().map(record).collect();
    api.invoke(
        "req-1",
        serde_json::json!({ "Records": records }).to_string(),
    );
    let api2 = api.clone();
    let response =
        tokio::task::spawn_blocking(move || api2.result("req-1", Duration::from_secs(60)))
            .await
            .unwrap();
    let cold_start = api.state.0.lock().unwrap().first_next.map(|t| t - spawned);
    let response: serde_json::Value =
        serde_json::from_str(&response.expect("the invocation succeeds")).unwrap();
    assert_eq!(response["batchItemFailures"], serde_json::json!([]));
    // The mapping deletes what did not fail.
    let receipts: Vec<String> = delivered.iter().map(|m| m.receipt.clone()).collect();
    incoming.delete_batch(&receipts).await.unwrap();

    let outgoing = SqsQueue::new(stack.sqs.clone(), &stack.outgoing);
    let mut done = Vec::new();
    for _ in 0..10 {
        for m in outgoing.receive(10, Duration::from_secs(1)).await.unwrap() {
            done.push(Completion::parse(m.body.as_bytes()).unwrap());
        }
        if done.len() == 4 {
            break;
        }
    }
    assert_eq!(
        done.len(),
        4,
        "a completion per message on the outgoing queue"
    );
    // The function reports its billed calls with its completions: an
    // output written, a claim and a finish, a completion sent per job.
    let mut calls = dagbench_core::calls::Calls::default();
    for c in &done {
        calls.add(&c.calls);
    }
    assert_eq!((calls.s3_put, calls.sqs_requests), (4, 4), "{calls:?}");
    assert!(calls.dynamodb_write_units >= 8, "{calls:?}");
    let ledger = DynamoLedger::new(stack.dynamodb.clone(), &stack.table);
    let store = dagbench_aws::s3::run_store(&dagbench_aws::s3::S3Location {
        bucket: stack.bucket.clone(),
        prefix: String::new(),
        endpoint: Some(stack.endpoint.clone()),
        region: Some("us-east-1".into()),
        credentials: None,
    })
    .unwrap();
    for c in &done {
        assert_eq!(c.test_run_id, "s1-test");
        let Outcome::Completed { output_key } = &c.outcome else {
            panic!("{c:?}")
        };
        assert_eq!(
            store.get_bytes(output_key).await.unwrap().unwrap().len(),
            1024,
            "object in S3"
        );
        let row = ledger
            .get(&RunId::new("s1").unwrap(), &c.job_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.status, LedgerStatus::Completed, "item in DynamoDB");
    }
    let _ = bootstrap.kill();
    let _ = bootstrap.wait();
    eprintln!("bootstrap: process start to first `next` request: {cold_start:?} (debug build)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_1_runs_an_aircraft_graph_with_results_equal_to_local() {
    use dagbench_core::Scheduler;
    use dagbench_runtime::driver::{DriverConfig, RunStatus, drive};

    let Some(m) = moto() else { return };
    let stack = Stack::create(m, 30).await;
    let aircraft = dagbench_testkit::Aircraft::new("s1-e2e", 4, 12, 48);
    let store = stack.store();
    aircraft.seed(&store).await;
    let api = RuntimeApi::default();
    let port = api.start();
    let mut bootstrap = spawn_bootstrap(&stack, port);

    // The event source mapping: poll, invoke, delete what did not fail.
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let esm = {
        let incoming = SqsQueue::new(stack.sqs.clone(), &stack.incoming);
        let api = api.clone();
        tokio::spawn(async move {
            let mut n = 0;
            loop {
                let batch = tokio::select! {
                    b = incoming.receive(10, Duration::from_secs(1)) => b.unwrap(),
                    _ = stop_rx.changed() => return,
                };
                if batch.is_empty() {
                    continue;
                }
                n += 1;
                let id = format!("esm-{n}");
                let records: Vec<serde_json::Value> = batch.iter().map(record).collect();
                api.invoke(&id, serde_json::json!({ "Records": records }).to_string());
                let waiter = api.clone();
                let response = tokio::task::spawn_blocking(move || {
                    waiter.result(&id, Duration::from_secs(60))
                })
                .await
                .unwrap();
                let failed: Vec<String> = match response {
                    Ok(body) => serde_json::from_str::<serde_json::Value>(&body).unwrap()["batchItemFailures"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
                        .collect(),
                    Err(_) => batch.iter().map(|m| m.message_id.clone()).collect(),
                };
                let done: Vec<String> = batch
                    .iter()
                    .filter(|m| !failed.contains(&m.message_id))
                    .map(|m| m.receipt.clone())
                    .collect();
                if !done.is_empty() {
                    incoming.delete_batch(&done).await.unwrap();
                }
            }
        })
    };
    let mut cfg = DriverConfig::new(aircraft.run_id.clone());
    cfg.stall_timeout = Duration::from_secs(90);
    let (_stop, driver_stop) = tokio::sync::watch::channel(false);
    let outcome = drive(
        Scheduler::new(Arc::new(aircraft.graph())),
        &stack.queues(),
        Arc::new(dagbench_runtime::ports::SystemClock),
        &cfg,
        driver_stop,
        &mut |_| {},
    )
    .await;
    let _ = stop_tx.send(true);
    let _ = esm.await;
    let _ = bootstrap.kill();
    let _ = bootstrap.wait();
    assert_eq!(
        outcome.status,
        RunStatus::Completed,
        "{:?}",
        outcome.progress
    );
    aircraft.assert_matches_reference(&store).await;
}

/// Held by the tests that measure time against a deadline and by the one
/// that loads moto with 1,000 jobs: moto is one process shared by this
/// file's tests, and a saturated moto would make a 3 s deadline a test of
/// moto.
static TIMING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Sends `bodies` to the stack's incoming queue and receives them back, as
/// the event source mapping would: the records of one event.
async fn delivered(
    stack: &Stack,
    bodies: &[String],
) -> Vec<dagbench_runtime::ports::ReceivedMessage> {
    let incoming = SqsQueue::new(stack.sqs.clone(), &stack.incoming);
    for chunk in bodies.chunks(10) {
        incoming.send_batch(chunk).await.unwrap();
    }
    let mut got = Vec::new();
    let started = Instant::now();
    while got.len() < bodies.len() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "messages never came back"
        );
        got.extend(incoming.receive(10, Duration::from_secs(1)).await.unwrap());
    }
    got
}

/// Invokes `api` with `records` and a deadline `budget` from now; returns
/// the answer, the records sent back, and how long before the deadline
/// the answer came (negative: late).
async fn invoke_with(
    api: &RuntimeApi,
    id: &str,
    records: Vec<serde_json::Value>,
    budget: Duration,
) -> (Vec<String>, i128) {
    let deadline = epoch_ms() + budget.as_millis();
    api.invoke_until(
        id,
        serde_json::json!({ "Records": records }).to_string(),
        deadline,
    );
    let waiter = api.clone();
    let id = id.to_owned();
    let (answer, at) =
        tokio::task::spawn_blocking(move || waiter.answer(&id, budget + Duration::from_secs(60)))
            .await
            .unwrap();
    let body: serde_json::Value =
        serde_json::from_str(&answer.expect("the invocation answers")).unwrap();
    let back = body["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
        .collect();
    (back, deadline as i128 - at as i128)
}

/// Every completion on the outgoing queue until `n` came (or 60 s passed).
async fn completions_of(stack: &Stack, n: usize) -> Vec<Completion> {
    let outgoing = SqsQueue::new(stack.sqs.clone(), &stack.outgoing);
    let mut done = Vec::new();
    let started = Instant::now();
    while done.len() < n && started.elapsed() < Duration::from_secs(60) {
        let batch = outgoing.receive(10, Duration::from_secs(1)).await.unwrap();
        let receipts: Vec<String> = batch.iter().map(|m| m.receipt.clone()).collect();
        done.extend(
            batch
                .iter()
                .map(|m| Completion::parse(m.body.as_bytes()).unwrap()),
        );
        if !receipts.is_empty() {
            outgoing.delete_batch(&receipts).await.unwrap();
        }
    }
    done
}

/// A 3 s function given two 100 ms jobs and an 8 s one: the answer leaves
/// before the deadline, the quick jobs complete once, the 8 s job fails at
/// once on its own, naming its work and the timeout; nothing goes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_3_s_function_answers_before_its_deadline() {
    let _alone = TIMING.lock().await;
    let Some(m) = moto() else { return };
    let stack = Stack::create(m, 30).await;
    let api = RuntimeApi::default();
    let port = api.start();
    let mut bootstrap = spawn_function(&stack, port, &[("FUNCTION_TIMEOUT_MS", "3000")]);
    api.wait_ready();
    let bodies: Vec<String> = [("quick-0", 100), ("slow", 8_000), ("quick-1", 100)]
        .iter()
        .map(|(id, ms)| format!(r#"{{"job_id":"{id}","work_duration_ms":{ms},"run_id":"dl"}}"#))
        .collect();
    let records: Vec<serde_json::Value> = delivered(&stack, &bodies)
        .await
        .iter()
        .map(record)
        .collect();
    let (back, early_ms) = invoke_with(&api, "dl-1", records, Duration::from_secs(3)).await;
    let _ = bootstrap.kill();
    let _ = bootstrap.wait();
    assert!(
        early_ms > 0,
        "the answer came {} ms after the deadline",
        -early_ms
    );
    assert!(back.is_empty(), "nothing is retried: {back:?}");
    let done = completions_of(&stack, 3).await;
    assert_eq!(done.len(), 3, "{done:?}");
    for c in &done {
        match (c.job_id.as_str(), &c.outcome) {
            ("quick-0" | "quick-1", Outcome::Completed { .. }) => {}
            ("slow", Outcome::Failed { error }) => assert!(
                error.contains("8000 ms of work") && error.contains("timeout is 3000 ms"),
                "{error}"
            ),
            other => panic!("unexpected completion {other:?}"),
        }
    }
    let ledger = DynamoLedger::new(stack.dynamodb.clone(), &stack.table);
    for job in ["quick-0", "quick-1", "slow"] {
        let row = ledger
            .get(
                &RunId::new("dl").unwrap(),
                &dagbench_core::ids::JobId::new(job).unwrap(),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.attempts, 1, "{job} ran once");
    }
}

/// One job at a time in a 3 s function, two jobs of 1.5 s: the second
/// cannot fit what is left and goes back unstarted, before the deadline; on its
/// last delivery the same wait fails it with the reason instead, so the
/// dead-letter queue never gets it without one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_no_longer_fits_goes_back_or_fails_on_its_last_delivery() {
    let _alone = TIMING.lock().await;
    let Some(m) = moto() else { return };
    let stack = Stack::create(m, 30).await;
    let api = RuntimeApi::default();
    let port = api.start();
    let mut bootstrap = spawn_function(
        &stack,
        port,
        &[("FUNCTION_TIMEOUT_MS", "3000"), ("JOB_CONCURRENCY", "1")],
    );
    api.wait_ready();
    let bodies: Vec<String> = ["first", "second", "third"]
        .iter()
        .map(|id| format!(r#"{{"job_id":"{id}","work_duration_ms":1500,"run_id":"fit"}}"#))
        .collect();
    let got = delivered(&stack, &bodies).await;
    let by_id = |id: &str| {
        got.iter()
            .find(|m| m.body.contains(&format!("\"{id}\"")))
            .unwrap()
            .clone()
    };
    let (first, second, third) = (by_id("first"), by_id("second"), by_id("third"));
    let (back, early_ms) = invoke_with(
        &api,
        "fit-1",
        vec![record(&first), record(&second)],
        Duration::from_secs(3),
    )
    .await;
    assert!(early_ms > 0, "late by {} ms", -early_ms);
    assert_eq!(
        back,
        std::slice::from_ref(&second.message_id),
        "the job that did not fit goes back"
    );

    // The second again, now on its last delivery (the queue's
    // maxReceiveCount is 3), behind another 1.5 s job.
    let mut last = record(&second);
    last["attributes"]["ApproximateReceiveCount"] = "3".into();
    let (back, early_ms) = invoke_with(
        &api,
        "fit-2",
        vec![record(&third), last],
        Duration::from_secs(3),
    )
    .await;
    let _ = bootstrap.kill();
    let _ = bootstrap.wait();
    assert!(early_ms > 0, "late by {} ms", -early_ms);
    assert!(back.is_empty(), "{back:?}");
    let done = completions_of(&stack, 3).await;
    let outcome = |id: &str| {
        done.iter()
            .find(|c| c.job_id.as_str() == id)
            .unwrap_or_else(|| panic!("no completion of {id} in {done:?}"))
            .outcome
            .clone()
    };
    assert!(matches!(outcome("first"), Outcome::Completed { .. }));
    assert!(matches!(outcome("third"), Outcome::Completed { .. }));
    let Outcome::Failed { error } = outcome("second") else {
        panic!("the last delivery fails the job")
    };
    assert!(
        error.starts_with("not run on delivery 3, the last before the dead-letter queue"),
        "{error}"
    );
    assert_eq!(done.len(), 3, "one completion each: {done:?}");
}

/// An event of 1,000 records under Lambda's 1,024 open files and the
/// default 256 MB: every job completes exactly once, nothing goes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_of_1000_records_completes_within_the_open_file_limit() {
    let _alone = TIMING.lock().await;
    let Some(m) = moto() else { return };
    let stack = Stack::create(m, 300).await;
    let api = RuntimeApi::default();
    let port = api.start();
    let mut bootstrap = spawn_function(&stack, port, &[("FUNCTION_TIMEOUT_MS", "300000")]);
    api.wait_ready();
    // Ten real deliveries from moto give the records their shape (ids,
    // receipts, attributes); the event repeats them with 1,000 distinct
    // messages, since receiving 1,000 messages from moto takes over a
    // minute and the function never sees the queue anyway.
    let bodies: Vec<String> = (0..10)
        .map(|i| format!(r#"{{"job_id":"real-{i}","data_size_kb":1,"run_id":"big"}}"#))
        .collect();
    let shapes: Vec<serde_json::Value> = delivered(&stack, &bodies)
        .await
        .iter()
        .map(record)
        .collect();
    let records: Vec<serde_json::Value> = (0..1000)
        .map(|i| {
            let mut r = shapes[i % shapes.len()].clone();
            r["messageId"] = format!("message-{i}").into();
            r["receiptHandle"] = format!("{}-{i}", r["receiptHandle"].as_str().unwrap()).into();
            r["body"] = format!(r#"{{"job_id":"big-{i}","data_size_kb":1,"run_id":"big"}}"#).into();
            r
        })
        .collect();
    let t = Instant::now();
    let (back, early_ms) = invoke_with(&api, "big-1", records, Duration::from_secs(300)).await;
    eprintln!("the invocation took {:?} (moto, debug build)", t.elapsed());
    let _ = bootstrap.kill();
    let _ = bootstrap.wait();
    assert!(early_ms > 0);
    assert!(back.is_empty(), "{} records sent back", back.len());
    // One completion each: 1,000 on the outgoing queue (moto counts them
    // exactly; receiving them all would take a minute), and every job's
    // ledger item completed by one claim.
    let depth = SqsQueue::new(stack.sqs.clone(), &stack.outgoing)
        .approximate_depth()
        .await
        .unwrap();
    assert_eq!(depth.visible + depth.in_flight, 1000);
    let items = stack.ledger_items().await;
    assert_eq!(items.len(), 1000);
    assert!(
        items
            .iter()
            .all(|i| i["attempts"].as_n().unwrap() == "1"
                && i["status"].as_s().unwrap() == "completed"),
        "each job completed, by one claim"
    );
}
