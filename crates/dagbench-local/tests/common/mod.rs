//! Shared wiring for the runtime tests: a processor over real embedded
//! adapters (in-memory object store, memory queues, a SQLite ledger in a
//! scratch directory).

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::Duration;

use dagbench_core::ids::RunId;
use dagbench_core::message::Limits;
use dagbench_local::{MemoryMetrics, MemoryQueue, SqliteLedger};
use dagbench_runtime::ports::{Clock, SystemClock};
use dagbench_runtime::processor::{Processor, ProcessorConfig, WorkMode};
use dagbench_store::RunStore;

pub struct Harness {
    pub store: RunStore,
    pub ledger: Arc<SqliteLedger>,
    pub metrics: Arc<MemoryMetrics>,
    pub outgoing: Arc<MemoryQueue>,
    pub processor: Arc<Processor>,
    pub run_id: RunId,
    pub _scratch: tempfile::TempDir,
}

pub fn harness(name: &str) -> Harness {
    let scratch = dagbench_testkit::scratch(name);
    let store = RunStore::in_memory();
    let ledger = Arc::new(SqliteLedger::open(&scratch.path().join("ledger.sqlite")).unwrap());
    let metrics = Arc::new(MemoryMetrics::new());
    let outgoing = Arc::new(MemoryQueue::new("outgoing", Duration::from_secs(30)));
    let run_id = RunId::new("run-1").unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let processor = Arc::new(Processor {
        store: store.clone(),
        ledger: ledger.clone(),
        metrics: metrics.clone(),
        clock,
        completions: outgoing.clone(),
        callbacks: None,
        config: ProcessorConfig {
            test_run_id: "test-1".into(),
            run_id: run_id.clone(),
            worker: "w-test".into(),
            limits: Limits::default(),
            work_mode: WorkMode::Sleep,
            max_attempts: None,
        },
    });
    Harness {
        store,
        ledger,
        metrics,
        outgoing,
        processor,
        run_id,
        _scratch: scratch,
    }
}
