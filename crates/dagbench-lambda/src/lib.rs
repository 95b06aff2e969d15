//! Scenario 1's processor: the SQS event of a Lambda invocation, processed
//! by the same processor as every other scenario, within the invocation's
//! time and the function's memory and open files.
//!
//! - **The deadline decides.** A job whose simulated work cannot fit the
//!   function's timeout at all fails at once, naming both numbers; a job
//!   that would fit a fresh invocation but not what is left of this one is
//!   not started and goes back to the queue (`batchItemFailures`), unless
//!   this was its last delivery, when it fails with the reason instead of
//!   reaching the dead-letter queue with none. Jobs still running when the
//!   answer must leave are abandoned (their claims released) and go back
//!   too. The answer leaves [`RESPONSE_MARGIN`] before the deadline.
//! - **Bounded concurrency.** At most [`Budget::concurrency`] jobs run at
//!   once, and their outputs share [`Budget::memory_mb`]; the rest of the
//!   event waits its turn (see [`default_concurrency`]).
//! - Failures are reported per record (ReportBatchItemFailures): transient
//!   errors return their record to the queue; permanent ones were reported
//!   as `failed` completions; poison without a job id goes to the DLQ at
//!   once with its reason.

use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use dagbench_aws::wiring::Wired;
use dagbench_core::message::JobMessage;
use dagbench_core::time::Timestamp;
use std::sync::Arc;

use dagbench_runtime::ports::{CallbackError, ReceivedMessage, TaskCallbacks};
use dagbench_runtime::processor::{Disposition, Ended};
use futures::StreamExt as _;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Kept between the answer and the deadline: posting the response takes a
/// few milliseconds, and a late answer loses the whole batch.
pub const RESPONSE_MARGIN: Duration = Duration::from_millis(250);

/// What a job needs beyond its simulated work (reading its input, writing
/// its output, the ledger, the completion): a tenth of the timeout, at
/// least 200 ms, at most 5 s.
pub fn job_margin(timeout: Duration) -> Duration {
    (timeout / 10).clamp(Duration::from_millis(200), Duration::from_secs(5))
}

/// The most simulated work one job may ask for in a function with
/// `timeout`: the rest of the timeout is for the job's I/O and the answer.
pub fn max_work(timeout: Duration) -> Duration {
    timeout.saturating_sub(job_margin(timeout) + RESPONSE_MARGIN)
}

pub use dagbench_core::message::invocation_concurrency as default_concurrency;

/// The soft `Max open files` limit of a `/proc/<pid>/limits` text
/// (`unlimited` counts as plenty).
pub fn soft_open_files(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    match line["Max open files".len()..].split_whitespace().next()? {
        "unlimited" => Some(u64::MAX),
        n => n.parse().ok(),
    }
}

/// What one invocation may spend.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// The function's configured timeout.
    pub timeout: Duration,
    /// When the invocation ends (Lambda's deadline).
    pub deadline: Instant,
    /// Jobs running at once.
    pub concurrency: usize,
    /// MiB the running jobs' outputs may hold at once (half the function's
    /// memory by default).
    pub memory_mb: u32,
}

impl Budget {
    /// When the answer must leave.
    pub fn respond_by(&self) -> Instant {
        self.deadline
            .checked_sub(RESPONSE_MARGIN)
            .unwrap_or(self.deadline)
    }
}

/// The time left in an invocation whose deadline is `deadline_ms` (epoch
/// ms, from `Lambda-Runtime-Deadline-Ms`) at `now_ms`, for a function with
/// `timeout`. A deadline in the past or further away than the timeout
/// (emulators send constants) is not believed: the configured timeout is
/// used, with a note saying so for the log.
pub fn time_left(deadline_ms: i64, now_ms: i64, timeout: Duration) -> (Duration, Option<String>) {
    let left = deadline_ms.saturating_sub(now_ms);
    let limit = timeout.as_millis() as i64 + 1_000;
    if left > 0 && left <= limit {
        (Duration::from_millis(left as u64), None)
    } else {
        (
            timeout,
            Some(format!(
                "the invocation's deadline is {left} ms away, outside 0..={limit} ms; using the function's timeout of {} ms",
                timeout.as_millis()
            )),
        )
    }
}

