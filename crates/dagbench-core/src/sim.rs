//! The core of `dagbench simulate`: a discrete-event simulation of a run
//! through the real [`Scheduler`] (so dependencies, release order and
//! failure rules are exactly a run's), on a virtual clock, with processor
//! slots and per-stage latencies. Pure: no I/O, no wall clock; randomness
//! comes from a seeded counter-based generator, so a simulation is a
//! function of its inputs.
//!
//! A job becomes ready when its last dependency's completion is observed;
//! the releaser (scheduler or state machine) dispatches it `reaction` ms
//! later — at once when [`Release::Ready`], or only once its stage has
//! opened ([`Release::Staged`]: Scenario 3's level barriers); it reaches
//! the processors `queue` ms after that and waits for a free slot (first
//! come, first served); it runs for its processing time plus the slot's
//! per-job `gap` (a processor's own bookkeeping between jobs); its
//! completion is observed `notify` ms after it ends. A Lambda invocation
//! ([`Slots::Batches`]) takes up to a batch of waiting jobs at once and
//! frees its slot when the last of them has ended.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;

use crate::graph::{JobGraph, JobView};
use crate::rng::SplitMix64;
use crate::{JobIndex, Scheduler};

/// A stage's latency, ms: fixed, or drawn from observed values.
#[derive(Debug, Clone, PartialEq)]
pub enum Latency {
    Fixed(f64),
    /// Values a run observed, drawn uniformly (an empirical distribution).
    Observed(Vec<f64>),
}

impl Default for Latency {
    fn default() -> Self {
        Latency::Fixed(0.0)
    }
}

impl Latency {
    /// One draw.
    pub fn draw(&self, rng: &mut SplitMix64) -> f64 {
        match self {
            Latency::Fixed(v) => *v,
            Latency::Observed(values) if values.is_empty() => 0.0,
            Latency::Observed(values) => values[rng.below(values.len() as u64) as usize],
        }
    }
}

/// How processors take jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slots {
    /// `n` processors, one job at a time each (local workers, a Fargate
    /// task's polling loops).
    Jobs(usize),
    /// `invocations` at once, each taking up to `batch` waiting jobs,
    /// running them together and freeing its slot when the last has ended
    /// (Lambda through an SQS event source mapping).
    Batches { invocations: usize, batch: usize },
}

impl Slots {
    /// Jobs that can run at once.
    pub fn parallelism(self) -> usize {
        match self {
            Slots::Jobs(n) => n.max(1),
            Slots::Batches { invocations, batch } => invocations.max(1) * batch.max(1),
        }
    }
}

/// When ready jobs are released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Release {
    /// At once (a scheduler).
    Ready,
    /// By stages (Scenario 3's plan): `stage[j]` of every job; stage `s`
    /// opens when every job of earlier stages has been observed complete
    /// (a Map state ends when all its children have).
    Staged(Vec<u32>),
}

/// Everything but the graph and its processing times.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub slots: Slots,
    /// Ready to dispatched (the releaser's reaction).
    pub reaction: Latency,
    /// Dispatched to available to a processor (the queue, an invocation).
    pub queue: Latency,
    /// Processing ended to completion observed.
    pub notify: Latency,
    /// A slot's own time per job besides processing (ms): receiving,
    /// recording, reporting; it holds the slot, not a CPU.
    pub gap_ms: f64,
    /// CPUs the slots share, when fewer than the slots (local workers on a
    /// machine's cores, a Fargate task's loops on its vCPU): a job's CPU
    /// part waits for one, first come, first served. `None`: a CPU each.
    pub cores: Option<usize>,
    /// How much longer CPU work takes here than where the processing times
    /// were measured (a 256 MB Lambda function has ~1/7 of a vCPU).
    pub cpu_factor: f64,
    /// A slot's first job waits this long first (ms): a Lambda execution
    /// environment's cold start.
    pub cold_start_ms: f64,
    pub release: Release,
    pub seed: u64,
}

