//! The scheduler driver: the async I/O around the run's pure bookkeeping
//! ([`dagbench_core::tracker::RunTracker`]). Against SQS every call takes
//! milliseconds, so nothing waits for anything else:
//!
//! - up to `sends_in_flight` batches of job messages are being sent at once
//!   (Little's law: at 15 ms a call, 10,000 jobs/s need 15 in flight);
//! - `receivers` long polls of the outgoing queue stay open, each handing
//!   what it gets to the loop through a bounded channel (back-pressure);
//! - handled messages are deleted in batches of ten by a deleter that keeps
//!   up to `deletes_in_flight` calls going and never blocks dispatch;
//! - the dead-letter queue is polled on its own.
//!
//! The loop itself only applies what arrives to the tracker and starts new
//! sends. A queue that refuses part of a batch pushes back (the refused
//! jobs go out again after a pause); a queue that cannot be used at all
//! (it does not exist, access is denied) ends the run at once with that
//! error; failures that may pass are counted and retried.

use std::sync::Arc;
use std::time::Duration;

use dagbench_core::ids::RunId;
use dagbench_core::scheduler::{Progress, Scheduler};
pub use dagbench_core::tracker::{Anomalies, DriverOutcome, RunStatus, Timeline};
use dagbench_core::tracker::{Batch, Effect, RunTracker};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::ports::{Clock, JobQueue, MAX_BATCH, QueueError, ReceivedMessage};

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

/// What a receiver or the deleter tells the loop.
#[derive(Debug)]
enum Event {
    Received(Source, Vec<ReceivedMessage>),
    ReceiveFailed(Source, QueueError),
    DeleteFailed(Source, usize, QueueError),
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
    let c = config.concurrency;

    let (events_tx, mut events) = mpsc::channel::<Event>(c.receivers.max(1) * 2 + 4);
    let (delete_tx, delete_rx) = mpsc::unbounded_channel::<(Source, String)>();
    let mut background = JoinSet::new();
    for _ in 0..c.receivers.max(1) {
        background.spawn(receive_loop(
            Arc::clone(&queues.outgoing),
            config.receive_wait,
            events_tx.clone(),
        ));
    }
    background.spawn(dead_letter_loop(
        Arc::clone(&queues.dlq),
        config.dlq_interval,
        events_tx.clone(),
    ));
    let deleter = tokio::spawn(delete_loop(
        queues.clone(),
        delete_rx,
        c.deletes_in_flight.max(1),
        events_tx,
    ));

    let mut sends: JoinSet<(Batch, Result<Vec<bool>, QueueError>)> = JoinSet::new();
    let mut last_movement = Instant::now();
    let mut next_tick = Instant::now();
    let mut backoff_until = Instant::now();
    let mut stop_deadline: Option<Instant> = None;
    let mut stop_closed = false;

