//! The scheduler driver: the async loop around the pure state machine.
//! It dispatches ready jobs in batches, consumes completions, watches the
//! dead-letter queue, notices a stalled run, and stops cleanly on request —
//! recording, for every job, when it became ready, was dispatched, started,
//! completed and was observed, so a report can split queue wait,
//! processing, notification and scheduler reaction.

use std::sync::Arc;
use std::time::Duration;

use dagbench_core::JobIndex;
use dagbench_core::ids::{JobId, RunId};
use dagbench_core::key::ObjectKey;
use dagbench_core::message::{Completion, JobMessage, Outcome};
use dagbench_core::scheduler::{CompletionOutcome, FailureOutcome, Progress, Scheduler};
use serde::{Deserialize, Serialize};
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

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Every job completed.
    Completed,
    /// Every job ended, some failed or were blocked.
    Failed,
    /// Jobs were in flight but nothing moved for `stall_timeout`.
    Stalled,
    /// Stopped on request; resumable.
    Interrupted,
}

impl RunStatus {
    /// Its name, as in `report.json` (`completed`, `failed`, …).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Stalled => "stalled",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

/// Per-job instants, ms since the epoch (`-1` = never).
#[derive(Debug, Clone, Serialize)]
pub struct Timeline {
    pub ready: Vec<i64>,
    pub dispatched: Vec<i64>,
    pub started: Vec<i64>,
    pub completed: Vec<i64>,
    pub observed: Vec<i64>,
    /// As measured by the processor.
    pub processing_ms: Vec<f64>,
    /// Delivery attempt of the accepted completion.
    pub attempt: Vec<u32>,
}

impl Timeline {
    fn new(n: usize) -> Self {
        Self {
            ready: vec![-1; n],
            dispatched: vec![-1; n],
            started: vec![-1; n],
            completed: vec![-1; n],
            observed: vec![-1; n],
            processing_ms: vec![f64::NAN; n],
            attempt: vec![0; n],
        }
    }
}

/// Counts of messages that changed nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anomalies {
    pub duplicate_completions: u64,
    pub late_completions: u64,
    pub premature_completions: u64,
    pub unknown_completions: u64,
    pub invalid_completions: u64,
    /// Dead-letter messages without a job of this graph.
    pub dead_letters_unmatched: u64,
    pub send_failures: u64,
}

#[derive(Debug, Clone)]
pub struct DriverOutcome {
    pub status: RunStatus,
    pub progress: Progress,
    pub timeline: Timeline,
    pub anomalies: Anomalies,
    /// Wall-clock bounds of the run (ms since the epoch).
    pub started_at: i64,
    pub ended_at: i64,
    /// Failed jobs with their reasons.
    pub failed: Vec<(JobIndex, String)>,
}

/// Runs the graph of `scheduler` to its end (or a stall, or `stop`).
pub async fn drive(
    scheduler: &mut Scheduler,
    queues: &Queues,
    clock: Arc<dyn Clock>,
    config: &DriverConfig,
    mut stop: watch::Receiver<bool>,
    on_progress: &mut (dyn FnMut(&Progress) + Send),
) -> DriverOutcome {
    let graph = Arc::clone(scheduler.graph());
    let n = graph.len();
    let mut timeline = Timeline::new(n);
    let mut anomalies = Anomalies::default();
    let started_at = clock.now().unix_millis();
    for j in 0..n {
        if scheduler.state(JobIndex(j as u32)) == dagbench_core::scheduler::JobState::Ready {
            timeline.ready[j] = started_at;
        }
    }
    let mut last_movement = Instant::now();
    let mut last_dlq_check = Instant::now();
    let mut last_progress = Instant::now() - config.progress_interval;
    let mut stop_deadline: Option<Instant> = None;
    let mut released: Vec<JobIndex> = Vec::new();

    let status = loop {
        if scheduler.is_finished() {
            let p = scheduler.progress();
            break if p.completed == p.total {
                RunStatus::Completed
            } else {
                RunStatus::Failed
            };
        }
        if stop_deadline.is_none() && *stop.borrow() {
            stop_deadline = Some(Instant::now() + config.grace);
        }
        if let Some(deadline) = stop_deadline {
            if scheduler.progress().dispatched == 0 || Instant::now() >= deadline {
                break RunStatus::Interrupted;
            }
        } else {
            dispatch(
                scheduler,
                queues,
                clock.as_ref(),
                config,
                &mut timeline,
                &mut anomalies,
            )
            .await;
        }

        // Completions: wait only when there is nothing else to do.
        let wait = if scheduler.ready_len() > 0 && stop_deadline.is_none() {
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
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Vec::new()
            }
        };
        let mut receipts = Vec::with_capacity(messages.len());
        for message in messages {
            receipts.push(message.receipt.clone());
            let observed = clock.now().unix_millis();
            let Ok(completion) = Completion::parse(message.body.as_bytes()) else {
                anomalies.invalid_completions += 1;
                continue;
            };
            let Some(job) = graph.find(completion.job_id.as_str()) else {
                anomalies.unknown_completions += 1;
                continue;
            };
            let accepted = match &completion.outcome {
                Outcome::Completed { .. } => match scheduler.completed(job) {
                    CompletionOutcome::Accepted { .. } => true,
                    CompletionOutcome::Duplicate => {
                        anomalies.duplicate_completions += 1;
                        false
                    }
                    CompletionOutcome::Late(_) => {
                        anomalies.late_completions += 1;
                        false
                    }
                    CompletionOutcome::Premature => {
                        anomalies.premature_completions += 1;
                        false
                    }
                    CompletionOutcome::Unknown => {
                        anomalies.unknown_completions += 1;
                        false
                    }
                },
                Outcome::Failed { error } => match scheduler.failed(job, error.clone()) {
                    FailureOutcome::Accepted { .. } => true,
                    _ => {
                        anomalies.duplicate_completions += 1;
                        false
                    }
                },
            };
            if accepted {
                last_movement = Instant::now();
                let j = job.get();
                timeline.observed[j] = observed;
                timeline.completed[j] = completion.completed_at.unix_millis();
                timeline.started[j] = completion.started_at.map_or(-1, |t| t.unix_millis());
                timeline.processing_ms[j] = completion.processing_time_ms;
                timeline.attempt[j] = completion.attempt.unwrap_or(1);
                released.extend(graph.dependents(job).iter().map(|&d| JobIndex(d)));
            }
        }
        for &d in &released {
            let j = d.get();
            if timeline.ready[j] < 0
                && scheduler.state(d) == dagbench_core::scheduler::JobState::Ready
            {
                timeline.ready[j] = clock.now().unix_millis();
            }
        }
        released.clear();
        for chunk in receipts.chunks(MAX_BATCH) {
            let _ = queues.outgoing.delete_batch(chunk).await;
        }

        if last_dlq_check.elapsed() >= config.dlq_interval {
            last_dlq_check = Instant::now();
            if check_dead_letters(scheduler, queues, &mut anomalies).await {
                last_movement = Instant::now();
            }
        }
        if scheduler.progress().dispatched > 0 && last_movement.elapsed() >= config.stall_timeout {
            break RunStatus::Stalled;
        }
        if last_progress.elapsed() >= config.progress_interval {
            last_progress = Instant::now();
            on_progress(&scheduler.progress());
        }
    };
    on_progress(&scheduler.progress());
    let failed = scheduler
        .failed_jobs()
        .into_iter()
        .map(|(j, reason)| (j, reason.to_owned()))
        .collect();
    DriverOutcome {
        status,
        progress: scheduler.progress(),
        timeline,
        anomalies,
        started_at,
        ended_at: clock.now().unix_millis(),
        failed,
    }
}

