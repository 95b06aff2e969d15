//! The scheduler state machine: literal cases for each rule, then property
//! tests over random DAGs, random completion orders, injected duplicates and
//! failures.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use dagbench_core::graph::{GraphBuilder, JobAttrs, JobGraph, JobIndex};
use dagbench_core::scheduler::{
    CompletionOutcome, FailureOutcome, JobState, RestoreError, Scheduler,
};
use proptest::prelude::*;

mod common;
use common::{arb_dag, build, descendants};

/// Builds a graph from `(id, deps)` pairs.
fn graph(jobs: &[(&str, &[&str])]) -> Arc<JobGraph> {
    let mut b = GraphBuilder::new();
    for (id, deps) in jobs {
        b.add_job(id, deps.iter(), JobAttrs::default()).unwrap();
    }
    Arc::new(b.finish().unwrap())
}

fn drain(s: &mut Scheduler) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(j) = s.pop_ready() {
        assert!(s.dispatched(j));
        out.push(s.graph().id(j).to_owned());
    }
    out
}

#[test]
fn diamond_runs_in_order_and_finishes_once() {
    let g = graph(&[("a", &[]), ("b", &["a"]), ("c", &["a"]), ("d", &["b", "c"])]);
    let mut s = Scheduler::new(g);
    assert_eq!(drain(&mut s), ["a"]);
    assert_eq!(
        s.completed_id("a"),
        CompletionOutcome::Accepted {
            released: 2,
            finished: false
        }
    );
    assert_eq!(drain(&mut s), ["b", "c"]);
    assert_eq!(
        s.completed_id("b"),
        CompletionOutcome::Accepted {
            released: 0,
            finished: false
        }
    );
    assert_eq!(s.completed_id("b"), CompletionOutcome::Duplicate);
    assert_eq!(
        s.completed_id("c"),
        CompletionOutcome::Accepted {
            released: 1,
            finished: false
        }
    );
    assert_eq!(drain(&mut s), ["d"]);
    assert_eq!(
        s.completed_id("d"),
        CompletionOutcome::Accepted {
            released: 0,
            finished: true
        }
    );
    assert!(s.is_finished());
    assert_eq!(s.completed_id("d"), CompletionOutcome::Duplicate);
    assert_eq!(s.completed_id("zz"), CompletionOutcome::Unknown);
    assert_eq!(s.progress().completed, 4);
}

#[test]
fn stray_and_unknown_completions_change_nothing() {
    let g = graph(&[("a", &[]), ("b", &["a"])]);
    let mut s = Scheduler::new(g);
    let before = s.progress();
    assert_eq!(s.completed_id("b"), CompletionOutcome::Premature);
    assert_eq!(s.completed_id("../x"), CompletionOutcome::Unknown);
    assert_eq!(s.failed_id("nope", "x"), FailureOutcome::Unknown);
    assert_eq!(s.progress(), before);
}

#[test]
fn only_jobs_in_flight_end_and_final_states_stay_final() {
    let g = graph(&[("a", &[]), ("b", &["a"]), ("merge", &["b"])]);
    let mut s = Scheduler::new(g);
    // `a` is ready but was never sent: a completion or failure of it is
    // stale, from another run or another time.
    assert_eq!(s.completed_id("a"), CompletionOutcome::Premature);
    assert_eq!(s.failed_id("a", "stale"), FailureOutcome::Premature);
    // A failure of pending `merge` sent before the run starts (the
    // malformed message that used to fail a run that then "completed").
    assert_eq!(
        s.failed_id(
            "merge",
            "work_duration_ms must be a non-negative whole number"
        ),
        FailureOutcome::Premature
    );
    assert_eq!(s.progress().failed, 0);
    for job in ["a", "b", "merge"] {
        assert_eq!(drain(&mut s), [job]);
        assert!(matches!(
            s.completed_id(job),
            CompletionOutcome::Accepted { .. }
        ));
    }
    assert!(s.is_finished());
    let p = s.progress();
    assert_eq!((p.completed, p.failed, p.blocked), (3, 0, 0));
    assert_eq!(
        s.failed_id("merge", "late"),
        FailureOutcome::Late(JobState::Completed)
    );
}

