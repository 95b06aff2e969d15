//! `SqliteLedger`: the job ledger in a SQLite file (WAL) in the run's
//! directory, one row per job. All statements go through one writer thread
//! that commits whatever is pending in one transaction (group commit), so
//! thousands of processors' records cost a handful of commits.

use std::path::Path;
use std::sync::mpsc;

use async_trait::async_trait;
use dagbench_core::ids::{JobId, RunId};
use dagbench_core::time::Timestamp;
use dagbench_runtime::ports::{
    Finished, JobLedger, LedgerError, LedgerRow, LedgerStatus, Recorded,
};
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs (
    run_id             TEXT    NOT NULL,
    job_id             TEXT    NOT NULL,
    status             TEXT    NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    started_at         INTEGER,
    completed_at       INTEGER,
    processing_time_ms REAL,
    output_key         TEXT,
    worker             TEXT,
    error              TEXT,
    PRIMARY KEY (run_id, job_id)
) WITHOUT ROWID;
";

/// Most requests one transaction takes.
const GROUP: usize = 4096;

enum Request {
    Started {
        run: RunId,
        job: JobId,
        worker: String,
        at: Timestamp,
        reply: oneshot::Sender<Result<(), LedgerError>>,
    },
    Finished {
        run: RunId,
        job: JobId,
        finished: Finished,
        reply: oneshot::Sender<Result<Recorded, LedgerError>>,
    },
    Get {
        run: RunId,
        job: JobId,
        reply: oneshot::Sender<Result<Option<LedgerRow>, LedgerError>>,
    },
    Completed {
        run: RunId,
        reply: oneshot::Sender<Result<Vec<JobId>, LedgerError>>,
    },
}

#[derive(Debug)]
pub struct SqliteLedger {
    requests: mpsc::Sender<Request>,
    path: String,
}

#[allow(clippy::needless_pass_by_value)] // used as `.map_err(db_err)`
fn db_err(e: rusqlite::Error) -> LedgerError {
    LedgerError(e.to_string())
}

impl SqliteLedger {
    /// Opens (or creates) the ledger file.
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| LedgerError(format!("cannot create {}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path)
            .map_err(|e| LedgerError(format!("cannot open {}: {e}", path.display())))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(db_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db_err)?;
        conn.execute_batch(SCHEMA).map_err(db_err)?;
        let (requests, inbox) = mpsc::channel();
        std::thread::Builder::new()
            .name("sqlite-ledger".into())
            .spawn(move || writer(conn, &inbox))
            .map_err(|e| LedgerError(format!("cannot start the ledger thread: {e}")))?;
        Ok(Self {
            requests,
            path: path.display().to_string(),
        })
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    fn send(&self, request: Request) -> Result<(), LedgerError> {
        self.requests
            .send(request)
            .map_err(|_| LedgerError("the ledger thread has stopped".into()))
    }
}

async fn answer<T>(rx: oneshot::Receiver<Result<T, LedgerError>>) -> Result<T, LedgerError> {
    rx.await
        .map_err(|_| LedgerError("the ledger thread has stopped".into()))?
}

#[async_trait]
impl JobLedger for SqliteLedger {
    async fn record_started(
        &self,
        run: &RunId,
        job: &JobId,
        worker: &str,
        at: Timestamp,
    ) -> Result<(), LedgerError> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Started {
            run: run.clone(),
            job: job.clone(),
            worker: worker.to_owned(),
            at,
            reply,
        })?;
        // A start is advisory (it counts attempts): queue it and go on. The
        // writer applies requests in order, so it lands before the job's end,
        // and a failing ledger still fails that end.
        drop(rx);
        Ok(())
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
/// transaction, then answers.
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
        let mut replies: Vec<Box<dyn FnOnce(bool)>> = Vec::with_capacity(batch.len());
        for request in batch {
            replies.push(apply(&tx, request));
        }
        let committed = tx.commit().map_err(db_err);
        let ok = committed.is_ok();
        for reply in replies {
            reply(ok);
        }
    }
}

/// Runs one request inside the open transaction; the returned closure sends
/// its answer once the commit's fate is known.
fn apply(tx: &rusqlite::Transaction<'_>, request: Request) -> Box<dyn FnOnce(bool)> {
    let commit_failed = || LedgerError("the ledger transaction did not commit".into());
    match request {
        Request::Started {
            run,
            job,
            worker,
            at,
            reply,
        } => {
            let result = tx
                .prepare_cached(
                    "INSERT INTO jobs (run_id, job_id, status, attempts, started_at, worker)
                     VALUES (?1, ?2, 'running', 1, ?3, ?4)
                     ON CONFLICT (run_id, job_id) DO UPDATE SET
                       attempts = attempts + 1,
                       started_at = CASE WHEN status = 'running' THEN excluded.started_at ELSE started_at END,
                       worker = CASE WHEN status = 'running' THEN excluded.worker ELSE worker END",
                )
                .and_then(|mut stmt| stmt.execute(params![run.as_str(), job.as_str(), at.unix_millis(), worker]))
                .map(|_| ())
                .map_err(db_err);
            Box::new(move |ok| {
                let _ = reply.send(if ok { result } else { Err(commit_failed()) });
            })
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
                    "INSERT INTO jobs (run_id, job_id, status, attempts, completed_at, processing_time_ms, output_key, worker, error)
                     VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (run_id, job_id) DO UPDATE SET
                       status = excluded.status, completed_at = excluded.completed_at,
                       processing_time_ms = excluded.processing_time_ms, output_key = excluded.output_key,
                       worker = excluded.worker, error = excluded.error
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
            Box::new(move |ok| {
                let _ = reply.send(if ok { result } else { Err(commit_failed()) });
            })
        }
        Request::Get { run, job, reply } => {
            let result = tx
                .query_row(
                    "SELECT status, attempts, started_at, completed_at, processing_time_ms, output_key, worker, error
                     FROM jobs WHERE run_id = ?1 AND job_id = ?2",
                    params![run.as_str(), job.as_str()],
                    |row| {
                        let status: String = row.get(0)?;
                        Ok(LedgerRow {
                            run_id: run.clone(),
                            job_id: job.clone(),
                            status: LedgerStatus::parse(&status).unwrap_or(LedgerStatus::Running),
                            attempts: row.get(1)?,
                            started_at: row.get::<_, Option<i64>>(2)?.map(Timestamp::from_unix_millis),
                            completed_at: row.get::<_, Option<i64>>(3)?.map(Timestamp::from_unix_millis),
                            processing_time_ms: row.get(4)?,
                            output_key: row.get(5)?,
                            worker: row.get(6)?,
                            error: row.get(7)?,
                        })
                    },
                )
                .optional()
                .map_err(db_err);
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
                        JobId::new(id).map_err(|e| LedgerError(format!("corrupt ledger row: {e}")))
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
            Request::Started { reply, .. } => drop(reply.send(Err(e.clone()))),
            Request::Finished { reply, .. } => drop(reply.send(Err(e.clone()))),
            Request::Get { reply, .. } => drop(reply.send(Err(e.clone()))),
            Request::Completed { reply, .. } => drop(reply.send(Err(e.clone()))),
        }
    }
}
