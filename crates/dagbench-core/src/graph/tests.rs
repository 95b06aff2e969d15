use super::shapes::{Shape, ShapeSpec, generate};
use super::*;

fn graph(json: &str) -> JobGraph {
    JobGraph::from_json_slice(json.as_bytes()).unwrap()
}

#[track_caller]
fn check_error(json: &str, expected: &str) {
    let err = JobGraph::from_json_slice(json.as_bytes()).unwrap_err();
    assert_eq!(err.to_string(), expected, "{json}");
}

fn ids(g: &JobGraph, path: &[JobIndex]) -> Vec<String> {
    path.iter().map(|&j| g.id(j).to_owned()).collect()
}

#[test]
fn validation_errors_name_the_jobs() {
    check_error(r#"{"jobs": []}"#, "the graph has no jobs");
    check_error(
        r#"{"jobs": [{"job_id": "a"}, {"job_id": "b"}, {"job_id": "a"}]}"#,
        "job id \"a\" appears more than once",
    );
    check_error(
        r#"{"jobs": [{"job_id": "a", "depends_on": ["zz"]}]}"#,
        "job \"a\" depends on \"zz\", which is not a job of the graph",
    );
    check_error(
        r#"{"jobs": [{"job_id": "a", "depends_on": ["a"]}]}"#,
        "job \"a\" depends on itself",
    );
    check_error(
        r#"{"jobs": [{"job_id": "a", "depends_on": ["b"]}, {"job_id": "b", "depends_on": ["c"]},
                     {"job_id": "c", "depends_on": ["a"]}, {"job_id": "d"}]}"#,
        "the graph has a cycle: a -> b -> c -> a (each job depends on the next)",
    );
    check_error(
        r#"{"jobs": [{"job_id": "ok"}, {"job_id": "x/../y"}]}"#,
        "job #1: job id \"x/../y\" contains '/' at position 1; allowed are letters, digits and `._:-`",
    );
    check_error(
        r#"{"jobs": [{"job_id": "a", "input_key": "../secret"}]}"#,
        "job \"a\": input_key: object key \"../secret\" has a `.` or `..` segment",
    );
}

#[test]
fn cycle_below_an_acyclic_part_is_found() {
    // `top` depends on the cycle but is not on it; the reported cycle must
    // only contain the cycle's jobs.
    check_error(
        r#"{"jobs": [{"job_id": "top", "depends_on": ["x"]}, {"job_id": "root"},
                     {"job_id": "x", "depends_on": ["y", "root"]}, {"job_id": "y", "depends_on": ["x"]}]}"#,
        "the graph has a cycle: x -> y -> x (each job depends on the next)",
    );
}

#[test]
fn json_errors_carry_a_position() {
    check_error(
        r#"{"nodes": []}"#,
        "not a valid graph file: missing field `jobs` at line 1 column 13",
    );
    check_error(
        "{\"jobs\": [\n{\"job_id\": \"a\", \"work_duration_ms\": -5}]}",
        "not a valid graph file: invalid value: integer `-5`, expected u32 at line 2 column 38",
    );
    check_error(
        "{\"jobs\": [{\"depends_on\": []}]}",
        "not a valid graph file: missing field `job_id` at line 1 column 28",
    );
    check_error(
        "[]",
        "not a valid graph file: invalid type: sequence, expected an object {\"jobs\": [...]} at line 1 column 0",
    );
}

#[test]
fn attributes_defaults_and_unknown_fields() {
    let g = graph(
        r#"{"version": 3, "jobs": [
            {"job_id": "a", "work_duration_ms": 50, "data_size_kb": 4, "input_key": "run/jobs/a.json", "kind": "leg"},
            {"job_id": "b", "depends_on": ["a", "a"], "input_key": null, "kind": null}]}"#,
    );
    let a = g.job(g.find("a").unwrap());
    assert_eq!(
        (a.work_duration_ms, a.data_size_kb, a.input_key, a.kind),
        (50, 4, Some("run/jobs/a.json"), Some("leg"))
    );
    let b = g.job(g.find("b").unwrap());
    assert_eq!(
        (b.work_duration_ms, b.data_size_kb, b.input_key, b.kind),
        (0, 0, None, None)
    );
    // The dependency named twice is one edge.
    assert_eq!(g.edge_count(), 1);
    assert_eq!(g.find("nope"), None);
    // Unknown top-level keys are ignored; an unknown field of a job (a
    // misspelt `work_duration_ms`) is an error naming it.
    let err = JobGraph::from_json_slice(br#"{"jobs": [{"job_id": "a", "work_duraton_ms": 50}]}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `work_duraton_ms`"), "{err}");
}

