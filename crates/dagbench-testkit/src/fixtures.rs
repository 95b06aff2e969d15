//! Scratch directories and workload fixtures: an aircraft run's inputs
//! seeded into any store, and the reference its results must equal.

use std::sync::Arc;

use dagbench_core::{JobGraph, RunId};
use dagbench_flight::aircraft::{AircraftGraph, AircraftRun, build_aircraft_graph};
use dagbench_flight::stats::reference_run;
use dagbench_flight::{Airports, GeneratorOptions, Sequence, generate_aircraft_daily_sequences};
use dagbench_store::RunStore;

/// A scratch directory, removed when dropped.
pub fn scratch(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("dagbench-{name}-"))
        .tempdir()
        .expect("a temporary directory")
}

/// An aircraft run: its sequences, graph and job details, deterministic
/// per (sequences, seed, samples).
#[derive(Debug, Clone)]
pub struct Aircraft {
    pub run_id: RunId,
    pub seed: u64,
    pub samples: u32,
    pub sequences: Vec<Sequence>,
    pub built: Arc<AircraftGraph>,
}

impl Aircraft {
    /// `count` aircraft of `seed`, `samples` per leg, no crew connections.
    pub fn new(run_id: &str, count: u32, seed: u64, samples: u32) -> Self {
        let run_id = RunId::new(run_id).expect("a valid run id");
        let sequences = generate_aircraft_daily_sequences(
            count,
            seed,
            &Airports::embedded(),
            &GeneratorOptions::default(),
        )
        .expect("sequences");
        let built = build_aircraft_graph(
            &sequences,
            &AircraftRun {
                run_id: run_id.clone(),
                run_seed: seed,
                samples,
                crew_probability: None,
            },
        );
        Self {
            run_id,
            seed,
            samples,
            sequences,
            built: Arc::new(built),
        }
    }

    /// The job graph.
    pub fn graph(&self) -> JobGraph {
        self.built.graph.clone()
    }

    /// Writes every job's details into `store`, as a run does before
    /// dispatching.
    pub async fn seed(&self, store: &RunStore) {
        for (job, details) in &self.built.details {
            store
                .put_job_details(&self.run_id, job, details)
                .await
                .expect("job details stored");
        }
    }

    /// The merged percentiles computed in-process, without any runtime, as
    /// JSON.
    pub fn reference_json(&self) -> String {
        serde_json::to_string(
            &reference_run(&self.sequences, self.seed, self.samples).expect("a reference run"),
        )
        .expect("serializes")
    }

    /// Panics unless `store` holds merged percentiles of this run equal to
    /// the reference, byte for byte.
    pub async fn assert_matches_reference(&self, store: &RunStore) {
        let merged = store
            .get_merged_percentiles(&self.run_id)
            .await
            .expect("the merged percentiles are readable")
            .expect("the run stored its merged percentiles");
        assert_eq!(
            serde_json::to_string(&merged).expect("serializes"),
            self.reference_json(),
            "the run's merged percentiles equal the reference computed in-process"
        );
    }
}

/// Every object in `store`, by key: to show what a run did or did not
/// write, and that objects it must not touch are byte for byte the same.
pub async fn every_object(store: &RunStore) -> std::collections::BTreeMap<String, Vec<u8>> {
    use futures::TryStreamExt as _;
    use object_store::ObjectStoreExt as _;
    let inner = store.object_store();
    let metas: Vec<_> = inner
        .list(None)
        .try_collect()
        .await
        .expect("the store lists its objects");
    let mut objects = std::collections::BTreeMap::new();
    for meta in metas {
        let bytes = inner
            .get(&meta.location)
            .await
            .expect("a listed object is readable")
            .bytes()
            .await
            .expect("its bytes");
        objects.insert(meta.location.to_string(), bytes.to_vec());
    }
    objects
}

/// The same graph with `ms` of simulated work on every fourth job and a
/// 1 KiB output on every job: deliveries then outlive short visibility
/// timeouts, and runs last long enough to interrupt.
pub fn with_work(graph: &JobGraph, ms: u32) -> JobGraph {
    use dagbench_core::JobIndex;
    use dagbench_core::graph::{GraphBuilder, JobAttrs};
    let (start, deps) = graph.dependencies_csr();
    let mut b = GraphBuilder::new();
    for job in graph.jobs() {
        let j = job.index.get();
        let names: Vec<&str> = deps[start[j] as usize..start[j + 1] as usize]
            .iter()
            .map(|&d| graph.id(JobIndex(d)))
            .collect();
        let attrs = JobAttrs {
            work_duration_ms: if j.is_multiple_of(4) { ms } else { 0 },
            data_size_kb: 1,
            input_key: job.input_key,
            kind: job.kind,
        };
        b.add_job(job.job_id, names, attrs).expect("a valid job");
    }
    b.finish().expect("the same graph")
}

