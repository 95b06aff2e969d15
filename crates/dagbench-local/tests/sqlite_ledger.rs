//! The SQLite ledger file as other tools and later versions see it.

use dagbench_core::ids::{JobId, RunId};
use dagbench_local::SqliteLedger;
use dagbench_runtime::ports::{JobLedger, LedgerStatus};

/// A `ledger.sqlite` written by an earlier version (first schema: times in
/// `started_at`/`completed_at`, no claims, no test run) opens with its rows
/// intact, its columns renamed to say their unit, the new ones added.
#[tokio::test]
async fn a_ledger_of_an_earlier_version_keeps_its_rows() {
    let dir = dagbench_testkit::scratch("old-ledger");
    let path = dir.path().join("ledger.sqlite");
    {
        let old = rusqlite::Connection::open(&path).unwrap();
        old.execute_batch(
            "CREATE TABLE jobs (
                run_id TEXT NOT NULL, job_id TEXT NOT NULL, status TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0, started_at INTEGER, completed_at INTEGER,
                processing_time_ms REAL, output_key TEXT, worker TEXT, error TEXT,
                PRIMARY KEY (run_id, job_id)) WITHOUT ROWID;
             INSERT INTO jobs VALUES ('r', 'r.a', 'completed', 1, 1000, 1250, 250.0,
                'output/1970/01/01/00/r.a.json', 'w-1', NULL);",
        )
        .unwrap();
    }
    let ledger = SqliteLedger::open(&path).unwrap();
    let run = RunId::new("r").unwrap();
    let row = ledger
        .get(&run, &JobId::new("r.a").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, LedgerStatus::Completed);
    assert_eq!(row.started_at.map(|t| t.unix_millis()), Some(1000));
    assert_eq!(row.completed_at.map(|t| t.unix_millis()), Some(1250));
    assert_eq!(
        row.output_key.as_deref(),
        Some("output/1970/01/01/00/r.a.json")
    );
    assert_eq!(row.claim_until, None);
    drop(ledger);

    let file = rusqlite::Connection::open(&path).unwrap();
    let mut stmt = file
        .prepare("SELECT name FROM pragma_table_info('jobs') ORDER BY cid")
        .unwrap();
    let columns: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        columns,
        [
            "run_id",
            "job_id",
            "status",
            "attempts",
            "started_at_ms",
            "completed_at_ms",
            "processing_time_ms",
            "output_key",
            "worker",
            "error",
            "claim_until_ms",
            "test_run_id",
            "claim_message"
        ]
    );
}

/// The owner of a run frees the claims a dead session left, so a resumed
/// run does not wait for them to expire; other runs' claims stay.
#[tokio::test]
async fn claims_left_by_a_dead_session_are_released_by_the_runs_owner() {
    use dagbench_core::time::Timestamp;
    use dagbench_runtime::ports::{Claim, Claimant};
    let dir = dagbench_testkit::scratch("stale-claims");
    let ledger = SqliteLedger::open(&dir.path().join("ledger.sqlite")).unwrap();
    let at = Timestamp::from_unix_millis(1_000_000);
    let hour_long = |worker| Claimant {
        worker,
        test_run_id: "t",
        message: None,
        at,
        until: at.plus_millis(3_600_000),
    };
    let (run, other) = (RunId::new("r").unwrap(), RunId::new("o").unwrap());
    let job = JobId::new("j").unwrap();
    for r in [&run, &other] {
        let claim = ledger.claim(r, &job, &hour_long("dead")).await.unwrap();
        assert!(matches!(claim, Claim::Run { attempt: 1 }), "{claim:?}");
    }
    let later = Claimant {
        at: at.plus_millis(1),
        ..hour_long("next")
    };
    assert!(matches!(
        ledger.claim(&run, &job, &later).await.unwrap(),
        Claim::Busy { .. }
    ));
    assert_eq!(ledger.release_all_claims(&run).await.unwrap(), 1);
    assert!(matches!(
        ledger.claim(&run, &job, &later).await.unwrap(),
        Claim::Run { attempt: 2 }
    ));
    assert!(
        matches!(
            ledger.claim(&other, &job, &later).await.unwrap(),
            Claim::Busy { .. }
        ),
        "another run's claim is not this owner's to free"
    );
}
