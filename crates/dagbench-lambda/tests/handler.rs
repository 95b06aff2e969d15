//! The handler called directly with SQS events (valid, poison, mixed
//! batches) against a moto stack: completions on the outgoing queue,
//! objects in S3, items in DynamoDB, poison in the DLQ with its reason,
//! and per-record failures only for what should be retried.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use dagbench_aws::metrics::EmfSink;
use dagbench_aws::wiring::{Wired, wire};
use dagbench_aws::{DynamoLedger, SqsQueue, config};
use dagbench_core::ids::{JobId, RunId};
use dagbench_core::key::ObjectKey;
use dagbench_core::message::{Completion, Limits, Outcome};
use dagbench_runtime::ports::{Clock, JobLedger, JobQueue, LedgerStatus, SystemClock};
use dagbench_testkit::moto::{Stack, moto};

/// A 60 s invocation of a 256 MB function.
fn budget() -> dagbench_lambda::Budget {
    dagbench_lambda::Budget {
        timeout: Duration::from_secs(60),
        deadline: tokio::time::Instant::now() + Duration::from_secs(60),
        concurrency: 128,
        memory_mb: 128,
    }
}

async fn wired(stack: &Stack) -> Wired {
    let sdk = config::for_endpoint(&stack.endpoint, "us-east-1").await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // EMF lines go to a sink that discards them here.
    let metrics = Arc::new(EmfSink::new(Box::new(std::io::sink()), Arc::clone(&clock)));
    wire(
        &sdk,
        &stack.processor_env("lambda-test"),
        "lambda-test".into(),
        Limits::default(),
        metrics,
        clock,
    )
    .unwrap()
}

