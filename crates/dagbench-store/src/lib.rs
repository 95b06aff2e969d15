//! The results tree of a run over any `object_store` backend — local disk,
//! in memory, S3 — with typed operations instead of one class per backend.
//! Paths come from `dagbench_core::keys` only; a missing object is `None`.
//!
//! # Layout
//! - this module: [`RunStore`] and its typed operations.
//! - [`parquet_codec`]: the delays parquet file.

pub mod parquet_codec;

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use dagbench_core::calls::CallTally;
use dagbench_core::ids::{JobId, RunId, SequenceId};
use dagbench_core::key::ObjectKey;
use dagbench_core::keys;
use dagbench_core::time::Timestamp;
use dagbench_flight::Airports;
use dagbench_flight::aircraft::JobDetails;
use dagbench_flight::model::LegDelays;
use dagbench_flight::sequence::{Sequence, SequenceFileError};
use dagbench_flight::stats::{MergedPercentiles, SequencePercentiles};
use futures::TryStreamExt as _;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as StorePath;
use object_store::prefix::PrefixStore;
use object_store::{Attribute, ObjectStore, ObjectStoreExt as _, PutOptions, PutPayload};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use parquet_codec::DelayRecord;

/// The field by which an object declares itself dagbench job details.
pub const DETAILS_MARKER: &str = "dagbench_job_details";

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend failed (network, disk, throttling): worth retrying.
    /// Not a `source`: object_store's messages already end with their
    /// causes, and chaining them would print each cause twice.
    #[error("object store error at {key}: {error}")]
    Backend {
        key: String,
        error: object_store::Error,
    },
    /// The object exists but is not what it should be: retrying won't help.
    #[error("object {key} is invalid: {reason}")]
    Invalid { key: String, reason: String },
    #[error("cannot open the store at {path}: {reason}")]
    Open { path: String, reason: String },
}

impl StoreError {
    /// Whether trying again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Backend { .. }) && !self.is_fatal()
    }

    /// Whether the store itself cannot be used — disk full, a read-only
    /// file system, access denied — so no job can succeed until someone
    /// fixes it (the run stops, rather than failing its jobs one by one).
    pub fn is_fatal(&self) -> bool {
        let StoreError::Backend { error: source, .. } = self else {
            return false;
        };
        if matches!(
            source,
            object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. }
        ) {
            return true;
        }
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(source);
        while let Some(e) = cause {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                use std::io::ErrorKind;
                if matches!(
                    io.kind(),
                    ErrorKind::StorageFull
                        | ErrorKind::ReadOnlyFilesystem
                        | ErrorKind::PermissionDenied
                        | ErrorKind::QuotaExceeded
                        | ErrorKind::FileTooLarge
                ) {
                    return true;
                }
            }
            cause = e.source();
        }
        false
    }

    fn invalid(key: &ObjectKey, reason: impl std::fmt::Display) -> Self {
        StoreError::Invalid {
            key: key.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// Typed access to the results tree.
#[derive(Debug, Clone)]
pub struct RunStore {
    store: Arc<dyn ObjectStore>,
    /// Whether objects carry a `Content-Type` (S3 and memory do; local
    /// files have none to carry).
    typed: bool,
    /// The directory of a local store: inputs read there must be regular
    /// files inside it (no FIFO that blocks a reader, no symbolic link out).
    local_root: Option<std::path::PathBuf>,
    /// Where its requests are counted (shared by clones; see
    /// [`RunStore::counting`]).
    calls: Arc<CallTally>,
}

/// The larger an input object may be and still be read as job details
/// (bigger ones are opaque inputs, counted as they stream by).
pub const MAX_DETAILS_BYTES: u64 = 16 * 1024 * 1024;

/// An input of a local store is a regular file under its root reached
/// without symbolic links: a FIFO or device would block or never end, and
/// a link could lead anywhere on the machine. A missing file passes (the
/// read then finds nothing).
fn check_local_input(root: &Path, key: &ObjectKey) -> Result<(), StoreError> {
    let mut path = root.to_path_buf();
    let parts: Vec<&str> = key.as_str().split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        path.push(part);
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            return Ok(());
        };
        let kind = meta.file_type();
        if kind.is_symlink() {
            return Err(StoreError::invalid(
                key,
                "is reached through a symbolic link; inputs must be regular files inside the results directory",
            ));
        }
        if i + 1 == parts.len() && !kind.is_file() && !kind.is_dir() {
            return Err(StoreError::invalid(
                key,
                "is not a regular file (a FIFO, socket or device); inputs must be regular files",
            ));
        }
    }
    Ok(())
}

