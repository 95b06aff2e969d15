//! Synthetic graph shapes for scheduling and throughput tests, deterministic
//! per seed. Jobs are named `j0`, `j1`, …; every job gets the same
//! `work_duration_ms` and `data_size_kb`.

use std::fmt::Write as _;

use super::{GraphBuilder, JobAttrs, JobGraph};
use crate::rng::SplitMix64;

/// The shape of a synthetic graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// No edges: every job is ready at once.
    Independent,
    /// Chains of `length` jobs, each job depending on the one before.
    Chains { length: u32 },
    /// Layers of `width` jobs; each job depends on 1..=`max_deps` distinct
    /// random jobs of the layer before.
    Layered { width: u32, max_deps: u32 },
    /// Diamonds in a row: a root, `width` jobs that depend on it, a sink that
    /// depends on all of them; each root depends on the previous sink.
    Fan { width: u32 },
}

impl Shape {
    /// The shape called `name` with its default parameters for `jobs` jobs.
    pub fn named(name: &str, jobs: u32) -> Option<Shape> {
        Some(match name {
            "independent" => Shape::Independent,
            "chains" => Shape::Chains { length: 10 },
            "layered" => Shape::Layered {
                width: (f64::from(jobs).sqrt().ceil() as u32).max(1),
                max_deps: 3,
            },
            "fan" => Shape::Fan { width: 100 },
            _ => return None,
        })
    }

    pub const NAMES: [&'static str; 4] = ["independent", "chains", "layered", "fan"];

    /// Its name, as [`Shape::named`] takes it.
    pub fn name(&self) -> &'static str {
        match self {
            Shape::Independent => "independent",
            Shape::Chains { .. } => "chains",
            Shape::Layered { .. } => "layered",
            Shape::Fan { .. } => "fan",
        }
    }
}

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShapeSpec {
    pub shape: Shape,
    pub jobs: u32,
    pub seed: u64,
    pub work_duration_ms: u32,
    pub data_size_kb: u32,
}

/// Builds the graph described by `spec` (at least one job).
pub fn generate(spec: &ShapeSpec) -> JobGraph {
    let n = spec.jobs.max(1);
    let mut rng = SplitMix64::new(spec.seed);
    let mut builder = GraphBuilder::with_capacity(n as usize);
    let attrs = JobAttrs {
        work_duration_ms: spec.work_duration_ms,
        data_size_kb: spec.data_size_kb,
        ..JobAttrs::default()
    };
    let mut id = String::new();
    let mut deps: Vec<String> = Vec::new();
    let mut picked: Vec<u32> = Vec::new();
    for i in 0..n {
        picked.clear();
        match spec.shape {
            Shape::Independent => {}
            Shape::Chains { length } => {
                if i % length.max(1) != 0 {
                    picked.push(i - 1);
                }
            }
            Shape::Layered { width, max_deps } => {
                let width = width.max(1);
                let layer = i / width;
                if layer > 0 {
                    let previous = (layer - 1) * width;
                    let count = rng.range_inclusive(1, u64::from(max_deps.max(1).min(width)));
                    while picked.len() < count as usize {
                        let dep = previous + rng.below(u64::from(width)) as u32;
                        if !picked.contains(&dep) {
                            picked.push(dep);
                        }
                    }
                }
            }
            Shape::Fan { width } => {
                let block = width.max(1) + 2;
                let (start, offset) = (i - i % block, i % block);
                if offset == 0 && start > 0 {
                    picked.push(start - 1);
                } else if offset == block - 1 {
                    picked.extend(start + 1..i);
                } else if offset > 0 {
                    picked.push(start);
                }
            }
        }
        deps.resize_with(picked.len(), String::new);
        for (name, &dep) in deps.iter_mut().zip(&picked) {
            name.clear();
            let _ = write!(name, "j{dep}");
        }
        id.clear();
        let _ = write!(id, "j{i}");
        builder
            .add_job(&id, &deps, attrs)
            .expect("generated ids are valid and unique");
    }
    builder.finish().expect("generated graphs are acyclic")
}
