//! Random DAGs for the property tests of the scheduler and the tracker.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeSet;
use std::sync::Arc;

use dagbench_core::graph::{GraphBuilder, JobAttrs, JobGraph};
use proptest::prelude::*;

/// A random DAG: job i may depend on any job with a smaller *rank*; ranks
/// are a random permutation, so index order is not a topological order.
pub fn arb_dag() -> impl Strategy<Value = (Vec<Vec<usize>>, Vec<usize>)> {
    (1usize..40)
        .prop_flat_map(|n| {
            let deps =
                prop::collection::vec(prop::collection::vec(any::<prop::sample::Index>(), 0..4), n);
            let perm = Just((0..n).collect::<Vec<_>>()).prop_shuffle();
            (deps, perm)
        })
        .prop_map(|(deps, rank_of)| {
            let n = rank_of.len();
            let mut by_rank = vec![0; n];
            for (job, &r) in rank_of.iter().enumerate() {
                by_rank[r] = job;
            }
            let deps = (0..n)
                .map(|job| {
                    let r = rank_of[job];
                    let mut mine: Vec<usize> = if r == 0 {
                        Vec::new()
                    } else {
                        deps[job].iter().map(|ix| by_rank[ix.index(r)]).collect()
                    };
                    mine.sort_unstable();
                    mine.dedup();
                    mine
                })
                .collect();
            (deps, rank_of)
        })
}

pub fn build(deps: &[Vec<usize>]) -> Arc<JobGraph> {
    let mut b = GraphBuilder::new();
    for (job, mine) in deps.iter().enumerate() {
        let names: Vec<String> = mine.iter().map(|d| format!("j{d}")).collect();
        b.add_job(&format!("j{job}"), &names, JobAttrs::default())
            .unwrap();
    }
    Arc::new(b.finish().unwrap())
}

pub fn descendants(deps: &[Vec<usize>], of: usize) -> BTreeSet<usize> {
    let mut found = BTreeSet::new();
    let mut frontier = vec![of];
    while let Some(x) = frontier.pop() {
        for (job, mine) in deps.iter().enumerate() {
            if mine.contains(&x) && found.insert(job) {
                frontier.push(job);
            }
        }
    }
    found
}