/// What a job's `input_key` holds.
#[derive(Debug, Clone, PartialEq)]
pub enum JobInput {
    /// dagbench job details: the aircraft computation to run.
    Details(Box<JobDetails>),
    /// Anything else (the source document's generic job): its size.
    Opaque { bytes: u64 },
}

/// The `Content-Type` of an object, by its key's extension.
fn content_type(key: &ObjectKey) -> &'static str {
    match key.as_str().rsplit('.').next() {
        Some("json") => "application/json",
        Some("parquet") => "application/vnd.apache.parquet",
        _ => "application/octet-stream",
    }
}

fn path(key: &ObjectKey) -> StorePath {
    StorePath::from(key.as_str())
}

impl RunStore {
    /// A store over `store`; `typed` when it keeps a `Content-Type` per
    /// object (S3, memory).
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self {
            store,
            typed: false,
            local_root: None,
            calls: Arc::default(),
        }
    }

    /// This store, counting its requests (and whatever else its user
    /// counts there) in `calls` instead of the tally it shared so far.
    #[must_use]
    pub fn counting(&self, calls: Arc<CallTally>) -> Self {
        Self {
            calls,
            ..self.clone()
        }
    }

    /// The tally of this store's requests.
    pub fn calls(&self) -> &Arc<CallTally> {
        &self.calls
    }

    /// This store, writing a `Content-Type` with every object
    /// (`application/json`, `application/vnd.apache.parquet`).
    #[must_use]
    pub fn with_content_types(mut self) -> Self {
        self.typed = true;
        self
    }

    /// A store rooted at a local directory (created if missing).
    pub fn local(root: &Path) -> Result<Self, StoreError> {
        let open_err = |reason: String| StoreError::Open {
            path: root.display().to_string(),
            reason,
        };
        std::fs::create_dir_all(root).map_err(|e| open_err(e.to_string()))?;
        let fs = LocalFileSystem::new_with_prefix(root).map_err(|e| open_err(e.to_string()))?;
        let mut store = Self::new(Arc::new(fs));
        store.local_root = Some(root.to_path_buf());
        Ok(store)
    }

    pub fn in_memory() -> Self {
        Self::new(Arc::new(InMemory::new())).with_content_types()
    }

    /// The same store seen under `prefix` (e.g. `perf/`), as in
    /// `<prefix>/<run_id>/…`.
    pub fn with_prefix(store: Arc<dyn ObjectStore>, prefix: &str) -> Self {
        if prefix.trim_matches('/').is_empty() {
            return Self::new(store);
        }
        Self::new(Arc::new(PrefixStore::new(store, prefix.trim_matches('/'))))
    }

    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Writes `bytes` at `key`, replacing what is there (writes are
    /// idempotent: the same job writes the same bytes).
    pub async fn put_bytes(&self, key: &ObjectKey, bytes: Bytes) -> Result<(), StoreError> {
        let mut options = PutOptions::default();
        if self.typed {
            options
                .attributes
                .insert(Attribute::ContentType, content_type(key).into());
        }
        self.calls.s3_put();
        self.store
            .put_opts(&path(key), PutPayload::from_bytes(bytes), options)
            .await
            .map(|_| ())
            .map_err(|error| StoreError::Backend {
                key: key.to_string(),
                error,
            })
    }

    /// The object at `key`, or `None` when there is none.
    pub async fn get_bytes(&self, key: &ObjectKey) -> Result<Option<Bytes>, StoreError> {
        let backend = |error| StoreError::Backend {
            key: key.to_string(),
            error,
        };
        self.calls.s3_get();
        match self.store.get(&path(key)).await {
            Ok(result) => result.bytes().await.map(Some).map_err(backend),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(backend(e)),
        }
    }

    pub async fn put_json<T: Serialize>(
        &self,
        key: &ObjectKey,
        value: &T,
    ) -> Result<(), StoreError> {
        let mut bytes = serde_json::to_vec(value).map_err(|e| StoreError::invalid(key, e))?;
        bytes.push(b'\n');
        self.put_bytes(key, Bytes::from(bytes)).await
    }

    pub async fn get_json<T: DeserializeOwned>(
        &self,
        key: &ObjectKey,
    ) -> Result<Option<T>, StoreError> {
        match self.get_bytes(key).await? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| StoreError::invalid(key, e)),
        }
    }

    /// Keys of the objects directly or indirectly under `dir`.
    pub async fn list(&self, dir: &ObjectKey) -> Result<Vec<String>, StoreError> {
        let prefix = path(dir);
        self.calls.s3_list();
        let found: Vec<_> =
            self.store
                .list(Some(&prefix))
                .try_collect()
                .await
                .map_err(|error| StoreError::Backend {
                    key: dir.to_string(),
                    error,
                })?;
        let mut keys: Vec<String> = found.into_iter().map(|m| m.location.to_string()).collect();
        keys.sort();
        Ok(keys)
    }

    /// `<run>/sequences/sequence_<id>.json`
    pub async fn put_sequence(&self, run: &RunId, seq: &Sequence) -> Result<(), StoreError> {
        let key = keys::sequence(run, seq.sequence_id);
        let mut text = seq.to_json();
        text.push('\n');
        self.put_bytes(&key, Bytes::from(text)).await
    }

    /// Reads a sequence and checks every rule against `airports`.
    pub async fn get_sequence(
        &self,
        run: &RunId,
        id: SequenceId,
        airports: &Airports,
    ) -> Result<Option<Sequence>, StoreError> {
        let key = keys::sequence(run, id);
        let Some(bytes) = self.get_bytes(&key).await? else {
            return Ok(None);
        };
        Sequence::from_json(&bytes, airports)
            .map(Some)
            .map_err(|e: SequenceFileError| StoreError::invalid(&key, e))
    }

    /// `<run>/jobs/<job_id>.json`, declaring itself dagbench job details
    /// (`"dagbench_job_details": 1`).
    pub async fn put_job_details(
        &self,
        run: &RunId,
        job: &JobId,
        details: &JobDetails,
    ) -> Result<(), StoreError> {
        let key = keys::job_details(run, job);
        let mut value = serde_json::to_value(details).map_err(|e| StoreError::invalid(&key, e))?;
        if let Some(fields) = value.as_object_mut() {
            fields.insert(DETAILS_MARKER.into(), 1.into());
        }
        self.put_json(&key, &value).await
    }

    /// The job details at a message's `input_key` (`None` when there is no
    /// object there, or it is not dagbench job details).
    pub async fn get_job_details(
        &self,
        input_key: &ObjectKey,
    ) -> Result<Option<JobDetails>, StoreError> {
        Ok(match self.get_job_input(input_key).await? {
            Some(JobInput::Details(d)) => Some(*d),
            _ => None,
        })
    }

    /// What a message's `input_key` holds: dagbench job details (objects
    /// that declare themselves so, or that are whole job details of an
    /// earlier version), or an opaque input of some size; `None` when there
    /// is no object. Opaque inputs are counted as they stream, never held.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for an object that declares itself job
    /// details but is not; backend errors.
    pub async fn get_job_input(&self, key: &ObjectKey) -> Result<Option<JobInput>, StoreError> {
        if let Some(root) = &self.local_root {
            check_local_input(root, key)?;
        }
        let backend = |error| StoreError::Backend {
            key: key.to_string(),
            error,
        };
        self.calls.s3_get();
        let result = match self.store.get(&path(key)).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(backend(e)),
        };
        let size = result.meta.size;
        if size > MAX_DETAILS_BYTES {
            let mut stream = result.into_stream();
            let mut bytes = 0u64;
            while let Some(chunk) = stream.try_next().await.map_err(backend)? {
                bytes += chunk.len() as u64;
            }
            return Ok(Some(JobInput::Opaque { bytes }));
        }
        let bytes = result.bytes().await.map_err(backend)?;
        let (value, parse_error) = match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(v) => (Some(v), None),
            Err(e) => (None, Some(e)),
        };
        let declared = match &value {
            Some(v) => v.get(DETAILS_MARKER).is_some(),
            // Corrupted or cut short: still job details if it says so, not
            // an opaque input that would "complete" without computing.
            None => {
                let marker = format!("\"{DETAILS_MARKER}\"");
                bytes.windows(marker.len()).any(|w| w == marker.as_bytes())
            }
        };
        if let (Some(e), true) = (&parse_error, declared) {
            return Err(StoreError::invalid(
                key,
                format!("declares dagbench job details but is not valid JSON: {e}"),
            ));
        }
        match value.map(serde_json::from_value::<JobDetails>) {
            Some(Ok(details)) => {
                details
                    .check_bounds()
                    .map_err(|reason| StoreError::invalid(key, reason))?;
                Ok(Some(JobInput::Details(Box::new(details))))
            }
            Some(Err(e)) if declared => Err(StoreError::invalid(
                key,
                format!("declares dagbench job details but {e}"),
            )),
            _ => Ok(Some(JobInput::Opaque {
                bytes: bytes.len() as u64,
            })),
        }
    }

    /// `<run>/delays/<job_id>.parquet`
    pub async fn put_delays(
        &self,
        run: &RunId,
        job: &JobId,
        sequence_id: SequenceId,
        delays: &LegDelays,
    ) -> Result<(), StoreError> {
        let key = keys::delays(run, job);
        let bytes = parquet_codec::encode_delays(sequence_id, delays)
            .map_err(|e| StoreError::invalid(&key, e))?;
        self.put_bytes(&key, bytes).await
    }

    pub async fn get_delays(
        &self,
        run: &RunId,
        job: &JobId,
    ) -> Result<Option<DelayRecord>, StoreError> {
        let key = keys::delays(run, job);
        match self.get_bytes(&key).await? {
            None => Ok(None),
            Some(bytes) => parquet_codec::decode_delays(bytes)
                .map(Some)
                .map_err(|e| StoreError::invalid(&key, e)),
        }
    }

    /// `<run>/percentiles/<sequence_id>.json`
    pub async fn put_percentiles(
        &self,
        run: &RunId,
        p: &SequencePercentiles,
    ) -> Result<(), StoreError> {
        self.put_json(&keys::percentiles(run, p.sequence_id), p)
            .await
    }

    pub async fn get_percentiles(
        &self,
        run: &RunId,
        id: SequenceId,
    ) -> Result<Option<SequencePercentiles>, StoreError> {
        let key = keys::percentiles(run, id);
        let found: Option<SequencePercentiles> = self.get_json(&key).await?;
        if let Some(p) = &found {
            p.validate().map_err(|e| StoreError::invalid(&key, e))?;
            if p.sequence_id != id {
                return Err(StoreError::invalid(
                    &key,
                    format!("holds sequence {}", p.sequence_id),
                ));
            }
        }
        Ok(found)
    }

    /// The sequences that have percentiles in `run`, ascending.
    pub async fn list_percentiles(&self, run: &RunId) -> Result<Vec<SequenceId>, StoreError> {
        let mut ids: Vec<SequenceId> = self
            .list(&keys::percentiles_dir(run))
            .await?
            .iter()
            .filter_map(|k| k.rsplit('/').next()?.strip_suffix(".json")?.parse().ok())
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// `<run>/merged_percentiles/merged_percentiles.json`
    pub async fn put_merged_percentiles(
        &self,
        run: &RunId,
        m: &MergedPercentiles,
    ) -> Result<(), StoreError> {
        self.put_json(&keys::merged_percentiles(run), m).await
    }

    pub async fn get_merged_percentiles(
        &self,
        run: &RunId,
    ) -> Result<Option<MergedPercentiles>, StoreError> {
        self.get_json(&keys::merged_percentiles(run)).await
    }

    /// `output/YYYY/MM/DD/HH/<job_id>.json`; returns the key written.
    pub async fn put_output(
        &self,
        job: &JobId,
        completed_at: Timestamp,
        bytes: Bytes,
    ) -> Result<ObjectKey, StoreError> {
        let key = keys::output(job, completed_at);
        self.put_bytes(&key, bytes).await?;
        Ok(key)
    }
}
