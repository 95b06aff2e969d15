//! The narrow ports every backend implements: a job queue with SQS
//! semantics, a job ledger, a metrics sink and a clock. Blobs go through
//! `dagbench_store::RunStore` (object_store) instead of a port of our own.

use std::fmt::Debug;
use std::sync::Arc;
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
    /// The sender's string message attributes (kept when the message is
    /// dead-lettered).
    pub attributes: Vec<(String, String)>,
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

    /// Sends `message`, which cannot be processed, to this (dead-letter)
    /// queue, keeping its attributes and adding the reason where the
    /// backend can (SQS: the `DeadLetterReason` message attribute).
    async fn send_dead_letter(
        &self,
        message: &ReceivedMessage,
        reason: &str,
    ) -> Result<(), QueueError> {
        let _ = reason;
        match self
            .send_batch(std::slice::from_ref(&message.body))
            .await?
            .pop()
        {
            Some(result) => result,
            None => Ok(()),
        }
    }
}

/// A job's row in the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerRow {
    pub run_id: RunId,
    /// The job's id on the wire (`<run>.<job>` for a scheduler's jobs).
    pub job_id: JobId,
    pub status: LedgerStatus,
    /// Deliveries that claimed the job to run it.
    pub attempts: u32,
    pub started_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub processing_time_ms: Option<f64>,
    pub output_key: Option<String>,
    pub worker: Option<String>,
    pub error: Option<String>,
    /// While running: the delivery holding the job may run it until then;
    /// past it, another delivery may take it over.
    #[serde(default)]
    pub claim_until: Option<Timestamp>,
    /// While running: the queue message whose delivery holds the claim.
    #[serde(default)]
    pub claim_message: Option<String>,
    /// The `PerfTestRun` of the processor that recorded it.
    #[serde(default)]
    pub test_run_id: Option<String>,
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

/// What a delivery may do with its job ([`JobLedger::claim`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// Run it: this is the job's `attempt`-th claim.
    Run { attempt: u32 },
    /// The job already ended: send its recorded outcome again, do not run
    /// it (its objects are not rewritten, its metrics not counted again).
    Ended(Box<LedgerRow>),
    /// Another delivery holds the job until `until`: leave this one for
    /// later (it is the same job; once that delivery ends, this one gets
    /// `Ended`, or the job if that delivery died). `duplicate` when that
    /// delivery is of another message (a copy sent twice): this copy may
    /// then simply be dropped, since the other message stays in its queue
    /// until its job is done.
    Busy {
        worker: String,
        until: Timestamp,
        duplicate: bool,
    },
}

/// Who claims a job, when, and for how long: the claim always expires
/// (with the delivery's visibility timeout or the invocation's deadline),
/// so a processor that died never holds a job forever.
#[derive(Debug, Clone, Copy)]
pub struct Claimant<'a> {
    pub worker: &'a str,
    pub test_run_id: &'a str,
    /// The id of the queue message being delivered, when known: a claim
    /// held for the same message was left by a delivery of it that died
    /// (the queue delivers a message again only once nobody holds it), and
    /// is taken over at once instead of waiting for it to expire.
    pub message: Option<&'a str>,
    pub at: Timestamp,
    pub until: Timestamp,
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

/// Why the ledger failed; `fatal` when no retry can help (disk full, read
/// only, access denied).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("job ledger error: {message}")]
pub struct LedgerError {
    pub message: String,
    pub fatal: bool,
}

impl LedgerError {
    /// An error that may pass.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            fatal: false,
        }
    }

    /// An error no retry can help with.
    pub fn fatal(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            fatal: true,
        }
    }
}

/// One row per job of a run. Claims and terminal records are conditional:
/// one delivery at a time runs a job, the first terminal record wins and
/// later ones are reported as duplicates.
#[async_trait]
pub trait JobLedger: Send + Sync + Debug {
    /// A delivery wants to run `job`: [`Claim::Run`] when nobody holds it,
    /// the holder's claim expired, or the holder was a delivery of the same
    /// message (attempts + 1); [`Claim::Ended`] when it already ended;
    /// [`Claim::Busy`] while another delivery holds it.
    async fn claim(
        &self,
        run: &RunId,
        job: &JobId,
        claimant: &Claimant<'_>,
    ) -> Result<Claim, LedgerError>;

