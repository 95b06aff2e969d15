//! The delays parquet file of one leg job (delay-model.md §4): one row per
//! sample, plain types readable by pyarrow, pandas and DuckDB, snappy
//! compressed.
//!
//! `sequence_id int32, sample int32, leg int16, dep_delay int32,
//! arr_delay int32, primary_delay int32, propagated_delay int32,
//! enroute_delta int32, slack int32 (null for leg 1)`

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Int16Array, Int32Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use bytes::Bytes;
use dagbench_core::SequenceId;
use dagbench_flight::model::LegDelays;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

/// The schema of every delays file.
pub fn delays_schema() -> Schema {
    let int32 = |name: &str, nullable| Field::new(name, DataType::Int32, nullable);
    Schema::new(vec![
        int32("sequence_id", false),
        int32("sample", false),
        Field::new("leg", DataType::Int16, false),
        int32("dep_delay", false),
        int32("arr_delay", false),
        int32("primary_delay", false),
        int32("propagated_delay", false),
        int32("enroute_delta", false),
        int32("slack", true),
    ])
}

/// A delays file's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelayRecord {
    pub sequence_id: SequenceId,
    pub delays: LegDelays,
}

/// Encodes one leg's delays.
pub fn encode_delays(sequence_id: SequenceId, delays: &LegDelays) -> Result<Bytes, String> {
    let n = delays.samples();
    let leg =
        i16::try_from(delays.leg).map_err(|_| format!("leg {} does not fit int16", delays.leg))?;
    let id = i32::try_from(sequence_id.0)
        .map_err(|_| format!("sequence id {sequence_id} does not fit int32"))?;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from(vec![id; n])),
        Arc::new(Int32Array::from_iter_values(0..n as i32)),
        Arc::new(Int16Array::from(vec![leg; n])),
        Arc::new(Int32Array::from(delays.dep_delay.clone())),
        Arc::new(Int32Array::from(delays.arr_delay.clone())),
        Arc::new(Int32Array::from(delays.primary_delay.clone())),
        Arc::new(Int32Array::from(delays.propagated_delay.clone())),
        Arc::new(Int32Array::from(delays.enroute_delta.clone())),
        Arc::new(Int32Array::from(vec![delays.slack; n])),
    ];
    let batch =
        RecordBatch::try_new(Arc::new(delays_schema()), columns).map_err(|e| e.to_string())?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut out = Vec::with_capacity(n * 8 + 1024);
    let mut writer =
        ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).map_err(|e| e.to_string())?;
    writer.write(&batch).map_err(|e| e.to_string())?;
    writer.close().map_err(|e| e.to_string())?;
    Ok(Bytes::from(out))
}

/// Decodes a delays file, checking its schema and that it holds one leg of
/// one sequence with samples `0..n` in order.
pub fn decode_delays(bytes: Bytes) -> Result<DelayRecord, String> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .map_err(|e| format!("not a parquet file: {e}"))?
        .build()
        .map_err(|e| e.to_string())?;
    let expected = delays_schema();
    let mut columns: Vec<Vec<Option<i32>>> = vec![Vec::new(); expected.fields().len()];
    for batch in reader {
        let batch = batch.map_err(|e| e.to_string())?;
        let schema = batch.schema();
        for (i, field) in expected.fields().iter().enumerate() {
            let found = schema.field(i);
            if found.name() != field.name() || found.data_type() != field.data_type() {
                return Err(format!(
                    "column {i} is {} {}, expected {} {}",
                    found.name(),
                    found.data_type(),
                    field.name(),
                    field.data_type()
                ));
            }
            let column = batch.column(i);
            if let Some(a) = column.as_any().downcast_ref::<Int32Array>() {
                columns[i].extend(a.iter());
            } else if let Some(a) = column.as_any().downcast_ref::<Int16Array>() {
                columns[i].extend(a.iter().map(|v| v.map(i32::from)));
            }
            if !field.is_nullable() && column.null_count() > 0 {
                return Err(format!("column {} has nulls", field.name()));
            }
        }
    }
    let dense =
        |i: usize| -> Vec<i32> { columns[i].iter().map(|v| v.unwrap_or_default()).collect() };
    let n = columns[0].len();
    if n == 0 {
        return Err("the file has no rows".into());
    }
    let ids = dense(0);
    let legs = dense(2);
    let samples = dense(1);
    if ids.iter().any(|&v| v != ids[0]) || legs.iter().any(|&v| v != legs[0]) {
        return Err("rows of more than one leg".into());
    }
    if samples.iter().enumerate().any(|(s, &v)| v != s as i32) {
        return Err("samples are not 0..n in order".into());
    }
    let slack = columns[8][0];
    if columns[8].iter().any(|&v| v != slack) {
        return Err("slack differs between rows".into());
    }
    let sequence_id =
        SequenceId(u32::try_from(ids[0]).map_err(|_| format!("negative sequence id {}", ids[0]))?);
    let leg = u32::try_from(legs[0]).map_err(|_| format!("negative leg {}", legs[0]))?;
    Ok(DelayRecord {
        sequence_id,
        delays: LegDelays {
            leg,
            slack,
            dep_delay: dense(3),
            arr_delay: dense(4),
            primary_delay: dense(5),
            propagated_delay: dense(6),
            enroute_delta: dense(7),
        },
    })
}
