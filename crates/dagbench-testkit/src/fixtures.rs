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