/// What one invocation did, for its log line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    pub completed: u32,
    pub failed: u32,
    pub retried: u32,
    pub poison: u32,
    /// Not started for want of time: back to the queue.
    pub deferred: u32,
    /// Still running when the answer had to leave: back to the queue.
    pub abandoned: u32,
}

/// The delivery an SQS record is, as the queue port knows deliveries.
pub fn delivery(record: &SqsMessage) -> ReceivedMessage {
    let attempt = record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|c| c.parse().ok())
        .unwrap_or(1);
    let sent_at = record
        .attributes
        .get("SentTimestamp")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let mut attributes: Vec<(String, String)> = record
        .message_attributes
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.string_value.clone()?)))
        .collect();
    attributes.sort();
    ReceivedMessage {
        message_id: record.message_id.clone().unwrap_or_default(),
        receipt: record.receipt_handle.clone().unwrap_or_default(),
        body: record.body.clone().unwrap_or_default(),
        receive_count: attempt,
        sent_at: Timestamp::from_unix_millis(sent_at),
        attributes,
    }
}

/// How one record ended.
enum Fate {
    Processed(Disposition),
    Deferred,
    Abandoned,
}

/// MiB a job's output may hold while it runs (twice its size, rounded up,
/// plus one for everything else), within the budget.
fn weight(data_size_kb: u64, budget_mb: u32) -> u32 {
    let mb = (2 * data_size_kb).div_ceil(1024) + 1;
    mb.min(u64::from(budget_mb.max(1))) as u32
}

/// Processes the records of `event` within `budget`; the response lists
/// the records to return to the queue. Returns before the budget's
/// deadline, less [`RESPONSE_MARGIN`].
pub async fn handle(
    wired: &Wired,
    event: SqsEvent,
    budget: &Budget,
) -> (SqsBatchResponse, Outcome) {
    let invoked = Instant::now();
    let slots = Semaphore::new(budget.concurrency.max(1));
    let memory = Semaphore::new(budget.memory_mb.max(1) as usize);
    let respond_by = budget.respond_by();
    let max_attempts = wired.processor.config.max_attempts;
    // The work is judged here against the timeout, with a reason that
    // names both; the processor's own limit is the same number.
    let limits = dagbench_core::message::Limits {
        max_work_duration_ms: u64::MAX,
        ..wired.processor.config.limits
    };
    let records = event.records.iter().map(|record| {
        let (slots, memory, limits) = (&slots, &memory, &limits);
        async move {
            let message = delivery(record);
            let began = std::time::Instant::now();
            let parsed = JobMessage::parse(message.body.as_bytes(), limits).ok();
            let work = parsed
                .as_ref()
                .map_or(Duration::ZERO, |m| Duration::from_millis(m.work_duration_ms));
            let last = max_attempts.is_some_and(|max| message.receive_count >= max);
            let fate = if work > max_work(budget.timeout) {
                // No invocation of this function can run it: fail at once.
                let reason = format!(
                    "the job asks for {} ms of work, but the function's timeout is {} ms: at most {} ms of work fits (the rest is kept for the job's I/O and the answer)",
                    work.as_millis(),
                    budget.timeout.as_millis(),
                    max_work(budget.timeout).as_millis()
                );
                let claim = respond_by.saturating_duration_since(Instant::now());
                Fate::Processed(
                    wired
                        .processor
                        .refuse(&message, claim, reason)
                        .await,
                )
            } else {
                let size = parsed.as_ref().map_or(0, |m| m.data_size_kb);
                run_within(wired, &message, work, weight(size, budget.memory_mb), last, respond_by, slots, memory, budget)
                    .await
            };
            let fate = match fate {
                Fate::Processed(Disposition::Poison { reason }) => {
                    // Dead-lettered with its reason; if that fails, the
                    // queue's redrive takes it there.
                    wired.processor.store.calls().sqs(message.body.len());
                    let moved = tokio::time::timeout_at(
                        respond_by,
                        wired.dlq.send_dead_letter(&message, &reason),
                    )
                    .await;
                    let disposition = Disposition::Poison { reason };
                    if matches!(moved, Ok(Ok(()))) {
                        Fate::Processed(disposition)
                    } else {
                        dagbench_runtime::logs::log_job(&disposition, message.receive_count, began.elapsed());
                        Fate::Abandoned
                    }
                }
                other => other,
            };
            if let Fate::Processed(d) = &fate {
                dagbench_runtime::logs::log_job(d, message.receive_count, began.elapsed());
            }
            (message.message_id, fate)
        }
    });
    // Every record's future is polled here, on the invocation's task: the
    // semaphores, not the event's size, bound what runs at once.
    let ended: Vec<(String, Fate)> = futures::stream::iter(records)
        .buffer_unordered(usize::MAX)
        .collect()
        .await;
    let mut response = SqsBatchResponse::default();
    let mut outcome = Outcome::default();
    for (id, fate) in ended {
        let back = match fate {
            Fate::Processed(Disposition::Done {
                ended: Ended::Completed | Ended::Resent,
                ..
            }) => {
                outcome.completed += 1;
                false
            }
            Fate::Processed(Disposition::Done { .. }) => {
                outcome.failed += 1;
                false
            }
            // A copy of a message whose job another delivery runs is
            // dropped: that message stays queued until its job is done.
            Fate::Processed(Disposition::Busy {
                duplicate: true, ..
            }) => {
                outcome.retried += 1;
                false
            }
            Fate::Processed(Disposition::Retry { .. } | Disposition::Busy { .. }) => {
                outcome.retried += 1;
                true
            }
            Fate::Processed(Disposition::Poison { .. }) => {
                outcome.poison += 1;
                false
            }
            Fate::Deferred => {
                outcome.deferred += 1;
                true
            }
            Fate::Abandoned => {
                outcome.abandoned += 1;
                true
            }
        };
        if back {
            response.add_failure(id);
        }
    }
    // This invocation's duration travels with this environment's next
    // completion (the last invocation of an environment goes uncounted).
    wired
        .processor
        .store
        .calls()
        .lambda_invocation(invoked.elapsed());
    (response, outcome)
}

