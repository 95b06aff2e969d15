//! The AWS adapters of dagbench's ports — data plane only, so the Lambda
//! `bootstrap` and the Fargate worker link nothing else: SQS queues and the
//! DynamoDB job ledger, and S3 through `object_store`. CloudWatch's SDK is
//! linked only with the `worker` feature (the Lambda writes EMF lines).
//!
//! # Layout
//! - [`sqs`]: `SqsQueue`, the job queue port on SQS.
//! - [`dynamo`]: `DynamoLedger`, the job ledger port on DynamoDB.
//! - [`s3`]: a `RunStore` on S3 (object_store's `AmazonS3`).
//! - [`sfn`]: Step Functions task callbacks and executions (Scenario 3).
//! - [`lease`]: `StackLease`, one scheduler at a time per stack.
//! - [`mod@env`]: the processor's variables (`INCOMING_QUEUE_URL`, …).
//! - [`metrics`]: EMF metric lines (the Lambda function's metrics).
//! - `cloudwatch` (feature `worker`): batched `PutMetricData`.
//! - `worker` (feature `worker`): the Scenario 2 worker, `serve(env,
//!   options, shutdown)`.
//! - [`wiring`]: a processor wired to a stack, from its environment.
//! - [`config`]: SDK configuration from the standard AWS environment, with
//!   an explicit endpoint for emulators.

#[cfg(feature = "worker")]
pub mod cloudwatch;
pub mod config;
pub mod dynamo;
pub mod env;
pub mod lease;
pub mod metrics;
pub mod s3;
pub mod sfn;
pub mod sqs;
pub mod wiring;
#[cfg(feature = "worker")]
pub mod worker;

pub use dynamo::DynamoLedger;
pub use sqs::SqsQueue;
