//! `SqliteLedger`: the job ledger in a SQLite file (WAL) in the run's
//! directory, one row per job. All statements go through one writer thread
//! that commits whatever is pending in one transaction (group commit), so
//! thousands of processors' records cost a handful of commits — and claims
//! are serialized, so two deliveries never both win one.
//!
//! When the ledger is dropped, the writer checkpoints the WAL into the main
//! file and leaves rollback-journal mode: `ledger.sqlite` alone then holds
//! every row, for any tool that copies or opens it.
//!
//! The table (times are integer milliseconds since the epoch):
//!
//! ```text
//! jobs(run_id TEXT, job_id TEXT,            -- primary key; job_id as on the wire
//!      status TEXT,                          -- running | completed | failed
//!      attempts INTEGER,                     -- claims that ran the job
//!      started_at_ms INTEGER, completed_at_ms INTEGER, processing_time_ms REAL,
//!      output_key TEXT, worker TEXT, error TEXT,
//!      claim_until_ms INTEGER,               -- while running: the claim's expiry
//!      test_run_id TEXT,
//!      claim_message TEXT)                   -- while running: the message claimed for
//! ```

use std::path::Path;
use std::sync::mpsc;

use async_trait::async_trait;
use dagbench_core::ids::{JobId, RunId};
use dagbench_core::time::Timestamp;
use dagbench_runtime::ports::{
    Claim, Claimant, Finished, JobLedger, LedgerError, LedgerRow, LedgerStatus, Recorded,
};
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs (
    run_id             TEXT    NOT NULL,
    job_id             TEXT    NOT NULL,
    status             TEXT    NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    started_at_ms      INTEGER,
    completed_at_ms    INTEGER,
    processing_time_ms REAL,
    output_key         TEXT,
    worker             TEXT,
    error              TEXT,
    claim_until_ms     INTEGER,
    test_run_id        TEXT,
    claim_message      TEXT,
    PRIMARY KEY (run_id, job_id)
) WITHOUT ROWID;
";

/// Columns added since the first schema, for ledgers of earlier runs.
const ADDED_COLUMNS: &[(&str, &str)] = &[
    ("claim_until_ms", "INTEGER"),
    ("test_run_id", "TEXT"),
    ("claim_message", "TEXT"),
];

/// Most requests one transaction takes.
const GROUP: usize = 4096;

const ROW_COLUMNS: &str = "status, attempts, started_at_ms, completed_at_ms, processing_time_ms, output_key, worker, error, claim_until_ms, test_run_id, claim_message";

type Reply<T> = oneshot::Sender<Result<T, LedgerError>>;

/// Sends a request's answer once its transaction's fate is known.
type Answer = Box<dyn FnOnce(Result<(), LedgerError>)>;

enum Request {
    Claim {
        run: RunId,
        job: JobId,
        worker: String,
        test_run_id: String,
        message: Option<String>,
        at: Timestamp,
        until: Timestamp,
        reply: Reply<Claim>,
    },
    Extend {
        run: RunId,
        job: JobId,
        worker: String,
        until: Option<Timestamp>,
        reply: Reply<bool>,
    },
    Finished {
        run: RunId,
        job: JobId,
        finished: Finished,
        reply: Reply<Recorded>,
    },
    Get {
        run: RunId,
        job: JobId,
        reply: Reply<Option<LedgerRow>>,
    },
    Completed {
        run: RunId,
        reply: Reply<Vec<JobId>>,
    },
    ReleaseAll {
        run: RunId,
        reply: Reply<u64>,
    },
}

#[derive(Debug)]
pub struct SqliteLedger {
    requests: Option<mpsc::Sender<Request>>,
    writer: Option<std::thread::JoinHandle<()>>,
    path: String,
}

/// A SQLite error; disk full, read-only files and refused access are fatal.
#[allow(clippy::needless_pass_by_value)] // used as `.map_err(db_err)`
fn db_err(e: rusqlite::Error) -> LedgerError {
    use rusqlite::ErrorCode;
    let fatal = matches!(
        e.sqlite_error_code(),
        Some(
            ErrorCode::DiskFull
                | ErrorCode::ReadOnly
                | ErrorCode::CannotOpen
                | ErrorCode::PermissionDenied
                | ErrorCode::SystemIoFailure
        )
    );
    if fatal {
        LedgerError::fatal(e.to_string())
    } else {
        LedgerError::new(e.to_string())
    }
}

fn stopped() -> LedgerError {
    LedgerError::new("the ledger thread has stopped")
}