/// Step Functions' `lambda:invoke` (Scenario 3, `task = "lambda"`): the
/// payload is one job message; the answer is its completion. A job that
/// failed for good is an error `dagbench.JobFailed` (its reason the
/// message); one that could not run now (a transient error, another
/// delivery holds it) is `dagbench.Retry`, which the state machine
/// retries; a message without a usable job id is
/// `dagbench.InvalidMessage`. The completion also goes to the outgoing
/// queue, as from every processor.
pub async fn invoke(
    wired: &Wired,
    payload: serde_json::Value,
    budget: &Budget,
) -> Result<serde_json::Value, DirectError> {
    let invoked = Instant::now();
    // The processor finishes "its task" into this cell: the same path as
    // a callback task, with the invocation's answer as the task.
    let answer = Arc::new(Answer::default());
    let mut processor = (*wired.processor).clone();
    processor.callbacks = Some(Arc::clone(&answer) as Arc<dyn TaskCallbacks>);
    let mut payload = payload;
    if let Some(fields) = payload.as_object_mut() {
        fields.insert("task_token".into(), serde_json::json!(DIRECT_TOKEN));
    }
    let body = payload.to_string();
    let work = JobMessage::parse(body.as_bytes(), &processor.config.limits)
        .map_or(Duration::ZERO, |m| {
            Duration::from_millis(m.work_duration_ms)
        });
    let claim = budget
        .respond_by()
        .saturating_duration_since(Instant::now());
    let disposition = if work > max_work(budget.timeout) {
        let reason = format!(
            "the job asks for {} ms of work, but the function's timeout is {} ms: at most {} ms of work fits",
            work.as_millis(),
            budget.timeout.as_millis(),
            max_work(budget.timeout).as_millis()
        );
        let message = ReceivedMessage {
            message_id: String::new(),
            receipt: String::new(),
            body,
            receive_count: 1,
            sent_at: Timestamp::from_unix_millis(0),
            attributes: Vec::new(),
        };
        processor.refuse(&message, claim, reason).await
    } else {
        processor.process_job(&body, 1, claim).await
    };
    wired
        .processor
        .store
        .calls()
        .lambda_invocation(invoked.elapsed());
    let taken = answer.0.lock().map(|mut a| a.take()).unwrap_or(None);
    match (disposition, taken) {
        (Disposition::Done { .. }, Some(Ok(output))) => {
            Ok(serde_json::from_str(&output).unwrap_or(serde_json::Value::String(output)))
        }
        (Disposition::Done { .. }, Some(Err(cause))) => Err(DirectError {
            error_type: dagbench_core::message::TASK_JOB_FAILED.into(),
            message: cause,
        }),
        (Disposition::Poison { reason }, _) => Err(DirectError {
            error_type: "dagbench.InvalidMessage".into(),
            message: reason,
        }),
        (Disposition::Retry { reason, .. }, _) => Err(DirectError {
            error_type: RETRY_ERROR.into(),
            message: reason,
        }),
        (Disposition::Busy { job_id, until, .. }, _) => Err(DirectError {
            error_type: RETRY_ERROR.into(),
            message: format!("job {job_id} is being run by another delivery until {until}"),
        }),
        (Disposition::Done { job_id, .. }, None) => Err(DirectError {
            error_type: RETRY_ERROR.into(),
            message: format!("job {job_id} ended without an answer"),
        }),
    }
}

