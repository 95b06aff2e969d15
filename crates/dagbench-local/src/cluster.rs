//! A fleet of local processors: the embedded queues (incoming with its
//! dead-letter queue, outgoing) and a pool of polling workers over the
//! store, ledger and metrics given — what Lambda or a Fargate service is to
//! a deployed stack, on this machine.

use std::sync::Arc;
use std::time::Duration;

use dagbench_core::ids::RunId;
use dagbench_core::message::Limits;
use dagbench_runtime::driver::Queues;
use dagbench_runtime::ports::{Clock, JobLedger, JobQueue, MetricsSink};
use dagbench_runtime::processor::{Processor, ProcessorConfig, WorkMode};
use dagbench_runtime::worker::{WorkerConfig, WorkerStats, hand_back, run_loop};
use dagbench_store::RunStore;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::MemoryQueue;

/// How the local fleet is set up.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub run_id: RunId,
    pub test_run_id: String,
    /// Concurrent processors (at least one).
    pub workers: usize,
    pub work_mode: WorkMode,
    /// The incoming queue's visibility timeout; also the longest simulated
    /// work a job may ask for.
    pub visibility_timeout: Duration,
    /// Deliveries before a job goes to the dead-letter queue.
    pub max_receive_count: u32,
    /// After shutdown, how long a job in hand may still run.
    pub grace: Duration,
}

/// Processors running on this machine; [`LocalCluster::shutdown`] stops them.
#[derive(Debug)]
pub struct LocalCluster {
    queues: Queues,
    stop: watch::Sender<bool>,
    workers: JoinSet<(WorkerStats, Vec<String>)>,
}

/// The adapters every processor of a cluster shares.
#[derive(Debug, Clone)]
pub struct Shared {
    pub store: RunStore,
    pub ledger: Arc<dyn JobLedger>,
    pub metrics: Arc<dyn MetricsSink>,
    pub clock: Arc<dyn Clock>,
}

impl LocalCluster {
    /// Creates the queues and starts `config.workers` processors on the
    /// current tokio runtime.
    pub fn start(config: &ClusterConfig, shared: &Shared) -> Self {
        let dlq = Arc::new(MemoryQueue::new("dlq", config.visibility_timeout));
        let incoming = Arc::new(
            MemoryQueue::new("incoming", config.visibility_timeout)
                .with_dead_letter_queue(Arc::clone(&dlq), config.max_receive_count),
        );
        let outgoing = Arc::new(MemoryQueue::new("outgoing", config.visibility_timeout));
        let (stop, stop_rx) = watch::channel(false);
        let mut workers = JoinSet::new();
        // The processors' calls, apart from the run's own (its uploads).
        let processor_calls = Arc::new(dagbench_core::calls::CallTally::default());
        for w in 0..config.workers.max(1) {
            let processor = Arc::new(Processor {
                store: shared.store.counting(Arc::clone(&processor_calls)),
                ledger: Arc::clone(&shared.ledger),
                metrics: Arc::clone(&shared.metrics),
                clock: Arc::clone(&shared.clock),
                completions: outgoing.clone(),
                callbacks: None,
                config: ProcessorConfig {
                    test_run_id: config.test_run_id.clone(),
                    run_id: config.run_id.clone(),
                    worker: format!("local-{w}"),
                    limits: Limits {
                        max_work_duration_ms: config.visibility_timeout.as_millis() as u64,
                        ..Limits::default()
                    },
                    work_mode: config.work_mode,
                    max_attempts: Some(config.max_receive_count),
                },
            });
            workers.spawn(run_loop(
                processor,
                incoming.clone() as Arc<dyn JobQueue>,
                Some(dlq.clone() as Arc<dyn JobQueue>),
                WorkerConfig {
                    batch_size: 1,
                    wait: Duration::from_millis(500),
                    visibility: config.visibility_timeout,
                    shutdown_grace: config.grace,
                    log_jobs: false,
                },
                stop_rx.clone(),
            ));
        }
        Self {
            queues: Queues {
                incoming,
                outgoing,
                dlq,
            },
            stop,
            workers,
        }
    }

    /// The queues the scheduler driver talks to.
    pub fn queues(&self) -> &Queues {
        &self.queues
    }

    /// Stops every processor (each finishes or releases the job in hand
    /// within the grace) and returns their figures.
    pub async fn shutdown(mut self) -> WorkerStats {
        let _ = self.stop.send(true);
        let mut total = WorkerStats::default();
        let mut handback = Vec::new();
        while let Some(done) = self.workers.join_next().await {
            if let Ok((stats, unfinished)) = done {
                total.add(&stats);
                handback.extend(unfinished);
            }
        }
        hand_back(self.queues.incoming.as_ref(), &handback).await;
        total
    }
}
