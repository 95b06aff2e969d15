//! The delay kernel against delay-model.md's published example, leg-wise
//! versus sequence-wise computation, crew feeders, and the calibration of
//! the default tables.

use dagbench_flight::model::{
    Feeder, LegDelays, LegSchedule, compute_leg, compute_sequence, key, sequence_key,
};
use dagbench_flight::stats::MetricStats;
use dagbench_flight::{Airports, GeneratorOptions, generate_aircraft_daily_sequences};

/// The example's five legs: (takeoff, landing).
const EXAMPLE: [(u32, u32); 5] = [(150, 190), (290, 330), (430, 565), (665, 800), (910, 1080)];

fn example_legs(samples: u32) -> Vec<LegDelays> {
    let k = key(42, "SEQ-1");
    let mut legs: Vec<LegDelays> = Vec::new();
    for (i, &(takeoff, landing)) in EXAMPLE.iter().enumerate() {
        let schedule = LegSchedule {
            leg: i as u32 + 1,
            takeoff,
            landing,
            previous_landing: i.checked_sub(1).map(|p| EXAMPLE[p].1),
        };
        let previous = legs.last().map(|l| l.arr_delay.clone());
        legs.push(compute_leg(k, &schedule, samples, previous.as_deref(), &[]).unwrap());
    }
    legs
}

#[test]
fn five_leg_example() {
    let legs = example_legs(1000);
    let pooled: Vec<i32> = legs
        .iter()
        .flat_map(|l| l.arr_delay.iter().copied())
        .collect();
    let m = MetricStats::from_values(&pooled);
    assert_eq!((m.count, m.sum), (5000, 80780));
    assert_eq!(
        [m.p50, m.p75, m.p90, m.p95, m.p99],
        [Some(2), Some(12), Some(47), Some(93), Some(235)]
    );
    assert_eq!(m.share_delayed, 0.2276);
    // Rows: sample leg dep arr primary propagated enroute slack.
    let row = |s: usize, leg: usize| {
        let l = &legs[leg - 1];
        [
            l.dep_delay[s],
            l.arr_delay[s],
            l.primary_delay[s],
            l.propagated_delay[s],
            l.enroute_delta[s],
            l.slack.unwrap(),
        ]
    };
    assert_eq!(row(0, 2), [9, 11, 9, 0, 2, 10]);
    assert_eq!(row(3, 3), [26, 23, 0, 26, -3, 10]);
    assert_eq!(legs[0].slack, None);
}

#[test]
fn legwise_equals_sequencewise_for_generated_days() {
    let airports = Airports::embedded();
    let seqs =
        generate_aircraft_daily_sequences(40, 9, &airports, &GeneratorOptions::default()).unwrap();
    for seq in &seqs {
        let k = sequence_key(7, seq.sequence_id);
        assert_eq!(k, key(7, &seq.sequence_id.0.to_string()));
        let whole = compute_sequence(k, seq, 300).unwrap();
        // One job per leg, each reading only its predecessor's arrival
        // delays (as a leg job reads them back from the store).
        let schedules = LegSchedule::of_sequence(seq);
        let mut previous: Option<Vec<i32>> = None;
        for (schedule, expected) in schedules.iter().zip(&whole) {
            let leg = compute_leg(k, schedule, 300, previous.as_deref(), &[]).unwrap();
            assert_eq!(&leg, expected);
            previous = Some(leg.arr_delay);
        }
        // Fewer samples are a prefix of more: sample s does not depend on N.
        let fewer = compute_sequence(k, seq, 100).unwrap();
        for (a, b) in fewer.iter().zip(&whole) {
            assert_eq!(a.arr_delay[..], b.arr_delay[..100]);
        }
    }
}

#[test]
fn crew_feeders_raise_propagated_delay() {
    let k = key(1, "5");
    let schedule = LegSchedule {
        leg: 2,
        takeoff: 400,
        landing: 500,
        previous_landing: Some(300),
    }; // slack 10
    let previous = vec![0, 20, 50, 5];
    let feeder = vec![100, 0, 10, 36];
    let without = compute_leg(k, &schedule, 4, Some(&previous), &[]).unwrap();
    let with = compute_leg(
        k,
        &schedule,
        4,
        Some(&previous),
        &[Feeder {
            crew_slack: 35,
            arrival_delays: &feeder,
        }],
    )
    .unwrap();
    assert_eq!(without.propagated_delay, vec![0, 10, 40, 0]);
    assert_eq!(with.propagated_delay, vec![65, 10, 40, 1]);
    // Only propagation changes; the draws are the same.
    assert_eq!(with.primary_delay, without.primary_delay);
    assert_eq!(with.enroute_delta, without.enroute_delta);
    for s in 0..4 {
        assert_eq!(
            with.dep_delay[s],
            with.propagated_delay[s] + with.primary_delay[s]
        );
        assert_eq!(with.arr_delay[s], with.dep_delay[s] + with.enroute_delta[s]);
    }
}

#[test]
fn calibration_matches_published_figures() {
    // delay-model.md: ~20 % of legs ≥ 15 min late, late legs averaging ~57
    // min, ~43 % of departure delay minutes reactionary.
    let airports = Airports::embedded();
    let seqs =
        generate_aircraft_daily_sequences(300, 2026, &airports, &GeneratorOptions::default())
            .unwrap();
    let merged = dagbench_flight::stats::reference_run(&seqs, 2026, 1000).unwrap();
    let arr = &merged.arr_delay;
    let late_share = arr.share_delayed;
    let (late_sum, late_count) = arr
        .hist
        .values
        .iter()
        .zip(&arr.hist.counts)
        .filter(|&(&v, _)| v >= 15)
        .fold((0i64, 0u64), |(s, n), (&v, &c)| {
            (s + i64::from(v) * c as i64, n + c)
        });
    let late_mean = late_sum as f64 / late_count as f64;
    let reactionary = merged.reactionary_share;
    println!(
        "late share {late_share:.4}, late mean {late_mean:.1} min, reactionary {reactionary:.4}"
    );
    assert!(
        (0.15..=0.25).contains(&late_share),
        "late share {late_share}"
    );
    assert!((40.0..=75.0).contains(&late_mean), "late mean {late_mean}");
    assert!(
        (0.35..=0.50).contains(&reactionary),
        "reactionary share {reactionary}"
    );
}