/// Sends every ready job, in batches of ten.
async fn dispatch(
    scheduler: &mut Scheduler,
    queues: &Queues,
    clock: &dyn Clock,
    config: &DriverConfig,
    timeline: &mut Timeline,
    anomalies: &mut Anomalies,
) {
    let graph = Arc::clone(scheduler.graph());
    loop {
        let mut batch: Vec<JobIndex> = Vec::with_capacity(MAX_BATCH);
        while batch.len() < MAX_BATCH {
            match scheduler.pop_ready() {
                Some(j) => batch.push(j),
                None => break,
            }
        }
        if batch.is_empty() {
            return;
        }
        let bodies: Vec<String> = batch
            .iter()
            .map(|&j| {
                let job = graph.job(j);
                JobMessage {
                    job_id: JobId::new(job.job_id).expect("graph ids are valid"),
                    work_duration_ms: u64::from(job.work_duration_ms),
                    data_size_kb: u64::from(job.data_size_kb),
                    input_key: job
                        .input_key
                        .map(|k| ObjectKey::new(k).expect("graph keys are valid")),
                    run_id: Some(config.run_id.clone()),
                }
                .to_json()
            })
            .collect();
        let now = clock.now().unix_millis();
        let results: Vec<Result<(), QueueError>> = match queues.incoming.send_batch(&bodies).await {
            Ok(r) => r,
            Err(e) => vec![Err(e); batch.len()],
        };
        let mut any_failed = false;
        // Give back failures in reverse so they go out again in order.
        for (&j, result) in batch.iter().zip(&results).rev() {
            if result.is_ok() {
                scheduler.dispatched(j);
                timeline.dispatched[j.get()] = now;
            } else {
                anomalies.send_failures += 1;
                scheduler.unpop_ready(j);
                any_failed = true;
            }
        }
        if any_failed {
            // The queue pushes back: try again on the next round.
            tokio::time::sleep(Duration::from_millis(50)).await;
            return;
        }
    }
}

/// A message in the DLQ fails its job (and blocks its dependents).
/// Returns whether any job changed.
async fn check_dead_letters(
    scheduler: &mut Scheduler,
    queues: &Queues,
    anomalies: &mut Anomalies,
) -> bool {
    let mut moved = false;
    loop {
        let Ok(messages) = queues.dlq.receive(MAX_BATCH, Duration::ZERO).await else {
            return moved;
        };
        if messages.is_empty() {
            return moved;
        }
        let mut receipts = Vec::with_capacity(messages.len());
        for m in messages {
            receipts.push(m.receipt);
            let job_id = serde_json::from_str::<serde_json::Value>(&m.body)
                .ok()
                .and_then(|v| {
                    v.get("job_id")
                        .and_then(|id| id.as_str().map(str::to_owned))
                });
            let reason =
                "moved to the dead-letter queue after repeated deliveries without a completion"
                    .to_owned();
            match job_id.as_deref().map(|id| scheduler.failed_id(id, reason)) {
                Some(FailureOutcome::Accepted { .. }) => moved = true,
                Some(_) => {}
                None => anomalies.dead_letters_unmatched += 1,
            }
        }
        for chunk in receipts.chunks(MAX_BATCH) {
            let _ = queues.dlq.delete_batch(chunk).await;
        }
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
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}
