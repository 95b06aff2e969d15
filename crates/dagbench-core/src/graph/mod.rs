//! The job graph: jobs, their dependencies and their attributes, laid out
//! compactly (CSR over `u32` indices, ids in one arena) so that ten million
//! jobs fit comfortably in memory.
//!
//! # Layout
//! - [`builder`]: [`GraphBuilder`] and every validation error ([`GraphError`]).
//! - [`mod@file`]: the graph file (JSON) reader and writer.
//! - [`shapes`]: seeded synthetic graphs for tests and benchmarks.
//! - this module: the immutable [`JobGraph`] and its analysis (topological
//!   order, levels, critical paths, degree statistics).

pub mod builder;
pub mod file;
mod ids;
pub mod shapes;

use serde::{Deserialize, Serialize};

pub use builder::{GraphBuilder, GraphError, JobAttrs};

/// Position of a job in its graph (`0..graph.len()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobIndex(pub u32);

impl JobIndex {
    #[inline]
    pub fn get(self) -> usize {
        self.0 as usize
    }
}

/// An optional string per job in one arena; unallocated when all are `None`.
#[derive(Debug, Default, Clone)]
pub(crate) struct StrColumn {
    text: String,
    /// Empty, or `len + 1` offsets: job j's text is `text[ends[j]..ends[j+1]]`.
    ends: Vec<u32>,
}

impl StrColumn {
    fn get(&self, job: usize) -> Option<&str> {
        if self.ends.is_empty() {
            return None;
        }
        let text = &self.text[self.ends[job] as usize..self.ends[job + 1] as usize];
        (!text.is_empty()).then_some(text)
    }

    fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.ends.capacity() * 4
    }
}

/// A number per job, stored once while every job has the same value (the
/// common case of synthetic graphs: 0 bytes per job instead of 4).
#[derive(Debug, Clone)]
pub(crate) enum U32Column {
    Uniform { value: u32, len: usize },
    PerJob(Vec<u32>),
}

impl Default for U32Column {
    fn default() -> Self {
        U32Column::Uniform { value: 0, len: 0 }
    }
}

impl U32Column {
    fn push(&mut self, v: u32) {
        match self {
            U32Column::Uniform { value, len } if *len == 0 || *value == v => {
                *value = v;
                *len += 1;
            }
            U32Column::Uniform { value, len } => {
                let mut values = Vec::with_capacity(*len + 1);
                values.resize(*len, *value);
                values.push(v);
                *self = U32Column::PerJob(values);
            }
            U32Column::PerJob(values) => values.push(v),
        }
    }

    #[inline]
    fn get(&self, j: usize) -> u32 {
        match self {
            U32Column::Uniform { value, .. } => *value,
            U32Column::PerJob(values) => values[j],
        }
    }

    fn len(&self) -> usize {
        match self {
            U32Column::Uniform { len, .. } => *len,
            U32Column::PerJob(values) => values.len(),
        }
    }

    fn sum(&self) -> u64 {
        match self {
            U32Column::Uniform { value, len } => u64::from(*value) * *len as u64,
            U32Column::PerJob(values) => values.iter().map(|&v| u64::from(v)).sum(),
        }
    }

    fn shrink_to_fit(&mut self) {
        if let U32Column::PerJob(values) = self {
            values.shrink_to_fit();
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            U32Column::Uniform { .. } => 0,
            U32Column::PerJob(values) => values.capacity() * 4,
        }
    }
}

/// Summary figures of a graph, computed once when it is built.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GraphStats {
    pub jobs: u64,
    pub edges: u64,
    /// Number of topological levels (a job's level is the longest chain of
    /// dependencies below it; sources are level 0).
    pub levels: u32,
    /// Jobs on the longest dependency chain (= `levels`).
    pub critical_path_jobs: u32,
    /// Largest sum of `work_duration_ms` along a dependency chain: no run can
    /// finish sooner, whatever the parallelism.
    pub critical_path_work_ms: u64,
    pub total_work_ms: u64,
    /// Jobs without dependencies (ready at start).
    pub sources: u64,
    /// Jobs nothing depends on.
    pub sinks: u64,
    pub max_in_degree: u32,
    pub max_out_degree: u32,
    /// Edges per job (= mean in-degree = mean out-degree).
    pub mean_degree: f64,
    /// Number of jobs at the widest level.
    pub max_level_width: u64,
}

/// What a critical path is measured by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathWeight {
    /// Sum of `work_duration_ms`.
    WorkMs,
    /// Number of jobs.
    Jobs,
}

/// A validated, acyclic job graph. Immutable once built.
#[derive(Debug, Clone)]
pub struct JobGraph {
    ids: ids::IdTable,
    /// CSR of dependents: `dependents[dependents_start[j]..dependents_start[j+1]]`
    /// are the jobs that depend on j (what its completion may release).
    dependents_start: Vec<u32>,
    dependents: Vec<u32>,
    work_ms: U32Column,
    data_kb: U32Column,
    input_keys: StrColumn,
    kinds: StrColumn,
    stats: GraphStats,
}

