//! The AWS adapters against the shared conformance suites, on a moto
//! server on loopback (real time: visibility timeouts of a second).

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use dagbench_aws::emulator::{create_job_table, moto, unique};
use dagbench_aws::{DynamoLedger, SqsQueue, config};
use dagbench_runtime::conformance as suite;
use dagbench_runtime::ports::JobQueue;

const VISIBILITY: Duration = Duration::from_secs(1);

async fn sqs() -> Option<aws_sdk_sqs::Client> {
    let m = moto()?;
    Some(aws_sdk_sqs::Client::new(
        &config::for_endpoint(&m.endpoint, "us-east-1").await,
    ))
}

/// A fresh queue; with `dlq`, redrive to it after `max_receive` receives.
async fn queue(client: &aws_sdk_sqs::Client, dlq: Option<(&str, u32)>) -> String {
    let mut create = client.create_queue().queue_name(unique("conf")).attributes(
        QueueAttributeName::VisibilityTimeout,
        VISIBILITY.as_secs().to_string(),
    );
    if let Some((dlq_url, max)) = dlq {
        let arn = client
            .get_queue_attributes()
            .queue_url(dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes()
            .unwrap()[&QueueAttributeName::QueueArn]
            .clone();
        create = create.attributes(
            QueueAttributeName::RedrivePolicy,
            format!("{{\"deadLetterTargetArn\":\"{arn}\",\"maxReceiveCount\":\"{max}\"}}"),
        );
    }
    create.send().await.unwrap().queue_url().unwrap().to_owned()
}

#[tokio::test]
async fn sqs_send_receive_delete() {
    let Some(client) = sqs().await else { return };
    let url = queue(&client, None).await;
    suite::queue_send_receive_delete(&SqsQueue::new(client, url)).await;
}

#[tokio::test]
async fn sqs_visibility_timeout() {
    let Some(client) = sqs().await else { return };
    let url = queue(&client, None).await;
    suite::queue_visibility_timeout_redelivers(&SqsQueue::new(client, url), VISIBILITY).await;
}

#[tokio::test]
async fn sqs_change_visibility() {
    let Some(client) = sqs().await else { return };
    let url = queue(&client, None).await;
    suite::queue_change_visibility(&SqsQueue::new(client, url)).await;
}

#[tokio::test]
async fn sqs_redrive() {
    let Some(client) = sqs().await else { return };
    let dlq_url = queue(&client, None).await;
    let url = queue(&client, Some((&dlq_url, 2))).await;
    let dlq = SqsQueue::new(client.clone(), dlq_url);
    suite::queue_redrives_to_dead_letter_queue(&SqsQueue::new(client, url), &dlq, VISIBILITY, 2)
        .await;
}

#[tokio::test]
async fn sqs_long_poll() {
    let Some(client) = sqs().await else { return };
    let url = queue(&client, None).await;
    let q: Arc<dyn JobQueue> = Arc::new(SqsQueue::new(client, url));
    suite::queue_long_poll_wakes_on_send(q).await;
}

#[tokio::test]
async fn sqs_limits() {
    let Some(client) = sqs().await else { return };
    let url = queue(&client, None).await;
    suite::queue_rejects_oversize(&SqsQueue::new(client, url)).await;
}

async fn ledger() -> Option<DynamoLedger> {
    let m = moto()?;
    let client =
        aws_sdk_dynamodb::Client::new(&config::for_endpoint(&m.endpoint, "us-east-1").await);
    let table = create_job_table(&client).await;
    Some(DynamoLedger::new(client, table))
}

#[tokio::test]
async fn dynamo_first_completion_wins() {
    let Some(l) = ledger().await else { return };
    suite::ledger_first_completion_wins(&l).await;
}

#[tokio::test]
async fn dynamo_failures_and_listing() {
    let Some(l) = ledger().await else { return };
    suite::ledger_failures_and_resume_listing(&l).await;
}

// `ledger_concurrent_duplicates` is not run here: moto's DynamoDB does not
// serialize concurrent conditional writes (seen here: 53 "first" completions
// for 50 jobs under fourfold concurrency), which real DynamoDB does. The
// condition itself is proven by the sequential suites above.
