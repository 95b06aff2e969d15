//! From daily sequences to the job graph of a run (delay-model.md §2, §5):
//! one leg job per flight chained per aircraft, one sequence job per
//! aircraft, one merge job; optional crew connections make it a general DAG
//! (acyclic by construction: feeders always rank below receivers).
//!
//! Each job's details — everything it must compute — travel as a JSON object
//! at `<run>/jobs/<job_id>.json`, referenced by the message's `input_key`, so
//! a processor anywhere needs nothing but the message and the store.

use std::collections::HashMap;

use dagbench_core::JobGraph;
use dagbench_core::graph::{GraphBuilder, JobAttrs};
use dagbench_core::ids::{JobId, RunId, SequenceId};
use dagbench_core::keys;
use dagbench_core::rng::{SplitMix64, mix64};
use serde::{Deserialize, Serialize};

use crate::model::LegSchedule;
use crate::sequence::Sequence;

/// Crew connections: feeder landing to receiver takeoff, minutes.
pub const CREW_CONNECTION: std::ops::RangeInclusive<u32> = 30..=120;
/// Minimum crew connection time; `crew_slack = connection − 30`.
pub const MIN_CREW_CONNECTION: u32 = 30;
/// At most this many feeders per receiving leg.
pub const MAX_FEEDERS: usize = 2;
const CREW_SALT: u64 = 0xC4E3_C0FF_EE00_0005;

/// What a run computes.
#[derive(Debug, Clone, PartialEq)]
pub struct AircraftRun {
    pub run_id: RunId,
    /// Keys every random draw of the delay model.
    pub run_seed: u64,
    /// Monte Carlo samples per leg.
    pub samples: u32,
    /// Probability of accepting each candidate crew connection; `None` = no crew edges.
    pub crew_probability: Option<f64>,
}

/// A crew feeder of a leg.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeederRef {
    pub job_id: JobId,
    pub crew_slack: i32,
}

/// A leg job: compute this leg's delays for every sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegJob {
    pub run_id: RunId,
    pub run_seed: u64,
    pub samples: u32,
    pub sequence_id: SequenceId,
    pub leg: u32,
    pub flight_no: String,
    pub origin: String,
    pub destination: String,
    pub takeoff: u32,
    pub landing: u32,
    pub previous_landing: Option<u32>,
    /// The previous leg's job, whose `arr_delay` this leg reads.
    pub previous_job: Option<JobId>,
    #[serde(default)]
    pub feeders: Vec<FeederRef>,
}

impl LegJob {
    pub fn schedule(&self) -> LegSchedule {
        LegSchedule {
            leg: self.leg,
            takeoff: self.takeoff,
            landing: self.landing,
            previous_landing: self.previous_landing,
        }
    }
}

/// A sequence job: percentiles of one aircraft from all its legs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequenceJob {
    pub run_id: RunId,
    pub samples: u32,
    pub sequence_id: SequenceId,
    /// Leg jobs in leg order.
    pub legs: Vec<JobId>,
    pub last_landing: u32,
}

/// The merge job: the run's merged percentiles from every sequence's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeJob {
    pub run_id: RunId,
    pub sequences: Vec<SequenceId>,
}

/// The details object of a job, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobDetails {
    Leg(LegJob),
    Sequence(SequenceJob),
    Merge(MergeJob),
}

/// The most Monte Carlo samples a job may ask for (a leg of a million
/// samples holds ~30 MB of delays).
pub const MAX_SAMPLES: u32 = 1_000_000;
/// The most legs of one aircraft's day (the rules allow 8).
pub const MAX_LEGS: u32 = 8;
/// The most sequences one merge job reads.
pub const MAX_MERGED_SEQUENCES: usize = 1_000_000;

