//! The narrow ports every backend implements: a job queue with SQS
//! semantics, a job ledger, a metrics sink and a clock. Blobs go through
//! `dagbench_store::RunStore` (object_store) instead of a port of our own.

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;
use dagbench_core::ids::{JobId, RunId};
use dagbench_core::time::Timestamp;
use serde::{Deserialize, Serialize};

/// Why a queue operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// Throttling, network, 5xx: worth retrying.
    #[error("queue unavailable: {0}")]
    Unavailable(String),
    /// The receipt no longer identifies an in-flight delivery (the message
    /// was redelivered or deleted since): the caller no longer owns it.
    #[error("receipt handle is stale")]
    StaleReceipt,
    #[error("message rejected: {0}")]
    Rejected(String),
    /// The queue cannot be used at all: it does not exist, access is
    /// denied, the credentials are refused. Retrying does not help.
    #[error("queue unusable: {0}")]
    Unusable(String),
}

impl QueueError {
    /// Whether no call to this queue can succeed until someone fixes it.
    pub fn is_unusable(&self) -> bool {
        matches!(self, QueueError::Unusable(_))
    }
}

/// One delivery of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub message_id: String,
    /// Identifies this delivery; needed to delete or extend it.
    pub receipt: String,
    pub body: String,
    /// 1 on the first delivery.
    pub receive_count: u32,
    /// When the message was first sent (ms since the epoch).
    pub sent_at: Timestamp,
}

/// Messages visible now and messages received but not yet deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueDepth {
    pub visible: u64,
    pub in_flight: u64,
}

/// The most messages one send or delete batch takes (SQS's limit).
pub const MAX_BATCH: usize = 10;

/// The largest message body (SQS's limit).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Refuses a batch of more than [`MAX_BATCH`] entries.
pub fn check_batch(len: usize, what: &str) -> Result<(), QueueError> {
    if len > MAX_BATCH {
        return Err(QueueError::Rejected(format!(
            "{len} {what} in one batch; the limit is {MAX_BATCH}"
        )));
    }
    Ok(())
}

/// Refuses a body over [`MAX_BODY_BYTES`].
pub fn check_body(body: &str) -> Result<(), QueueError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(QueueError::Rejected(format!(
            "message body is {} bytes; the limit is {MAX_BODY_BYTES}",
            body.len()
        )));
    }
    Ok(())
}

/// A queue with SQS semantics: at-least-once delivery, visibility timeout,
/// redrive to a dead-letter queue after too many receives.
#[async_trait]
pub trait JobQueue: Send + Sync + Debug {
    /// Sends up to [`MAX_BATCH`] bodies; one result per body, in order.
    async fn send_batch(
        &self,
        bodies: &[String],
    ) -> Result<Vec<Result<(), QueueError>>, QueueError>;

    /// Up to `max` messages (≤ [`MAX_BATCH`]), waiting up to `wait` for the
    /// first one (long poll). Each is invisible to others until deleted or
    /// its visibility timeout expires.
    async fn receive(&self, max: usize, wait: Duration)
    -> Result<Vec<ReceivedMessage>, QueueError>;

    /// Deletes up to [`MAX_BATCH`] deliveries; one result per receipt.
    async fn delete_batch(
        &self,
        receipts: &[String],
    ) -> Result<Vec<Result<(), QueueError>>, QueueError>;

    /// Makes a delivery visible again after `timeout` (0 = now).
    async fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), QueueError>;

    async fn approximate_depth(&self) -> Result<QueueDepth, QueueError>;

    /// Sends a message that cannot be processed to this (dead-letter)
    /// queue, with the reason attached where the backend can (SQS: the
    /// `DeadLetterReason` message attribute).
    async fn send_dead_letter(&self, body: &str, reason: &str) -> Result<(), QueueError> {
        let _ = reason;
        match self.send_batch(&[body.to_owned()]).await?.pop() {
            Some(result) => result,
            None => Ok(()),
        }
    }
}

/// A job's row in the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerRow {
    pub run_id: RunId,
    pub job_id: JobId,
    pub status: LedgerStatus,
    /// Deliveries that started processing.
    pub attempts: u32,
    pub started_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub processing_time_ms: Option<f64>,
    pub output_key: Option<String>,
    pub worker: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerStatus {
    Running,
    Completed,
    Failed,
}

impl LedgerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerStatus::Running => "running",
            LedgerStatus::Completed => "completed",
            LedgerStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "running" => LedgerStatus::Running,
            "completed" => LedgerStatus::Completed,
            "failed" => LedgerStatus::Failed,
            _ => return None,
        })
    }
}

/// Whether a terminal record was the first for its job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    First,
    /// The job was already completed (or failed): nothing changed.
    Duplicate,
}

/// What a processor reports when a job ends.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    pub completed_at: Timestamp,
    pub processing_time_ms: f64,
    pub worker: String,
    /// `Ok(output_key)` or `Err(reason)`.
    pub outcome: Result<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("job ledger error: {0}")]
pub struct LedgerError(pub String);

/// One row per job of a run. Terminal records are conditional: the first
/// completion wins, later ones are reported as duplicates.
#[async_trait]
pub trait JobLedger: Send + Sync + Debug {
    /// A delivery started processing: status `running` unless already
    /// terminal, attempts + 1. Advisory: an adapter may return before the
    /// record is durable, as long as it lands before the job's end record.
    async fn record_started(
        &self,
        run: &RunId,
        job: &JobId,
        worker: &str,
        at: Timestamp,
    ) -> Result<(), LedgerError>;

    /// The job ended (completed or failed), if it had not already.
    async fn record_finished(
        &self,
        run: &RunId,
        job: &JobId,
        finished: &Finished,
    ) -> Result<Recorded, LedgerError>;

    async fn get(&self, run: &RunId, job: &JobId) -> Result<Option<LedgerRow>, LedgerError>;

    /// Every job of `run` recorded as completed.
    async fn completed_jobs(&self, run: &RunId) -> Result<Vec<JobId>, LedgerError>;
}

/// A metric data point (namespace `PerfTesting`, dimension `TestRunId`).
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub value: f64,
    pub unit: MetricUnit,
    pub test_run_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricUnit {
    Milliseconds,
    Count,
}

pub const METRIC_NAMESPACE: &str = "PerfTesting";
pub const METRIC_DIMENSION: &str = "TestRunId";
pub const PROCESSING_TIME_MS: &str = "ProcessingTimeMs";
pub const JOBS_COMPLETED: &str = "JobsCompleted";

/// Where processors send metrics; must not block (buffer and flush).
pub trait MetricsSink: Send + Sync + Debug {
    fn record(&self, metric: Metric);
}

/// Wall-clock time, as an input (tests use a manual clock).
pub trait Clock: Send + Sync + Debug {
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp::from_unix_millis(since.as_millis() as i64)
    }
}
