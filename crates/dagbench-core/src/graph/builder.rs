//! Building a [`JobGraph`]: jobs are added in any order (dependencies may name
//! jobs added later), then [`GraphBuilder::finish`] resolves names, checks the
//! graph and lays it out as CSR.

use std::borrow::Cow;

use super::{GraphStats, JobGraph, JobIndex, StrColumn, U32Column};
use crate::graph::ids::IdTable;
use crate::ids::{IdError, validate_id};

/// Why a graph cannot be built. Every message names the jobs involved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    #[error("the graph has no jobs")]
    Empty,
    /// (`error`, not `source`: the message already holds it, and a chain of
    /// causes would print it twice.)
    #[error("job #{position}: {error}")]
    InvalidJobId { position: usize, error: IdError },
    #[error("job id {0:?} appears more than once")]
    DuplicateId(String),
    #[error("job {job:?} depends on {dependency:?}, which is not a job of the graph")]
    UnknownDependency { job: String, dependency: String },
    #[error("job {0:?} depends on itself")]
    SelfDependency(String),
    #[error("the graph has a cycle: {} (each job depends on the next)", .0.join(" -> "))]
    Cycle(Vec<String>),
    #[error("job {job:?}: {reason}")]
    InvalidAttribute { job: String, reason: String },
    #[error("the graph is too large: {0}")]
    TooLarge(&'static str),
}

/// Everything about a job except its id and dependencies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobAttrs<'a> {
    pub work_duration_ms: u32,
    pub data_size_kb: u32,
    pub input_key: Option<&'a str>,
    pub kind: Option<&'a str>,
}

/// Accumulates jobs; dependency names are kept as text until `finish`.
#[derive(Debug, Default)]
pub struct GraphBuilder {
    ids: IdTable,
    /// Dependency names of every job, flattened; `dep_start[j]..dep_start[j+1]`
    /// indexes `dep_ends` for job j.
    dep_names: String,
    dep_ends: Vec<u32>,
    dep_start: Vec<u32>,
    work_ms: U32Column,
    data_kb: U32Column,
    input_keys: StrColumn,
    kinds: StrColumn,
}

fn to_u32(value: usize, what: &'static str) -> Result<u32, GraphError> {
    u32::try_from(value).map_err(|_| GraphError::TooLarge(what))
}

impl GraphBuilder {
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// Reserves room for `jobs` jobs with short ids.
    pub fn with_capacity(jobs: usize) -> Self {
        let mut dep_start = Vec::with_capacity(jobs + 1);
        dep_start.push(0);
        Self {
            ids: IdTable::with_capacity(jobs),
            dep_start,
            ..Self::default()
        }
    }

