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
    events: VecDeque<(String, String)>,
    results: HashMap<String, Result<String, String>>,
    first_next: Option<Instant>,
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

    fn invoke(&self, id: &str, payload: String) {
        let (lock, cv) = &*self.state;
        lock.lock()
            .unwrap()
            .events
            .push_back((id.to_owned(), payload));
        cv.notify_all();
    }

    fn result(&self, id: &str, timeout: Duration) -> Result<String, String> {
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
                let (id, payload) = {
                    let mut state = lock.lock().unwrap();
                    state.first_next.get_or_insert_with(Instant::now);
                    loop {
                        if let Some(e) = state.events.pop_front() {
                            break e;
                        }
                        state = cv.wait(state).unwrap();
                    }
                };
                let deadline = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis()
                    + 60_000;
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
                lock.lock().unwrap().results.insert(id.to_owned(), result);
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
    Command::new(env!("CARGO_BIN_EXE_bootstrap"))
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
