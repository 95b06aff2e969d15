//! The run's bookkeeping under random event sequences: completions and
//! failures delivered in any order and more than once, completions and dead
//! letters of other runs and of no run, premature ones, refused sends. A run
//! trusts only its own messages about jobs in flight.

use std::collections::BTreeSet;

use dagbench_core::graph::JobIndex;
use dagbench_core::ids::RunId;
use dagbench_core::scheduler::{JobState, Scheduler};
use dagbench_core::time::Timestamp;
use dagbench_core::tracker::{Effect, RunStatus, RunTracker};
use proptest::prelude::*;

mod common;
use common::{arb_dag, build, descendants};

const RUN: &str = "r1";

fn completion(run: Option<&str>, job: &str, ok: bool) -> String {
    // On the wire, a job id is qualified by its run.
    let job = format!("{}.{job}", run.unwrap_or(RUN));
    let run = run.map_or(String::new(), |r| format!(",\"run_id\":\"{r}\""));
    let outcome = if ok {
        format!("\"status\":\"completed\",\"output_key\":\"output/{job}.json\"")
    } else {
        "\"status\":\"failed\",\"error\":\"injected\"".to_owned()
    };
    format!(
        "{{\"job_id\":\"{job}\",{outcome},\"processing_time_ms\":1.5,\"completed_at\":\"{}\",\"test_run_id\":\"t\"{run}}}",
        Timestamp::from_unix_millis(1_769_000_000_000)
    )
}

#[derive(Debug, Clone)]
enum Action {
    /// Send up to ten ready jobs; the queue will refuse those whose flag is
    /// false, and answers later (completions may come back first).
    Dispatch(Vec<bool>),
    /// The queue answers the k-th send still unanswered.
    Answer(prop::sample::Index),
    /// A processor completes the k-th job in flight (the message goes to
    /// the outgoing queue, not yet delivered).
    Complete(prop::sample::Index),
    /// A processor reports the k-th job in flight failed.
    Fail(prop::sample::Index),
    /// The outgoing queue delivers the k-th message it holds (any order),
    /// and may keep it for a second delivery.
    Deliver(prop::sample::Index, bool),
    /// Another run's completion or failure of any job.
    Foreign(prop::sample::Index, bool),
    /// A completion with no run id (sent by hand, or by another tool).
    NoRun(prop::sample::Index),
    /// A completion of this run for any job, whatever its state.
    Stray(prop::sample::Index, bool),
    /// A dead letter of this run, of another run, or of no run.
    DeadLetter(prop::sample::Index, u8),
}