impl Model {
    /// `workers` single-job slots, every latency `0`, released when ready.
    #[must_use]
    pub fn ideal(workers: usize) -> Self {
        Model {
            slots: Slots::Jobs(workers),
            reaction: Latency::default(),
            queue: Latency::default(),
            notify: Latency::default(),
            gap_ms: 0.0,
            cores: None,
            cpu_factor: 1.0,
            cold_start_ms: 0.0,
            release: Release::Ready,
            seed: 0,
        }
    }
}

/// A job's processing, ms: waiting (simulated work, I/O: no CPU held) and
/// CPU work.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Work {
    pub wait_ms: f64,
    pub cpu_ms: f64,
}

/// Fixed latencies of the stages around processing, ms (a shorthand for
/// a [`Model`] of fixed latencies).
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
    /// Start to last completion observed, ms.
    pub makespan_ms: f64,
    /// `max(critical path, total / parallelism)` of the processing times:
    /// no schedule could be faster.
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

/// A prediction with every job's stages, ms (in job order).
#[derive(Debug, Clone, PartialEq)]
pub struct Simulated {
    pub prediction: Prediction,
    /// Ready to dispatched.
    pub reaction: Vec<f64>,
    /// Dispatched to started (the queue and the wait for a slot).
    pub queue_wait: Vec<f64>,
    /// Started to ended.
    pub processing: Vec<f64>,
    /// Ended to observed.
    pub notification: Vec<f64>,
}

