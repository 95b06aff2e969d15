//! The core of `dagbench simulate` (issue #15, in progress): a discrete-
//! event simulation of a run through the real [`Scheduler`], on a virtual
//! clock, with `workers` processing slots and fixed per-stage overheads.
//! Pure: no I/O, no wall clock. Profiles, costs and the command come next.
//!
//! A ready job is dispatched at once; it can start `dispatch + queue` ms
//! later, when a slot is free (first come, first served); it runs for its
//! processing time; the scheduler observes its completion `notify` ms after
//! it ends, and releases its dependents then.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;

use crate::graph::{JobGraph, JobView};
use crate::{JobIndex, Scheduler};

/// Fixed latencies of the stages around processing, ms.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Overheads {
    /// Ready to dispatched (the scheduler's reaction).
    pub dispatch_ms: f64,
    /// Dispatched to available to a processor (the queue).
    pub queue_ms: f64,
    /// Completed to observed by the scheduler.
    pub notify_ms: f64,
}

/// What a simulated run predicts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// First dispatch to last completion observed, ms.
    pub makespan_ms: f64,
    /// `max(critical path, total / workers)` of the processing times: no
    /// schedule could be faster.
    pub lower_bound_ms: f64,
    /// Jobs completed.
    pub jobs: u64,
}

impl Prediction {
    /// `lower_bound / makespan`, within 0..=1.
    #[must_use]
    pub fn efficiency(&self) -> f64 {
        if self.makespan_ms > 0.0 {
            (self.lower_bound_ms / self.makespan_ms).min(1.0)
        } else {
            1.0
        }
    }
}

/// Virtual time in microseconds: events order exactly.
fn us(ms: f64) -> u64 {
    (ms.max(0.0) * 1000.0).round() as u64
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// The job reached the queue.
    Queued(u32),
    /// The job's processing ended: its slot is free.
    Ended(u32),
    /// The scheduler observed the completion.
    Observed(u32),
}

/// Simulates `graph` on `workers` slots, each job taking `processing(job)`
/// ms, with `overheads` around it.
#[must_use]
pub fn simulate(
    graph: &Arc<JobGraph>,
    workers: usize,
    processing: &dyn Fn(JobView<'_>) -> f64,
    overheads: Overheads,
) -> Prediction {
    let workers = workers.max(1);
    let times: Vec<u64> = graph.jobs().map(|j| us(processing(j))).collect();
    let mut scheduler = Scheduler::new(Arc::clone(graph));
    let mut events: BinaryHeap<Reverse<(u64, Event)>> = BinaryHeap::new();
    let mut queue: VecDeque<u32> = VecDeque::new();
    let mut idle = workers;
    let mut now = 0u64;
    let mut last_observed = 0u64;
    let to_queue = us(overheads.dispatch_ms) + us(overheads.queue_ms);
    loop {
        // Dispatch everything ready now.
        while let Some(job) = scheduler.pop_ready() {
            scheduler.dispatched(job);
            events.push(Reverse((now + to_queue, Event::Queued(job.0))));
        }
        // Start what free slots can take.
        while idle > 0 {
            let Some(job) = queue.pop_front() else { break };
            idle -= 1;
            events.push(Reverse((now + times[job as usize], Event::Ended(job))));
        }
        let Some(Reverse((at, event))) = events.pop() else {
            break;
        };
        now = at;
        match event {
            Event::Queued(job) => queue.push_back(job),
            Event::Ended(job) => {
                idle += 1;
                events.push(Reverse((
                    now + us(overheads.notify_ms),
                    Event::Observed(job),
                )));
            }
            Event::Observed(job) => {
                last_observed = now;
                let _ = scheduler.completed(JobIndex(job));
            }
        }
    }
    Prediction {
        makespan_ms: last_observed as f64 / 1000.0,
        lower_bound_ms: graph.schedule_lower_bound(|j| times[j.get()] as f64, workers as u64)
            / 1000.0,
        jobs: scheduler.progress().completed,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::graph::shapes::{Shape, ShapeSpec, generate};

    fn shape(shape: Shape, jobs: u32, seed: u64) -> Arc<JobGraph> {
        Arc::new(generate(&ShapeSpec {
            shape,
            jobs,
            seed,
            work_duration_ms: 10,
            data_size_kb: 0,
        }))
    }

    fn work(j: JobView<'_>) -> f64 {
        f64::from(j.work_duration_ms)
    }

    #[test]
    fn without_overheads_simple_shapes_reach_their_lower_bound() {
        // 100 independent 10 ms jobs on 4 slots: 25 rounds.
        let p = simulate(
            &shape(Shape::Independent, 100, 1),
            4,
            &work,
            Overheads::default(),
        );
        assert_eq!(
            (p.makespan_ms, p.lower_bound_ms, p.jobs),
            (250.0, 250.0, 100)
        );
        // Chains of 10 on enough slots: one chain's length.
        let p = simulate(
            &shape(Shape::Chains { length: 10 }, 100, 1),
            10,
            &work,
            Overheads::default(),
        );
        assert_eq!((p.makespan_ms, p.lower_bound_ms), (100.0, 100.0));
        assert_eq!(p.efficiency(), 1.0);
    }

    #[test]
    fn overheads_add_up_along_a_chain() {
        let o = Overheads {
            dispatch_ms: 1.0,
            queue_ms: 2.0,
            notify_ms: 3.0,
        };
        // A chain of 10 jobs of 10 ms: each pays 6 ms around its 10.
        let p = simulate(&shape(Shape::Chains { length: 10 }, 10, 1), 1, &work, o);
        assert_eq!(p.makespan_ms, 160.0);
        assert!(p.efficiency() < 1.0);
    }

    proptest! {
        /// No schedule beats the lower bound, every job completes, and for
        /// independent jobs more slots never make a run slower.
        #[test]
        fn the_lower_bound_holds_and_more_workers_never_hurt(
            jobs in 1u32..300,
            seed in 0u64..1000,
            workers in 1usize..32,
            which in 0usize..3,
            dispatch in 0.0f64..5.0,
            notify in 0.0f64..5.0,
        ) {
            let s = [Shape::Independent, Shape::Chains { length: 7 }, Shape::Layered { width: 9, max_deps: 3 }][which];
            let g = shape(s, jobs, seed);
            let vary = |j: JobView<'_>| f64::from(j.index.0 % 13 + 1);
            let o = Overheads { dispatch_ms: dispatch, queue_ms: 0.0, notify_ms: notify };
            let p = simulate(&g, workers, &vary, o);
            prop_assert_eq!(p.jobs, u64::from(jobs));
            prop_assert!(p.makespan_ms + 1e-9 >= p.lower_bound_ms, "{:?}", p);
            if which == 0 {
                let more = simulate(&g, workers + 1, &vary, o);
                prop_assert!(more.makespan_ms <= p.makespan_ms + 1e-9, "{:?} vs {:?}", more, p);
            }
        }
    }
}
