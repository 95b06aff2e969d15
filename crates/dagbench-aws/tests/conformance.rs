//! The AWS adapters against the shared conformance suites, on a moto
//! server on loopback (real time: visibility timeouts of a second).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use dagbench_aws::{DynamoLedger, SqsQueue, config};
use dagbench_runtime::ports::{JobLedger, JobQueue};
use dagbench_testkit::conformance::{LedgerBackend, QueueBackend};
use dagbench_testkit::moto::{create_job_table, create_queue, moto, unique};

const VISIBILITY: Duration = Duration::from_secs(1);

/// Fresh SQS queues on moto.
struct SqsQueues {
    endpoint: String,
}

impl SqsQueues {
    fn new() -> Option<Self> {
        Some(Self {
            endpoint: moto()?.endpoint.clone(),
        })
    }

    async fn client(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&config::for_endpoint(&self.endpoint, "us-east-1").await)
    }
}

#[async_trait]
impl QueueBackend for SqsQueues {
    fn visibility(&self) -> Duration {
        VISIBILITY
    }

    async fn queue(&self) -> Arc<dyn JobQueue> {
        let client = self.client().await;
        let url = create_queue(&client, &unique("conf"), VISIBILITY.as_secs() as u32, None).await;
        Arc::new(SqsQueue::new(client, url))
    }

    async fn queue_with_dlq(
        &self,
        max_receive_count: u32,
    ) -> (Arc<dyn JobQueue>, Arc<dyn JobQueue>) {
        let client = self.client().await;
        let visibility = VISIBILITY.as_secs() as u32;
        let dlq = create_queue(&client, &unique("conf-dlq"), visibility, None).await;
        let url = create_queue(
            &client,
            &unique("conf"),
            visibility,
            Some((&dlq, max_receive_count)),
        )
        .await;
        (
            Arc::new(SqsQueue::new(client.clone(), url)),
            Arc::new(SqsQueue::new(client, dlq)),
        )
    }
}

dagbench_testkit::queue_conformance!(
    #[tokio::test]
    sqs,
    SqsQueues::new()
);

/// Fresh DynamoDB job tables on moto.
struct DynamoLedgers {
    endpoint: String,
}

#[async_trait]
impl LedgerBackend for DynamoLedgers {
    async fn ledger(&self) -> Arc<dyn JobLedger> {
        let client =
            aws_sdk_dynamodb::Client::new(&config::for_endpoint(&self.endpoint, "us-east-1").await);
        let table = create_job_table(&client).await;
        Arc::new(DynamoLedger::new(client, table))
    }

    /// moto's DynamoDB does not serialize concurrent conditional writes
    /// (seen here: 53 "first" completions for 50 jobs under fourfold
    /// concurrency); real DynamoDB does. The condition itself is proven by
    /// the sequential suites.
    fn serializes_concurrent_writes(&self) -> bool {
        false
    }
}

dagbench_testkit::ledger_conformance!(
    dynamo,
    moto().map(|m| DynamoLedgers {
        endpoint: m.endpoint.clone()
    })
);
