//! The results tree on real backends: local disk and memory, every path
//! pinned, missing objects as `None`, codecs round-tripping, delays files
//! readable by pyarrow, and legs computed one job at a time through the
//! store equal to a whole sequence at once.

use std::path::PathBuf;
use std::process::Command;

use bytes::Bytes;
use dagbench_core::ids::{JobId, RunId, SequenceId};
use dagbench_core::keys;
use dagbench_core::time::Timestamp;
use dagbench_flight::aircraft::{AircraftRun, JobDetails, build_aircraft_graph};
use dagbench_flight::model::{LegSchedule, compute_leg, compute_sequence, sequence_key};
use dagbench_flight::stats::{MergedPercentiles, SequencePercentiles};
use dagbench_flight::{Airports, GeneratorOptions, generate_aircraft_daily_sequences};
use dagbench_store::{RunStore, StoreError};

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("dagbench-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run_id() -> RunId {
    RunId::new("run-1").unwrap()
}

fn job(id: &str) -> JobId {
    JobId::new(id).unwrap()
}

fn one_sequence() -> dagbench_flight::Sequence {
    let airports = Airports::embedded();
    generate_aircraft_daily_sequences(1, 3, &airports, &GeneratorOptions::default())
        .unwrap()
        .remove(0)
}

#[tokio::test]
async fn objects_land_at_their_documented_paths_on_disk() {
    let dir = Scratch::new("paths");
    let store = RunStore::local(&dir.0).unwrap();
    let seq = one_sequence();
    let run = run_id();
    let legs = compute_sequence(sequence_key(1, seq.sequence_id), &seq, 50).unwrap();
    let pct = SequencePercentiles::from_legs(seq.sequence_id, seq.last_landing(), &legs);
    let merged = MergedPercentiles::merge([&pct]).unwrap();
    let details = build_aircraft_graph(
        std::slice::from_ref(&seq),
        &AircraftRun {
            run_id: run.clone(),
            run_seed: 1,
            samples: 50,
            crew_probability: None,
        },
    )
    .details;

    store.put_sequence(&run, &seq).await.unwrap();
    store
        .put_job_details(&run, &details[0].0, &details[0].1)
        .await
        .unwrap();
    store
        .put_delays(&run, &job("s1-l1"), seq.sequence_id, &legs[0])
        .await
        .unwrap();
    store.put_percentiles(&run, &pct).await.unwrap();
    store.put_merged_percentiles(&run, &merged).await.unwrap();
    let at = Timestamp::parse("2026-01-21T12:34:56.789Z").unwrap();
    let out = store
        .put_output(&job("s1-l1"), at, Bytes::from_static(b"{}"))
        .await
        .unwrap();
    assert_eq!(out.as_str(), "output/2026/01/21/12/s1-l1.json");

    for expected in [
        "run-1/sequences/sequence_1.json",
        "run-1/jobs/s1-l1.json",
        "run-1/delays/s1-l1.parquet",
        "run-1/percentiles/1.json",
        "run-1/merged_percentiles/merged_percentiles.json",
        "output/2026/01/21/12/s1-l1.json",
    ] {
        assert!(dir.0.join(expected).is_file(), "{expected} missing on disk");
    }

    // Everything reads back equal.
    let airports = Airports::embedded();
    assert_eq!(
        store
            .get_sequence(&run, seq.sequence_id, &airports)
            .await
            .unwrap()
            .unwrap(),
        seq
    );
    assert_eq!(
        store
            .get_job_details(&keys::job_details(&run, &details[0].0))
            .await
            .unwrap()
            .unwrap(),
        details[0].1
    );
    let record = store
        .get_delays(&run, &job("s1-l1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (record.sequence_id, &record.delays),
        (seq.sequence_id, &legs[0])
    );
    assert_eq!(
        store
            .get_percentiles(&run, seq.sequence_id)
            .await
            .unwrap()
            .unwrap(),
        pct
    );
    assert_eq!(
        store.get_merged_percentiles(&run).await.unwrap().unwrap(),
        merged
    );
    assert_eq!(
        store.list_percentiles(&run).await.unwrap(),
        vec![seq.sequence_id]
    );
}

#[tokio::test]
async fn missing_objects_are_none() {
    let store = RunStore::in_memory();
    let run = run_id();
    assert!(
        store
            .get_delays(&run, &job("nope"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .get_percentiles(&run, SequenceId(9))
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.get_merged_percentiles(&run).await.unwrap().is_none());
    assert!(
        store
            .get_sequence(&run, SequenceId(9), &Airports::embedded())
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.list_percentiles(&run).await.unwrap().is_empty());
}

#[tokio::test]
async fn corrupt_objects_are_permanent_errors_naming_the_key() {
    let store = RunStore::in_memory();
    let run = run_id();
    store
        .put_bytes(
            &keys::delays(&run, &job("s1-l1")),
            Bytes::from_static(b"not parquet"),
        )
        .await
        .unwrap();
    let err = store.get_delays(&run, &job("s1-l1")).await.unwrap_err();
    assert!(!err.is_retryable());
    assert!(
        err.to_string()
            .starts_with("object run-1/delays/s1-l1.parquet is invalid: not a parquet file"),
        "{err}"
    );

    store
        .put_bytes(
            &keys::percentiles(&run, SequenceId(2)),
            Bytes::from_static(b"{\"x\":1}"),
        )
        .await
        .unwrap();
    let err = store
        .get_percentiles(&run, SequenceId(2))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err}");
    assert!(
        err.to_string().contains("run-1/percentiles/2.json"),
        "{err}"
    );
}

#[tokio::test]
async fn job_inputs_are_details_only_when_they_say_so() {
    use dagbench_core::key::ObjectKey;
    use dagbench_store::JobInput;
    let store = RunStore::in_memory();
    let put = |name: &'static str, body: &'static [u8]| {
        let store = store.clone();
        async move {
            let key = ObjectKey::new(format!("in/{name}")).unwrap();
            store
                .put_bytes(&key, Bytes::from_static(body))
                .await
                .unwrap();
            store.get_job_input(&key).await
        }
    };
    // Anything else is an opaque input of its size: the seed's generic job.
    assert!(matches!(
        put("hello.json", b"{\"hello\":\"world\"}").await.unwrap(),
        Some(JobInput::Opaque { bytes: 17 })
    ));
    assert!(matches!(
        put("text", b"not json at all").await.unwrap(),
        Some(JobInput::Opaque { bytes: 15 })
    ));
    // Declared but wrong, or cut short: a permanent error naming the key,
    // never an opaque input that would complete without computing.
    for (name, body, says) in [
        (
            "marker-only.json",
            &b"{\"dagbench_job_details\":1}"[..],
            "declares dagbench job details but",
        ),
        (
            "cut.json",
            &b"{\"dagbench_job_details\":1,\"kind\":\"leg\",\"samples\":"[..],
            "is not valid JSON",
        ),
    ] {
        let key = ObjectKey::new(format!("in/{name}")).unwrap();
        store
            .put_bytes(&key, Bytes::copy_from_slice(body))
            .await
            .unwrap();
        let err = store.get_job_input(&key).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains(&format!("in/{name}")) && text.contains(says),
            "{text}"
        );
    }
}

#[tokio::test]
async fn prefix_store_nests_the_tree() {
    let memory: std::sync::Arc<dyn object_store::ObjectStore> =
        std::sync::Arc::new(object_store::memory::InMemory::new());
    let store = RunStore::with_prefix(memory.clone(), "perf/");
    let seq = one_sequence();
    store.put_sequence(&run_id(), &seq).await.unwrap();
    let root = RunStore::new(memory);
    assert_eq!(
        root.list(&dagbench_core::key::ObjectKey::new("perf").unwrap())
            .await
            .unwrap(),
        vec![format!("perf/{}/sequences/sequence_1.json", run_id())]
    );
}

#[tokio::test]
async fn legs_one_job_at_a_time_through_the_store_equal_the_whole_sequence() {
    let store = RunStore::in_memory();
    let run = run_id();
    let seq = one_sequence();
    let key = sequence_key(77, seq.sequence_id);
    let whole = compute_sequence(key, &seq, 400).unwrap();
    for schedule in LegSchedule::of_sequence(&seq) {
        let previous = match schedule.leg {
            1 => None,
            leg => {
                let id = job(&format!("s1-l{}", leg - 1));
                Some(
                    store
                        .get_delays(&run, &id)
                        .await
                        .unwrap()
                        .unwrap()
                        .delays
                        .arr_delay,
                )
            }
        };
        let leg = compute_leg(key, &schedule, 400, previous.as_deref(), &[]).unwrap();
        store
            .put_delays(
                &run,
                &job(&format!("s1-l{}", schedule.leg)),
                seq.sequence_id,
                &leg,
            )
            .await
            .unwrap();
    }
    for (i, expected) in whole.iter().enumerate() {
        let got = store
            .get_delays(&run, &job(&format!("s1-l{}", i + 1)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&got.delays, expected);
    }
    // Re-writing a leg writes identical bytes (idempotent reprocessing).
    let k = keys::delays(&run, &job("s1-l1"));
    let before = store.get_bytes(&k).await.unwrap().unwrap();
    store
        .put_delays(&run, &job("s1-l1"), seq.sequence_id, &whole[0])
        .await
        .unwrap();
    assert_eq!(store.get_bytes(&k).await.unwrap().unwrap(), before);
}

/// The interpreter with pyarrow: `DAGBENCH_PYTHON` (set by `make test` to the
/// project's .venv). Without it the test cannot run; under CI that is a failure.
fn python_with_pyarrow() -> Option<String> {
    match std::env::var("DAGBENCH_PYTHON") {
        Ok(p) => Some(p),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("DAGBENCH_PYTHON must name a Python with pyarrow under CI")
        }
        Err(_) => {
            eprintln!("skipped: set DAGBENCH_PYTHON to a Python with pyarrow (make test does)");
            None
        }
    }
}

#[tokio::test]
async fn pyarrow_reads_the_delays_file() {
    let Some(python) = python_with_pyarrow() else {
        return;
    };
    let dir = Scratch::new("pyarrow");
    let store = RunStore::local(&dir.0).unwrap();
    let run = run_id();
    let seq = one_sequence();
    let legs = compute_sequence(sequence_key(5, seq.sequence_id), &seq, 64).unwrap();
    store
        .put_delays(&run, &job("s1-l1"), seq.sequence_id, &legs[0])
        .await
        .unwrap();
    store
        .put_delays(&run, &job("s1-l2"), seq.sequence_id, &legs[1])
        .await
        .unwrap();
    let script = r#"
import json, sys
import pyarrow.parquet as pq
out = {}
for name in sys.argv[1:]:
    t = pq.read_table(name)
    out[name] = {
        "schema": [(f.name, str(f.type), f.nullable) for f in t.schema],
        "columns": {c: t.column(c).to_pylist() for c in t.column_names},
        "compression": pq.ParquetFile(name).metadata.row_group(0).column(0).compression,
    }
print(json.dumps(out))
"#;
    let files: Vec<String> = ["s1-l1", "s1-l2"]
        .iter()
        .map(|j| {
            dir.0
                .join(format!("run-1/delays/{j}.parquet"))
                .display()
                .to_string()
        })
        .collect();
    let output = Command::new(&python)
        .arg("-c")
        .arg(script)
        .args(&files)
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let read: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    for (file, leg) in files.iter().zip(&legs) {
        let t = &read[file];
        let schema: Vec<(String, String, bool)> =
            serde_json::from_value(t["schema"].clone()).unwrap();
        let expected: Vec<(String, String, bool)> = [
            ("sequence_id", "int32", false),
            ("sample", "int32", false),
            ("leg", "int16", false),
            ("dep_delay", "int32", false),
            ("arr_delay", "int32", false),
            ("primary_delay", "int32", false),
            ("propagated_delay", "int32", false),
            ("enroute_delta", "int32", false),
            ("slack", "int32", true),
        ]
        .iter()
        .map(|(n, t, null)| (n.to_string(), t.to_string(), *null))
        .collect();
        assert_eq!(schema, expected);
        assert_eq!(t["compression"], "SNAPPY");
        let col =
            |c: &str| -> Vec<serde_json::Value> { t["columns"][c].as_array().unwrap().clone() };
        assert_eq!(
            col("arr_delay"),
            leg.arr_delay
                .iter()
                .map(|&v| v.into())
                .collect::<Vec<serde_json::Value>>()
        );
        assert_eq!(
            col("dep_delay"),
            leg.dep_delay
                .iter()
                .map(|&v| v.into())
                .collect::<Vec<serde_json::Value>>()
        );
        assert_eq!(
            col("sample"),
            (0..64).map(serde_json::Value::from).collect::<Vec<_>>()
        );
        let slack = col("slack");
        match leg.slack {
            None => assert!(slack.iter().all(serde_json::Value::is_null)),
            Some(s) => assert!(slack.iter().all(|v| v == &serde_json::Value::from(s))),
        }
        assert!(
            col("leg")
                .iter()
                .all(|v| v == &serde_json::Value::from(leg.leg))
        );
    }
}

#[test]
fn job_details_are_tagged_json() {
    let seq = one_sequence();
    let g = build_aircraft_graph(
        std::slice::from_ref(&seq),
        &AircraftRun {
            run_id: run_id(),
            run_seed: 1,
            samples: 10,
            crew_probability: None,
        },
    );
    let merge = g
        .details
        .iter()
        .find(|(_, d)| matches!(d, JobDetails::Merge(_)))
        .unwrap();
    assert_eq!(
        serde_json::to_string(&merge.1).unwrap(),
        r#"{"kind":"merge","run_id":"run-1","sequences":[1]}"#
    );
}

/// A local store reads inputs only from regular files under its root: a
/// FIFO would block the reader for good, a symbolic link could lead to any
/// file on the machine. Both are permanent errors naming the key.
#[tokio::test]
async fn local_inputs_are_regular_files_inside_the_root() {
    use dagbench_core::key::ObjectKey;
    let dir = Scratch::new("local-inputs");
    let store = RunStore::local(&dir.0).unwrap();
    std::fs::write(dir.0.join("plain.json"), b"{}").unwrap();
    std::os::unix::fs::symlink("/etc/hostname", dir.0.join("link")).unwrap();
    std::fs::create_dir_all(dir.0.join("via")).unwrap();
    std::os::unix::fs::symlink("/etc", dir.0.join("via/etc")).unwrap();
    let fifo = Command::new("mkfifo")
        .arg(dir.0.join("fifo"))
        .status()
        .unwrap();
    assert!(fifo.success());
    let input = |k: &str| {
        let store = store.clone();
        let key = ObjectKey::new(k).unwrap();
        async move { store.get_job_input(&key).await }
    };
    assert!(input("plain.json").await.unwrap().is_some());
    assert!(input("missing.json").await.unwrap().is_none());
    for (key, says) in [
        ("link", "symbolic link"),
        ("via/etc/hostname", "symbolic link"),
        ("fifo", "not a regular file"),
    ] {
        let err = input(key).await.unwrap_err();
        assert!(!err.is_retryable(), "{err}");
        assert!(
            err.to_string().contains(key) && err.to_string().contains(says),
            "{err}"
        );
    }
}