fn arb_action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => prop::collection::vec(prop::bool::weighted(0.9), 1..10).prop_map(Action::Dispatch),
        3 => any::<prop::sample::Index>().prop_map(Action::Answer),
        5 => any::<prop::sample::Index>().prop_map(Action::Complete),
        1 => any::<prop::sample::Index>().prop_map(Action::Fail),
        6 => (any::<prop::sample::Index>(), any::<bool>()).prop_map(|(k, keep)| Action::Deliver(k, keep)),
        1 => (any::<prop::sample::Index>(), any::<bool>()).prop_map(|(k, ok)| Action::Foreign(k, ok)),
        1 => any::<prop::sample::Index>().prop_map(Action::NoRun),
        1 => (any::<prop::sample::Index>(), any::<bool>()).prop_map(|(k, ok)| Action::Stray(k, ok)),
        1 => (any::<prop::sample::Index>(), 0u8..3).prop_map(|(k, who)| Action::DeadLetter(k, who)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn a_run_trusts_only_its_own_jobs_in_flight(
        (deps, _ranks) in arb_dag(),
        actions in prop::collection::vec(arb_action(), 0..300),
    ) {
        let n = deps.len();
        let g = build(&deps);
        let mut t = RunTracker::new(Scheduler::new(g.clone()), RunId::new(RUN).unwrap(), 0);
        let id = |j: usize| format!("j{j}");
        let index_of = |j: usize| g.find(&id(j)).unwrap();
        let mut outgoing: Vec<(String, String)> = Vec::new();
        let mut next_message = 0u64;
        let mut message_id = || {
            next_message += 1;
            format!("m{next_message}")
        };
        // Sends not yet answered, and the jobs they will see refused (which
        // no processor can ever get).
        let mut unanswered: Vec<(dagbench_core::tracker::Batch, Vec<bool>)> = Vec::new();
        let mut refused: BTreeSet<u32> = BTreeSet::new();
        let in_flight = |t: &RunTracker, refused: &BTreeSet<u32>| -> Vec<usize> {
            (0..n)
                .filter(|&j| t.scheduler().state(index_of(j)) == JobState::Dispatched)
                .filter(|&j| !refused.contains(&index_of(j).0))
                .collect()
        };

        // Applies one message, checking that final states stay final and
        // that foreign messages change nothing at all.
        let apply = |t: &mut RunTracker, mid: &str, body: &str, dead: bool| -> Effect {
            let states: Vec<JobState> = (0..n).map(|j| t.scheduler().state(index_of(j))).collect();
            let before = t.progress();
            let effect = if dead {
                t.dead_letter(mid, body.as_bytes())
            } else {
                t.completion(mid, body.as_bytes(), 10)
            };
            for (j, &s) in states.iter().enumerate() {
                if s.is_terminal() {
                    assert_eq!(t.scheduler().state(index_of(j)), s, "j{j} left its final state");
                }
            }
            if effect != Effect::Accepted {
                assert_eq!(t.progress(), before, "{effect:?} changed the run: {body}");
            }
            effect
        };

        for action in actions {
            match action {
                Action::Dispatch(flags) => {
                    if let Some(batch) = t.next_batch(flags.len(), 5) {
                        let flags = flags[..batch.jobs.len()].to_vec();
                        for (j, ok) in batch.jobs.iter().zip(&flags) {
                            if !ok {
                                refused.insert(j.0);
                            }
                        }
                        unanswered.push((batch, flags));
                    }
                }
                Action::Answer(k) if !unanswered.is_empty() => {
                    let (batch, flags) = unanswered.swap_remove(k.index(unanswered.len()));
                    t.sent(&batch, &flags);
                    for j in &batch.jobs {
                        refused.remove(&j.0);
                    }
                }
                Action::Complete(k) | Action::Fail(k) if !in_flight(&t, &refused).is_empty() => {
                    let flying = in_flight(&t, &refused);
                    let job = flying[k.index(flying.len())];
                    let ok = matches!(action, Action::Complete(_));
                    outgoing.push((message_id(), completion(Some(RUN), &id(job), ok)));
                }
                Action::Deliver(k, keep) if !outgoing.is_empty() => {
                    let i = k.index(outgoing.len());
                    let (mid, body) = if keep {
                        outgoing[i].clone()
                    } else {
                        outgoing.swap_remove(i)
                    };
                    let effect = apply(&mut t, &mid, &body, false);
                    prop_assert!(effect != Effect::Foreign);
                }
                Action::Foreign(k, ok) => {
                    let body = completion(Some("r0"), &id(k.index(n)), ok);
                    prop_assert_eq!(apply(&mut t, &message_id(), &body, false), Effect::Foreign);
                }
                Action::NoRun(k) => {
                    let body = completion(None, &id(k.index(n)), true);
                    prop_assert_eq!(apply(&mut t, &message_id(), &body, false), Effect::Foreign);
                }
                Action::Stray(k, ok) => {
                    let job = k.index(n);
                    let state = t.scheduler().state(index_of(job));
                    let body = completion(Some(RUN), &id(job), ok);
                    let effect = apply(&mut t, &message_id(), &body, false);
                    // Only a job in flight can end.
                    if state != JobState::Dispatched {
                        prop_assert_eq!(effect, Effect::Ignored);
                    }
                }
                Action::DeadLetter(k, who) => {
                    let job = id(k.index(n));
                    let body = match who {
                        0 => format!("{{\"job_id\":\"{RUN}.{job}\",\"run_id\":\"{RUN}\"}}"),
                        1 => format!("{{\"job_id\":\"r0.{job}\",\"run_id\":\"r0\"}}"),
                        _ => format!("{{\"job_id\":\"{job}\"}}"),
                    };
                    let effect = apply(&mut t, &message_id(), &body, true);
                    if who != 0 {
                        prop_assert_eq!(effect, Effect::Foreign);
                    }
                }
                _ => {}
            }
        }
        // Drain: every message still queued is delivered, then every job in
        // flight completes, until the run ends.
        for (mid, body) in std::mem::take(&mut outgoing) {
            apply(&mut t, &mid, &body, false);
        }
        for (batch, flags) in std::mem::take(&mut unanswered) {
            t.sent(&batch, &flags);
        }
        refused.clear();
        while !t.is_finished() {
            while let Some(batch) = t.next_batch(10, 20) {
                let all = vec![true; batch.jobs.len()];
                t.sent(&batch, &all);
            }
            for job in in_flight(&t, &refused) {
                let body = completion(Some(RUN), &id(job), true);
                prop_assert_eq!(apply(&mut t, &message_id(), &body, false), Effect::Accepted);
            }
        }

        let p = t.progress();
        let status = t.final_status();
        let states: Vec<JobState> = (0..n).map(|j| t.scheduler().state(JobIndex(j as u32))).collect();
        let outcome = t.finish(status, 100);
        prop_assert_eq!(
            status == RunStatus::Completed,
            p.completed == p.total,
            "completed exactly when every job completed"
        );
        let failed_listed: BTreeSet<u32> = outcome.failed.iter().map(|(j, _)| j.0).collect();
        let failed_states: BTreeSet<u32> = states
            .iter()
            .enumerate()
            .filter(|(_, s)| **s == JobState::Failed)
            .map(|(j, _)| j as u32)
            .collect();
        prop_assert_eq!(&failed_listed, &failed_states, "the failed list is the failed jobs");
        prop_assert_eq!(p.failed as usize, failed_listed.len());
        // Blocked jobs are exactly the descendants of failed ones.
        let mut expected_blocked = BTreeSet::new();
        for &f in &failed_listed {
            let job: usize = g.id(JobIndex(f))[1..].parse().unwrap();
            expected_blocked.extend(descendants(&deps, job).into_iter().map(|d| index_of(d).0));
        }
        let blocked: BTreeSet<u32> = states
            .iter()
            .enumerate()
            .filter(|(_, s)| **s == JobState::Blocked)
            .map(|(j, _)| j as u32)
            .collect();
        prop_assert_eq!(blocked, expected_blocked);
        prop_assert_eq!(p.completed + p.failed + p.blocked, p.total);
    }
}
