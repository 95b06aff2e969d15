//! Scenario 3's execution plan: how one static Step Functions state machine
//! runs any job graph, given as data. Step Functions cannot express an
//! arbitrary DAG, so the graph's jobs still to run are laid out as
//!
//! - **chains** ([`PlanKind::Chains`]): when the graph is independent
//!   chains joined at the end (the aircraft graph without crew connections:
//!   each aircraft's legs and its percentiles job, then `merge`), a
//!   Distributed Map over the chains, each child walking its chain in
//!   order, then the joins as one more level;
//! - **levels** ([`PlanKind::Levels`]): any other graph, one Distributed Map
//!   per topological level, looping until the last. A level starts only
//!   when the whole previous level has ended: the report's efficiency shows
//!   what those barriers cost against the lower bound.
//!
//! Items are the job messages themselves, every field present (the state
//! machine copies `input_key` even when null), written to the run's bucket
//! and read by the Map's `ItemReader`: payloads stay far below 256 KiB.

use serde::Serialize;
use serde_json::{Value, json};

use crate::graph::{JobGraph, JobIndex};
use crate::ids::RunId;
use crate::message::wire_job_id;
use crate::scheduler::{JobState, Scheduler};

/// Which layout a plan uses, as the report names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PlanKind {
    Chains,
    Levels,
}

impl PlanKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanKind::Chains => "chains",
            PlanKind::Levels => "levels",
        }
    }
}

/// Longest chain one child execution walks: an inline Map iteration of a
/// callback task records about 10 history events, and an execution holds
/// at most 25,000; a chain item must also stay below 256 KiB.
pub const MAX_CHAIN: usize = 1_000;

/// Most levels one execution loops through (about 10 history events each,
/// 25,000 at most per execution).
pub const MAX_LEVELS: usize = 2_000;

/// The jobs still to run, laid out for the state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub kind: PlanKind,
    /// Chains, each in the order its child runs it (empty for levels).
    pub chains: Vec<Vec<JobIndex>>,
    /// Levels run after the chains, each a Map of independent jobs.
    pub levels: Vec<Vec<JobIndex>>,
}

/// A graph the state machine cannot run in one execution.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "it has {levels} dependency levels: one Step Functions execution loops through \
         at most {MAX_LEVELS} levels, and walks chains of at most {MAX_CHAIN} jobs \
         (25,000 history events per execution)"
    )]
    TooManyLevels { levels: usize },
}

impl Plan {
    /// The plan of every job of `scheduler` not yet completed (a resumed
    /// run plans only what is left).
    ///
    /// # Errors
    /// When neither layout fits one execution's limits.
    pub fn of(scheduler: &Scheduler) -> Result<Self, PlanError> {
        let graph = scheduler.graph();
        let left: Vec<bool> = (0..graph.len())
            .map(|j| scheduler.state(JobIndex(j as u32)) != JobState::Completed)
            .collect();
        if let Some(plan) = chains(graph, &left) {
            return Ok(plan);
        }
        let levels = levels(graph, &left, &left);
        if levels.len() > MAX_LEVELS {
            return Err(PlanError::TooManyLevels {
                levels: levels.len(),
            });
        }
        Ok(Plan {
            kind: PlanKind::Levels,
            chains: Vec::new(),
            levels,
        })
    }

    /// Jobs the plan runs.
    pub fn jobs(&self) -> usize {
        self.chains.iter().map(Vec::len).sum::<usize>()
            + self.levels.iter().map(Vec::len).sum::<usize>()
    }

    /// Child executions the Distributed Maps start: one per chain, one per
    /// job of a level.
    pub fn child_executions(&self) -> u64 {
        (self.chains.len() + self.levels.iter().map(Vec::len).sum::<usize>()) as u64
    }