impl JobDetails {
    /// Checks every size a job would allocate by, before it does: details
    /// come from a bucket anyone with access may write to.
    ///
    /// # Errors
    /// A reason naming the field, its value and its limit.
    pub fn check_bounds(&self) -> Result<(), String> {
        let above = |field: &str, value: u64, limit: u64| {
            Err(format!(
                "job details field `{field}` is {value}, above the limit of {limit}"
            ))
        };
        let samples = match self {
            JobDetails::Leg(j) => j.samples,
            JobDetails::Sequence(j) => j.samples,
            JobDetails::Merge(_) => 0,
        };
        if samples == 0 && !matches!(self, JobDetails::Merge(_)) {
            return Err("job details field `samples` is 0; it must be at least 1".into());
        }
        if samples > MAX_SAMPLES {
            return above("samples", samples.into(), MAX_SAMPLES.into());
        }
        match self {
            JobDetails::Leg(j) => {
                if j.leg == 0 || j.leg > MAX_LEGS {
                    return Err(format!(
                        "job details field `leg` is {}; legs are numbered 1..={MAX_LEGS}",
                        j.leg
                    ));
                }
                if j.feeders.len() > MAX_FEEDERS {
                    return above("feeders", j.feeders.len() as u64, MAX_FEEDERS as u64);
                }
            }
            JobDetails::Sequence(j) => {
                if j.legs.is_empty() || j.legs.len() > MAX_LEGS as usize {
                    return Err(format!(
                        "job details field `legs` holds {} jobs; a day has 1..={MAX_LEGS}",
                        j.legs.len()
                    ));
                }
            }
            JobDetails::Merge(j) => {
                if j.sequences.len() > MAX_MERGED_SEQUENCES {
                    return above(
                        "sequences",
                        j.sequences.len() as u64,
                        MAX_MERGED_SEQUENCES as u64,
                    );
                }
            }
        }
        Ok(())
    }

    pub fn kind(&self) -> &'static str {
        match self {
            JobDetails::Leg(_) => "leg",
            JobDetails::Sequence(_) => "sequence",
            JobDetails::Merge(_) => "merge",
        }
    }

    pub fn run_id(&self) -> &RunId {
        match self {
            JobDetails::Leg(j) => &j.run_id,
            JobDetails::Sequence(j) => &j.run_id,
            JobDetails::Merge(j) => &j.run_id,
        }
    }
}

/// `s{sequence_id}-l{leg}`
pub fn leg_job_id(id: SequenceId, leg: u32) -> JobId {
    JobId::new(format!("s{id}-l{leg}")).expect("a valid id")
}

/// `s{sequence_id}-pct`
pub fn sequence_job_id(id: SequenceId) -> JobId {
    JobId::new(format!("s{id}-pct")).expect("a valid id")
}

/// `merge`
pub fn merge_job_id() -> JobId {
    JobId::new("merge").expect("a valid id")
}

/// The graph of a run and the details of each of its jobs (graph order).
#[derive(Debug)]
pub struct AircraftGraph {
    pub graph: JobGraph,
    pub details: Vec<(JobId, JobDetails)>,
    pub crew_edges: usize,
}