/// The token a direct invocation's job carries (no task is waiting on it:
/// the answer is the invocation's).
const DIRECT_TOKEN: &str = "direct-invocation";

/// The error the state machine retries (`dagbench.Retry`, as the
/// definition's `Retry` names it in `dagbench-infra`'s `asl`).
pub const RETRY_ERROR: &str = "dagbench.Retry";

/// A direct invocation that did not complete its job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectError {
    /// `dagbench.JobFailed`, `dagbench.Retry` or `dagbench.InvalidMessage`:
    /// the error name Step Functions sees.
    pub error_type: String,
    pub message: String,
}

/// The answer of a direct invocation, as the processor finishes it.
#[derive(Debug, Default)]
struct Answer(std::sync::Mutex<Option<Result<String, String>>>);

#[async_trait::async_trait]
impl TaskCallbacks for Answer {
    async fn succeeded(&self, _token: &str, output: &str) -> Result<(), CallbackError> {
        if let Ok(mut a) = self.0.lock() {
            *a = Some(Ok(output.to_owned()));
        }
        Ok(())
    }

    async fn failed(&self, _token: &str, _error: &str, cause: &str) -> Result<(), CallbackError> {
        if let Ok(mut a) = self.0.lock() {
            *a = Some(Err(cause.to_owned()));
        }
        Ok(())
    }

    async fn heartbeat(&self, _token: &str) -> Result<(), CallbackError> {
        Ok(())
    }
}

/// Runs one record's job once a slot and its memory are free, if its work
/// still fits before `respond_by`; gives it up at `respond_by`.
#[allow(clippy::too_many_arguments)] // one record's whole situation
async fn run_within(
    wired: &Wired,
    message: &ReceivedMessage,
    work: Duration,
    weight: u32,
    last: bool,
    respond_by: Instant,
    slots: &Semaphore,
    memory: &Semaphore,
    budget: &Budget,
) -> Fate {
    // Past `respond_by` less a job's margin nothing could run any more; what
    // is left is the time to say so.
    let last_start = respond_by
        .checked_sub(job_margin(budget.timeout))
        .unwrap_or(respond_by);
    let permits = tokio::time::timeout_at(last_start, async {
        let slot = slots.acquire().await.expect("never closed");
        let held = memory.acquire_many(weight).await.expect("never closed");
        (slot, held)
    })
    .await;
    let Ok(_permits) = permits else {
        return give_up_unstarted(
            wired,
            message,
            last,
            respond_by,
            "no slot came free before the invocation's deadline",
        )
        .await;
    };
    let left = respond_by.saturating_duration_since(Instant::now());
    if work + job_margin(budget.timeout) > left {
        return give_up_unstarted(
            wired,
            message,
            last,
            respond_by,
            &format!(
                "{} ms of work did not fit the {} ms left in the invocation",
                work.as_millis(),
                left.as_millis()
            ),
        )
        .await;
    }
    match tokio::time::timeout_at(respond_by, wired.processor.process_message(message, left)).await
    {
        Ok(disposition) => Fate::Processed(disposition),
        Err(_) => {
            // Its claim goes back at once, so the next delivery need not
            // wait for it to expire; best effort within the margin.
            let _ =
                tokio::time::timeout(RESPONSE_MARGIN / 2, wired.processor.abandon(&message.body))
                    .await;
            Fate::Abandoned
        }
    }
}

