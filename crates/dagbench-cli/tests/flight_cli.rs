//! The flight workload commands as a user runs them.

mod common;

use common::{Scratch, dagbench, text};

use std::path::Path;

use serde_json::Value;

#[test]
fn sequences_are_written_checked_and_broken_files_named() {
    let dir = Scratch::new("seqs");
    let out = dir.path("seqs");
    let generated = dagbench(&[
        "generate",
        "sequences",
        "--count",
        "6",
        "--seed",
        "9",
        "--out",
        &out,
    ]);
    assert!(generated.status.success(), "{}", text(&generated.stderr));
    for id in 1..=6 {
        assert!(
            Path::new(&out)
                .join(format!("sequence_{id}.json"))
                .is_file()
        );
    }
    let checked = dagbench(&["generate", "sequences", "--check", &out]);
    assert!(checked.status.success());
    assert_eq!(text(&checked.stdout), "6 sequence files obey every rule\n");

    // Move the last landing past 23:00 in file 4.
    let file = Path::new(&out).join("sequence_4.json");
    let mut json: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let routes = json["routes"].as_array_mut().unwrap();
    let last = routes.len() - 1;
    routes[last]["estimated_arrival_time"] = "23:30:00".into();
    let flight = routes[last]["flight_no"].as_str().unwrap().to_owned();
    std::fs::write(&file, json.to_string()).unwrap();
    let checked = dagbench(&["generate", "sequences", "--check", &out]);
    assert_eq!(checked.status.code(), Some(1));
    let stdout = text(&checked.stdout);
    assert!(
        stdout.starts_with(&format!(
            "{}: sequence 4, flight {flight}: ",
            file.display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("(rule: flight time = haversine distance at 800 km/h, rounded half up)"),
        "{stdout}"
    );
    assert!(text(&checked.stderr).contains("1 of 6 sequence files break a rule"));
}

#[test]
fn sequences_to_stdout_and_same_seed_same_output() {
    let a = dagbench(&[
        "generate",
        "sequences",
        "--count",
        "3",
        "--seed",
        "5",
        "--out",
        "-",
    ]);
    let b = dagbench(&[
        "generate",
        "sequences",
        "--count",
        "3",
        "--seed",
        "5",
        "--out",
        "-",
    ]);
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
    let all: Value = serde_json::from_slice(&a.stdout).unwrap();
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[2]["aircraft_id"], "AC0003");
    assert_eq!(all[0]["routes"][0]["flight_no"], "DB0101");
}

#[test]
fn bad_airports_file_names_the_line() {
    let dir = Scratch::new("airports");
    let csv = dir.path("airports.csv");
    std::fs::write(
        &csv,
        "iata,name,city,country,lat,lon,tz\nAAA,A,A,XX,1,2,UTC\nBBB,B,B,XX,x,2,UTC\n",
    )
    .unwrap();
    let out = dagbench(&[
        "generate",
        "sequences",
        "--count",
        "1",
        "--airports",
        &csv,
        "--out",
        "-",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!("error: {csv}, line 3: lat \"x\" is not a number\n")
    );
    let out = dagbench(&[
        "generate",
        "sequences",
        "--count",
        "1",
        "--homes",
        "ZZZ",
        "--out",
        "-",
    ]);
    assert_eq!(
        text(&out.stderr),
        "error: home airport ZZZ is not in the airports table\n"
    );
}

#[test]
fn aircraft_graph_with_its_job_details() {
    let dir = Scratch::new("aircraft");
    let results = dir.path("results");
    let graph = dir.path("graph.json");
    let out = dagbench(&[
        "graph",
        "generate",
        "--shape",
        "aircraft",
        "--sequences",
        "12",
        "--seed",
        "3",
        "--samples",
        "50",
        "--crew",
        "--homes",
        "LHR,CDG",
        "--run-id",
        "r-1",
        "--results",
        &results,
        "--out",
        &graph,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let validated = dagbench(&["graph", "validate", &graph, "--json"]);
    assert!(validated.status.success());
    let file: Value = serde_json::from_slice(&std::fs::read(&graph).unwrap()).unwrap();
    let jobs = file["jobs"].as_array().unwrap();
    assert_eq!(jobs.last().unwrap()["job_id"], "merge");
    for job in jobs {
        // Every job's details are where its input_key says.
        let key = job["input_key"].as_str().unwrap();
        let details: Value =
            serde_json::from_slice(&std::fs::read(Path::new(&results).join(key)).unwrap()).unwrap();
        assert_eq!(details["kind"], job["kind"]);
        assert_eq!(details["run_id"], "r-1");
    }
    for id in 1..=12 {
        assert!(
            Path::new(&results)
                .join(format!("r-1/sequences/sequence_{id}.json"))
                .is_file()
        );
    }
}

#[test]
fn bench_kernel_matches_its_baseline() {
    let out = dagbench(&[
        "bench",
        "kernel",
        "--sequences",
        "15",
        "--samples",
        "300",
        "--parquet-files",
        "4",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["bench"], "kernel");
    assert!(report["per_sec"].as_f64().unwrap() > 0.0);
    assert!(report["parquet_files_per_sec"].as_f64().unwrap() > 0.0);
    assert_eq!(
        report["leg_samples"].as_u64().unwrap(),
        report["legs"].as_u64().unwrap() * 300
    );
    if std::env::var_os("DAGBENCH_PYTHON").is_some() {
        // The venv has numpy: the baseline ran and agreed (else the bench fails).
        let ratio = report["ratio"].as_f64().expect("numpy baseline measured");
        assert!(ratio > 0.0);
        assert!(report["parquet_ratio"].as_f64().is_some());
    }
}