/// Builds the job graph of `run` over `sequences`.
pub fn build_aircraft_graph(sequences: &[Sequence], run: &AircraftRun) -> AircraftGraph {
    let feeders = match run.crew_probability {
        Some(p) => crew_connections(sequences, p, run.run_seed),
        None => HashMap::new(),
    };
    let crew_edges = feeders.values().map(Vec::len).sum();
    let mut builder = GraphBuilder::with_capacity(
        sequences.iter().map(|s| s.flights.len() + 1).sum::<usize>() + 1,
    );
    let mut details = Vec::new();
    let mut add = |builder: &mut GraphBuilder, job: JobId, deps: Vec<JobId>, d: JobDetails| {
        let input_key = keys::job_details(&run.run_id, &job);
        let attrs = JobAttrs {
            input_key: Some(input_key.as_str()),
            kind: Some(d.kind()),
            ..JobAttrs::default()
        };
        builder
            .add_job(job.as_str(), deps.iter().map(JobId::as_str), attrs)
            .expect("aircraft job ids are unique and valid");
        details.push((job, d));
    };
    for seq in sequences {
        let mut leg_jobs = Vec::with_capacity(seq.flights.len());
        for (schedule, flight) in LegSchedule::of_sequence(seq).into_iter().zip(&seq.flights) {
            let job = leg_job_id(seq.sequence_id, schedule.leg);
            let previous_job = leg_jobs.last().cloned();
            let my_feeders = feeders
                .get(&(seq.sequence_id, schedule.leg))
                .cloned()
                .unwrap_or_default();
            let deps: Vec<JobId> = previous_job
                .iter()
                .cloned()
                .chain(my_feeders.iter().map(|f| f.job_id.clone()))
                .collect();
            let details = JobDetails::Leg(LegJob {
                run_id: run.run_id.clone(),
                run_seed: run.run_seed,
                samples: run.samples,
                sequence_id: seq.sequence_id,
                leg: schedule.leg,
                flight_no: flight.flight_no.clone(),
                origin: flight.origin.clone(),
                destination: flight.destination.clone(),
                takeoff: schedule.takeoff,
                landing: schedule.landing,
                previous_landing: schedule.previous_landing,
                previous_job,
                feeders: my_feeders,
            });
            add(&mut builder, job.clone(), deps, details);
            leg_jobs.push(job);
        }
        let details = JobDetails::Sequence(SequenceJob {
            run_id: run.run_id.clone(),
            samples: run.samples,
            sequence_id: seq.sequence_id,
            legs: leg_jobs.clone(),
            last_landing: seq.last_landing(),
        });
        add(
            &mut builder,
            sequence_job_id(seq.sequence_id),
            leg_jobs,
            details,
        );
    }
    let merge = JobDetails::Merge(MergeJob {
        run_id: run.run_id.clone(),
        sequences: sequences.iter().map(|s| s.sequence_id).collect(),
    });
    let deps = sequences
        .iter()
        .map(|s| sequence_job_id(s.sequence_id))
        .collect();
    add(&mut builder, merge_job_id(), deps, merge);
    let graph = builder
        .finish()
        .expect("aircraft graphs are acyclic by construction");
    AircraftGraph {
        graph,
        details,
        crew_edges,
    }
}

