//! The results tree on S3 (moto on loopback): typed round trips, missing
//! objects as `None`, the prefix honoured.

use bytes::Bytes;
use dagbench_aws::s3::{S3Location, run_store};
use dagbench_core::ids::{JobId, RunId, SequenceId};
use dagbench_flight::model::{compute_sequence, sequence_key};
use dagbench_flight::stats::SequencePercentiles;
use dagbench_flight::{Airports, GeneratorOptions, generate_aircraft_daily_sequences};
use dagbench_testkit::moto::{moto, unique};

#[tokio::test]
async fn run_store_round_trips_on_s3() {
    let Some(m) = moto() else { return };
    let bucket = unique("data");
    // Create the bucket with a plain HTTP PUT (path style), as the stack would.
    let python = std::env::var("DAGBENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let status = std::process::Command::new(python)
        .args(["-c", &format!("import urllib.request as u; u.urlopen(u.Request('{}/{bucket}', method='PUT')).read()", m.endpoint)])
        .status()
        .unwrap();
    assert!(status.success());
    let store = run_store(&S3Location {
        bucket: bucket.clone(),
        prefix: "perf".into(),
        endpoint: Some(m.endpoint.clone()),
        region: Some("us-east-1".into()),
        credentials: None,
    })
    .unwrap();
    let run = RunId::new("r1").unwrap();
    let airports = Airports::embedded();
    let seq = generate_aircraft_daily_sequences(1, 4, &airports, &GeneratorOptions::default())
        .unwrap()
        .remove(0);
    let legs = compute_sequence(sequence_key(4, seq.sequence_id), &seq, 30).unwrap();
    let job = JobId::new("s1-l1").unwrap();
    store.put_sequence(&run, &seq).await.unwrap();
    store
        .put_delays(&run, &job, seq.sequence_id, &legs[0])
        .await
        .unwrap();
    let pct = SequencePercentiles::from_legs(seq.sequence_id, seq.last_landing(), &legs);
    store.put_percentiles(&run, &pct).await.unwrap();
    assert_eq!(
        store
            .get_sequence(&run, seq.sequence_id, &airports)
            .await
            .unwrap()
            .unwrap(),
        seq
    );
    assert_eq!(
        store.get_delays(&run, &job).await.unwrap().unwrap().delays,
        legs[0]
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
        store.list_percentiles(&run).await.unwrap(),
        vec![seq.sequence_id]
    );
    assert!(
        store
            .get_percentiles(&run, SequenceId(99))
            .await
            .unwrap()
            .is_none(),
        "missing is None"
    );
    let at = dagbench_core::time::Timestamp::parse("2026-01-21T12:34:56.789Z").unwrap();
    let key = store
        .put_output(&job, at, Bytes::from_static(b"{}"))
        .await
        .unwrap();
    assert_eq!(key.as_str(), "output/2026/01/21/12/s1-l1.json");
    // Under the prefix in the bucket.
    let raw = run_store(&S3Location {
        bucket,
        prefix: String::new(),
        endpoint: Some(m.endpoint.clone()),
        region: Some("us-east-1".into()),
        credentials: None,
    })
    .unwrap();
    let all = raw
        .list(&dagbench_core::key::ObjectKey::new("perf").unwrap())
        .await
        .unwrap();
    assert!(
        all.contains(&"perf/r1/delays/s1-l1.parquet".to_owned()),
        "{all:?}"
    );
    assert!(
        all.contains(&"perf/output/2026/01/21/12/s1-l1.json".to_owned()),
        "{all:?}"
    );
}