#[test]
fn failure_blocks_exactly_the_transitive_dependents() {
    //  a -> b -> c      x (independent)
    //   \-> d
    //  e -> c
    let g = graph(&[
        ("a", &[]),
        ("b", &["a"]),
        ("c", &["b", "e"]),
        ("d", &["a"]),
        ("e", &[]),
        ("x", &[]),
    ]);
    let mut s = Scheduler::new(g.clone());
    assert_eq!(drain(&mut s), ["a", "e", "x"]);
    assert_eq!(
        s.completed_id("a"),
        CompletionOutcome::Accepted {
            released: 2,
            finished: false
        }
    );
    assert_eq!(drain(&mut s), ["b", "d"]);
    assert_eq!(
        s.failed_id("b", "disk full"),
        FailureOutcome::Accepted {
            blocked: 1,
            finished: false
        }
    );
    assert_eq!(s.failed_id("b", "again"), FailureOutcome::Duplicate);
    let c = g.find("c").unwrap();
    assert_eq!(s.state(c), JobState::Blocked);
    assert_eq!(s.blocked_by(c), g.find("b"));
    assert_eq!(s.failure(g.find("b").unwrap()), Some("disk full"));
    // A late completion of the failed job and of the blocked job changes nothing.
    assert_eq!(
        s.completed_id("b"),
        CompletionOutcome::Late(JobState::Failed)
    );
    assert_eq!(
        s.completed_id("c"),
        CompletionOutcome::Late(JobState::Blocked)
    );
    // e completing releases nothing: c is blocked.
    assert_eq!(
        s.completed_id("e"),
        CompletionOutcome::Accepted {
            released: 0,
            finished: false
        }
    );
    assert_eq!(
        s.completed_id("d"),
        CompletionOutcome::Accepted {
            released: 0,
            finished: false
        }
    );
    assert_eq!(
        s.completed_id("x"),
        CompletionOutcome::Accepted {
            released: 0,
            finished: true
        }
    );
    let p = s.progress();
    assert_eq!((p.completed, p.failed, p.blocked), (4, 1, 1));
}

#[test]
fn restore_resumes_without_recomputing() {
    let g = graph(&[("a", &[]), ("b", &["a"]), ("c", &["b"]), ("d", &[])]);
    let mut s = Scheduler::new(g.clone());
    let done = [
        g.find("a").unwrap(),
        g.find("b").unwrap(),
        g.find("a").unwrap(),
    ];
    assert_eq!(s.restore(done), Ok(2));
    assert_eq!(drain(&mut s), ["c", "d"]);
    assert_eq!(s.completed_id("b"), CompletionOutcome::Duplicate);
    assert_eq!(s.restore([]), Err(RestoreError::NotFresh));

    let mut s = Scheduler::new(g.clone());
    let err = s.restore([g.find("c").unwrap()]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "job \"c\" is recorded as completed but its dependency \"b\" is not"
    );
    // A rejected restore leaves a fresh run.
    assert_eq!(drain(&mut s), ["a", "d"]);

    let mut s = Scheduler::new(graph(&[("a", &[])]));
    let all = [JobIndex(0)];
    assert_eq!(s.restore(all), Ok(1));
    assert!(s.is_finished());
    // Already finished at restore: no later event claims to finish the run.
    assert_eq!(s.completed(JobIndex(0)), CompletionOutcome::Duplicate);
}

#[test]
fn unpopped_job_is_handed_out_again_first() {
    let g = graph(&[("a", &[]), ("b", &[])]);
    let mut s = Scheduler::new(g);
    let a = s.pop_ready().unwrap();
    s.unpop_ready(a);
    assert_eq!(drain(&mut s), ["a", "b"]);
}

#[derive(Debug, Clone)]
enum Action {
    /// Complete the k-th in-flight job.
    Complete(prop::sample::Index),
    /// Fail the k-th in-flight job.
    Fail(prop::sample::Index),
    /// Re-send the completion of the k-th completed job.
    Duplicate(prop::sample::Index),
    /// Complete a job whose dependencies are not all done.
    Premature(prop::sample::Index),
    /// Complete the last in-flight job (draining after the script).
    CompleteLast,
}

