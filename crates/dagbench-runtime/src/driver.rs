//! The scheduler driver: the async I/O around the run's pure bookkeeping
//! ([`dagbench_core::tracker::RunTracker`]). Against SQS every call takes
//! milliseconds, so nothing waits for anything else:
//!
//! - up to `sends_in_flight` batches of job messages are being sent at once
//!   (Little's law: at 15 ms a call, 10,000 jobs/s need 15 in flight);
//! - `receivers` long polls of the outgoing queue stay open;
//! - handled messages are deleted in batches of ten, up to
//!   `deletes_in_flight` calls at once, never blocking dispatch;
//! - the dead-letter queue is polled on its own.
//!
//! All of these are futures of the driver's one task, polled together: the
//! loop applies whatever call ends to the tracker and starts the next ones. A queue that refuses part of a batch pushes back (the refused
//! jobs go out again after a pause); a queue that cannot be used at all
//! (it does not exist, access is denied) ends the run at once with that
//! error; failures that may pass are counted and retried.

use std::sync::Arc;
use std::time::Duration;

use dagbench_core::ids::RunId;
use dagbench_core::scheduler::{Progress, Scheduler};
pub use dagbench_core::tracker::{Anomalies, DriverOutcome, RunStatus, Timeline};
use dagbench_core::tracker::{Batch, Effect, RunTracker};
use std::future::Future;
use std::pin::Pin;

use futures::stream::{FuturesUnordered, StreamExt as _};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::ports::{
    Clock, ExecutionState, JobQueue, MAX_BATCH, Orchestrator, QueueError, ReceivedMessage,
};

/// The three queues of a run.
#[derive(Debug, Clone)]
pub struct Queues {
    pub incoming: Arc<dyn JobQueue>,
    pub outgoing: Arc<dyn JobQueue>,
    pub dlq: Arc<dyn JobQueue>,
}

/// How many queue calls the driver keeps going at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concurrency {
    /// Batches of job messages being sent at once.
    pub sends_in_flight: usize,
    /// Long polls of the outgoing queue kept open.
    pub receivers: usize,
    /// Delete batches in flight.
    pub deletes_in_flight: usize,
}

impl Concurrency {
    /// For queues tens of milliseconds away (SQS): enough calls in flight
    /// for 10,000+ jobs/s at 15 ms per call.
    pub const REMOTE: Concurrency = Concurrency {
        sends_in_flight: 32,
        receivers: 24,
        deletes_in_flight: 16,
    };
    /// For queues in this process (calls take microseconds).
    pub const LOCAL: Concurrency = Concurrency {
        sends_in_flight: 4,
        receivers: 2,
        deletes_in_flight: 2,
    };
    /// One call of each kind at a time: the shape of a serial loop (the
    /// baseline of `dagbench bench scheduler-io`).
    pub const SERIAL: Concurrency = Concurrency {
        sends_in_flight: 1,
        receivers: 1,
        deletes_in_flight: 1,
    };
}

#[derive(Debug, Clone)]
pub struct DriverConfig {
    pub run_id: RunId,
    /// End the run as stalled when nothing has moved (no job sent or ended)
    /// for this long.
    pub stall_timeout: Duration,
    /// After a stop request, how long in-flight jobs may still report.
    pub grace: Duration,
    /// Longest wait of one receive of the outgoing queue (a long poll
    /// returns as soon as a message arrives).
    pub receive_wait: Duration,
    /// How often the dead-letter queue is checked.
    pub dlq_interval: Duration,
    /// How often `on_progress` is called.
    pub progress_interval: Duration,
    /// Pause after a queue refused messages, before sending again.
    pub send_backoff: Duration,
    pub concurrency: Concurrency,
}

impl DriverConfig {
    pub fn new(run_id: RunId) -> Self {
        Self {
            run_id,
            stall_timeout: Duration::from_secs(120),
            grace: Duration::from_secs(5),
            receive_wait: Duration::from_secs(1),
            dlq_interval: Duration::from_millis(500),
            progress_interval: Duration::from_millis(200),
            send_backoff: Duration::from_millis(50),
            concurrency: Concurrency::REMOTE,
        }
    }
}

/// Which queue a delivery came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Outgoing,
    DeadLetters,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Outgoing => "outgoing",
            Source::DeadLetters => "dead-letter",
        }
    }
}

type Call<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type Sent = (Batch, Result<Vec<bool>, QueueError>);
type Received = (Source, Result<Vec<ReceivedMessage>, QueueError>);
type Deleted = (
    Source,
    usize,
    Result<Vec<Result<(), QueueError>>, QueueError>,
);