impl SqliteLedger {
    /// Opens (or creates) the ledger file.
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| LedgerError::fatal(format!("cannot create {}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path)
            .map_err(|e| LedgerError::fatal(format!("cannot open {}: {e}", path.display())))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(db_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db_err)?;
        conn.execute_batch(SCHEMA).map_err(db_err)?;
        migrate(&conn).map_err(db_err)?;
        let (requests, inbox) = mpsc::channel();
        let writer = std::thread::Builder::new()
            .name("sqlite-ledger".into())
            .spawn(move || writer(conn, &inbox))
            .map_err(|e| LedgerError::new(format!("cannot start the ledger thread: {e}")))?;
        Ok(Self {
            requests: Some(requests),
            writer: Some(writer),
            path: path.display().to_string(),
        })
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// Gives up every claim on `run`'s jobs; returns how many there were.
    /// For the run's owner only — a local run holds its directory's lock,
    /// so claims it finds at its start were left by a session that died
    /// (a crash, a full disk) and would otherwise hold their jobs until
    /// they expire.
    ///
    /// # Errors
    /// The database's.
    pub async fn release_all_claims(&self, run: &RunId) -> Result<u64, LedgerError> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::ReleaseAll {
            run: run.clone(),
            reply,
        })?;
        answer(rx).await
    }

    fn send(&self, request: Request) -> Result<(), LedgerError> {
        self.requests
            .as_ref()
            .ok_or_else(stopped)?
            .send(request)
            .map_err(|_| stopped())
    }
}

impl Drop for SqliteLedger {
    /// Lets the writer finish what is queued, checkpoint and close.
    fn drop(&mut self) {
        drop(self.requests.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// Columns renamed since the first schema: integer epoch milliseconds are
/// named as such.
const RENAMED_COLUMNS: &[(&str, &str)] = &[
    ("started_at", "started_at_ms"),
    ("completed_at", "completed_at_ms"),
    ("claim_until", "claim_until_ms"),
];

/// Renames and adds the columns a ledger of an earlier version has under
/// another name or lacks.
fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let columns = || -> rusqlite::Result<Vec<String>> {
        let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('jobs')")?;
        stmt.query_map([], |row| row.get(0))?.collect()
    };
    for (old, new) in RENAMED_COLUMNS {
        if columns()?.iter().any(|h| h == old) {
            conn.execute_batch(&format!("ALTER TABLE jobs RENAME COLUMN {old} TO {new}"))?;
        }
    }
    let have = columns()?;
    for (name, kind) in ADDED_COLUMNS {
        if !have.iter().any(|h| h == name) {
            conn.execute_batch(&format!("ALTER TABLE jobs ADD COLUMN {name} {kind}"))?;
        }
    }
    Ok(())
}

async fn answer<T>(rx: oneshot::Receiver<Result<T, LedgerError>>) -> Result<T, LedgerError> {
    rx.await.map_err(|_| stopped())?
}

#[async_trait]
impl JobLedger for SqliteLedger {
    async fn claim(
        &self,
        run: &RunId,
        job: &JobId,
        claimant: &Claimant<'_>,
    ) -> Result<Claim, LedgerError> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Claim {
            run: run.clone(),
            job: job.clone(),
            worker: claimant.worker.to_owned(),
            test_run_id: claimant.test_run_id.to_owned(),
            message: claimant.message.map(str::to_owned),
            at: claimant.at,
            until: claimant.until,
            reply,
        })?;
        answer(rx).await
    }

    async fn extend(
        &self,
        run: &RunId,
        job: &JobId,
        worker: &str,
        until: Timestamp,
    ) -> Result<bool, LedgerError> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Extend {
            run: run.clone(),
            job: job.clone(),
            worker: worker.to_owned(),
            until: Some(until),
            reply,
        })?;
        answer(rx).await
    }

    async fn release(&self, run: &RunId, job: &JobId, worker: &str) -> Result<(), LedgerError> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Extend {
            run: run.clone(),
            job: job.clone(),
            worker: worker.to_owned(),
            until: None,
            reply,
        })?;
        answer(rx).await.map(|_| ())
    }

    async fn record_finished(
        &self,
        run: &RunId,
        job: &JobId,
        finished: &Finished,
    ) -> Result<Recorded, LedgerError> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Finished {
            run: run.clone(),
            job: job.clone(),
            finished: finished.clone(),
            reply,
        })?;
        answer(rx).await
    }

    async fn get(&self, run: &RunId, job: &JobId) -> Result<Option<LedgerRow>, LedgerError> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Get {
            run: run.clone(),
            job: job.clone(),
            reply,
        })?;
        answer(rx).await
    }

    async fn completed_jobs(&self, run: &RunId) -> Result<Vec<JobId>, LedgerError> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Completed {
            run: run.clone(),
            reply,
        })?;
        answer(rx).await
    }
}