fn arb_action() -> impl Strategy<Value = Action> {
    prop_oneof![
        6 => any::<prop::sample::Index>().prop_map(Action::Complete),
        1 => any::<prop::sample::Index>().prop_map(Action::Fail),
        2 => any::<prop::sample::Index>().prop_map(Action::Duplicate),
        1 => any::<prop::sample::Index>().prop_map(Action::Premature),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn scheduling_invariants_hold(
        (deps, _ranks) in arb_dag(),
        actions in prop::collection::vec(arb_action(), 0..400),
    ) {
        let n = deps.len();
        let g = build(&deps);
        let mut s = Scheduler::new(g.clone());
        let index_of = |job: usize| g.find(&format!("j{job}")).unwrap();
        let job_of = |ix: JobIndex| g.id(ix)[1..].parse::<usize>().unwrap();

        let mut completed: Vec<usize> = Vec::new();
        let mut completed_set = HashSet::new();
        let mut in_flight: Vec<usize> = Vec::new();
        let mut ever_ready = vec![0u32; n];
        let mut failed: Vec<usize> = Vec::new();
        let mut finishes = 0;

        let mut take_ready = |s: &mut Scheduler, in_flight: &mut Vec<usize>, completed_set: &HashSet<usize>| {
            while let Some(ix) = s.pop_ready() {
                let job = job_of(ix);
                // Never ready before every dependency completed.
                for d in &deps[job] {
                    assert!(completed_set.contains(d), "j{job} ready before j{d} completed");
                }
                ever_ready[job] += 1;
                assert!(s.dispatched(ix));
                in_flight.push(job);
            }
        };
        take_ready(&mut s, &mut in_flight, &completed_set);

        let mut actions = actions.into_iter();
        loop {
            // Once the scripted actions run out, complete everything left.
            let action = match actions.next() {
                Some(action) => action,
                None if !in_flight.is_empty() => Action::CompleteLast,
                None => break,
            };
            let before = s.progress();
            let pick = |k: &prop::sample::Index, len: usize| k.index(len);
            match action {
                Action::Complete(_) | Action::CompleteLast if !in_flight.is_empty() => {
                    let k = match &action {
                        Action::Complete(k) => pick(k, in_flight.len()),
                        _ => in_flight.len() - 1,
                    };
                    let job = in_flight.swap_remove(k);
                    match s.completed(index_of(job)) {
                        CompletionOutcome::Accepted { finished, .. } => finishes += u32::from(finished),
                        other => panic!("in-flight j{job} completion gave {other:?}"),
                    }
                    completed.push(job);
                    completed_set.insert(job);
                }
                Action::Fail(k) if !in_flight.is_empty() => {
                    let job = in_flight.swap_remove(k.index(in_flight.len()));
                    match s.failed(index_of(job), "injected") {
                        FailureOutcome::Accepted { finished, .. } => finishes += u32::from(finished),
                        other => panic!("in-flight j{job} failure gave {other:?}"),
                    }
                    failed.push(job);
                }
                Action::Duplicate(k) if !completed.is_empty() => {
                    let job = completed[k.index(completed.len())];
                    prop_assert_eq!(s.completed(index_of(job)), CompletionOutcome::Duplicate);
                    prop_assert_eq!(s.progress(), before);
                }
                Action::Premature(k) => {
                    let job = k.index(n);
                    if s.state(index_of(job)) == JobState::Pending {
                        prop_assert_eq!(s.completed(index_of(job)), CompletionOutcome::Premature);
                        prop_assert_eq!(s.progress(), before);
                    }
                }
                _ => {}
            }
            take_ready(&mut s, &mut in_flight, &completed_set);
        }

        prop_assert!(s.is_finished());
        prop_assert_eq!(finishes, 1, "the run finishes exactly once");
        // Blocked = union of the descendants of failed jobs, nothing else.
        let mut expected_blocked = BTreeSet::new();
        for &f in &failed {
            expected_blocked.extend(descendants(&deps, f));
        }
        let blocked: BTreeSet<usize> = (0..n)
            .filter(|&j| s.state(index_of(j)) == JobState::Blocked)
            .collect();
        prop_assert_eq!(&blocked, &expected_blocked);
        for &b in &blocked {
            let by = job_of(s.blocked_by(index_of(b)).unwrap());
            prop_assert!(failed.contains(&by) && descendants(&deps, by).contains(&b));
        }
        // Every job not blocked became ready exactly once; blocked ones never.
        for (job, &times) in ever_ready.iter().enumerate() {
            let expected = u32::from(!blocked.contains(&job));
            prop_assert_eq!(times, expected, "j{}", job);
        }
        let p = s.progress();
        prop_assert_eq!((p.completed, p.failed, p.blocked), (completed.len() as u64, failed.len() as u64, blocked.len() as u64));
    }

    #[test]
    fn restore_of_any_downward_closed_set_equals_replay(
        (deps, ranks) in arb_dag(),
        cut in 0usize..40,
    ) {
        // The completed set of a real run is downward closed: take the jobs
        // of rank < cut (ranks are topological).
        let g = build(&deps);
        let done: Vec<usize> = (0..deps.len()).filter(|&j| ranks[j] < cut).collect();
        let mut restored = Scheduler::new(g.clone());
        restored.restore(done.iter().map(|j| g.find(&format!("j{j}")).unwrap())).unwrap();

        let mut replayed = Scheduler::new(g.clone());
        let mut order = done.clone();
        order.sort_by_key(|&j| ranks[j]);
        for j in order {
            let ix = g.find(&format!("j{j}")).unwrap();
            prop_assert!(replayed.dispatched(ix), "j{} is ready when its turn comes", j);
            let accepted = matches!(replayed.completed(ix), CompletionOutcome::Accepted { .. });
            prop_assert!(accepted);
        }
        for j in 0..deps.len() {
            let ix = JobIndex(j as u32);
            let (a, b) = (restored.state(ix), replayed.state(ix));
            prop_assert_eq!(a, b);
        }
        let mut ready_a = Vec::new();
        while let Some(j) = restored.pop_ready() { ready_a.push(j); }
        let mut ready_b = Vec::new();
        while let Some(j) = replayed.pop_ready() { ready_b.push(j); }
        ready_a.sort();
        ready_b.sort();
        prop_assert_eq!(ready_a, ready_b);
    }
}
