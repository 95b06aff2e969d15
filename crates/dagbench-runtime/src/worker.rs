//! The polling worker: receive a batch, process its messages one after
//! another, delete what was reported, move poison to the dead-letter queue,
//! repeat until told to stop. A local worker pool and a Fargate task run
//! this same loop.
//!
//! A worker never loses track of a message: every message of the batch in
//! hand — the one running and the ones waiting their turn — is kept
//! invisible (its visibility timeout extended every half period) until it
//! is done or released, so a message waits in one worker's hand, never in
//! two. On a stop request no receive is cut short (an open long poll
//! returns by itself, and what it brings is released at once), the job in
//! hand may finish within `shutdown_grace`, and everything not finished is
//! released (visibility 0) for another worker.

use std::sync::Arc;
use std::time::Duration;

use dagbench_core::time::Timestamp;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::ports::{JobQueue, MAX_BATCH, ReceivedMessage};
use crate::processor::{Disposition, Ended, Processor};

#[derive(Debug, Clone, Copy)]
pub struct WorkerConfig {
    /// Messages per receive (1..=10).
    pub batch_size: usize,
    /// Long-poll wait of each receive.
    pub wait: Duration,
    /// The queue's visibility timeout: messages in hand are extended by
    /// this much every half of it, and a job's claim lasts as long.
    pub visibility: Duration,
    /// After a stop request, how long the job in hand may still run.
    pub shutdown_grace: Duration,
    /// Write one JSON line per job to standard error (containers' logs).
    pub log_jobs: bool,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            batch_size: MAX_BATCH,
            wait: Duration::from_secs(1),
            visibility: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(25),
            log_jobs: false,
        }
    }
}

/// What a worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerStats {
    pub completed: u64,
    pub failed: u64,
    /// Jobs that had ended before: their recorded outcome was sent again.
    pub resent: u64,
    /// Deliveries left for later because another one held their job.
    pub busy: u64,
    /// Failures of the processor's own resources (the run was told).
    pub fatal: u64,
    pub retried: u64,
    pub poison: u64,
    pub receive_errors: u64,
    /// Messages handed back (visibility 0) at shutdown.
    pub released: u64,
}

impl WorkerStats {
    /// Adds another loop's figures.
    pub fn add(&mut self, other: &WorkerStats) {
        self.completed += other.completed;
        self.failed += other.failed;
        self.resent += other.resent;
        self.busy += other.busy;
        self.fatal += other.fatal;
        self.retried += other.retried;
        self.poison += other.poison;
        self.receive_errors += other.receive_errors;
        self.released += other.released;
    }
}

/// `concurrency` polling loops of `processor` on `incoming` until
/// `shutdown` resolves (mini-redis' `server::run` shape): then no loop
/// starts a receive, the jobs in hand get `config.shutdown_grace`, the rest
/// are released. Returns the loops' figures summed.
pub async fn serve_pool(
    processor: Arc<Processor>,
    incoming: Arc<dyn JobQueue>,
    dlq: Option<Arc<dyn JobQueue>>,
    config: WorkerConfig,
    concurrency: usize,
    shutdown: impl std::future::Future<Output = ()>,
) -> WorkerStats {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut loops = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        loops.spawn(run_loop(
            Arc::clone(&processor),
            Arc::clone(&incoming),
            dlq.clone(),
            config,
            stop_rx.clone(),
        ));
    }
    tokio::pin!(shutdown);
    let mut total = WorkerStats::default();
    let mut handback = Vec::new();
    let mut stopping = false;
    loop {
        tokio::select! {
            () = &mut shutdown, if !stopping => {
                stopping = true;
                let _ = stop_tx.send(true);
            }
            done = loops.join_next() => match done {
                Some(Ok((stats, unfinished))) => {
                    total.add(&stats);
                    handback.extend(unfinished);
                }
                // A loop that panicked has lost its jobs to redelivery.
                Some(Err(_)) => {}
                None => {
                    // Every poll has returned: what was held goes back now.
                    hand_back(incoming.as_ref(), &handback).await;
                    return total;
                }
            },
        }
    }
}

