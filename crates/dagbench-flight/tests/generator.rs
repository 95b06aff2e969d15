//! The generator's rules, over many seeds: every sequence it emits passes
//! `check_rules`, every k in 2..=8 occurs, output is deterministic and
//! prefix-stable, and the canonical JSON round-trips.

use std::collections::BTreeMap;

use dagbench_flight::generator::GenerateError;
use dagbench_flight::sequence::{Rule, check_rules};
use dagbench_flight::{Airports, GeneratorOptions, Sequence, generate_aircraft_daily_sequences};
use proptest::prelude::*;

fn airports() -> &'static Airports {
    static AIRPORTS: std::sync::OnceLock<Airports> = std::sync::OnceLock::new();
    AIRPORTS.get_or_init(Airports::embedded)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_sequence_obeys_every_rule(seed in any::<u64>(), visits in any::<bool>()) {
        let options = GeneratorOptions { allow_home_visits: visits, ..GeneratorOptions::default() };
        let sequences = generate_aircraft_daily_sequences(40, seed, airports(), &options).unwrap();
        prop_assert_eq!(sequences.len(), 40);
        for (i, seq) in sequences.iter().enumerate() {
            prop_assert_eq!(seq.sequence_id.0, i as u32 + 1);
            if let Err(e) = check_rules(seq, airports()) {
                prop_assert!(false, "seed {seed}: {e}");
            }
            // Options the rules leave open.
            for f in &seq.flights {
                let (a, b) = (airports().by_iata(&f.origin).unwrap(), airports().by_iata(&f.destination).unwrap());
                prop_assert!(dagbench_flight::airports::haversine_km(a, b) >= 150.0);
            }
            if !visits {
                let k = seq.flights.len();
                for f in &seq.flights[..k - 1] {
                    prop_assert_ne!(&f.destination, &seq.home);
                }
            }
        }
    }

    #[test]
    fn canonical_json_round_trips(seed in any::<u64>()) {
        for seq in generate_aircraft_daily_sequences(5, seed, airports(), &GeneratorOptions::default()).unwrap() {
            let back = Sequence::from_json(seq.to_json().as_bytes(), airports()).unwrap();
            prop_assert_eq!(back, seq);
        }
    }
}

#[test]
fn every_k_occurs_and_the_output_is_deterministic() {
    let a = generate_aircraft_daily_sequences(3000, 11, airports(), &GeneratorOptions::default())
        .unwrap();
    let b = generate_aircraft_daily_sequences(3000, 11, airports(), &GeneratorOptions::default())
        .unwrap();
    assert_eq!(a, b);
    let mut by_k: BTreeMap<usize, usize> = BTreeMap::new();
    for seq in &a {
        *by_k.entry(seq.flights.len()).or_default() += 1;
    }
    assert_eq!(
        by_k.keys().copied().collect::<Vec<_>>(),
        (2..=8).collect::<Vec<_>>(),
        "{by_k:?}"
    );
    // Prefix-stable: the first sequences do not depend on how many follow.
    let short = generate_aircraft_daily_sequences(10, 11, airports(), &GeneratorOptions::default())
        .unwrap();
    assert_eq!(short[..], a[..10]);
    let other = generate_aircraft_daily_sequences(10, 12, airports(), &GeneratorOptions::default())
        .unwrap();
    assert_ne!(short, other);
}

#[test]
fn home_subset_is_honoured_and_checked() {
    let options = GeneratorOptions {
        homes: Some(vec!["OPO".into(), "LHR".into()]),
        ..GeneratorOptions::default()
    };
    let seqs = generate_aircraft_daily_sequences(50, 3, airports(), &options).unwrap();
    assert!(seqs.iter().all(|s| s.home == "OPO" || s.home == "LHR"));
    assert!(seqs.iter().any(|s| s.home == "OPO") && seqs.iter().any(|s| s.home == "LHR"));

    let options = GeneratorOptions {
        homes: Some(vec!["XXX".into()]),
        ..GeneratorOptions::default()
    };
    assert_eq!(
        generate_aircraft_daily_sequences(1, 3, airports(), &options).unwrap_err(),
        GenerateError::UnknownHome("XXX".into())
    );
}