/// A record not started for want of time: back to the queue, or, on its
/// last delivery, `failed` with `why` (the queue would dead-letter it with
/// no reason).
async fn give_up_unstarted(
    wired: &Wired,
    message: &ReceivedMessage,
    last: bool,
    respond_by: Instant,
    why: &str,
) -> Fate {
    if !last {
        return Fate::Deferred;
    }
    let reason = format!(
        "not run on delivery {}, the last before the dead-letter queue: {why}",
        message.receive_count
    );
    let claim = respond_by.saturating_duration_since(Instant::now()) + RESPONSE_MARGIN;
    let claimed =
        tokio::time::timeout_at(respond_by, wired.processor.refuse(message, claim, reason)).await;
    claimed.map_or(Fate::Deferred, Fate::Processed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_concurrency_follows_open_files_and_memory() {
        assert_eq!(default_concurrency(256, 1024), 128);
        assert_eq!(default_concurrency(128, 1024), 64);
        assert_eq!(default_concurrency(10_240, 1024), 128);
        assert_eq!(default_concurrency(10_240, 65_536), 256);
        assert_eq!(default_concurrency(128, 4), 1);
    }

    #[test]
    fn the_open_file_limit_is_read_from_proc() {
        let text = "Limit                     Soft Limit           Hard Limit           Units\n\
                    Max processes             4096                 4096                 processes\n\
                    Max open files            1024                 65536                files\n";
        assert_eq!(soft_open_files(text), Some(1024));
        assert_eq!(
            soft_open_files(
                "Max open files            unlimited            unlimited            files"
            ),
            Some(u64::MAX)
        );
        assert_eq!(soft_open_files("nothing"), None);
    }

    #[test]
    fn work_limits_leave_room_for_io_and_the_answer() {
        assert_eq!(
            job_margin(Duration::from_secs(3)),
            Duration::from_millis(300)
        );
        assert_eq!(
            max_work(Duration::from_secs(3)),
            Duration::from_millis(2450)
        );
        assert_eq!(
            max_work(Duration::from_secs(60)),
            Duration::from_millis(54_750)
        );
        assert_eq!(
            job_margin(Duration::from_secs(1)),
            Duration::from_millis(200)
        );
        assert_eq!(max_work(Duration::from_millis(300)), Duration::ZERO);
    }

    #[test]
    fn deadlines_are_believed_only_within_the_timeout() {
        let t = Duration::from_secs(3);
        assert_eq!(
            time_left(10_000 + 2_900, 10_000, t),
            (Duration::from_millis(2_900), None)
        );
        let (left, note) = time_left(5_000, 10_000, t);
        assert_eq!(left, t);
        assert!(note.unwrap().contains("-5000 ms away"));
        let (left, note) = time_left(10_000 + 600_000, 10_000, t);
        assert_eq!(left, t);
        assert!(note.is_some());
    }

    #[test]
    fn outputs_weigh_twice_their_size_within_the_budget() {
        assert_eq!(weight(0, 128), 1);
        assert_eq!(weight(10, 128), 2);
        assert_eq!(weight(10_240, 128), 21);
        assert_eq!(weight(10_240, 8), 8);
    }
}
