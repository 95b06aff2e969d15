//! The AWS adapters of dagbench's ports — data plane only, so the Lambda
//! `bootstrap` and the Fargate worker link nothing else: SQS queues and the
//! DynamoDB job ledger, and S3 through `object_store`.
//!
//! # Layout
//! - [`sqs`]: `SqsQueue`, the job queue port on SQS.
//! - [`dynamo`]: `DynamoLedger`, the job ledger port on DynamoDB.
//! - [`s3`]: a `RunStore` on S3 (object_store's `AmazonS3`).
//! - [`emulator`]: the moto server the tests start on loopback.
//! - [`mod@env`]: the processor's variables (`INCOMING_QUEUE_URL`, …).
//! - [`metrics`]: EMF metric lines.
//! - [`wiring`]: a processor wired to a stack, from its environment.
//! - [`config`]: SDK configuration from the standard AWS environment, with
//!   an explicit endpoint for emulators.

pub mod config;
pub mod dynamo;
pub mod emulator;
pub mod env;
pub mod metrics;
pub mod s3;
pub mod sqs;
pub mod wiring;

pub use dynamo::DynamoLedger;
pub use sqs::SqsQueue;