    /// Extends `worker`'s claim of a running job to `until` (its delivery
    /// was kept invisible longer). False when the claim is no longer its.
    async fn extend(
        &self,
        run: &RunId,
        job: &JobId,
        worker: &str,
        until: Timestamp,
    ) -> Result<bool, LedgerError>;

    /// Gives up `worker`'s claim of a running job (its delivery goes back
    /// to the queue): the next delivery may run it at once.
    async fn release(&self, run: &RunId, job: &JobId, worker: &str) -> Result<(), LedgerError>;

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

/// Step Functions' task callbacks (Scenario 3): a job message carrying a
/// task token is a task the state machine waits on, finished by whoever
/// runs the job.
#[async_trait::async_trait]
pub trait TaskCallbacks: Send + Sync + Debug {
    /// The job ended well; `output` (the completion, JSON) is the task's
    /// output.
    async fn succeeded(&self, token: &str, output: &str) -> Result<(), CallbackError>;
    /// The job failed for good: the task fails with `error` and `cause`.
    async fn failed(&self, token: &str, error: &str, cause: &str) -> Result<(), CallbackError>;
    /// The job is still running.
    async fn heartbeat(&self, token: &str) -> Result<(), CallbackError>;
}

/// A task callback that did not go through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CallbackError {
    pub message: String,
    /// The task is no longer open (finished before, timed out, or its
    /// execution ended): nothing to retry.
    pub closed: bool,
}

/// How an orchestrator's execution stands (Scenario 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionState {
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`, …
    pub status: String,
    /// Why it ended, when it failed: error and cause.
    pub error: Option<String>,
}

impl ExecutionState {
    pub fn is_running(&self) -> bool {
        self.status == "RUNNING" || self.status == "PENDING_REDRIVE"
    }
}

/// What releases a run's jobs when no scheduler sends them (Scenario 3:
/// a Step Functions execution). The driver follows it.
#[async_trait::async_trait]
pub trait Orchestrator: Send + Sync + Debug {
    /// Where the execution stands.
    async fn state(&self) -> Result<ExecutionState, String>;
    /// Stops the execution, saying `cause`. Best effort.
    async fn stop(&self, cause: &str);
    /// Fails the task of a job message found in the dead-letter queue.
    /// Best effort.
    async fn fail_task(&self, token: &str, cause: &str);
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

/// A queue whose calls are counted, as SQS bills them, in a tally: each
/// send, receive (empty ones too), delete, visibility change and dead
/// letter is a request per started 64 KiB of its payload; sends count as
/// sending, the rest as polling.
#[derive(Debug)]
pub struct Counted {
    inner: Arc<dyn JobQueue>,
    calls: Arc<dagbench_core::calls::CallTally>,
}

impl Counted {
    /// `inner`, counting into `calls`.
    pub fn wrap(
        inner: Arc<dyn JobQueue>,
        calls: Arc<dagbench_core::calls::CallTally>,
    ) -> Arc<dyn JobQueue> {
        Arc::new(Counted { inner, calls })
    }
}

#[async_trait]
impl JobQueue for Counted {
    async fn send_batch(
        &self,
        bodies: &[String],
    ) -> Result<Vec<Result<(), QueueError>>, QueueError> {
        self.calls.sqs(bodies.iter().map(String::len).sum());
        self.inner.send_batch(bodies).await
    }

    async fn receive(
        &self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let got = self.inner.receive(max, wait).await;
        let bytes = got
            .as_ref()
            .map_or(0, |m| m.iter().map(|m| m.body.len()).sum());
        self.calls.sqs_polling(bytes);
        got
    }

    async fn delete_batch(
        &self,
        receipts: &[String],
    ) -> Result<Vec<Result<(), QueueError>>, QueueError> {
        self.calls.sqs_polling(0);
        self.inner.delete_batch(receipts).await
    }

    async fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), QueueError> {
        self.calls.sqs_polling(0);
        self.inner.change_visibility(receipt, timeout).await
    }

    /// `GetQueueAttributes`, one request.
    async fn approximate_depth(&self) -> Result<QueueDepth, QueueError> {
        self.calls.sqs_polling(0);
        self.inner.approximate_depth().await
    }

    async fn send_dead_letter(
        &self,
        message: &ReceivedMessage,
        reason: &str,
    ) -> Result<(), QueueError> {
        self.calls.sqs(message.body.len());
        self.inner.send_dead_letter(message, reason).await
    }
}
