//! What a run executes, prepared the same way for every command: the
//! aircraft workload (sequences, crew connections, job details), a
//! synthetic shape, a graph file, or a graph already in memory. One set of
//! defaults: [`AircraftWorkload::default`] is what `dagbench run`, `graph
//! generate --shape aircraft` and the benches start from.

use std::path::PathBuf;
use std::sync::Arc;

use dagbench_core::graph::shapes::{self, ShapeSpec};
use dagbench_core::{JobGraph, JobId, RunId};
use dagbench_flight::aircraft::{AircraftRun, JobDetails, build_aircraft_graph};
use dagbench_flight::{Airports, GeneratorOptions, Sequence, generate_aircraft_daily_sequences};
use dagbench_store::{RunStore, StoreError};

use crate::RunError;

/// The aircraft delay workload of a run.
#[derive(Debug, Clone)]
pub struct AircraftWorkload {
    /// Aircraft daily sequences (sequence ids 1..=N).
    pub sequences: u32,
    /// Monte Carlo samples per leg.
    pub samples: u32,
    /// Seed of the sequences and of every random draw of the delay model.
    pub seed: u64,
    /// Probability of accepting each candidate crew connection; `None` =
    /// no crew connections.
    pub crew_probability: Option<f64>,
    pub airports: Airports,
    pub generator: GeneratorOptions,
}

impl AircraftWorkload {
    /// The probability `--crew` uses unless told otherwise.
    pub const DEFAULT_CREW_PROBABILITY: f64 = 0.3;
}

impl Default for AircraftWorkload {
    /// 200 sequences, 1,000 samples, seed 1, no crew, the embedded airports.
    fn default() -> Self {
        Self {
            sequences: 200,
            samples: 1000,
            seed: 1,
            crew_probability: None,
            airports: Airports::embedded(),
            generator: GeneratorOptions::default(),
        }
    }
}

/// What a run executes.
#[derive(Debug, Clone)]
pub enum Workload {
    Aircraft(AircraftWorkload),
    Synthetic(ShapeSpec),
    /// A graph file (`dagbench graph validate` format).
    File(PathBuf),
    /// A graph built by the caller (tests, benches); its jobs' inputs, if
    /// any, are the caller's to store.
    Graph(Arc<JobGraph>),
}

/// The inputs a run's processors read, to be stored before dispatch.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub sequences: Vec<Sequence>,
    pub details: Vec<(JobId, JobDetails)>,
    /// Crew connections among the graph's edges.
    pub crew_edges: usize,
}

/// A workload made concrete for one run.
#[derive(Debug, Clone)]
pub struct Built {
    pub graph: Arc<JobGraph>,
    pub inputs: Inputs,
}

impl Built {
    /// Stores the sequences and every job's details where the processors
    /// read them.
    ///
    /// # Errors
    /// When the store refuses a write.
    pub async fn upload(&self, store: &RunStore, run: &RunId) -> Result<(), StoreError> {
        for seq in &self.inputs.sequences {
            store.put_sequence(run, seq).await?;
        }
        for (job, details) in &self.inputs.details {
            store.put_job_details(run, job, details).await?;
        }
        Ok(())
    }
}

/// How the manifest describes a workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Description {
    pub workload: String,
    pub seed: Option<u64>,
    pub samples: Option<u32>,
    pub sequences: Option<u32>,
    pub crew_probability: Option<f64>,
    pub source_graph: Option<String>,
}

impl Workload {
    /// Makes the graph (and for aircraft runs the inputs) of run `run`.
    ///
    /// # Errors
    /// A graph file that cannot be read or is not a valid graph; aircraft
    /// options the generator rejects.
    pub fn build(&self, run: &RunId) -> Result<Built, RunError> {
        match self {
            Workload::Aircraft(a) => {
                if let Some(p) = a.crew_probability
                    && !(0.0..=1.0).contains(&p)
                {
                    return Err(RunError::Workload(format!(
                        "the crew connection probability must be within 0..=1, got {p}"
                    )));
                }
                let sequences = generate_aircraft_daily_sequences(
                    a.sequences,
                    a.seed,
                    &a.airports,
                    &a.generator,
                )
                .map_err(|e| RunError::Workload(e.to_string()))?;
                let built = build_aircraft_graph(
                    &sequences,
                    &AircraftRun {
                        run_id: run.clone(),
                        run_seed: a.seed,
                        samples: a.samples,
                        crew_probability: a.crew_probability,
                    },
                );
                Ok(Built {
                    graph: Arc::new(built.graph),
                    inputs: Inputs {
                        sequences,
                        details: built.details,
                        crew_edges: built.crew_edges,
                    },
                })
            }
            Workload::Synthetic(spec) => Ok(Built {
                graph: Arc::new(shapes::generate(spec)),
                inputs: Inputs::default(),
            }),
            Workload::File(path) => {
                let bytes = std::fs::read(path).map_err(|e| RunError::Io {
                    path: path.display().to_string(),
                    error: e,
                })?;
                let graph = JobGraph::from_json_slice(&bytes).map_err(|e| {
                    RunError::Workload(format!("{} is not a valid job graph: {e}", path.display()))
                })?;
                Ok(Built {
                    graph: Arc::new(graph),
                    inputs: Inputs::default(),
                })
            }
            Workload::Graph(graph) => Ok(Built {
                graph: Arc::clone(graph),
                inputs: Inputs::default(),
            }),
        }
    }

    /// The manifest's account of it.
    pub fn describe(&self) -> Description {
        let mut d = Description {
            workload: String::new(),
            seed: None,
            samples: None,
            sequences: None,
            crew_probability: None,
            source_graph: None,
        };
        match self {
            Workload::Aircraft(a) => {
                d.workload = "aircraft".into();
                d.seed = Some(a.seed);
                d.samples = Some(a.samples);
                d.sequences = Some(a.sequences);
                d.crew_probability = a.crew_probability;
            }
            Workload::Synthetic(spec) => {
                d.workload = spec.shape.name().into();
                d.seed = Some(spec.seed);
            }
            Workload::File(path) => {
                d.workload = "file".into();
                d.source_graph = Some(path.display().to_string());
            }
            Workload::Graph(_) => d.workload = "graph".into(),
        }
        d
    }
}

/// Memory a local run holds per job of a synthetic graph, bytes: measured
/// at about 330 (graph, scheduler, ledger cache, timelines; `run
/// --messages 200000` and `400000`, peak RSS), rounded up.
#[must_use]
pub fn bytes_per_job() -> u64 {
    400
}

/// Memory a local run holds per aircraft sequence (about six jobs, the
/// sequence itself and its legs' timelines), bytes: measured at about
/// 6,500 (`run --sequences 2000` and `6000`, peak RSS), rounded up.
#[must_use]
pub fn bytes_per_sequence() -> u64 {
    8 * 1024
}