/// A receive of `source`, after `delay`.
fn receive(
    queue: &Arc<dyn JobQueue>,
    source: Source,
    wait: Duration,
    delay: Duration,
) -> Call<Received> {
    let queue = Arc::clone(queue);
    Box::pin(async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        (source, queue.receive(MAX_BATCH, wait).await)
    })
}

/// Runs the graph of `scheduler` to its end (or a stall, an unusable
/// queue, or `stop`). Every queue call is a future of this one task, so
/// in-process queues cost no thread hand-offs and remote ones overlap.
pub async fn drive(
    scheduler: Scheduler,
    queues: &Queues,
    clock: Arc<dyn Clock>,
    config: &DriverConfig,
    stop: watch::Receiver<bool>,
    on_progress: &mut (dyn FnMut(&Progress) + Send),
) -> DriverOutcome {
    run(scheduler, queues, None, clock, config, stop, on_progress).await
}

/// How often a followed execution's state is read.
pub const EXECUTION_POLL: Duration = Duration::from_secs(1);

/// Follows a run whose jobs `orchestrator` releases (Scenario 3): nothing
/// is sent; completions and dead letters are applied as [`drive`] applies
/// them, jobs count as dispatched once their dependencies are seen
/// complete (or when their completion says the state machine released
/// them), and the execution's state is read every [`EXECUTION_POLL`]. The
/// run ends when every job has ended, or when the execution ends (after
/// `grace` for completions still on their way): failed when a job failed,
/// aborted with the execution's error otherwise. A stop, a stall or a
/// processor that cannot work stops the execution too.
pub async fn follow(
    scheduler: Scheduler,
    queues: &Queues,
    orchestrator: &dyn Orchestrator,
    clock: Arc<dyn Clock>,
    config: &DriverConfig,
    stop: watch::Receiver<bool>,
    on_progress: &mut (dyn FnMut(&Progress) + Send),
) -> DriverOutcome {
    run(
        scheduler,
        queues,
        Some(orchestrator),
        clock,
        config,
        stop,
        on_progress,
    )
    .await
}

/// Offers held completions again after one was accepted, until none moves.
fn offer_held(tracker: &mut RunTracker, held: &mut Vec<(String, String)>, observed: i64) -> bool {
    let mut moved = false;
    loop {
        let before = held.len();
        held.retain(|(id, body)| {
            let effect = tracker.follow(id, body.as_bytes(), observed);
            moved |= effect == Effect::Accepted;
            effect == Effect::Early
        });
        if held.len() == before {
            return moved;
        }
    }
}