/// Crew feeders per receiving leg `(sequence, leg)` (§5).
fn crew_connections(
    sequences: &[Sequence],
    probability: f64,
    seed: u64,
) -> HashMap<(SequenceId, u32), Vec<FeederRef>> {
    let mut rng = SplitMix64::new(mix64(seed ^ CREW_SALT));
    // A seeded rank per aircraft: feeders must rank below receivers.
    let mut order: Vec<usize> = (0..sequences.len()).collect();
    for i in (1..order.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        order.swap(i, j);
    }
    let mut rank = vec![0usize; sequences.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r;
    }
    // Arrivals per airport, sorted by landing time.
    let mut arrivals: HashMap<&str, Vec<(u32, usize, u32)>> = HashMap::new();
    for (a, seq) in sequences.iter().enumerate() {
        for (i, f) in seq.flights.iter().enumerate() {
            arrivals
                .entry(f.destination.as_str())
                .or_default()
                .push((f.arrival, a, i as u32 + 1));
        }
    }
    for list in arrivals.values_mut() {
        list.sort_unstable();
    }
    // Acceptance threshold on a 53-bit uniform, so the draw is exact.
    let threshold = (probability.clamp(0.0, 1.0) * (1u64 << 53) as f64) as u64;
    let mut feeders: HashMap<(SequenceId, u32), Vec<FeederRef>> = HashMap::new();
    for (b, seq) in sequences.iter().enumerate() {
        for (j, f) in seq.flights.iter().enumerate() {
            let Some(candidates) = arrivals.get(f.origin.as_str()) else {
                continue;
            };
            let earliest = f.takeoff.saturating_sub(*CREW_CONNECTION.end());
            let from = candidates.partition_point(|&(landing, _, _)| landing < earliest);
            let mut mine = Vec::new();
            for &(landing, a, i) in &candidates[from..] {
                if landing + CREW_CONNECTION.start() > f.takeoff {
                    break;
                }
                if a == b || rank[a] >= rank[b] {
                    continue;
                }
                if rng.next_u64() >> 11 >= threshold {
                    continue;
                }
                mine.push(FeederRef {
                    job_id: leg_job_id(sequences[a].sequence_id, i),
                    crew_slack: (f.takeoff - landing - MIN_CREW_CONNECTION) as i32,
                });
                if mine.len() == MAX_FEEDERS {
                    break;
                }
            }
            if !mine.is_empty() {
                feeders.insert((seq.sequence_id, j as u32 + 1), mine);
            }
        }
    }
    feeders
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Airports, GeneratorOptions, generate_aircraft_daily_sequences};

    fn run(crew: Option<f64>) -> AircraftRun {
        AircraftRun {
            run_id: RunId::new("r1").unwrap(),
            run_seed: 42,
            samples: 100,
            crew_probability: crew,
        }
    }

    #[test]
    fn shape_of_the_graph() {
        let airports = Airports::embedded();
        let seqs =
            generate_aircraft_daily_sequences(20, 1, &airports, &GeneratorOptions::default())
                .unwrap();
        let legs: usize = seqs.iter().map(|s| s.flights.len()).sum();
        let g = build_aircraft_graph(&seqs, &run(None));
        assert_eq!(g.graph.len(), legs + 20 + 1);
        assert_eq!(g.crew_edges, 0);
        // Legs chain, sequence depends on its legs, merge on every sequence.
        assert_eq!(g.graph.stats().edges as usize, (legs - 20) + legs + 20);
        let longest = seqs.iter().map(|s| s.flights.len()).max().unwrap() as u32;
        assert_eq!(g.graph.stats().levels, longest + 2);
        let first = g.graph.job(g.graph.find("s1-l1").unwrap());
        assert_eq!(
            (first.kind, first.input_key),
            (Some("leg"), Some("r1/jobs/s1-l1.json"))
        );
        let merge = g.graph.find("merge").unwrap();
        assert!(g.graph.dependents(merge).is_empty());
        // Details round-trip as JSON with their kind.
        for (job, d) in &g.details {
            let json = serde_json::to_string(d).unwrap();
            assert!(
                json.starts_with(&format!("{{\"kind\":\"{}\"", d.kind())),
                "{job}: {json}"
            );
            assert_eq!(&serde_json::from_str::<JobDetails>(&json).unwrap(), d);
        }
    }

    #[test]
    fn crew_edges_obey_the_rules() {
        let airports = Airports::embedded();
        let options = GeneratorOptions {
            homes: Some(vec!["LHR".into(), "CDG".into(), "AMS".into()]),
            ..GeneratorOptions::default()
        };
        let seqs = generate_aircraft_daily_sequences(60, 4, &airports, &options).unwrap();
        let g = build_aircraft_graph(&seqs, &run(Some(0.3)));
        assert!(
            g.crew_edges > 0,
            "a busy 3-hub network has crew connections"
        );
        let by_id: HashMap<String, &LegJob> = g
            .details
            .iter()
            .filter_map(|(id, d)| match d {
                JobDetails::Leg(l) => Some((id.to_string(), l)),
                _ => None,
            })
            .collect();
        let mut total = 0;
        for leg in by_id.values() {
            assert!(leg.feeders.len() <= MAX_FEEDERS);
            for f in &leg.feeders {
                total += 1;
                let feeder = by_id[f.job_id.as_str()];
                assert_ne!(feeder.sequence_id, leg.sequence_id);
                assert_eq!(feeder.destination, leg.origin);
                let connection = leg.takeoff - feeder.landing;
                assert!(CREW_CONNECTION.contains(&connection));
                assert_eq!(f.crew_slack, connection as i32 - 30);
            }
        }
        assert_eq!(total, g.crew_edges);
        assert_eq!(g.graph.stats().edges as usize, {
            let legs: usize = seqs.iter().map(|s| s.flights.len()).sum();
            (legs - 60) + legs + 60 + total
        });
        // Deterministic per seed; none at probability 0.
        let again = build_aircraft_graph(&seqs, &run(Some(0.3)));
        assert_eq!(again.graph.to_json_string(), g.graph.to_json_string());
        assert_eq!(build_aircraft_graph(&seqs, &run(Some(0.0))).crew_edges, 0);
    }
}