fn event(records: &[(&str, &str)]) -> SqsEvent {
    let records: Vec<serde_json::Value> = records
        .iter()
        .map(|(id, body)| {
            serde_json::json!({"messageId": id, "receiptHandle": format!("rh-{id}"), "body": body,
                "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "eventSource": "aws:sqs"})
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}

async fn completions(stack: &Stack, n: usize) -> Vec<Completion> {
    let out = SqsQueue::new(stack.sqs.clone(), &stack.outgoing);
    let mut got = Vec::new();
    for _ in 0..20 {
        if got.len() >= n {
            break;
        }
        for m in out.receive(10, Duration::from_secs(1)).await.unwrap() {
            got.push(Completion::parse(m.body.as_bytes()).unwrap());
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_batch_completes_every_record() {
    let Some(m) = moto() else { return };
    let stack = Stack::create(m, 30).await;
    let w = wired(&stack).await;
    let bodies: Vec<String> = (0..3)
        .map(|i| format!("{{\"job_id\":\"ok-{i}\",\"data_size_kb\":2,\"run_id\":\"r1\"}}"))
        .collect();
    let records: Vec<(String, &str)> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| (format!("m{i}"), b.as_str()))
        .collect();
    let refs: Vec<(&str, &str)> = records.iter().map(|(i, b)| (i.as_str(), *b)).collect();
    let (response, outcome) = dagbench_lambda::handle(&w, event(&refs), &budget()).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(outcome.completed, 3);
    let got = completions(&stack, 3).await;
    assert_eq!(got.len(), 3);
    let ledger = DynamoLedger::new(stack.dynamodb.clone(), &stack.table);
    for c in &got {
        let Outcome::Completed { output_key } = &c.outcome else {
            panic!("{c:?}")
        };
        assert_eq!(c.test_run_id, "lambda-test");
        let object = w
            .processor
            .store
            .get_bytes(&ObjectKey::new(output_key.as_str()).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(object.len(), 2048, "the output object is in S3");
        let row = ledger
            .get(&RunId::new("r1").unwrap(), &c.job_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            row.status,
            LedgerStatus::Completed,
            "the job item is in DynamoDB"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_is_dead_lettered_and_acknowledged() {
    let Some(m) = moto() else { return };
    let stack = Stack::create(m, 30).await;
    let w = wired(&stack).await;
    let (response, outcome) = dagbench_lambda::handle(
        &w,
        event(&[("p1", "{not json"), ("p2", "{\"work_duration_ms\":5}")]),
        &budget(),
    )
    .await;
    assert!(
        response.batch_item_failures.is_empty(),
        "poison is not retried into the DLQ"
    );
    assert_eq!(outcome.poison, 2);
    let got = stack
        .sqs
        .receive_message()
        .queue_url(&stack.dlq)
        .max_number_of_messages(10)
        .message_attribute_names("All")
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    let mut reasons: Vec<String> = got
        .messages()
        .iter()
        .map(|msg| {
            msg.message_attributes().unwrap()["DeadLetterReason"]
                .string_value()
                .unwrap()
                .to_owned()
        })
        .collect();
    reasons.sort();
    assert_eq!(reasons.len(), 2);
    assert_eq!(reasons[0], "field `job_id` is missing");
    assert!(
        reasons[1].starts_with("message body is not valid JSON"),
        "{reasons:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_batch_reports_only_the_transient_record() {
    let Some(m) = moto() else { return };
    let stack = Stack::create(m, 30).await;
    let w = wired(&stack).await;
    // A leg whose previous leg's delays are not in the store: transient.
    dagbench_testkit::Aircraft::new("mixed", 1, 2, 16)
        .seed(&w.processor.store)
        .await;
    let second_leg = r#"{"job_id":"s1-l2","input_key":"mixed/jobs/s1-l2.json","run_id":"mixed"}"#;
    let (response, outcome) = dagbench_lambda::handle(
        &w,
        event(&[
            ("good", r#"{"job_id":"fine","run_id":"mixed"}"#),
            (
                "bad",
                r#"{"job_id":"negative","work_duration_ms":-1,"run_id":"mixed"}"#,
            ),
            ("later", second_leg),
        ]),
        &budget(),
    )
    .await;
    let failures: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failures, ["later"]);
    assert_eq!(
        (outcome.completed, outcome.failed, outcome.retried),
        (1, 1, 1)
    );
    let mut got = completions(&stack, 2).await;
    got.sort_by(|a, b| a.job_id.cmp(&b.job_id));
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].job_id, JobId::new("fine").unwrap());
    assert!(
        matches!(&got[1].outcome, Outcome::Failed { error } if error.contains("work_duration_ms")),
        "{:?}",
        got[1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_invocation_answers_with_the_completion() {
    let Some(m) = moto() else { return };
    let stack = Stack::create(m, 30).await;
    let w = wired(&stack).await;
    // As Step Functions' lambda:invoke sends it: every field, nulls too.
    let payload = serde_json::json!({"job_id": "r1.direct", "work_duration_ms": 0, "data_size_kb": 1,
        "input_key": null, "run_id": "r1", "released_at": "2026-12-01T10:00:00.123Z"});
    let answer = dagbench_lambda::invoke(&w, payload, &budget())
        .await
        .unwrap();
    assert_eq!(answer["status"], "completed", "{answer}");
    assert_eq!(answer["job_id"], "r1.direct");
    assert_eq!(answer["released_at"], "2026-12-01T10:00:00.123Z");
    let out = completions(&stack, 1).await;
    assert_eq!(
        out.len(),
        1,
        "the completion also goes to the outgoing queue"
    );
    assert!(out[0].is_completed());
    // The same job again: its recorded outcome, not a second run.
    let again = dagbench_lambda::invoke(
        &w,
        serde_json::json!({"job_id": "r1.direct", "run_id": "r1"}),
        &budget(),
    )
    .await
    .unwrap();
    assert_eq!(again["output_key"], answer["output_key"]);

    // A job that fails for good fails the task, with its reason.
    let failing = serde_json::json!({"job_id": "r1.lost", "input_key": "r1/jobs/missing.json", "run_id": "r1"});
    let err = dagbench_lambda::invoke(&w, failing, &budget())
        .await
        .unwrap_err();
    assert_eq!(err.error_type, "dagbench.JobFailed");
    assert!(err.message.contains("does not exist"), "{}", err.message);
    // A payload without a job id is no job at all.
    let err = dagbench_lambda::invoke(&w, serde_json::json!({"hello": 1}), &budget())
        .await
        .unwrap_err();
    assert_eq!(err.error_type, "dagbench.InvalidMessage");
}