#[test]
fn infeasible_airports_are_reported() {
    // Two airports 100 km apart: closer than the 150 km minimum leg, so no
    // leg can be flown at all.
    let csv = "iata,name,city,country,lat,lon,tz\nAAA,A,A,XX,0.0,0.0,UTC\nBBB,B,B,XX,0.0,0.9,UTC\n";
    let tiny = Airports::parse(csv, "tiny.csv").unwrap();
    let err =
        generate_aircraft_daily_sequences(3, 1, &tiny, &GeneratorOptions::default()).unwrap_err();
    assert_eq!(err, GenerateError::NoFeasibleHome);
    let options = GeneratorOptions {
        homes: Some(vec!["AAA".into()]),
        ..GeneratorOptions::default()
    };
    let err = generate_aircraft_daily_sequences(3, 1, &tiny, &options).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no valid daily sequence starts and ends at AAA with these airports and options"
    );
    // 300 km apart (23 min a leg): feasible, with many short hops only.
    let csv = "iata,name,city,country,lat,lon,tz\nAAA,A,A,XX,0.0,0.0,UTC\nBBB,B,B,XX,0.0,2.7,UTC\n";
    let pair = Airports::parse(csv, "pair.csv").unwrap();
    for seq in
        generate_aircraft_daily_sequences(20, 1, &pair, &GeneratorOptions::default()).unwrap()
    {
        check_rules(&seq, &pair).unwrap();
        assert!(seq.flights.len() >= 6, "{seq:?}");
    }
}

#[track_caller]
fn check_broken(edit: impl FnOnce(&mut serde_json::Value), expected: &str, rule: Rule) {
    let seq = generate_aircraft_daily_sequences(1, 5, airports(), &GeneratorOptions::default())
        .unwrap()
        .remove(0);
    let mut json: serde_json::Value = serde_json::from_str(&seq.to_json()).unwrap();
    edit(&mut json);
    let err = Sequence::from_json(json.to_string().as_bytes(), airports()).unwrap_err();
    assert_eq!(err.to_string(), expected);
    if let dagbench_flight::sequence::SequenceFileError::Rule(v) = err {
        assert_eq!(v.rule, rule);
    }
}

#[test]
fn reading_a_broken_file_names_sequence_flight_and_rule() {
    let seq = generate_aircraft_daily_sequences(1, 5, airports(), &GeneratorOptions::default())
        .unwrap()
        .remove(0);
    let first = &seq.flights[0];
    let k = seq.flights.len();
    // Takeoff only 60 minutes after gate open.
    let early = dagbench_flight::sequence::format_time(first.gate_open + 60);
    check_broken(
        |j| j["routes"][0]["estimated_takeoff_time"] = early.clone().into(),
        "sequence 1, flight DB0101: takeoff 60 min after gate open (rule: takeoff 80–110 min after gate open)",
        Rule::GateToTakeoff,
    );
    check_broken(
        |j| j["routes"][k - 1]["destination_iata"] = "ZZZ".into(),
        &format!(
            "sequence 1, flight DB01{k:02}: airport ZZZ is unknown (rule: airports are in the airports table)"
        ),
        Rule::KnownAirport,
    );
    check_broken(
        |j| {
            let routes = j["routes"].as_array_mut().unwrap();
            routes.truncate(1);
        },
        "sequence 1: 1 flights (rule: 2 to 8 flights per day)",
        Rule::FlightsPerDay,
    );
    check_broken(
        |j| j["routes"][0]["estimated_gate_open_time"] = "00:01:30".into(),
        "sequence 1, flight DB0101: time \"00:01:30\" has seconds; times are whole minutes (rule: times are whole minutes (HH:MM:00))",
        Rule::WholeMinutes,
    );
    check_broken(
        |j| j["home_airport_iata"] = "LHR".into(),
        &format!(
            "sequence 1, flight DB0101: departs from {}, home is LHR (rule: the first flight departs from home)",
            seq.home
        ),
        Rule::StartsAtHome,
    );
}