/// Virtual time in microseconds: events order exactly.
fn us(ms: f64) -> u64 {
    (ms.max(0.0) * 1000.0).round() as u64
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// Pending events: a heap, and — when the release latencies are fixed —
/// a queue of arrivals, which then come in time order by construction (a
/// run's big bursts of ready jobs stay out of the heap).
struct Events {
    heap: BinaryHeap<Reverse<(u64, Event)>>,
    arrivals: VecDeque<(u64, u32)>,
    fixed_release: bool,
}

impl Events {
    fn push(&mut self, at: u64, event: Event) {
        match event {
            Event::Queued(job) if self.fixed_release => self.arrivals.push_back((at, job)),
            _ => self.heap.push(Reverse((at, event))),
        }
    }

    fn peek_time(&self) -> Option<u64> {
        let heap = self.heap.peek().map(|Reverse((t, _))| *t);
        let queue = self.arrivals.front().map(|(t, _)| *t);
        match (heap, queue) {
            (Some(h), Some(q)) => Some(h.min(q)),
            (h, q) => h.or(q),
        }
    }

    /// The earliest event (an arrival first on a tie, as the heap orders
    /// them).
    fn pop(&mut self) -> Option<(u64, Event)> {
        let heap = self.heap.peek().map(|Reverse((t, e))| (*t, e));
        match (heap, self.arrivals.front()) {
            (Some((h, _)), Some(&(q, _))) if q <= h => self
                .arrivals
                .pop_front()
                .map(|(t, j)| (t, Event::Queued(j))),
            (Some(_), _) => self.heap.pop().map(|Reverse(e)| e),
            (None, Some(_)) => self
                .arrivals
                .pop_front()
                .map(|(t, j)| (t, Event::Queued(j))),
            (None, None) => None,
        }
    }
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// The job reached the processors.
    Queued(u32),
    /// The job's waiting part ended: its CPU part needs a CPU.
    Waited(u32),
    /// The job's processing (and the slot's gap) ended.
    Ended(u32),
    /// Its completion was observed.
    Observed(u32),
}

/// Simulates `graph` on `workers` single-job slots, each job taking
/// `processing(job)` ms, with fixed `overheads` around it.
#[must_use]
pub fn simulate(
    graph: &Arc<JobGraph>,
    workers: usize,
    processing: &dyn Fn(JobView<'_>) -> f64,
    overheads: Overheads,
) -> Prediction {
    let model = Model {
        reaction: Latency::Fixed(overheads.dispatch_ms),
        queue: Latency::Fixed(overheads.queue_ms),
        notify: Latency::Fixed(overheads.notify_ms),
        ..Model::ideal(workers)
    };
    run(
        graph,
        &|j, _| Work {
            wait_ms: processing(j),
            cpu_ms: 0.0,
        },
        &model,
    )
    .prediction
}

/// Simulates `graph` under `model`, job `j` doing `processing(j, rng)`.
#[must_use]
#[allow(clippy::too_many_lines)] // one event loop
pub fn run(
    graph: &Arc<JobGraph>,
    processing: &dyn Fn(JobView<'_>, &mut SplitMix64) -> Work,
    model: &Model,
) -> Simulated {
    let n = graph.len();
    let mut rng = SplitMix64::new(model.seed);
    let factor = if model.cpu_factor > 0.0 {
        model.cpu_factor
    } else {
        1.0
    };
    // Per job: waiting (the slot's gap included), then CPU, µs.
    let work: Vec<(u64, u64)> = graph
        .jobs()
        .map(|j| {
            let w = processing(j, &mut rng);
            (us(w.wait_ms + model.gap_ms), us(w.cpu_ms * factor))
        })
        .collect();
    // Every job's latencies drawn up front, in job order: the same job
    // gets the same draws whatever the slots (a sweep compares like with
    // like).
    let latencies: Vec<[u64; 3]> = (0..n)
        .map(|_| {
            [
                us(model.reaction.draw(&mut rng)),
                us(model.queue.draw(&mut rng)),
                us(model.notify.draw(&mut rng)),
            ]
        })
        .collect();
    let gap = us(model.gap_ms);
    let cold = us(model.cold_start_ms);
    let mut cpus_idle = model.cores.map_or(usize::MAX, |c| c.max(1));
    let mut cpu_waiting: VecDeque<u32> = VecDeque::new();
    let mut scheduler = Scheduler::new(Arc::clone(graph));
    let mut events = Events {
        heap: BinaryHeap::new(),
        arrivals: VecDeque::new(),
        fixed_release: matches!(
            (&model.reaction, &model.queue),
            (Latency::Fixed(_), Latency::Fixed(_))
        ),
    };
    let mut waiting: VecDeque<u32> = VecDeque::new();
    // Per job: ready, dispatched, started, ended, observed instants (µs).
    let mut at = vec![[0u64; 5]; n];
    // Stages: per stage the jobs held until it opens, and how many jobs
    // of it are not yet observed.
    let (stage_of, mut held, mut unfinished): (&[u32], Vec<Vec<u32>>, Vec<u64>) =
        match &model.release {
            Release::Ready => (&[], Vec::new(), Vec::new()),
            Release::Staged(stages) => {
                let count = stages.iter().max().map_or(0, |&s| s as usize + 1);
                let mut unfinished = vec![0u64; count];
                for &s in stages {
                    unfinished[s as usize] += 1;
                }
                (stages.as_slice(), vec![Vec::new(); count], unfinished)
            }
        };
    let mut open = 0usize;
    // Slots: idle count; a batch's remaining jobs by invocation.
    let (mut idle, batch) = match model.slots {
        Slots::Jobs(w) => (w.max(1), 1),
        Slots::Batches { invocations, batch } => (invocations.max(1), batch.max(1)),
    };
    let mut invocation_of = vec![u32::MAX; n];
    let mut in_invocation: Vec<u32> = Vec::new();
    let mut free_invocations: Vec<u32> = Vec::new();
    let mut now = 0u64;
    let mut last_observed = 0u64;
    // Released now: dispatched after the reaction, at the processors
    // after the queue (one event: nothing happens in between).
    let release = |job: u32, now: u64, events: &mut Events, at: &mut Vec<[u64; 5]>| {
        let [reaction, queue, _] = latencies[job as usize];
        let dispatched = now + reaction;
        at[job as usize][1] = dispatched;
        events.push(dispatched + queue, Event::Queued(job));
    };
    loop {
        // Release what is ready (or hold it until its stage opens).
        while let Some(job) = scheduler.pop_ready() {
            scheduler.dispatched(job);
            at[job.get()][0] = now;
            match stage_of.get(job.get()) {
                Some(&s) if s as usize > open => held[s as usize].push(job.0),
                _ => release(job.0, now, &mut events, &mut at),
            }
        }
        // Start what idle slots take.
        while idle > 0 && !waiting.is_empty() {
            idle -= 1;
            let take = batch.min(waiting.len());
            // A slot used for the first time starts cold (a new Lambda
            // execution environment).
            let (id, start) = match free_invocations.pop() {
                Some(id) => (id, now),
                None => {
                    in_invocation.push(0);
                    ((in_invocation.len() - 1) as u32, now + cold)
                }
            };
            in_invocation[id as usize] = take as u32;
            for _ in 0..take {
                let job = waiting.pop_front().expect("counted");
                invocation_of[job as usize] = id;
                at[job as usize][2] = start;
                let (wait, cpu) = work[job as usize];
                if wait > 0 || start > now {
                    events.push(start + wait, Event::Waited(job));
                } else if cpus_idle > 0 {
                    cpus_idle -= 1;
                    events.push(now + cpu, Event::Ended(job));
                } else {
                    cpu_waiting.push_back(job);
                }
            }
        }
        let Some((t, first)) = events.pop() else {
            break;
        };
        now = t;
        // Every event of this instant before slots take jobs: a batch takes
        // all that arrived at once.
        let mut next = Some(first);
        while let Some(event) = next.take() {
            match event {
                Event::Queued(job) => waiting.push_back(job),
                Event::Waited(job) => {
                    if cpus_idle > 0 {
                        cpus_idle -= 1;
                        events.push(now + work[job as usize].1, Event::Ended(job));
                    } else {
                        cpu_waiting.push_back(job);
                    }
                }
                Event::Ended(job) => {
                    at[job as usize][3] = now;
                    // Its CPU goes to the next job waiting for one.
                    match cpu_waiting.pop_front() {
                        Some(next) => {
                            events.push(now + work[next as usize].1, Event::Ended(next));
                        }
                        None => cpus_idle = cpus_idle.saturating_add(1),
                    }
                    let id = invocation_of[job as usize] as usize;
                    in_invocation[id] -= 1;
                    if in_invocation[id] == 0 {
                        idle += 1;
                        free_invocations.push(id as u32);
                    }
                    events.push(now + latencies[job as usize][2], Event::Observed(job));
                }
                Event::Observed(job) => {
                    at[job as usize][4] = now;
                    last_observed = now;
                    let _ = scheduler.completed(JobIndex(job));
                    if let Some(&s) = stage_of.get(job as usize) {
                        unfinished[s as usize] -= 1;
                        // Open every stage whose predecessors are all done
                        // (stages before `open` are done: it passed them).
                        while open + 1 < unfinished.len() && unfinished[open] == 0 {
                            open += 1;
                            for held_job in std::mem::take(&mut held[open]) {
                                release(held_job, now, &mut events, &mut at);
                            }
                        }
                    }
                }
            }
            if events.peek_time() == Some(now) {
                next = events.pop().map(|(_, e)| e);
            }
        }
    }
    let stage = |k: usize, j: usize| ms(at[j][k + 1].saturating_sub(at[j][k]));
    Simulated {
        prediction: Prediction {
            makespan_ms: ms(last_observed),
            lower_bound_ms: {
                // Every job's whole processing over the slots, and the CPU
                // parts over the CPUs.
                let total = |j: usize| (work[j].0 + work[j].1).saturating_sub(gap) as f64;
                let slots = graph
                    .schedule_lower_bound(|j| total(j.get()), model.slots.parallelism() as u64);
                let cpus = model.cores.map_or(0.0, |c| {
                    work.iter().map(|w| w.1 as f64).sum::<f64>() / c.max(1) as f64
                });
                slots.max(cpus) / 1000.0
            },
            jobs: scheduler.progress().completed,
        },
        reaction: (0..n).map(|j| stage(0, j)).collect(),
        queue_wait: (0..n).map(|j| stage(1, j)).collect(),
        processing: (0..n)
            .map(|j| ms((at[j][3] - at[j][2]).saturating_sub(gap)))
            .collect(),
        notification: (0..n).map(|j| stage(3, j)).collect(),
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

    fn edges(jobs: &[(&str, u32, &[&str])]) -> Arc<JobGraph> {
        let mut b = crate::graph::GraphBuilder::new();
        for (id, work, deps) in jobs {
            b.add_job(
                id,
                deps.iter().copied(),
                crate::graph::JobAttrs {
                    work_duration_ms: *work,
                    ..crate::graph::JobAttrs::default()
                },
            )
            .unwrap();
        }
        Arc::new(b.finish().unwrap())
    }

    #[test]
    fn an_invocation_takes_a_batch_and_ends_with_its_slowest_job() {
        // 20 jobs of 10 ms (one of 30 ms), one invocation of 10 at a time.
        let g = shape(Shape::Independent, 20, 1);
        let slow = |j: JobView<'_>, _: &mut SplitMix64| Work {
            wait_ms: if j.index.0 == 0 { 30.0 } else { 10.0 },
            cpu_ms: 0.0,
        };
        let model = Model {
            slots: Slots::Batches {
                invocations: 1,
                batch: 10,
            },
            ..Model::ideal(1)
        };
        let s = run(&g, &slow, &model);
        // The first batch lasts 30 ms (its slowest), the second 10.
        assert_eq!(s.prediction.makespan_ms, 40.0);
        // The second batch's jobs waited 30 ms for the invocation.
        assert_eq!(s.queue_wait[19], 30.0);
        assert_eq!(model.slots.parallelism(), 10);
    }

    #[test]
    fn stages_hold_jobs_until_every_earlier_stage_is_done() {
        // a (10 ms) and b (100 ms) are level 0; c (10 ms) needs a only.
        let g = edges(&[("a", 10, &[]), ("b", 100, &[]), ("c", 10, &["a"])]);
        let wait = |j: JobView<'_>, _: &mut SplitMix64| Work {
            wait_ms: f64::from(j.work_duration_ms),
            cpu_ms: 0.0,
        };
        let free = run(&g, &wait, &Model::ideal(4));
        assert_eq!(free.prediction.makespan_ms, 100.0, "c ends at 20, b at 100");
        let levels = Model {
            release: Release::Staged(vec![0, 0, 1]),
            reaction: Latency::Fixed(5.0),
            ..Model::ideal(4)
        };
        let gated = run(&g, &wait, &levels);
        // c waits for b's level to end: released at 105, ends at 120.
        assert_eq!(gated.prediction.makespan_ms, 120.0);
        // Ready at 15 (a ended), held until b's level ended at 105,
        // dispatched 5 ms later.
        assert_eq!(gated.reaction[2], 110.0 - 15.0);
    }

    #[test]
    fn observed_latencies_are_drawn_from_the_seed() {
        let g = shape(
            Shape::Layered {
                width: 8,
                max_deps: 2,
            },
            200,
            3,
        );
        let model = |seed| Model {
            queue: Latency::Observed(vec![1.0, 2.0, 50.0]),
            notify: Latency::Observed(vec![0.5, 4.0]),
            seed,
            ..Model::ideal(4)
        };
        let work = |j: JobView<'_>, _: &mut SplitMix64| Work {
            wait_ms: f64::from(j.work_duration_ms),
            cpu_ms: 0.0,
        };
        let a = run(&g, &work, &model(7));
        assert_eq!(a, run(&g, &work, &model(7)), "a function of its inputs");
        assert_ne!(a.prediction, run(&g, &work, &model(8)).prediction);
        assert!(a.notification.iter().all(|&v| v == 0.5 || v == 4.0));
    }

    #[test]
    fn cpu_work_waits_for_a_core_and_runs_slower_where_cpus_are_slower() {
        // 8 independent jobs of 10 ms CPU on 8 slots but 2 cores: 4 rounds.
        let g = shape(Shape::Independent, 8, 1);
        let cpu = |_: JobView<'_>, _: &mut SplitMix64| Work {
            wait_ms: 0.0,
            cpu_ms: 10.0,
        };
        let two = Model {
            cores: Some(2),
            ..Model::ideal(8)
        };
        let s = run(&g, &cpu, &two);
        assert_eq!(s.prediction.makespan_ms, 40.0);
        assert_eq!(s.prediction.lower_bound_ms, 40.0, "bounded by the cores");
        // Waiting work needs no core: 8 jobs of 10 ms wait + 10 ms CPU
        // overlap their waits.
        let mixed = |_: JobView<'_>, _: &mut SplitMix64| Work {
            wait_ms: 10.0,
            cpu_ms: 10.0,
        };
        let m = run(&g, &mixed, &two).prediction;
        assert_eq!((m.makespan_ms, m.lower_bound_ms), (50.0, 40.0));
        // A CPU 7 times slower: 70 ms of CPU per job.
        let slow = Model {
            cpu_factor: 7.0,
            ..Model::ideal(8)
        };
        assert_eq!(run(&g, &cpu, &slow).prediction.makespan_ms, 70.0);
    }

    #[test]
    fn a_slot_starts_cold_once() {
        // 8 jobs of 10 ms on 2 slots that start cold (100 ms): each slot's
        // first job waits; later ones reuse the warm slot.
        let g = shape(Shape::Independent, 8, 1);
        let model = Model {
            cold_start_ms: 100.0,
            ..Model::ideal(2)
        };
        let s = run(
            &g,
            &|j, _| Work {
                wait_ms: f64::from(j.work_duration_ms),
                cpu_ms: 0.0,
            },
            &model,
        );
        assert_eq!(s.prediction.makespan_ms, 140.0);
        assert_eq!(s.queue_wait[0], 100.0, "started after the cold start");
        assert_eq!(s.queue_wait[2], 110.0, "waited for a warm slot");
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

        /// Whatever the slots, CPUs, batches and stages, every job
        /// completes, no run beats its lower bound, and with a slot and a
        /// CPU per job, barriers between stages never make a run faster.
        #[test]
        fn every_model_respects_its_bounds(
            jobs in 1u32..200,
            seed in 0u64..1000,
            workers in 1usize..16,
            cores in proptest::option::of(1usize..6),
            batch in 1usize..12,
            batched in proptest::bool::ANY,
            which in 0usize..3,
            cpu_share in 0.0f64..1.0,
        ) {
            let s = [Shape::Independent, Shape::Chains { length: 5 }, Shape::Layered { width: 6, max_deps: 2 }][which];
            let g = shape(s, jobs, seed);
            let work = |j: JobView<'_>, _: &mut SplitMix64| {
                let t = f64::from(j.index.0 % 11 + 1);
                Work { wait_ms: t * (1.0 - cpu_share), cpu_ms: t * cpu_share }
            };
            let model = Model {
                slots: if batched { Slots::Batches { invocations: workers, batch } } else { Slots::Jobs(workers) },
                cores,
                notify: Latency::Observed(vec![0.0, 1.0, 3.0]),
                seed,
                ..Model::ideal(workers)
            };
            let p = run(&g, &work, &model).prediction;
            prop_assert_eq!(p.jobs, u64::from(jobs));
            prop_assert!(p.makespan_ms + 1e-9 >= p.lower_bound_ms, "{:?}", p);
            let levels: Vec<u32> = g.levels();
            // (Fixed latencies: draws would come in another order.)
            let wide = Model { slots: Slots::Jobs(jobs as usize), cores: None, notify: Latency::Fixed(1.0), ..model };
            let free = run(&g, &work, &wide).prediction;
            let staged = run(&g, &work, &Model { release: Release::Staged(levels), ..wide }).prediction;
            prop_assert!(staged.makespan_ms + 1e-9 >= free.makespan_ms, "{:?} vs {:?}", staged, free);
        }
    }
}
