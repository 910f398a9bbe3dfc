//! Writing a segment file from rows sorted by (tags, time).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type};
use arrow::row::{RowConverter, SortField};
use lynx_compression::{encode_array, EncodeOptions};

use super::{
    BlobRef, ChunkMeta, Footer, SeriesEntry, CHUNK_ROWS, FORMAT_VERSION, HEAD_MAGIC, TAIL_MAGIC,
};
use crate::error::{Result, StorageError};
use crate::parallel::parallel_map;
use crate::schema::TableDef;

/// Writes `batch` (the table's columns in `def` order, sorted by (tags,
/// time), at least one row) to `path` and fsyncs it. The caller renames the
/// file into place and commits it to the manifest.
pub fn write_segment(
    path: &Path,
    def: &TableDef,
    batch: &RecordBatch,
    partition: i64,
    max_seq: u64,
) -> Result<Footer> {
    let io = |e: std::io::Error| StorageError::io(path, e);
    let time = times(batch, def.time_index())?;
    let rows = batch.num_rows();
    let mut footer = Footer {
        version: FORMAT_VERSION,
        columns: def.columns.clone(),
        rows: rows as u64,
        partition,
        min_time: time.iter().copied().min().unwrap_or(0),
        max_time: time.iter().copied().max().unwrap_or(0),
        max_seq,
        chunks: Vec::new(),
        series: series_directory(def, batch, &time)?,
    };
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(io)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    out.write_all(HEAD_MAGIC).map_err(io)?;
    out.write_all(&FORMAT_VERSION.to_le_bytes()).map_err(io)?;
    out.write_all(&0u32.to_le_bytes()).map_err(io)?;
    let mut offset = super::HEAD_LEN as u64;
    let options = EncodeOptions::default();
    let starts: Vec<usize> = (0..rows).step_by(CHUNK_ROWS).collect();
    let columns = batch.num_columns();
    // Every (chunk, column) blob is encoded independently, on all cores;
    // they are written in order afterwards.
    let blobs = parallel_map(starts.len() * columns, |task| {
        let start = starts[task / columns];
        let slice = batch
            .column(task % columns)
            .slice(start, CHUNK_ROWS.min(rows - start));
        encode_array(slice.as_ref(), &options)
            .map(|blob| (blob, slice.null_count() as u32))
            .map_err(|e| StorageError::Internal(format!("encoding a column of {}: {e}", def.name)))
    });
    let mut blobs = blobs.into_iter();
    for &start in &starts {
        let len = CHUNK_ROWS.min(rows - start);
        let chunk_times = &time[start..start + len];
        let mut meta = ChunkMeta {
            rows: len as u32,
            min_time: chunk_times.iter().copied().min().unwrap_or(0),
            max_time: chunk_times.iter().copied().max().unwrap_or(0),
            columns: Vec::with_capacity(columns),
        };
        for blob in blobs.by_ref().take(columns) {
            let (blob, nulls) = blob?;
            out.write_all(&blob).map_err(io)?;
            meta.columns.push(BlobRef {
                offset,
                len: blob.len() as u64,
                crc: crc32fast::hash(&blob),
                nulls,
            });
            offset += blob.len() as u64;
        }
        footer.chunks.push(meta);
    }
    let footer_bytes = serde_json::to_vec(&footer)
        .map_err(|e| StorageError::Internal(format!("segment footer: {e}")))?;
    out.write_all(&footer_bytes).map_err(io)?;
    out.write_all(&(footer_bytes.len() as u64).to_le_bytes())
        .map_err(io)?;
    out.write_all(&crc32fast::hash(&footer_bytes).to_le_bytes())
        .map_err(io)?;
    out.write_all(TAIL_MAGIC).map_err(io)?;
    let file: File = out.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    Ok(footer)
}

/// The time column as i64 microseconds.
pub(crate) fn times(batch: &RecordBatch, time_index: usize) -> Result<Vec<i64>> {
    time_values(batch.column(time_index))
}

/// A time column's values as i64 microseconds.
pub(crate) fn time_values(column: &ArrayRef) -> Result<Vec<i64>> {
    let micros = cast(column, &DataType::Int64)?;
    Ok(micros.as_primitive::<Int64Type>().values().to_vec())
}

/// Sets `changed[row]` where `col` differs from its value at `row - 1`.
fn mark_changes(col: &ArrayRef, changed: &mut [bool]) -> Result<()> {
    if let Some(strings) = col.as_any().downcast_ref::<StringArray>() {
        let value = |r: usize| strings.is_valid(r).then(|| strings.value(r));
        for (r, c) in changed.iter_mut().enumerate().skip(1) {
            *c |= value(r) != value(r - 1);
        }
        return Ok(());
    }
    let converter = RowConverter::new(vec![SortField::new(col.data_type().clone())])?;
    let keys = converter.convert_columns(std::slice::from_ref(col))?;
    for (r, c) in changed.iter_mut().enumerate().skip(1) {
        *c |= keys.row(r) != keys.row(r - 1);
    }
    Ok(())
}

/// Runs of equal tag values in rows sorted by (tags, time).
fn series_directory(def: &TableDef, batch: &RecordBatch, time: &[i64]) -> Result<Vec<SeriesEntry>> {
    let rows = batch.num_rows();
    let tag_idx = def.tag_indices();
    let tag_values = |row: usize| -> Vec<Option<String>> {
        tag_idx
            .iter()
            .map(|i| {
                let col = batch.column(*i);
                col.as_any()
                    .downcast_ref::<StringArray>()
                    .filter(|s| s.is_valid(row))
                    .map(|s| s.value(row).to_string())
            })
            .collect()
    };
    let mut boundaries = vec![0];
    if !tag_idx.is_empty() && rows > 1 {
        let cols: Vec<_> = tag_idx.iter().map(|i| batch.column(*i).clone()).collect();
        // A boundary wherever any tag column changes value from the row before.
        let mut changed = vec![false; rows];
        for col in &cols {
            mark_changes(col, &mut changed)?;
        }
        boundaries.extend((1..rows).filter(|r| changed[*r]));
    }
    boundaries.push(rows);
    Ok(boundaries
        .windows(2)
        .map(|w| SeriesEntry {
            tags: tag_values(w[0]),
            start: w[0] as u64,
            end: w[1] as u64,
            first_time: time[w[0]..w[1]].iter().copied().min().unwrap_or(0),
            last_time: time[w[0]..w[1]].iter().copied().max().unwrap_or(0),
        })
        .collect())
}