    let status = loop {
        if tracker.is_finished() {
            break tracker.final_status();
        }
        if stop_deadline.is_none() && *stop.borrow() {
            stop_deadline = Some(Instant::now() + config.grace);
        }
        if let Some(deadline) = stop_deadline
            && ((tracker.in_flight() == 0 && sends.is_empty()) || Instant::now() >= deadline)
        {
            break RunStatus::Interrupted;
        }
        if stop_deadline.is_none() && Instant::now() >= backoff_until {
            while sends.len() < c.sends_in_flight.max(1) {
                let Some(batch) = tracker.next_batch(MAX_BATCH) else {
                    break;
                };
                let incoming = Arc::clone(&queues.incoming);
                sends.spawn(async move {
                    let result = incoming
                        .send_batch(&batch.bodies)
                        .await
                        .map(|r| r.iter().map(Result::is_ok).collect());
                    (batch, result)
                });
            }
        }
        if Instant::now() >= next_tick {
            next_tick = Instant::now() + config.progress_interval.min(Duration::from_millis(200));
            on_progress(&tracker.progress());
            if last_movement.elapsed() >= config.stall_timeout {
                break RunStatus::Stalled;
            }
        }
        // Wake early only to send what a backoff held back; a send that
        // ends, a delivery or a stop wakes the loop anyway.
        let held_back = stop_deadline.is_none()
            && tracker.ready_len() > 0
            && sends.len() < c.sends_in_flight.max(1)
            && backoff_until > Instant::now();
        let wake = if held_back {
            next_tick.min(backoff_until)
        } else {
            next_tick
        };
        tokio::select! {
            sent = sends.join_next(), if !sends.is_empty() => {
                let Some(Ok((batch, result))) = sent else { continue };
                match result {
                    Ok(accepted) => {
                        if tracker.sent(&batch, &accepted, now()) > 0 {
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
                }
            }
            event = events.recv() => match event {
                Some(Event::Received(source, messages)) => {
                    let observed = now();
                    for m in messages {
                        let effect = match source {
                            Source::Outgoing => {
                                tracker.completion(&m.message_id, m.body.as_bytes(), observed)
                            }
                            Source::DeadLetters => {
                                tracker.dead_letter(&m.message_id, m.body.as_bytes())
                            }
                        };
                        if effect == Effect::Accepted {
                            last_movement = Instant::now();
                        }
                        if effect.delete() {
                            let _ = delete_tx.send((source, m.receipt));
                        }
                    }
                }
                Some(Event::ReceiveFailed(source, e)) => {
                    tracker.receive_failed(source.name(), &e.to_string());
                    if e.is_unusable() {
                        break RunStatus::Aborted;
                    }
                }
                Some(Event::DeleteFailed(source, n, e)) => {
                    tracker.delete_failed(source.name(), n, &e.to_string());
                }
                None => {}
            },
            changed = stop.changed(), if stop_deadline.is_none() && !stop_closed => {
                stop_closed = changed.is_err();
            }
            () = tokio::time::sleep_until(wake) => {}
        }
    };
    background.shutdown().await;
    // Deletes of what this run handled still go out (else they come back
    // to the next run as litter), within a bound.
    drop(delete_tx);
    let _ = tokio::time::timeout(config.grace.max(Duration::from_secs(1)), deleter).await;
    on_progress(&tracker.progress());
    tracker.finish(status, now())
}

/// One long poll after another on the outgoing queue.
async fn receive_loop(queue: Arc<dyn JobQueue>, wait: Duration, events: mpsc::Sender<Event>) {
    loop {
        let event = match queue.receive(MAX_BATCH, wait).await {
            Ok(m) if m.is_empty() => continue,
            Ok(m) => Event::Received(Source::Outgoing, m),
            Err(e) => {
                let unusable = e.is_unusable();
                if events
                    .send(Event::ReceiveFailed(Source::Outgoing, e))
                    .await
                    .is_err()
                    || unusable
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if events.send(event).await.is_err() {
            return;
        }
    }
}

/// Every `interval`, everything the dead-letter queue holds (short polls
/// until it answers empty).
async fn dead_letter_loop(
    queue: Arc<dyn JobQueue>,
    interval: Duration,
    events: mpsc::Sender<Event>,
) {
    loop {
        tokio::time::sleep(interval).await;
        loop {
            let event = match queue.receive(MAX_BATCH, Duration::ZERO).await {
                Ok(m) if m.is_empty() => break,
                Ok(m) => Event::Received(Source::DeadLetters, m),
                Err(e) => {
                    let unusable = e.is_unusable();
                    if events
                        .send(Event::ReceiveFailed(Source::DeadLetters, e))
                        .await
                        .is_err()
                        || unusable
                    {
                        return;
                    }
                    break;
                }
            };
            if events.send(event).await.is_err() {
                return;
            }
        }
    }
}

/// Deletes handled messages in batches of ten per queue, up to `limit`
/// calls at once, until the loop closes the channel and everything queued
/// is deleted.
async fn delete_loop(
    queues: Queues,
    mut receipts: mpsc::UnboundedReceiver<(Source, String)>,
    limit: usize,
    events: mpsc::Sender<Event>,
) {
    let mut calls = JoinSet::new();
    let mut pending: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    let mut open = true;
    loop {
        // Take everything already queued, without waiting.
        while let Ok((source, receipt)) = receipts.try_recv() {
            pending[source as usize].push(receipt);
        }
        for source in [Source::Outgoing, Source::DeadLetters] {
            let queue = match source {
                Source::Outgoing => &queues.outgoing,
                Source::DeadLetters => &queues.dlq,
            };
            let waiting = &mut pending[source as usize];
            while !waiting.is_empty() && calls.len() < limit {
                let chunk: Vec<String> = waiting.drain(..waiting.len().min(MAX_BATCH)).collect();
                let queue = Arc::clone(queue);
                calls.spawn(async move {
                    let failed = match queue.delete_batch(&chunk).await {
                        Ok(results) => {
                            let failures: Vec<QueueError> =
                                results.into_iter().filter_map(Result::err).collect();
                            let n = failures.len();
                            failures.into_iter().next().map(|e| (n, e))
                        }
                        Err(e) => Some((chunk.len(), e)),
                    };
                    (source, failed)
                });
            }
        }
        if !open && calls.is_empty() && pending.iter().all(Vec::is_empty) {
            return;
        }
        tokio::select! {
            done = calls.join_next(), if !calls.is_empty() => {
                if let Some(Ok((source, Some((n, e))))) = done {
                    let _ = events.try_send(Event::DeleteFailed(source, n, e));
                }
            }
            next = receipts.recv(), if open => match next {
                Some((source, receipt)) => pending[source as usize].push(receipt),
                None => open = false,
            },
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
            RunStatus::Aborted,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}