/// An in-memory object store whose writes fail as a full disk's do
/// (`ENOSPC`, "No space left on device"), reads succeeding. A fake: a real
/// full file system cannot be made on a test machine without mounting one,
/// which tests may not do.
#[derive(Debug, Default)]
pub struct FullDisk(object_store::memory::InMemory);

impl std::fmt::Display for FullDisk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FullDisk")
    }
}

fn no_space(location: &object_store::path::Path) -> object_store::Error {
    object_store::Error::Generic {
        store: "FullDisk",
        source: Box::new(std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            format!("No space left on device (os error 28): {location}"),
        )),
    }
}

#[async_trait::async_trait]
impl object_store::ObjectStore for FullDisk {
    async fn put_opts(
        &self,
        location: &object_store::path::Path,
        _payload: object_store::PutPayload,
        _opts: object_store::PutOptions,
    ) -> object_store::Result<object_store::PutResult> {
        Err(no_space(location))
    }

    async fn put_multipart_opts(
        &self,
        location: &object_store::path::Path,
        _opts: object_store::PutMultipartOptions,
    ) -> object_store::Result<Box<dyn object_store::MultipartUpload>> {
        Err(no_space(location))
    }

    async fn get_opts(
        &self,
        location: &object_store::path::Path,
        options: object_store::GetOptions,
    ) -> object_store::Result<object_store::GetResult> {
        self.0.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: futures::stream::BoxStream<
            'static,
            object_store::Result<object_store::path::Path>,
        >,
    ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::path::Path>> {
        self.0.delete_stream(locations)
    }

    fn list(
        &self,
        prefix: Option<&object_store::path::Path>,
    ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>> {
        self.0.list(prefix)
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&object_store::path::Path>,
    ) -> object_store::Result<object_store::ListResult> {
        self.0.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        _from: &object_store::path::Path,
        to: &object_store::path::Path,
        _options: object_store::CopyOptions,
    ) -> object_store::Result<()> {
        Err(no_space(to))
    }
}

/// A queue that delivers every `every`-th message it is sent twice (a
/// duplicate send, as at-least-once delivery allows).
#[derive(Debug)]
pub struct Duplicating {
    inner: Arc<dyn dagbench_runtime::ports::JobQueue>,
    every: usize,
    sent: std::sync::atomic::AtomicUsize,
}

impl Duplicating {
    /// `inner`, sending every `every`-th message twice (1: every message).
    pub fn new(inner: Arc<dyn dagbench_runtime::ports::JobQueue>, every: usize) -> Self {
        Self {
            inner,
            every: every.max(1),
            sent: std::sync::atomic::AtomicUsize::new(0),
        }
    }
}

#[async_trait::async_trait]
impl dagbench_runtime::ports::JobQueue for Duplicating {
    async fn send_batch(
        &self,
        bodies: &[String],
    ) -> Result<
        Vec<Result<(), dagbench_runtime::ports::QueueError>>,
        dagbench_runtime::ports::QueueError,
    > {
        let result = self.inner.send_batch(bodies).await?;
        for (body, sent) in bodies.iter().zip(&result) {
            if sent.is_ok()
                && self
                    .sent
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                    .is_multiple_of(self.every)
            {
                let _ = self.inner.send_batch(std::slice::from_ref(body)).await;
            }
        }
        Ok(result)
    }

    async fn receive(
        &self,
        max: usize,
        wait: std::time::Duration,
    ) -> Result<Vec<dagbench_runtime::ports::ReceivedMessage>, dagbench_runtime::ports::QueueError>
    {
        self.inner.receive(max, wait).await
    }

    async fn delete_batch(
        &self,
        receipts: &[String],
    ) -> Result<
        Vec<Result<(), dagbench_runtime::ports::QueueError>>,
        dagbench_runtime::ports::QueueError,
    > {
        self.inner.delete_batch(receipts).await
    }

    async fn change_visibility(
        &self,
        receipt: &str,
        timeout: std::time::Duration,
    ) -> Result<(), dagbench_runtime::ports::QueueError> {
        self.inner.change_visibility(receipt, timeout).await
    }

    async fn approximate_depth(
        &self,
    ) -> Result<dagbench_runtime::ports::QueueDepth, dagbench_runtime::ports::QueueError> {
        self.inner.approximate_depth().await
    }
}