/// The writer thread: takes every pending request, runs them in one
/// transaction, then answers; when every sender is gone, checkpoints the
/// WAL into the main file.
fn writer(mut conn: Connection, inbox: &mpsc::Receiver<Request>) {
    while let Ok(first) = inbox.recv() {
        let mut batch = vec![first];
        while batch.len() < GROUP {
            match inbox.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let tx = match conn.transaction() {
            Ok(tx) => tx,
            Err(e) => {
                fail_all(batch, &db_err(e));
                continue;
            }
        };
        let mut replies: Vec<Answer> = Vec::with_capacity(batch.len());
        for request in batch {
            replies.push(apply(&tx, request));
        }
        let committed = tx.commit().map_err(db_err);
        for reply in replies {
            reply(committed.clone());
        }
    }
    // Every row into `ledger.sqlite` itself, no `-wal` file left behind.
    let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    let _ = conn.pragma_update(None, "journal_mode", "DELETE");
}

fn row_of(run: &RunId, job: &JobId, row: &rusqlite::Row<'_>) -> rusqlite::Result<LedgerRow> {
    let status: String = row.get(0)?;
    let time = |i: usize| -> rusqlite::Result<Option<Timestamp>> {
        Ok(row
            .get::<_, Option<i64>>(i)?
            .map(Timestamp::from_unix_millis))
    };
    Ok(LedgerRow {
        run_id: run.clone(),
        job_id: job.clone(),
        status: LedgerStatus::parse(&status).unwrap_or(LedgerStatus::Running),
        attempts: row.get(1)?,
        started_at: time(2)?,
        completed_at: time(3)?,
        processing_time_ms: row.get(4)?,
        output_key: row.get(5)?,
        worker: row.get(6)?,
        error: row.get(7)?,
        claim_until: time(8)?,
        test_run_id: row.get(9)?,
        claim_message: row.get(10)?,
    })
}

fn get_row(
    tx: &rusqlite::Transaction<'_>,
    run: &RunId,
    job: &JobId,
) -> rusqlite::Result<Option<LedgerRow>> {
    tx.prepare_cached(&format!(
        "SELECT {ROW_COLUMNS} FROM jobs WHERE run_id = ?1 AND job_id = ?2"
    ))?
    .query_row(params![run.as_str(), job.as_str()], |row| {
        row_of(run, job, row)
    })
    .optional()
}

/// Runs one request inside the open transaction; the returned closure sends
/// its answer once the commit's fate is known.
fn apply(tx: &rusqlite::Transaction<'_>, request: Request) -> Answer {
    fn once<T: Send + 'static>(result: Result<T, LedgerError>, reply: Reply<T>) -> Answer {
        Box::new(move |committed| {
            let _ = reply.send(committed.and(result));
        })
    }
    match request {
        Request::Claim {
            run,
            job,
            worker,
            test_run_id,
            message,
            at,
            until,
            reply,
        } => {
            let result = (|| {
                let won: Option<u32> = tx
                    .prepare_cached(
                        "INSERT INTO jobs (run_id, job_id, status, attempts, started_at_ms, worker, claim_until_ms, test_run_id, claim_message)
                         VALUES (?1, ?2, 'running', 1, ?3, ?4, ?5, ?6, ?7)
                         ON CONFLICT (run_id, job_id) DO UPDATE SET
                           attempts = attempts + 1, started_at_ms = excluded.started_at_ms,
                           worker = excluded.worker, claim_until_ms = excluded.claim_until_ms,
                           test_run_id = excluded.test_run_id, claim_message = excluded.claim_message
                         WHERE status = 'running' AND (claim_until_ms IS NULL
                           OR claim_until_ms <= excluded.started_at_ms
                           OR claim_message = excluded.claim_message)
                         RETURNING attempts",
                    )?
                    .query_row(
                        params![
                            run.as_str(),
                            job.as_str(),
                            at.unix_millis(),
                            worker,
                            until.unix_millis(),
                            test_run_id,
                            message
                        ],
                        |row| row.get(0),
                    )
                    .optional()?;
                if let Some(attempt) = won {
                    return Ok(Claim::Run { attempt });
                }
                let row = get_row(tx, &run, &job)?.expect("a row that refused the claim exists");
                Ok(match row.status {
                    LedgerStatus::Running => Claim::Busy {
                        worker: row.worker.clone().unwrap_or_default(),
                        until: row.claim_until.unwrap_or(at),
                        duplicate: message.is_some()
                            && row.claim_message.is_some()
                            && row.claim_message != message,
                    },
                    LedgerStatus::Completed | LedgerStatus::Failed => Claim::Ended(Box::new(row)),
                })
            })()
            .map_err(db_err);
            once(result, reply)
        }
        Request::ReleaseAll { run, reply } => {
            let result = tx
                .prepare_cached(
                    "UPDATE jobs SET claim_until_ms = NULL
                     WHERE run_id = ?1 AND status = 'running' AND claim_until_ms IS NOT NULL",
                )
                .and_then(|mut stmt| stmt.execute(params![run.as_str()]))
                .map(|changed| changed as u64)
                .map_err(db_err);
            once(result, reply)
        }
        Request::Extend {
            run,
            job,
            worker,
            until,
            reply,
        } => {
            let result = tx
                .prepare_cached(
                    "UPDATE jobs SET claim_until_ms = ?4
                     WHERE run_id = ?1 AND job_id = ?2 AND worker = ?3 AND status = 'running'",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        run.as_str(),
                        job.as_str(),
                        worker,
                        until.map(Timestamp::unix_millis)
                    ])
                })
                .map(|changed| changed == 1)
                .map_err(db_err);
            once(result, reply)
        }
        Request::Finished {
            run,
            job,
            finished,
            reply,
        } => {
            let (status, output_key, error) = match &finished.outcome {
                Ok(key) => (LedgerStatus::Completed, Some(key.as_str()), None),
                Err(reason) => (LedgerStatus::Failed, None, Some(reason.as_str())),
            };
            let result = tx
                .prepare_cached(
                    "INSERT INTO jobs (run_id, job_id, status, attempts, completed_at_ms, processing_time_ms, output_key, worker, error)
                     VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (run_id, job_id) DO UPDATE SET
                       status = excluded.status, completed_at_ms = excluded.completed_at_ms,
                       processing_time_ms = excluded.processing_time_ms, output_key = excluded.output_key,
                       worker = excluded.worker, error = excluded.error, claim_until_ms = NULL,
                       claim_message = NULL
                     WHERE status NOT IN ('completed', 'failed')",
                )
                .and_then(|mut stmt| stmt.execute(params![
                        run.as_str(),
                        job.as_str(),
                        status.as_str(),
                        finished.completed_at.unix_millis(),
                        finished.processing_time_ms,
                        output_key,
                        finished.worker,
                        error
                    ]))
                .map(|changed| if changed == 1 { Recorded::First } else { Recorded::Duplicate })
                .map_err(db_err);
            once(result, reply)
        }
        Request::Get { run, job, reply } => {
            let result = get_row(tx, &run, &job).map_err(db_err);
            Box::new(move |_| {
                let _ = reply.send(result);
            })
        }
        Request::Completed { run, reply } => {
            let result = (|| {
                let mut stmt = tx.prepare(
                    "SELECT job_id FROM jobs WHERE run_id = ?1 AND status = 'completed'",
                )?;
                let rows = stmt.query_map(params![run.as_str()], |row| row.get::<_, String>(0))?;
                rows.collect::<Result<Vec<String>, _>>()
            })()
            .map_err(db_err)
            .and_then(|ids| {
                ids.into_iter()
                    .map(|id| {
                        JobId::new(id)
                            .map_err(|e| LedgerError::new(format!("corrupt ledger row: {e}")))
                    })
                    .collect()
            });
            Box::new(move |_| {
                let _ = reply.send(result);
            })
        }
    }
}

fn fail_all(batch: Vec<Request>, e: &LedgerError) {
    for request in batch {
        match request {
            Request::Claim { reply, .. } => drop(reply.send(Err(e.clone()))),
            Request::Extend { reply, .. } => drop(reply.send(Err(e.clone()))),
            Request::Finished { reply, .. } => drop(reply.send(Err(e.clone()))),
            Request::Get { reply, .. } => drop(reply.send(Err(e.clone()))),
            Request::Completed { reply, .. } => drop(reply.send(Err(e.clone()))),
            Request::ReleaseAll { reply, .. } => drop(reply.send(Err(e.clone()))),
        }
    }
}
