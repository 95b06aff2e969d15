//! The graph file: JSON of the form
//! `{"jobs": [{"job_id": "a", "depends_on": ["b"], "work_duration_ms": 0,
//! "data_size_kb": 0, "input_key": null, "kind": null}]}`; every field but
//! `job_id` is optional, unknown fields are ignored.
//!
//! Reading streams the `jobs` array straight into a [`GraphBuilder`] (no
//! intermediate document), so a file of millions of jobs parses at the speed
//! of the JSON scanner.

use std::fmt;
use std::io::{self, Write};

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::builder::JobSpec;
use super::{GraphBuilder, GraphError, JobAttrs, JobGraph, JobIndex};

/// A graph file that cannot be read: bad JSON (with line and column), or a
/// well-formed file describing an invalid graph.
#[derive(Debug, thiserror::Error)]
pub enum GraphFileError {
    /// The parser's message is part of this one (not a separate cause, so
    /// a chain of causes prints it once).
    #[error("not a valid graph file: {0}")]
    Json(serde_json::Error),
    #[error(transparent)]
    Graph(#[from] GraphError),
}

impl From<serde_json::Error> for GraphFileError {
    fn from(e: serde_json::Error) -> Self {
        GraphFileError::Json(e)
    }
}

impl JobGraph {
    /// Reads and validates a graph file's contents.
    pub fn from_json_slice(bytes: &[u8]) -> Result<JobGraph, GraphFileError> {
        let mut builder = GraphBuilder::with_capacity(bytes.len() / 48);
        let mut error = None;
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let parsed = GraphFileSeed {
            builder: &mut builder,
            error: &mut error,
        }
        .deserialize(&mut de)
        .and_then(|()| de.end());
        if let Some(e) = error {
            return Err(e.into());
        }
        parsed?;
        Ok(builder.finish()?)
    }

    /// Writes the graph file, one job per line, default fields left out.
    pub fn write_json(&self, out: &mut impl Write) -> io::Result<()> {
        let (deps_start, deps) = self.dependencies_csr();
        out.write_all(b"{\"jobs\": [\n")?;
        for job in self.jobs() {
            let j = job.index.get();
            if j > 0 {
                out.write_all(b",\n")?;
            }
            // Ids are `[A-Za-z0-9._:-]`: nothing to escape.
            write!(out, "{{\"job_id\":\"{}\"", job.job_id)?;
            let my_deps = &deps[deps_start[j] as usize..deps_start[j + 1] as usize];
            if !my_deps.is_empty() {
                out.write_all(b",\"depends_on\":[")?;
                for (i, &d) in my_deps.iter().enumerate() {
                    if i > 0 {
                        out.write_all(b",")?;
                    }
                    write!(out, "\"{}\"", self.id(JobIndex(d)))?;
                }
                out.write_all(b"]")?;
            }
            if job.work_duration_ms != 0 {
                write!(out, ",\"work_duration_ms\":{}", job.work_duration_ms)?;
            }
            if job.data_size_kb != 0 {
                write!(out, ",\"data_size_kb\":{}", job.data_size_kb)?;
            }
            for (name, value) in [("input_key", job.input_key), ("kind", job.kind)] {
                if let Some(value) = value {
                    write!(out, ",\"{name}\":")?;
                    serde_json::to_writer(&mut *out, value)?;
                }
            }
            out.write_all(b"}")?;
        }
        out.write_all(b"\n]}\n")
    }

    /// The graph file as a string (small graphs, tests).
    pub fn to_json_string(&self) -> String {
        let mut out = Vec::new();
        self.write_json(&mut out)
            .expect("writing to a Vec cannot fail");
        String::from_utf8(out).expect("graph files are UTF-8")
    }
}

struct GraphFileSeed<'b> {
    builder: &'b mut GraphBuilder,
    /// A graph error met mid-stream, kept whole (serde would flatten it to text).
    error: &'b mut Option<GraphError>,
}

impl<'de> DeserializeSeed<'de> for GraphFileSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for GraphFileSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"an object {"jobs": [...]}"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen_jobs = false;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "jobs" && !seen_jobs {
                seen_jobs = true;
                map.next_value_seed(JobsSeed {
                    builder: &mut *self.builder,
                    error: &mut *self.error,
                })?;
            } else if key == "jobs" {
                return Err(de::Error::duplicate_field("jobs"));
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if !seen_jobs {
            return Err(de::Error::missing_field("jobs"));
        }
        Ok(())
    }
}

struct JobsSeed<'b> {
    builder: &'b mut GraphBuilder,
    error: &'b mut Option<GraphError>,
}

impl<'de> DeserializeSeed<'de> for JobsSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for JobsSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of jobs")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(spec) = seq.next_element::<JobSpec<'de>>()? {
            let attrs = JobAttrs {
                work_duration_ms: spec.work_duration_ms,
                data_size_kb: spec.data_size_kb,
                input_key: spec.input_key.as_deref(),
                kind: spec.kind.as_deref(),
            };
            if let Err(e) = self.builder.add_job(&spec.job_id, &spec.depends_on, attrs) {
                *self.error = Some(e);
                return Err(de::Error::custom("invalid job"));
            }
        }
        Ok(())
    }
}