#[allow(clippy::too_many_lines)] // one loop: every call of a run is a future of it
async fn run(
    scheduler: Scheduler,
    queues: &Queues,
    orchestrator: Option<&dyn Orchestrator>,
    clock: Arc<dyn Clock>,
    config: &DriverConfig,
    mut stop: watch::Receiver<bool>,
    on_progress: &mut (dyn FnMut(&Progress) + Send),
) -> DriverOutcome {
    let now = || clock.now().unix_millis();
    let mut tracker = RunTracker::new(scheduler, config.run_id.clone(), now());
    if orchestrator.is_some() {
        // The execution has every job that is ready now.
        tracker.release_ready(now());
    }
    // Followed: completions that came before their dependencies'.
    let mut held: Vec<(String, String)> = Vec::new();
    // Followed: the pending read of the execution's state, and how it
    // ended once it has (with the instant to stop waiting for stragglers).
    type StateCall<'a> = Pin<Box<dyn Future<Output = Result<ExecutionState, String>> + Send + 'a>>;
    let mut state_call: Option<StateCall<'_>> = None;
    let mut next_state_at = Instant::now() + EXECUTION_POLL;
    let mut ended: Option<(ExecutionState, Instant)> = None;
    let c = config.concurrency;
    // The scheduler's own queue calls, counted as SQS bills them.
    let calls = Arc::new(dagbench_core::calls::CallTally::default());
    let counted = Queues {
        incoming: crate::ports::Counted::wrap(Arc::clone(&queues.incoming), Arc::clone(&calls)),
        outgoing: crate::ports::Counted::wrap(Arc::clone(&queues.outgoing), Arc::clone(&calls)),
        dlq: crate::ports::Counted::wrap(Arc::clone(&queues.dlq), Arc::clone(&calls)),
    };
    let queues = &counted;

    let mut sends: FuturesUnordered<Call<Sent>> = FuturesUnordered::new();
    let mut receives: FuturesUnordered<Call<Received>> = FuturesUnordered::new();
    let mut deletes: FuturesUnordered<Call<Deleted>> = FuturesUnordered::new();
    for _ in 0..c.receivers.max(1) {
        receives.push(receive(
            &queues.outgoing,
            Source::Outgoing,
            config.receive_wait,
            Duration::ZERO,
        ));
    }
    receives.push(receive(
        &queues.dlq,
        Source::DeadLetters,
        Duration::ZERO,
        config.dlq_interval,
    ));
    // Receipts of handled messages not yet being deleted, per source.
    let mut to_delete: [Vec<String>; 2] = [Vec::new(), Vec::new()];

    let mut last_movement = Instant::now();
    let mut next_tick = Instant::now();
    let mut backoff_until = Instant::now();
    let mut stop_deadline: Option<Instant> = None;
    let mut stop_closed = false;

    let status = loop {
        if tracker.is_finished() {
            break tracker.final_status();
        }
        if let Some((state, until)) = &ended
            && Instant::now() >= *until
        {
            // The execution ended before every job's completion came.
            let why = state.error.as_deref().unwrap_or("no error given");
            let p = tracker.progress();
            if p.failed > 0 {
                break RunStatus::Failed;
            }
            tracker.set_error(if state.status == "SUCCEEDED" {
                format!(
                    "the execution succeeded, but {} of {} jobs never reported a completion",
                    p.total - p.completed,
                    p.total
                )
            } else {
                format!("the execution ended {}: {why}", state.status)
            });
            break if state.status == "SUCCEEDED" {
                RunStatus::Stalled
            } else {
                RunStatus::Aborted
            };
        }
        if let Some(o) = orchestrator
            && ended.is_none()
            && state_call.is_none()
            && Instant::now() >= next_state_at
        {
            state_call = Some(Box::pin(o.state()));
        }
        if stop_deadline.is_none() && *stop.borrow() {
            stop_deadline = Some(Instant::now() + config.grace);
        }
        if let Some(deadline) = stop_deadline
            && ((tracker.in_flight() == 0 && sends.is_empty()) || Instant::now() >= deadline)
        {
            break RunStatus::Interrupted;
        }
        if orchestrator.is_none() && stop_deadline.is_none() && Instant::now() >= backoff_until {
            while sends.len() < c.sends_in_flight.max(1) {
                let Some(batch) = tracker.next_batch(MAX_BATCH, now()) else {
                    break;
                };
                let incoming = Arc::clone(&queues.incoming);
                sends.push(Box::pin(async move {
                    let result = incoming
                        .send_batch(&batch.bodies)
                        .await
                        .map(|r| r.iter().map(Result::is_ok).collect());
                    (batch, result)
                }));
            }
        }
        for source in [Source::Outgoing, Source::DeadLetters] {
            let waiting = &mut to_delete[source as usize];
            while !waiting.is_empty() && deletes.len() < c.deletes_in_flight.max(1) {
                let chunk: Vec<String> = waiting.drain(..waiting.len().min(MAX_BATCH)).collect();
                let queue = match source {
                    Source::Outgoing => Arc::clone(&queues.outgoing),
                    Source::DeadLetters => Arc::clone(&queues.dlq),
                };
                deletes.push(Box::pin(async move {
                    (source, chunk.len(), queue.delete_batch(&chunk).await)
                }));
            }
        }
        if Instant::now() >= next_tick {
            next_tick = Instant::now() + config.progress_interval.min(Duration::from_millis(200));
            on_progress(&tracker.progress());
            if last_movement.elapsed() >= config.stall_timeout {
                break RunStatus::Stalled;
            }
        }
        // Wake early only to send what a backoff held back; a call that
        // ends or a stop wakes the loop anyway.
        let held_back = stop_deadline.is_none()
            && tracker.ready_len() > 0
            && sends.len() < c.sends_in_flight.max(1)
            && backoff_until > Instant::now();
        let mut wake = if held_back {
            next_tick.min(backoff_until)
        } else {
            next_tick
        };
        if orchestrator.is_some() && state_call.is_none() && ended.is_none() {
            wake = wake.min(next_state_at);
        }
        tokio::select! {
            Some((batch, result)) = sends.next(), if !sends.is_empty() => match result {
                Ok(accepted) => {
                    if tracker.sent(&batch, &accepted) > 0 {
                        // The queue pushes back: pause before the next send.
                        backoff_until = Instant::now() + config.send_backoff;
                    }
                    if accepted.iter().any(|&a| a) {
                        last_movement = Instant::now();
                    }
                }
                Err(e) => {
                    tracker.send_failed(&batch, &e.to_string());
                    if e.is_unusable() {
                        break RunStatus::Aborted;
                    }
                    backoff_until = Instant::now() + config.send_backoff;
                }
            },
            Some((source, result)) = receives.next() => {
                let (queue, wait) = match source {
                    Source::Outgoing => (&queues.outgoing, config.receive_wait),
                    Source::DeadLetters => (&queues.dlq, Duration::ZERO),
                };
                let mut fatal = false;
                let next_delay = match result {
                    Ok(messages) => {
                        let empty = messages.is_empty();
                        let observed = now();
                        for m in messages {
                            let effect = match (source, orchestrator) {
                                (Source::Outgoing, None) => {
                                    tracker.completion(&m.message_id, m.body.as_bytes(), observed)
                                }
                                (Source::Outgoing, Some(_)) => {
                                    let effect =
                                        tracker.follow(&m.message_id, m.body.as_bytes(), observed);
                                    match effect {
                                        Effect::Early => held.push((m.message_id.clone(), m.body.clone())),
                                        Effect::Accepted => {
                                            offer_held(&mut tracker, &mut held, observed);
                                        }
                                        _ => {}
                                    }
                                    effect
                                }
                                (Source::DeadLetters, _) => {
                                    let effect = tracker.dead_letter(&m.message_id, m.body.as_bytes());
                                    // Nobody else will finish its task.
                                    if let (Effect::Accepted, Some(o), Some(token)) = (
                                        effect,
                                        orchestrator,
                                        dagbench_core::message::task_token_of(m.body.as_bytes()),
                                    ) {
                                        o.fail_task(&token, dagbench_core::tracker::DEAD_LETTER_REASON)
                                            .await;
                                    }
                                    effect
                                }
                            };
                            if effect == Effect::Accepted {
                                last_movement = Instant::now();
                            }
                            fatal |= effect == Effect::Fatal;
                            if effect.delete() {
                                to_delete[source as usize].push(m.receipt);
                            }
                        }
                        // The DLQ is drained, then checked again later.
                        if source == Source::DeadLetters && empty {
                            config.dlq_interval
                        } else {
                            Duration::ZERO
                        }
                    }
                    Err(e) => {
                        tracker.receive_failed(source.name(), &e.to_string());
                        if e.is_unusable() {
                            break RunStatus::Aborted;
                        }
                        Duration::from_millis(100)
                    }
                };
                if fatal {
                    break RunStatus::Aborted;
                }
                receives.push(receive(queue, source, wait, next_delay));
            }
            Some((source, n, result)) = deletes.next(), if !deletes.is_empty() => {
                match result {
                    Ok(results) => {
                        let failed: Vec<QueueError> = results.into_iter().filter_map(Result::err).collect();
                        if let Some(e) = failed.first() {
                            tracker.delete_failed(source.name(), failed.len(), &e.to_string());
                        }
                    }
                    Err(e) => tracker.delete_failed(source.name(), n, &e.to_string()),
                }
            }
            state = async { state_call.as_mut().expect("guarded").await }, if state_call.is_some() => {
                state_call = None;
                next_state_at = Instant::now() + EXECUTION_POLL;
                match state {
                    Ok(state) if !state.is_running() => {
                        // Completions sent just before the end are still on
                        // their way: wait a little for them.
                        let until = Instant::now() + config.grace.max(Duration::from_secs(2));
                        ended = Some((state, until));
                    }
                    Ok(_) => {}
                    Err(e) => tracker.set_error(format!("reading the execution failed: {e}")),
                }
            }
            changed = stop.changed(), if stop_deadline.is_none() && !stop_closed => {
                stop_closed = changed.is_err();
            }
            () = tokio::time::sleep_until(wake) => {}
        }
    };
    drop(state_call);
    if let Some(o) = orchestrator
        && ended.is_none()
        && matches!(
            status,
            RunStatus::Interrupted | RunStatus::Stalled | RunStatus::Aborted
        )
    {
        o.stop(&format!("dagbench stopped the run: {}", status.as_str()))
            .await;
    }
    // Deletes of what this run handled still go out (else they come back
    // to the next run as litter), within a bound.
    drop(receives);
    let flush = async {
        loop {
            for source in [Source::Outgoing, Source::DeadLetters] {
                let waiting = &mut to_delete[source as usize];
                while !waiting.is_empty() && deletes.len() < c.deletes_in_flight.max(1) {
                    let chunk: Vec<String> =
                        waiting.drain(..waiting.len().min(MAX_BATCH)).collect();
                    let queue = match source {
                        Source::Outgoing => Arc::clone(&queues.outgoing),
                        Source::DeadLetters => Arc::clone(&queues.dlq),
                    };
                    deletes.push(Box::pin(async move {
                        (source, chunk.len(), queue.delete_batch(&chunk).await)
                    }));
                }
            }
            if deletes.next().await.is_none() {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(config.grace.max(Duration::from_secs(1)), flush).await;
    on_progress(&tracker.progress());
    let mut outcome = tracker.finish(status, now());
    outcome.scheduler_calls = calls.snapshot();
    outcome
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
