//! The polling worker: receive a batch, process each message, delete what
//! was reported, move poison to the dead-letter queue, repeat until told to
//! stop. A local worker pool and a Fargate task run this same loop.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::ports::{JobQueue, MAX_BATCH};
use crate::processor::{Disposition, Processor};

#[derive(Debug, Clone, Copy)]
pub struct WorkerConfig {
    /// Messages per receive (1..=10).
    pub batch_size: usize,
    /// Long-poll wait of each receive.
    pub wait: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            batch_size: MAX_BATCH,
            wait: Duration::from_secs(1),
        }
    }
}

/// What a worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerStats {
    pub completed: u64,
    pub failed: u64,
    pub retried: u64,
    pub poison: u64,
    pub receive_errors: u64,
}

/// Polls `incoming` until `stop` turns true; finishes the batch in hand first.
pub async fn run_worker(
    processor: Arc<Processor>,
    incoming: Arc<dyn JobQueue>,
    dlq: Option<Arc<dyn JobQueue>>,
    config: WorkerConfig,
    mut stop: watch::Receiver<bool>,
) -> WorkerStats {
    let mut stats = WorkerStats::default();
    let batch = config.batch_size.clamp(1, MAX_BATCH);
    loop {
        if *stop.borrow() {
            return stats;
        }
        let received = tokio::select! {
            r = incoming.receive(batch, config.wait) => r,
            _ = stop.changed() => continue,
        };
        let messages = match received {
            Ok(m) => m,
            Err(_) => {
                stats.receive_errors += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let mut done = Vec::with_capacity(messages.len());
        for message in messages {
            match processor
                .process_job(&message.body, message.receive_count)
                .await
            {
                Disposition::Done { completed, .. } => {
                    if completed {
                        stats.completed += 1;
                    } else {
                        stats.failed += 1;
                    }
                    done.push(message.receipt);
                }
                Disposition::Retry { .. } => stats.retried += 1,
                Disposition::Poison { .. } => {
                    stats.poison += 1;
                    let moved = match &dlq {
                        Some(dlq) => {
                            matches!(dlq.send_batch(std::slice::from_ref(&message.body)).await, Ok(r) if r.iter().all(Result::is_ok))
                        }
                        // Without a DLQ, redrive after max receives takes it there.
                        None => false,
                    };
                    if moved {
                        done.push(message.receipt);
                    }
                }
            }
        }
        for chunk in done.chunks(MAX_BATCH) {
            // A failed delete means redelivery, which is idempotent.
            let _ = incoming.delete_batch(chunk).await;
        }
    }
}
