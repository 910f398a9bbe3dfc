//! Last-write-wins de-duplication for primary-key tables.
//!
//! Rows with equal (tags, time) replace each other; the row from the request
//! with the highest WAL sequence number wins (within one request, the later
//! row wins). Used on read, in flush and in compaction.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, UInt32Array, UInt64Array};
use arrow::compute::{
    concat_batches, lexsort_to_indices, take_record_batch, SortColumn, SortOptions,
};
use arrow::row::{RowConverter, SortField};

use crate::error::Result;
use crate::memtable::MemBatch;

/// Returns the surviving rows of `batches`, sorted by the key columns
/// `key_idx` (positions in the batches: the tags, then the time column).
pub fn dedup_last_write_wins(key_idx: &[usize], batches: &[MemBatch]) -> Result<Vec<RecordBatch>> {
    if batches.is_empty() {
        return Ok(Vec::new());
    }
    let schema = batches[0].batch.schema();
    let all = concat_batches(&schema, batches.iter().map(|b| &b.batch))?;
    let mut seqs = Vec::with_capacity(all.num_rows());
    for b in batches {
        seqs.extend(std::iter::repeat_n(b.seq, b.batch.num_rows()));
    }
    let order: Vec<u64> = (0..all.num_rows() as u64).collect();
    let mut sort_cols: Vec<SortColumn> = key_idx
        .iter()
        .map(|i| SortColumn {
            values: all.column(*i).clone(),
            options: Some(SortOptions::default()),
        })
        .collect();
    // Newest first inside equal keys: sequence, then position, descending.
    for extra in [
        Arc::new(UInt64Array::from(seqs)) as ArrayRef,
        Arc::new(UInt64Array::from(order)),
    ] {
        sort_cols.push(SortColumn {
            values: extra,
            options: Some(SortOptions {
                descending: true,
                nulls_first: false,
            }),
        });
    }
    let indices = lexsort_to_indices(&sort_cols, None)?;
    let sorted = take_record_batch(&all, &indices)?;
    let key_cols: Vec<ArrayRef> = key_idx.iter().map(|i| sorted.column(*i).clone()).collect();
    let converter = RowConverter::new(
        key_cols
            .iter()
            .map(|c| SortField::new(c.data_type().clone()))
            .collect(),
    )?;
    let rows = converter.convert_columns(&key_cols)?;
    let mut keep = Vec::with_capacity(sorted.num_rows());
    for i in 0..sorted.num_rows() {
        if i == 0 || rows.row(i) != rows.row(i - 1) {
            keep.push(i as u32);
        }
    }
    if keep.len() == sorted.num_rows() {
        return Ok(vec![sorted]);
    }
    Ok(vec![take_record_batch(&sorted, &UInt32Array::from(keep))?])
}