/// Polls `incoming` until `stop` turns true, then hands back (visibility
/// 0) what it holds unfinished.
pub async fn run_worker(
    processor: Arc<Processor>,
    incoming: Arc<dyn JobQueue>,
    dlq: Option<Arc<dyn JobQueue>>,
    config: WorkerConfig,
    stop: watch::Receiver<bool>,
) -> WorkerStats {
    let (stats, handback) = run_loop(processor, Arc::clone(&incoming), dlq, config, stop).await;
    hand_back(incoming.as_ref(), &handback).await;
    stats
}

/// Makes `receipts` visible again at once.
pub async fn hand_back(incoming: &dyn JobQueue, receipts: &[String]) {
    for receipt in receipts {
        let _ = incoming.change_visibility(receipt, Duration::ZERO).await;
    }
}

/// One polling loop until `stop`; returns its figures and the receipts of
/// the messages it holds unfinished. The caller hands those back once every
/// loop on the queue has stopped polling: released while a sibling's long
/// poll is still open, a message would be received again at once, costing
/// it a receive toward the dead-letter queue for nothing.
pub async fn run_loop(
    processor: Arc<Processor>,
    incoming: Arc<dyn JobQueue>,
    dlq: Option<Arc<dyn JobQueue>>,
    config: WorkerConfig,
    mut stop: watch::Receiver<bool>,
) -> (WorkerStats, Vec<String>) {
    // Its queue calls are counted with the processor's, and reported with
    // its completions.
    let incoming = crate::ports::Counted::wrap(incoming, Arc::clone(processor.store.calls()));
    let dlq = dlq.map(|q| crate::ports::Counted::wrap(q, Arc::clone(processor.store.calls())));
    let mut stats = WorkerStats::default();
    let mut handback = Vec::new();
    let batch = config.batch_size.clamp(1, MAX_BATCH);
    let mut stop_deadline: Option<Instant> = None;
    loop {
        if stop_deadline.is_none() && *stop.borrow() {
            return (stats, handback);
        }
        // Not raced with the stop request: a long poll cut short would
        // leave whatever it then brings invisible, in nobody's hand.
        let messages = match incoming.receive(batch, config.wait).await {
            Ok(m) => m,
            Err(_) => {
                stats.receive_errors += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        // The batch's visibility runs from its receive: the heartbeat keeps
        // that rhythm whichever message is running.
        let period = (config.visibility / 2).max(Duration::from_millis(100));
        let mut next_extension = Instant::now() + period;
        for (i, message) in messages.iter().enumerate() {
            if stop_deadline.is_some() || *stop.borrow() {
                // Not started: to be handed back.
                handback.push(message.receipt.clone());
                stats.released += 1;
                stop_deadline.get_or_insert_with(|| Instant::now() + config.shutdown_grace);
                continue;
            }
            let began = Instant::now();
            let Some(disposition) = run_one(
                &processor,
                incoming.as_ref(),
                message,
                &messages[i + 1..],
                &config,
                &mut next_extension,
                &mut stop,
                &mut stop_deadline,
            )
            .await
            else {
                // Abandoned past the grace: the job's claim and its message
                // go back for another worker.
                processor.abandon(&message.body).await;
                handback.push(message.receipt.clone());
                stats.released += 1;
                continue;
            };
            if config.log_jobs {
                crate::logs::log_job(&disposition, message.receive_count, began.elapsed());
            }
            // A message is deleted as soon as it is done: left until the
            // batch ends, it would reappear while its batch-mates run.
            match disposition {
                Disposition::Done { ended, .. } => {
                    match ended {
                        Ended::Completed => stats.completed += 1,
                        Ended::Failed => stats.failed += 1,
                        Ended::Resent => stats.resent += 1,
                        Ended::Fatal => stats.fatal += 1,
                    }
                    // A failed delete means redelivery, which is idempotent.
                    let _ = incoming
                        .delete_batch(std::slice::from_ref(&message.receipt))
                        .await;
                }
                Disposition::Retry { .. } => {
                    stats.retried += 1;
                    // Back soon, not after a whole visibility timeout: a
                    // transient error is retried with exponential backoff.
                    let _ = incoming
                        .change_visibility(
                            &message.receipt,
                            retry_backoff(message.receive_count, config.visibility),
                        )
                        .await;
                }
                Disposition::Busy {
                    duplicate: true, ..
                } => {
                    stats.busy += 1;
                    // A copy of a message whose job another delivery runs:
                    // that message stays queued until its job is done, so
                    // this one is dropped rather than spending receives.
                    let _ = incoming
                        .delete_batch(std::slice::from_ref(&message.receipt))
                        .await;
                }
                Disposition::Busy { until, .. } => {
                    stats.busy += 1;
                    // Another delivery runs the job (a duplicate message,
                    // most often): back when its claim runs out, and not
                    // before a whole visibility timeout, so a duplicate
                    // spends its receives no faster than a crash would.
                    let _ = incoming
                        .change_visibility(
                            &message.receipt,
                            until_from_now(until, &processor).max(config.visibility),
                        )
                        .await;
                }
                Disposition::Poison { reason } => {
                    stats.poison += 1;
                    let moved = match &dlq {
                        Some(dlq) => dlq.send_dead_letter(message, &reason).await.is_ok(),
                        // Without a DLQ, redrive after max receives takes it there.
                        None => false,
                    };
                    if moved {
                        let _ = incoming
                            .delete_batch(std::slice::from_ref(&message.receipt))
                            .await;
                    }
                }
            }
        }
        if stop_deadline.is_some() {
            return (stats, handback);
        }
    }
}

/// How long from now until `until` (at least a second, at most SQS's 12 h).
/// How long a message whose `attempt`-th delivery hit a transient error
/// stays away: 1 s, 2 s, 4 s … never longer than the visibility timeout.
pub fn retry_backoff(attempt: u32, visibility: Duration) -> Duration {
    let doubling = Duration::from_secs(1u64 << attempt.saturating_sub(1).min(16));
    doubling.min(visibility).max(Duration::from_secs(1))
}

fn until_from_now(until: Timestamp, processor: &Processor) -> Duration {
    let ms = until.unix_millis() - processor.clock.now().unix_millis();
    Duration::from_millis(ms.clamp(1_000, 12 * 3600 * 1000) as u64)
}

/// Processes one message, keeping it — and `waiting`, the rest of the
/// batch in hand — invisible while it runs (at `next_extension`, every
/// half visibility period). `None` when a stop request's grace ran out
/// first.
#[allow(clippy::too_many_arguments)] // one loop's whole state, passed down once
async fn run_one(
    processor: &Processor,
    incoming: &dyn JobQueue,
    message: &ReceivedMessage,
    waiting: &[ReceivedMessage],
    config: &WorkerConfig,
    next_extension: &mut Instant,
    stop: &mut watch::Receiver<bool>,
    stop_deadline: &mut Option<Instant>,
) -> Option<Disposition> {
    // The claim lasts half the visibility timeout (renewed every quarter):
    // the batch's heartbeat keeps the message invisible for up to a whole
    // one, so should this worker die, its claim has always run out by the
    // time the message is delivered again — the next delivery runs the job
    // instead of finding it busy and wasting one of its receives.
    let claim = (config.visibility / 2).max(Duration::from_millis(500));
    let job = processor.process_message(message, claim);
    tokio::pin!(job);
    let period = (config.visibility / 2).max(Duration::from_millis(100));
    loop {
        let far = Instant::now() + Duration::from_secs(3600);
        tokio::select! {
            disposition = &mut job => return Some(disposition),
            () = tokio::time::sleep_until(*next_extension) => {
                for m in std::iter::once(message).chain(waiting) {
                    let _ = incoming.change_visibility(&m.receipt, config.visibility).await;
                }
                *next_extension = Instant::now() + period;
            }
            changed = stop.changed(), if stop_deadline.is_none() => {
                if changed.is_err() || *stop.borrow() {
                    *stop_deadline = Some(Instant::now() + config.shutdown_grace);
                }
            }
            () = tokio::time::sleep_until(stop_deadline.unwrap_or(far)), if stop_deadline.is_some() => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::retry_backoff;
    use std::time::Duration;

    #[test]
    fn retries_back_off_exponentially_within_the_visibility_timeout() {
        let v = Duration::from_secs(30);
        let waits: Vec<u64> = (1..=7).map(|a| retry_backoff(a, v).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(retry_backoff(0, v), Duration::from_secs(1));
        assert_eq!(retry_backoff(u32::MAX, v), v);
        // A visibility under a second still leaves the message a second.
        assert_eq!(
            retry_backoff(3, Duration::from_millis(200)),
            Duration::from_secs(1)
        );
    }
}
