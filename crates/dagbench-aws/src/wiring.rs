//! A processor wired to a stack's AWS resources, as the Lambda function and
//! the Fargate task both build it from their environment.

use std::sync::Arc;

use aws_config::SdkConfig;
use dagbench_core::ids::RunId;
use dagbench_core::message::Limits;
use dagbench_runtime::driver::Queues;
use dagbench_runtime::ports::{Clock, JobQueue, MetricsSink};
use dagbench_runtime::processor::{Processor, ProcessorConfig, WorkMode};

use crate::env::ProcessorEnv;
use dagbench_store::RunStore;

use crate::lease::{LeaseError, StackLease};
use crate::s3::{S3Location, run_store};
use crate::{DynamoLedger, SqsQueue};

/// The processor and the queues it reads from and dead-letters to.
#[derive(Debug, Clone)]
pub struct Wired {
    pub processor: Arc<Processor>,
    pub incoming: Arc<dyn JobQueue>,
    pub dlq: Arc<dyn JobQueue>,
}

/// Builds the processor for `env` on `sdk`.
pub fn wire(
    sdk: &SdkConfig,
    env: &ProcessorEnv,
    worker: String,
    limits: Limits,
    metrics: Arc<dyn MetricsSink>,
    clock: Arc<dyn Clock>,
) -> Result<Wired, object_store::Error> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let store = stack_store(sdk, env)?;
    let processor = Arc::new(Processor {
        store,
        ledger: Arc::new(DynamoLedger::new(
            aws_sdk_dynamodb::Client::new(sdk),
            &env.table_name,
        )),
        metrics,
        clock,
        completions: Arc::new(SqsQueue::new(sqs.clone(), &env.outgoing_queue_url)),
        callbacks: Some(Arc::new(crate::sfn::SfnCallbacks::new(
            aws_sdk_sfn::Client::new(sdk),
        ))),
        config: ProcessorConfig {
            test_run_id: env.test_run_id.clone(),
            run_id: RunId::new(env.test_run_id.as_str())
                .unwrap_or_else(|_| RunId::new("default").expect("valid")),
            worker,
            limits,
            work_mode: WorkMode::Sleep,
            max_attempts: Some(env.max_receive_count),
        },
    });
    Ok(Wired {
        processor,
        incoming: Arc::new(SqsQueue::new(sqs.clone(), &env.incoming_queue_url)),
        dlq: Arc::new(SqsQueue::new(sqs, &env.dlq_url)),
    })
}

/// The stack's bucket (under `RESULTS_PREFIX`), as its processors see it.
///
/// # Errors
/// When object_store cannot be configured for it.
pub fn stack_store(sdk: &SdkConfig, env: &ProcessorEnv) -> Result<RunStore, object_store::Error> {
    run_store(&S3Location {
        bucket: env.bucket_name.clone(),
        prefix: env.results_prefix.clone(),
        endpoint: env.endpoint_url.clone(),
        region: sdk.region().map(ToString::to_string),
        credentials: sdk.credentials_provider(),
    })
}

/// What a scheduler uses of a stack: its three queues, its job table and
/// its bucket.
#[derive(Debug, Clone)]
pub struct SchedulerSide {
    pub queues: Queues,
    pub ledger: Arc<DynamoLedger>,
    pub store: RunStore,
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
}

impl SchedulerSide {
    /// Takes the stack's lease for `run_id` (see [`StackLease::acquire`]).
    ///
    /// # Errors
    /// Another scheduler holds it, or DynamoDB fails.
    pub async fn lease(
        &self,
        run_id: &dagbench_core::RunId,
        holder: &str,
        period: std::time::Duration,
        now: dagbench_core::time::Timestamp,
        take_over: bool,
    ) -> Result<StackLease, LeaseError> {
        StackLease::acquire(
            self.dynamodb.clone(),
            &self.table,
            run_id,
            holder,
            period,
            now,
            take_over,
        )
        .await
    }
}

/// The scheduler's side of the stack `env` describes.
///
/// # Errors
/// When object_store cannot be configured for the bucket.
pub fn scheduler_side(
    sdk: &SdkConfig,
    env: &ProcessorEnv,
) -> Result<SchedulerSide, object_store::Error> {
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    Ok(SchedulerSide {
        queues: scheduler_queues(&aws_sdk_sqs::Client::new(sdk), env),
        ledger: Arc::new(DynamoLedger::new(dynamodb.clone(), &env.table_name)),
        store: stack_store(sdk, env)?,
        dynamodb,
        table: env.table_name.clone(),
    })
}

/// The scheduler's side of a stack: its incoming, outgoing and dead-letter
/// queues on SQS.
pub fn scheduler_queues(sqs: &aws_sdk_sqs::Client, env: &ProcessorEnv) -> Queues {
    Queues {
        incoming: Arc::new(SqsQueue::new(sqs.clone(), &env.incoming_queue_url)),
        outgoing: Arc::new(SqsQueue::new(sqs.clone(), &env.outgoing_queue_url)),
        dlq: Arc::new(SqsQueue::new(sqs.clone(), &env.dlq_url)),
    }
}