/// One job's attributes, borrowed from its graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobView<'g> {
    pub index: JobIndex,
    pub job_id: &'g str,
    pub work_duration_ms: u32,
    pub data_size_kb: u32,
    pub input_key: Option<&'g str>,
    pub kind: Option<&'g str>,
}

impl JobGraph {
    /// Number of jobs (never 0).
    pub fn len(&self) -> usize {
        self.work_ms.len()
    }

    /// Always false: an empty graph is rejected when built.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn edge_count(&self) -> usize {
        self.dependents.len()
    }

    pub fn stats(&self) -> &GraphStats {
        &self.stats
    }

    #[inline]
    pub fn id(&self, job: JobIndex) -> &str {
        self.ids.get(job.0)
    }

    /// The index of the job called `job_id`, if there is one.
    #[inline]
    pub fn find(&self, job_id: &str) -> Option<JobIndex> {
        self.ids.find(job_id).map(JobIndex)
    }

    /// The jobs that depend on `job`.
    #[inline]
    pub fn dependents(&self, job: JobIndex) -> &[u32] {
        let j = job.get();
        &self.dependents[self.dependents_start[j] as usize..self.dependents_start[j + 1] as usize]
    }

    pub fn job(&self, job: JobIndex) -> JobView<'_> {
        let j = job.get();
        JobView {
            index: job,
            job_id: self.id(job),
            work_duration_ms: self.work_ms.get(j),
            data_size_kb: self.data_kb.get(j),
            input_key: self.input_keys.get(j),
            kind: self.kinds.get(j),
        }
    }

    pub fn jobs(&self) -> impl ExactSizeIterator<Item = JobView<'_>> + '_ {
        (0..self.len() as u32).map(move |j| self.job(JobIndex(j)))
    }

    /// Number of dependencies of every job (computed, not stored).
    pub fn in_degrees(&self) -> Vec<u32> {
        let mut in_degree = vec![0u32; self.len()];
        for &d in &self.dependents {
            in_degree[d as usize] += 1;
        }
        in_degree
    }

    /// Dependency lists of every job, as CSR `(start, deps)`: job j depends
    /// on `deps[start[j]..start[j+1]]`, in ascending index order.
    pub fn dependencies_csr(&self) -> (Vec<u32>, Vec<u32>) {
        let n = self.len();
        let mut start = Vec::with_capacity(n + 1);
        start.push(0u32);
        let mut running = 0;
        for d in self.in_degrees() {
            running += d;
            start.push(running);
        }
        let mut fill = start.clone();
        let mut deps = vec![0u32; self.dependents.len()];
        for job in 0..n {
            for &dependent in self.dependents(JobIndex(job as u32)) {
                let slot = &mut fill[dependent as usize];
                deps[*slot as usize] = job as u32;
                *slot += 1;
            }
        }
        (start, deps)
    }

    /// Bytes this graph holds on the heap (ids, hash index, edges, attributes).
    pub fn heap_bytes(&self) -> usize {
        self.ids.heap_bytes()
            + (self.dependents_start.capacity() + self.dependents.capacity()) * 4
            + self.work_ms.heap_bytes()
            + self.data_kb.heap_bytes()
            + self.input_keys.heap_bytes()
            + self.kinds.heap_bytes()
    }

    /// Kahn's algorithm. `Err` carries, per job, whether it was left
    /// unfinished (the graph has a cycle through or above those jobs).
    pub(crate) fn topological_order(&self) -> Result<Vec<u32>, Vec<bool>> {
        let n = self.len();
        let mut remaining = self.in_degrees();
        let mut order: Vec<u32> = Vec::with_capacity(n);
        order.extend((0..n as u32).filter(|&j| remaining[j as usize] == 0));
        let mut next = 0;
        while next < order.len() {
            let job = order[next];
            next += 1;
            for &d in self.dependents(JobIndex(job)) {
                let r = &mut remaining[d as usize];
                *r -= 1;
                if *r == 0 {
                    order.push(d);
                }
            }
        }
        if order.len() == n {
            Ok(order)
        } else {
            Err(remaining.iter().map(|&r| r > 0).collect())
        }
    }

    /// The topological level of every job (0 for jobs without dependencies).
    pub fn levels(&self) -> Vec<u32> {
        let order = self.topological_order().expect("a built graph is acyclic");
        let mut level = vec![0u32; self.len()];
        for &job in &order {
            let next = level[job as usize] + 1;
            for &d in self.dependents(JobIndex(job)) {
                level[d as usize] = level[d as usize].max(next);
            }
        }
        level
    }

    /// The heaviest dependency chain by `weight`, from a source to a sink,
    /// and its total weight. Ties go to the lower job index.
    pub fn critical_path(&self, weight: PathWeight) -> (u64, Vec<JobIndex>) {
        let order = self.topological_order().expect("a built graph is acyclic");
        let weight_of = |j: u32| match weight {
            PathWeight::WorkMs => u64::from(self.work_ms.get(j as usize)),
            PathWeight::Jobs => 1,
        };
        // best[j]: heaviest chain ending just before j; via[j]: its last job.
        let mut best = vec![0u64; self.len()];
        let mut via = vec![u32::MAX; self.len()];
        let mut end = (0u64, u32::MAX);
        for &job in &order {
            let finish = best[job as usize] + weight_of(job);
            if finish > end.0 || end.1 == u32::MAX {
                end = (finish, job);
            }
            for &d in self.dependents(JobIndex(job)) {
                if finish > best[d as usize] || via[d as usize] == u32::MAX {
                    best[d as usize] = finish;
                    via[d as usize] = job;
                }
            }
        }
        let mut path = vec![JobIndex(end.1)];
        let mut job = end.1;
        while via[job as usize] != u32::MAX {
            job = via[job as usize];
            path.push(JobIndex(job));
        }
        path.reverse();
        (end.0, path)
    }

    /// The heaviest dependency chain when job `j` weighs `weight(j)` (any
    /// non-negative number: measured times, say), and its total.
    pub fn heaviest_chain(&self, weight: impl Fn(JobIndex) -> f64) -> (f64, Vec<JobIndex>) {
        let order = self.topological_order().expect("a built graph is acyclic");
        let mut best = vec![0f64; self.len()];
        let mut via = vec![u32::MAX; self.len()];
        let mut end = (f64::NEG_INFINITY, u32::MAX);
        for &job in &order {
            let w = weight(JobIndex(job));
            let finish = best[job as usize] + if w.is_finite() { w.max(0.0) } else { 0.0 };
            if finish > end.0 {
                end = (finish, job);
            }
            for &d in self.dependents(JobIndex(job)) {
                if finish > best[d as usize] || via[d as usize] == u32::MAX {
                    best[d as usize] = finish;
                    via[d as usize] = job;
                }
            }
        }
        let mut path = vec![JobIndex(end.1)];
        let mut job = end.1;
        while via[job as usize] != u32::MAX {
            job = via[job as usize];
            path.push(JobIndex(job));
        }
        path.reverse();
        (end.0, path)
    }

    /// No schedule on `workers` processors (0: unknown, so unbounded) can
    /// finish faster than `max(heaviest chain, total / workers)` when job
    /// `j` takes `weight(j)`: the bound a run's efficiency is measured
    /// against. Non-finite weights count as 0.
    pub fn schedule_lower_bound(&self, weight: impl Fn(JobIndex) -> f64, workers: u64) -> f64 {
        let finite = |j| {
            Some(weight(j))
                .filter(|w| w.is_finite())
                .unwrap_or(0.0)
                .max(0.0)
        };
        let total: f64 = (0..self.len() as u32).map(|j| finite(JobIndex(j))).sum();
        let (chain, _) = self.heaviest_chain(finite);
        let spread = if workers > 0 {
            total / workers as f64
        } else {
            0.0
        };
        chain.max(spread)
    }

    fn compute_stats(&self, order: &[u32]) -> GraphStats {
        let n = self.len();
        let mut level = vec![0u32; n];
        let mut best = vec![0u64; n];
        let mut critical_work = 0u64;
        let mut levels = 0u32;
        let mut max_out = 0u32;
        let mut sinks = 0u64;
        for &job in order {
            let j = job as usize;
            let finish = best[j] + u64::from(self.work_ms.get(j));
            critical_work = critical_work.max(finish);
            levels = levels.max(level[j] + 1);
            let dependents = self.dependents(JobIndex(job));
            max_out = max_out.max(dependents.len() as u32);
            sinks += u64::from(dependents.is_empty());
            for &d in dependents {
                let d = d as usize;
                level[d] = level[d].max(level[j] + 1);
                best[d] = best[d].max(finish);
            }
        }
        let in_degree = self.in_degrees();
        let mut width = vec![0u64; levels as usize];
        for &l in &level {
            width[l as usize] += 1;
        }
        GraphStats {
            jobs: n as u64,
            edges: self.dependents.len() as u64,
            levels,
            critical_path_jobs: levels,
            critical_path_work_ms: critical_work,
            total_work_ms: self.work_ms.sum(),
            sources: in_degree.iter().filter(|&&d| d == 0).count() as u64,
            sinks,
            max_in_degree: in_degree.iter().copied().max().unwrap_or(0),
            max_out_degree: max_out,
            mean_degree: self.dependents.len() as f64 / n as f64,
            max_level_width: width.iter().copied().max().unwrap_or(0),
        }
    }
}

#[cfg(test)]
mod tests;
