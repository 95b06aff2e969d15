//! The scheduler driver: the async loop around the run's pure bookkeeping
//! ([`dagbench_core::tracker::RunTracker`]). It only does I/O: sends the
//! batches the tracker hands out, passes on what the queues deliver,
//! deletes what was handled, watches the dead-letter queue, notices a
//! stalled run, and stops cleanly on request. A queue that cannot be used
//! at all (it does not exist, access is denied) ends the run at once with
//! that error; failures that may pass are counted and retried.

use std::sync::Arc;
use std::time::Duration;

use dagbench_core::ids::RunId;
use dagbench_core::scheduler::{Progress, Scheduler};
pub use dagbench_core::tracker::{Anomalies, DriverOutcome, RunStatus, Timeline};
use dagbench_core::tracker::{CompletionEffect, RunTracker};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::ports::{Clock, JobQueue, MAX_BATCH, QueueError};

/// The three queues of a run.
#[derive(Debug, Clone)]
pub struct Queues {
    pub incoming: Arc<dyn JobQueue>,
    pub outgoing: Arc<dyn JobQueue>,
    pub dlq: Arc<dyn JobQueue>,
}

#[derive(Debug, Clone)]
pub struct DriverConfig {
    pub run_id: RunId,
    /// End the run as stalled when jobs are in flight but nothing completed
    /// for this long.
    pub stall_timeout: Duration,
    /// After a stop request, how long in-flight jobs may still report.
    pub grace: Duration,
    /// Longest wait for a completion when there is nothing to dispatch.
    pub idle_wait: Duration,
    /// How often the dead-letter queue is checked.
    pub dlq_interval: Duration,
    /// How often `on_progress` is called.
    pub progress_interval: Duration,
}

impl DriverConfig {
    pub fn new(run_id: RunId) -> Self {
        Self {
            run_id,
            stall_timeout: Duration::from_secs(120),
            grace: Duration::from_secs(5),
            idle_wait: Duration::from_millis(200),
            dlq_interval: Duration::from_millis(500),
            progress_interval: Duration::from_millis(200),
        }
    }
}

/// Runs the graph of `scheduler` to its end (or a stall, an unusable
/// queue, or `stop`).
pub async fn drive(
    scheduler: Scheduler,
    queues: &Queues,
    clock: Arc<dyn Clock>,
    config: &DriverConfig,
    mut stop: watch::Receiver<bool>,
    on_progress: &mut (dyn FnMut(&Progress) + Send),
) -> DriverOutcome {
    let now = || clock.now().unix_millis();
    let mut tracker = RunTracker::new(scheduler, config.run_id.clone(), now());
    let mut last_movement = Instant::now();
    let mut last_dlq_check = Instant::now();
    let mut last_progress = Instant::now() - config.progress_interval;
    let mut stop_deadline: Option<Instant> = None;

    let status = loop {
        if tracker.is_finished() {
            break tracker.final_status();
        }
        if stop_deadline.is_none() && *stop.borrow() {
            stop_deadline = Some(Instant::now() + config.grace);
        }
        if let Some(deadline) = stop_deadline {
            if tracker.in_flight() == 0 || Instant::now() >= deadline {
                break RunStatus::Interrupted;
            }
        } else if dispatch(&mut tracker, queues, clock.as_ref())
            .await
            .is_err()
        {
            // The send's error is recorded.
            break RunStatus::Aborted;
        }

        // Completions: wait only when there is nothing else to do.
        let wait = if tracker.ready_len() > 0 && stop_deadline.is_none() {
            Duration::ZERO
        } else {
            config.idle_wait
        };
        let received = tokio::select! {
            r = queues.outgoing.receive(MAX_BATCH, wait) => r,
            _ = stop.changed(), if stop_deadline.is_none() => Ok(Vec::new()),
        };
        let messages = match received {
            Ok(m) => m,
            Err(e) if e.is_unusable() => break aborted(&mut tracker, "outgoing", &e),
            Err(e) => {
                tracker.receive_failed("outgoing", &e.to_string());
                tokio::time::sleep(Duration::from_millis(100)).await;
                Vec::new()
            }
        };
        let mut receipts = Vec::with_capacity(messages.len());
        for message in messages {
            receipts.push(message.receipt);
            if tracker.completion(message.body.as_bytes(), now()) == CompletionEffect::Accepted {
                last_movement = Instant::now();
            }
        }
        delete_handled(
            &mut tracker,
            queues.outgoing.as_ref(),
            "outgoing",
            &receipts,
        )
        .await;

        if last_dlq_check.elapsed() >= config.dlq_interval {
            last_dlq_check = Instant::now();
            match check_dead_letters(&mut tracker, queues).await {
                Ok(true) => last_movement = Instant::now(),
                Ok(false) => {}
                Err(e) => break aborted(&mut tracker, "dead-letter", &e),
            }
        }
        if tracker.in_flight() > 0 && last_movement.elapsed() >= config.stall_timeout {
            break RunStatus::Stalled;
        }
        if last_progress.elapsed() >= config.progress_interval {
            last_progress = Instant::now();
            on_progress(&tracker.progress());
        }
    };
    on_progress(&tracker.progress());
    tracker.finish(status, now())
}