    /// State transitions one execution of this plan takes, parent and
    /// children, each state entered once (retries add more): the parent's
    /// `Plan`, `Chains`, and per level `More`, `Level`, `NextLevel`, then
    /// `More` and `Done`; a chain's child enters `Walk` and each job's
    /// `RunJob`; a level's child its job's `RunJob`.
    pub fn state_transitions(&self) -> u64 {
        let levels = self.levels.len() as u64;
        let parent = 1 + u64::from(!self.chains.is_empty()) + 3 * levels + 2;
        let chains: u64 = self.chains.iter().map(|c| 1 + c.len() as u64).sum();
        let level_jobs: u64 = self.levels.iter().map(|l| l.len() as u64).sum();
        parent + chains + level_jobs
    }

    /// The items file of the chains Map: `[{"jobs": [message, …]}, …]`.
    pub fn chains_json(&self, graph: &JobGraph, run: &RunId) -> String {
        let items: Vec<Value> = self
            .chains
            .iter()
            .map(|chain| json!({"jobs": chain.iter().map(|&j| item(graph, run, j)).collect::<Vec<_>>()}))
            .collect();
        Value::Array(items).to_string()
    }

    /// The items file of level `i`: `[message, …]`.
    pub fn level_json(&self, graph: &JobGraph, run: &RunId, i: usize) -> String {
        Value::Array(
            self.levels[i]
                .iter()
                .map(|&j| item(graph, run, j))
                .collect(),
        )
        .to_string()
    }
}

/// One job's message as a Map item: every field present.
fn item(graph: &JobGraph, run: &RunId, j: JobIndex) -> Value {
    let job = graph.job(j);
    json!({
        "job_id": wire_job_id(run, job.job_id)
            .expect("wire ids are checked to fit when a run starts")
            .as_str(),
        "work_duration_ms": job.work_duration_ms,
        "data_size_kb": job.data_size_kb,
        "input_key": job.input_key,
        "run_id": run.as_str(),
    })
}

/// Topological levels of the jobs in `include`, counting only dependencies
/// in `left` (completed ones are done).
fn levels(graph: &JobGraph, left: &[bool], include: &[bool]) -> Vec<Vec<JobIndex>> {
    let order = graph.topological_order().expect("a built graph is acyclic");
    let mut level = vec![0usize; graph.len()];
    let mut out: Vec<Vec<JobIndex>> = Vec::new();
    for &j in &order {
        let j = j as usize;
        if !left[j] {
            continue;
        }
        if include[j] {
            let l = level[j];
            if out.len() <= l {
                out.resize_with(l + 1, Vec::new);
            }
            out[l].push(JobIndex(j as u32));
        }
        for &d in graph.dependents(JobIndex(j as u32)) {
            let d = d as usize;
            level[d] = level[d].max(level[j] + usize::from(include[j]));
        }
    }
    out.retain(|l| !l.is_empty());
    for l in &mut out {
        l.sort_unstable();
    }
    out
}