    pub fn len(&self) -> usize {
        self.work_ms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds one job. Fails on an invalid or duplicate id; dependencies are
    /// checked by [`finish`](Self::finish).
    pub fn add_job<S: AsRef<str>>(
        &mut self,
        job_id: &str,
        depends_on: impl IntoIterator<Item = S>,
        attrs: JobAttrs<'_>,
    ) -> Result<JobIndex, GraphError> {
        if self.dep_start.is_empty() {
            self.dep_start.push(0);
        }
        let position = self.len();
        validate_id("job id", job_id)
            .map_err(|error| GraphError::InvalidJobId { position, error })?;
        if let Some(key) = attrs.input_key {
            crate::key::validate_key(key).map_err(|e| GraphError::InvalidAttribute {
                job: job_id.to_owned(),
                reason: format!("input_key: {e}"),
            })?;
        }
        let index = self
            .ids
            .insert(job_id)
            .map_err(|()| GraphError::DuplicateId(job_id.to_owned()))?;
        for dep in depends_on {
            self.dep_names.push_str(dep.as_ref());
            self.dep_ends
                .push(to_u32(self.dep_names.len(), "dependency names over 4 GiB")?);
        }
        self.dep_start
            .push(to_u32(self.dep_ends.len(), "more than 2^32 edges")?);
        self.work_ms.push(attrs.work_duration_ms);
        self.data_kb.push(attrs.data_size_kb);
        self.input_keys.push(position, attrs.input_key)?;
        self.kinds.push(position, attrs.kind)?;
        Ok(index)
    }

    /// Resolves dependencies and checks the whole graph: unknown and self
    /// dependencies, then cycles (the first one found is printed).
    pub fn finish(mut self) -> Result<JobGraph, GraphError> {
        let n = self.len();
        if n == 0 {
            return Err(GraphError::Empty);
        }
        // Resolve names to indices: the dependency lists in CSR form.
        let mut deps: Vec<u32> = Vec::with_capacity(self.dep_ends.len());
        let mut deps_start: Vec<u32> = Vec::with_capacity(n + 1);
        deps_start.push(0);
        let mut out_degree = vec![0u32; n + 1];
        let mut name_start = 0usize;
        for job in 0..n {
            let job_deps_from = deps.len();
            for e in self.dep_start[job]..self.dep_start[job + 1] {
                let name_end = self.dep_ends[e as usize] as usize;
                let name = &self.dep_names[name_start..name_end];
                name_start = name_end;
                let Some(dep) = self.ids.find(name) else {
                    return Err(GraphError::UnknownDependency {
                        job: self.ids.get(job as u32).to_owned(),
                        dependency: name.to_owned(),
                    });
                };
                if dep == job as u32 {
                    return Err(GraphError::SelfDependency(name.to_owned()));
                }
                deps.push(dep);
            }
            // A dependency named twice is one edge.
            let mine = &mut deps[job_deps_from..];
            if mine.len() > 1 {
                mine.sort_unstable();
                let mut kept = 1;
                for i in 1..mine.len() {
                    if mine[i] != mine[kept - 1] {
                        mine[kept] = mine[i];
                        kept += 1;
                    }
                }
                deps.truncate(job_deps_from + kept);
            }
            for &dep in &deps[job_deps_from..] {
                out_degree[dep as usize] += 1;
            }
            deps_start.push(deps.len() as u32);
        }
        // Text of names no longer needed: free it before the next allocations.
        self.dep_names = String::new();
        self.dep_ends = Vec::new();
        self.dep_start = Vec::new();

        // Dependents (out-edges) in CSR form.
        let mut dependents_start = Vec::with_capacity(n + 1);
        let mut running = 0u32;
        dependents_start.push(0);
        for &d in &out_degree[..n] {
            running += d;
            dependents_start.push(running);
        }
        let mut fill = out_degree;
        fill.copy_from_slice(&dependents_start);
        let mut dependents = vec![0u32; deps.len()];
        for job in 0..n {
            for &dep in &deps[deps_start[job] as usize..deps_start[job + 1] as usize] {
                let slot = &mut fill[dep as usize];
                dependents[*slot as usize] = job as u32;
                *slot += 1;
            }
        }
        drop(fill);

        let mut graph = JobGraph {
            ids: self.ids,
            dependents_start,
            dependents,
            work_ms: self.work_ms,
            data_kb: self.data_kb,
            input_keys: self.input_keys,
            kinds: self.kinds,
            stats: GraphStats::default(),
        };
        graph.ids.shrink_to_fit();
        graph.work_ms.shrink_to_fit();
        graph.data_kb.shrink_to_fit();
        match graph.topological_order() {
            Ok(order) => {
                graph.stats = graph.compute_stats(&order);
                Ok(graph)
            }
            Err(unfinished) => Err(GraphError::Cycle(find_cycle(
                &graph,
                &deps,
                &deps_start,
                &unfinished,
            ))),
        }
    }
}

/// Follows unfinished dependencies from an unfinished job until a job
/// repeats. Every job left over by Kahn's algorithm has at least one
/// unfinished dependency, so the walk cannot stop before closing a cycle.
fn find_cycle(
    graph: &JobGraph,
    deps: &[u32],
    deps_start: &[u32],
    unfinished: &[bool],
) -> Vec<String> {
    let start = unfinished
        .iter()
        .position(|&u| u)
        .expect("a cycle leaves jobs unfinished");
    let mut seen_at = vec![u32::MAX; graph.len()];
    let mut walk: Vec<u32> = Vec::new();
    let mut job = start as u32;
    loop {
        if seen_at[job as usize] != u32::MAX {
            let from = seen_at[job as usize] as usize;
            let mut cycle: Vec<String> = walk[from..]
                .iter()
                .map(|&j| graph.id(JobIndex(j)).to_owned())
                .collect();
            cycle.push(graph.id(JobIndex(job)).to_owned());
            return cycle;
        }
        seen_at[job as usize] = walk.len() as u32;
        walk.push(job);
        let range = deps_start[job as usize] as usize..deps_start[job as usize + 1] as usize;
        job = deps[range]
            .iter()
            .copied()
            .find(|&d| unfinished[d as usize])
            .expect("an unfinished job has an unfinished dependency");
    }
}

impl StrColumn {
    /// Records job `position`'s value; stays unallocated while every value is
    /// `None`.
    fn push(&mut self, position: usize, value: Option<&str>) -> Result<(), GraphError> {
        match value {
            None if self.ends.is_empty() => {}
            None => self.ends.push(self.ends[position]),
            Some(text) => {
                if self.ends.is_empty() {
                    self.ends = vec![0; position + 1];
                }
                self.text.push_str(text);
                self.ends
                    .push(to_u32(self.text.len(), "attribute text over 4 GiB")?);
            }
        }
        Ok(())
    }
}

/// Deserialized form of one job, borrowing from the input where it can.
/// An unknown field is an error naming it: a misspelt `work_duration_ms`
/// would otherwise run with no work.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JobSpec<'a> {
    #[serde(borrow)]
    pub(crate) job_id: Cow<'a, str>,
    #[serde(default, borrow)]
    pub(crate) depends_on: Vec<Cow<'a, str>>,
    #[serde(default)]
    pub(crate) work_duration_ms: u32,
    #[serde(default)]
    pub(crate) data_size_kb: u32,
    #[serde(default, borrow)]
    pub(crate) input_key: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub(crate) kind: Option<Cow<'a, str>>,
}