#[test]
fn file_round_trips() {
    let text = r#"{"jobs": [
{"job_id":"a","work_duration_ms":10,"input_key":"r/jobs/a.json","kind":"leg \"quoted\""},
{"job_id":"b","depends_on":["a"],"data_size_kb":3},
{"job_id":"c","depends_on":["a","b"]}
]}
"#;
    let g = graph(text);
    assert_eq!(g.to_json_string(), text);
    let spec = ShapeSpec {
        shape: Shape::Layered {
            width: 7,
            max_deps: 3,
        },
        jobs: 200,
        seed: 9,
        work_duration_ms: 5,
        data_size_kb: 1,
    };
    let g = generate(&spec);
    let again = graph(&g.to_json_string());
    assert_eq!(again.to_json_string(), g.to_json_string());
    assert_eq!(again.stats(), g.stats());
}

#[test]
fn stats_levels_and_critical_paths() {
    // a(10) -> b(100) -> d(1)
    //      \-> c(5)  -/   e(0) alone
    let g = graph(
        r#"{"jobs": [{"job_id": "d", "depends_on": ["b", "c"], "work_duration_ms": 1},
                     {"job_id": "b", "depends_on": ["a"], "work_duration_ms": 100},
                     {"job_id": "c", "depends_on": ["a"], "work_duration_ms": 5},
                     {"job_id": "a", "work_duration_ms": 10},
                     {"job_id": "e"},
                     {"job_id": "f", "depends_on": ["e"]},
                     {"job_id": "g", "depends_on": ["f"]},
                     {"job_id": "h", "depends_on": ["g"]}]}"#,
    );
    let s = g.stats();
    assert_eq!(
        (s.jobs, s.edges, s.levels, s.critical_path_jobs),
        (8, 7, 4, 4)
    );
    assert_eq!((s.critical_path_work_ms, s.total_work_ms), (111, 116));
    assert_eq!(
        (s.sources, s.sinks, s.max_in_degree, s.max_out_degree),
        (2, 2, 2, 2)
    );
    // Level 1 holds b, c and f.
    assert_eq!(s.max_level_width, 3);
    let (work, path) = g.critical_path(PathWeight::WorkMs);
    assert_eq!(
        (work, ids(&g, &path)),
        (111, vec!["a".into(), "b".into(), "d".into()])
    );
    let (count, path) = g.critical_path(PathWeight::Jobs);
    assert_eq!(
        (count, ids(&g, &path)),
        (4, vec!["e".into(), "f".into(), "g".into(), "h".into()])
    );
    // Measured weights: c was slow, and what was not measured weighs 0.
    let measured = |j: JobIndex| match g.id(j) {
        "a" => 10.5,
        "c" => 500.0,
        "d" => 1.0,
        "f" => f64::NAN,
        _ => 2.0,
    };
    let (total, path) = g.heaviest_chain(measured);
    assert_eq!(
        (total, ids(&g, &path)),
        (511.5, vec!["a".into(), "c".into(), "d".into()])
    );
    let levels = g.levels();
    let level_of = |id: &str| levels[g.find(id).unwrap().get()];
    assert_eq!(
        [
            level_of("a"),
            level_of("b"),
            level_of("c"),
            level_of("d"),
            level_of("h")
        ],
        [0, 1, 1, 2, 3]
    );
}

#[test]
fn shapes_are_deterministic_and_shaped() {
    for name in Shape::NAMES {
        let spec = |seed| ShapeSpec {
            shape: Shape::named(name, 1000).unwrap(),
            jobs: 1000,
            seed,
            work_duration_ms: 1,
            data_size_kb: 0,
        };
        let a = generate(&spec(1));
        assert_eq!(
            a.to_json_string(),
            generate(&spec(1)).to_json_string(),
            "{name}"
        );
        assert_eq!(a.len(), 1000);
        let s = a.stats();
        match name {
            "independent" => assert_eq!((s.edges, s.levels), (0, 1)),
            "chains" => assert_eq!((s.edges, s.levels, s.sources), (900, 10, 100)),
            "layered" => {
                assert_eq!(s.levels, 32);
                assert!(s.max_in_degree <= 3 && s.max_in_degree >= 2, "{s:?}");
                assert_ne!(a.to_json_string(), generate(&spec(2)).to_json_string());
            }
            "fan" => {
                // Blocks of 102: root, 100 middles, sink; 9 whole blocks + 82 jobs.
                assert_eq!(s.max_out_degree, 100);
                assert_eq!(s.max_in_degree, 100);
                assert_eq!(s.levels, 9 * 3 + 2);
            }
            _ => unreachable!(),
        }
    }
}

#[test]
fn compact_layout_stays_under_the_memory_budget() {
    // The budget of the issue is 64 bytes per job for graph + ids +
    // scheduler state; the scheduler adds 5 bytes per job plus its queue.
    for name in Shape::NAMES {
        let spec = ShapeSpec {
            shape: Shape::named(name, 200_000).unwrap(),
            jobs: 200_000,
            seed: 3,
            work_duration_ms: 0,
            data_size_kb: 0,
        };
        let g = std::sync::Arc::new(generate(&spec));
        let scheduler = crate::Scheduler::new(g.clone());
        let per_job = (g.heap_bytes() + scheduler.heap_bytes()) as f64 / g.len() as f64;
        assert!(per_job <= 64.0, "{name}: {per_job:.1} bytes per job");
    }
}