/// Records why the run cannot go on: a receive from `queue` failed for good.
fn aborted(tracker: &mut RunTracker, queue: &str, error: &QueueError) -> RunStatus {
    tracker.receive_failed(queue, &error.to_string());
    RunStatus::Aborted
}

/// Deletes handled messages; failures are counted (the messages come back
/// and are then duplicates).
async fn delete_handled(
    tracker: &mut RunTracker,
    queue: &dyn JobQueue,
    name: &str,
    receipts: &[String],
) {
    for chunk in receipts.chunks(MAX_BATCH) {
        match queue.delete_batch(chunk).await {
            Ok(results) => {
                let failed: Vec<&QueueError> =
                    results.iter().filter_map(|r| r.as_ref().err()).collect();
                if let Some(e) = failed.first() {
                    tracker.delete_failed(name, failed.len(), &e.to_string());
                }
            }
            Err(e) => tracker.delete_failed(name, chunk.len(), &e.to_string()),
        }
    }
}

/// Sends every ready job, in batches of ten. A queue that refuses part of
/// a batch pushes back: the rest waits for the next round.
async fn dispatch(
    tracker: &mut RunTracker,
    queues: &Queues,
    clock: &dyn Clock,
) -> Result<(), QueueError> {
    while let Some(batch) = tracker.next_batch(MAX_BATCH) {
        let accepted: Vec<bool> = match queues.incoming.send_batch(&batch.bodies).await {
            Ok(results) => results.iter().map(Result::is_ok).collect(),
            Err(e) if e.is_unusable() => {
                tracker.send_failed(&batch, &e.to_string());
                return Err(e);
            }
            Err(e) => {
                tracker.send_failed(&batch, &e.to_string());
                tokio::time::sleep(Duration::from_millis(50)).await;
                return Ok(());
            }
        };
        if tracker.sent(&batch, &accepted, clock.now().unix_millis()) > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            return Ok(());
        }
    }
    Ok(())
}

/// A message in the DLQ fails its job (and blocks its dependents).
/// Returns whether any job changed.
async fn check_dead_letters(tracker: &mut RunTracker, queues: &Queues) -> Result<bool, QueueError> {
    let mut moved = false;
    loop {
        let messages = match queues.dlq.receive(MAX_BATCH, Duration::ZERO).await {
            Ok(m) => m,
            Err(e) if e.is_unusable() => return Err(e),
            Err(e) => {
                tracker.receive_failed("dead-letter", &e.to_string());
                return Ok(moved);
            }
        };
        if messages.is_empty() {
            return Ok(moved);
        }
        let mut receipts = Vec::with_capacity(messages.len());
        for m in messages {
            moved |= tracker.dead_letter(m.body.as_bytes());
            receipts.push(m.receipt);
        }
        delete_handled(tracker, queues.dlq.as_ref(), "dead-letter", &receipts).await;
    }
}

#[cfg(test)]
mod tests {
    use super::RunStatus;

    #[test]
    fn status_names_are_those_of_report_json() {
        for s in [
            RunStatus::Completed,
            RunStatus::Failed,
            RunStatus::Stalled,
            RunStatus::Interrupted,
            RunStatus::Aborted,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}