/// The chains layout, when the jobs left are chains joined at the end:
/// the joins are the jobs left with no dependent left and several
/// dependencies left; every other job belongs to a chain, a connected
/// group that one walk in dependency order runs without waiting (each job
/// depends on the one before). `None` when the graph is not so, or when no
/// chain has two jobs (a single level is then the same thing, cheaper).
fn chains(graph: &JobGraph, left: &[bool]) -> Option<Plan> {
    let n = graph.len();
    let (start, deps) = graph.dependencies_csr();
    let deps_of = |j: usize| {
        deps[start[j] as usize..start[j + 1] as usize]
            .iter()
            .map(|&d| d as usize)
    };
    let has_dependent_left = |j: usize| {
        graph
            .dependents(JobIndex(j as u32))
            .iter()
            .any(|&d| left[d as usize])
    };
    let join: Vec<bool> = (0..n)
        .map(|j| left[j] && !has_dependent_left(j) && deps_of(j).filter(|&d| left[d]).count() > 1)
        .collect();
    // Union-find over chain jobs, joined by their dependencies.
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for j in (0..n).filter(|&j| left[j] && !join[j]) {
        for d in deps_of(j).filter(|&d| left[d] && !join[d]) {
            let (a, b) = (root(&mut parent, j), root(&mut parent, d));
            if a != b {
                parent[a.max(b)] = a.min(b);
            }
        }
    }
    let order = graph.topological_order().expect("a built graph is acyclic");
    let mut chain_of: Vec<usize> = vec![usize::MAX; n];
    let mut chains: Vec<Vec<JobIndex>> = Vec::new();
    for &j in &order {
        let j = j as usize;
        if !left[j] || join[j] {
            continue;
        }
        let r = root(&mut parent, j);
        if chain_of[r] == usize::MAX {
            chain_of[r] = chains.len();
            chains.push(Vec::new());
        }
        let chain = &mut chains[chain_of[r]];
        // Walked one job at a time, the chain waits for nothing only if
        // each job depends on the one walked before it.
        if let Some(&prev) = chain.last()
            && !deps_of(j).any(|d| d == prev.get())
        {
            return None;
        }
        chain.push(JobIndex(j as u32));
    }
    if chains.iter().all(|c| c.len() < 2) || chains.iter().any(|c| c.len() > MAX_CHAIN) {
        return None;
    }
    let joins = levels(graph, left, &join);
    Some(Plan {
        kind: PlanKind::Chains,
        chains,
        levels: joins,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::graph::GraphBuilder;
    use crate::graph::builder::JobAttrs;
    use crate::graph::shapes::{Shape, ShapeSpec, generate};

    fn graph(edges: &[(&str, &[&str])]) -> Arc<JobGraph> {
        let mut b = GraphBuilder::new();
        for (id, deps) in edges {
            b.add_job(id, deps.iter().copied(), JobAttrs::default())
                .unwrap();
        }
        Arc::new(b.finish().unwrap())
    }

    fn shape(shape: Shape, jobs: u32, seed: u64) -> Arc<JobGraph> {
        Arc::new(generate(&ShapeSpec {
            shape,
            jobs,
            seed,
            work_duration_ms: 1,
            data_size_kb: 0,
        }))
    }

    fn ids(g: &JobGraph, jobs: &[JobIndex]) -> Vec<String> {
        jobs.iter().map(|&j| g.id(j).to_owned()).collect()
    }

    #[test]
    fn chains_joined_at_the_end_run_as_chains_then_the_join() {
        let g = graph(&[
            ("a1", &[]),
            ("a2", &["a1"]),
            ("a-p", &["a1", "a2"]),
            ("b1", &[]),
            ("b-p", &["b1"]),
            ("merge", &["a-p", "b-p"]),
        ]);
        let plan = Plan::of(&Scheduler::new(Arc::clone(&g))).unwrap();
        assert_eq!(plan.kind, PlanKind::Chains);
        let chains: Vec<_> = plan.chains.iter().map(|c| ids(&g, c)).collect();
        assert_eq!(chains, [vec!["a1", "a2", "a-p"], vec!["b1", "b-p"]]);
        assert_eq!(plan.levels.len(), 1);
        assert_eq!(ids(&g, &plan.levels[0]), ["merge"]);
        assert_eq!(plan.jobs(), g.len());
        // Parent: Plan, Chains, More, Level, NextLevel, More, Done (7);
        // chains: Walk + 3, Walk + 2; the join: 1.
        assert_eq!(plan.state_transitions(), 7 + 4 + 3 + 1);
        assert_eq!(plan.child_executions(), 3);
    }

    #[test]
    fn a_crossing_dependency_makes_levels() {
        // b2 waits for a1 too: walking chain a then chain b one job at a
        // time would not respect it as one group, so levels it is.
        let g = graph(&[
            ("a1", &[]),
            ("a2", &["a1"]),
            ("b1", &[]),
            ("b2", &["b1", "a1"]),
            ("merge", &["a2", "b2"]),
        ]);
        let plan = Plan::of(&Scheduler::new(Arc::clone(&g))).unwrap();
        assert_eq!(plan.kind, PlanKind::Levels);
        let levels: Vec<_> = plan.levels.iter().map(|l| ids(&g, l)).collect();
        assert_eq!(levels, [vec!["a1", "b1"], vec!["a2", "b2"], vec!["merge"]]);
    }

    #[test]
    fn a_resumed_run_plans_only_what_is_left() {
        let g = graph(&[("a", &[]), ("b", &["a"]), ("c", &["a"]), ("d", &["b", "c"])]);
        let mut s = Scheduler::new(Arc::clone(&g));
        s.restore([g.find("a").unwrap(), g.find("b").unwrap()])
            .unwrap();
        let plan = Plan::of(&s).unwrap();
        assert_eq!(plan.jobs(), 2);
        let all: Vec<_> = plan
            .levels
            .iter()
            .chain(&plan.chains)
            .map(|l| ids(&g, l))
            .collect();
        assert_eq!(all.concat(), ["c", "d"]);
    }

    #[test]
    fn items_carry_every_field_of_the_message() {
        let g = graph(&[("a", &[]), ("b", &["a"])]);
        let run = RunId::new("r1").unwrap();
        let plan = Plan::of(&Scheduler::new(Arc::clone(&g))).unwrap();
        let v: Value = serde_json::from_str(&plan.chains_json(&g, &run)).unwrap();
        assert_eq!(
            v,
            json!([{"jobs": [
                {"job_id": "r1.a", "work_duration_ms": 0, "data_size_kb": 0, "input_key": null, "run_id": "r1"},
                {"job_id": "r1.b", "work_duration_ms": 0, "data_size_kb": 0, "input_key": null, "run_id": "r1"},
            ]}])
        );
    }

    #[test]
    fn a_graph_deeper_than_an_execution_allows_is_refused() {
        // Fans in a row: 3 levels per fan, no chains.
        let fans = (MAX_LEVELS / 3 + 2) as u32;
        let g = shape(Shape::Fan { width: 2 }, fans * 4, 0);
        let err = Plan::of(&Scheduler::new(g)).unwrap_err();
        assert!(err.to_string().contains("at most 2000 levels"), "{err}");
        // Chains too long for a child execution are not walked either.
        let long = shape(Shape::Chains { length: 2_500 }, 5_000, 0);
        let err = Plan::of(&Scheduler::new(long)).unwrap_err().to_string();
        assert!(
            err.contains("2500 dependency levels") && err.contains("1000 jobs"),
            "{err}"
        );
    }

    proptest::proptest! {
        /// Whatever the graph, a plan runs every job left exactly once, and
        /// no job before its dependencies: a level's dependencies are in
        /// earlier levels or chains, a chain's in the same chain earlier.
        #[test]
        fn every_job_left_runs_once_after_its_dependencies(
            seed in 0u64..500,
            n in 2u32..80,
            which in 0usize..4,
        ) {
            let s = [
                Shape::Independent,
                Shape::Chains { length: 5 },
                Shape::Layered { width: 4, max_deps: 3 },
                Shape::Fan { width: 3 },
            ][which];
            let g = shape(s, n, seed);
            let plan = Plan::of(&Scheduler::new(Arc::clone(&g))).unwrap();
            let mut when = vec![None; g.len()];
            for (c, chain) in plan.chains.iter().enumerate() {
                for (k, &j) in chain.iter().enumerate() {
                    proptest::prop_assert!(when[j.get()].is_none());
                    when[j.get()] = Some((0usize, c, k));
                }
            }
            for (l, level) in plan.levels.iter().enumerate() {
                for &j in level {
                    proptest::prop_assert!(when[j.get()].is_none());
                    when[j.get()] = Some((1 + l, 0, 0));
                }
            }
            let (start, deps) = g.dependencies_csr();
            for j in 0..g.len() {
                let (stage, chain, pos) = when[j].expect("every job planned");
                for &d in &deps[start[j] as usize..start[j + 1] as usize] {
                    let (ds, dc, dp) = when[d as usize].unwrap();
                    let before = ds < stage || (stage == 0 && ds == 0 && dc == chain && dp < pos);
                    proptest::prop_assert!(before, "job {j} runs before its dependency {d}");
                }
            }
        }
    }
}
