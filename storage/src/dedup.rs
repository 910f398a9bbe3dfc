//! Last-write-wins de-duplication for primary-key tables.
//!
//! Rows with equal (tags, time) replace each other; the row from the request
//! with the highest WAL sequence number wins (within one request, the later
//! row wins). Used on read, in flush and in compaction.

use std::cmp::Reverse;
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
    let schema = batches[0].schema();
    let plain = batches
        .iter()
        .map(MemBatch::batch)
        .collect::<Result<Vec<_>>>()?;
    let all = concat_batches(&schema, &plain)?;
    drop(plain);
    let mut seqs = Vec::with_capacity(all.num_rows());
    for b in batches {
        b.extend_seqs(&mut seqs);
    }
    if let Some(keep) = newest_per_key(key_idx, &all, &seqs)? {
        return Ok(vec![take_record_batch(&all, &UInt32Array::from(keep))?]);
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

/// The surviving rows in (tags, time) order through interned series ids
/// (see `series_order`): fixed-size keys instead of a lexicographic sort
/// over every tag column. None when the tags are not all Utf8 or the time
/// column has NULLs; the caller then takes the general path.
fn newest_per_key(key_idx: &[usize], all: &RecordBatch, seqs: &[u64]) -> Result<Option<Vec<u32>>> {
    let Some((time_pos, tag_pos)) = key_idx.split_last() else {
        return Ok(None);
    };
    let time = all.column(*time_pos);
    if time.null_count() > 0 {
        return Ok(None);
    }
    let tags: Vec<ArrayRef> = tag_pos.iter().map(|i| all.column(*i).clone()).collect();
    let Some(series) = crate::series_order::series(&tags, all.num_rows()) else {
        return Ok(None);
    };
    let times = crate::segment::write::time_values(time)?;
    // Newest first inside equal keys: higher sequence, then later position.
    let mut keys: Vec<(u32, i64, Reverse<u64>, Reverse<u32>)> = (0..all.num_rows())
        .map(|row| {
            (
                series.rank[series.ids[row] as usize],
                times[row],
                Reverse(seqs[row]),
                Reverse(row as u32),
            )
        })
        .collect();
    keys.sort_unstable();
    let mut keep = Vec::with_capacity(keys.len());
    let mut last = None;
    for (rank, time, _, Reverse(row)) in keys {
        if last != Some((rank, time)) {
            keep.push(row);
            last = Some((rank, time));
        }
    }
    Ok(Some(keep))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use arrow::array::{AsArray, Int64Array, StringArray, TimestampMicrosecondArray};
    use arrow::datatypes::{DataType, Field, Int64Type, Schema, TimeUnit};
    use proptest::prelude::*;

    use super::*;

    type Row = (Option<u8>, i64, i64);

    proptest! {
        /// Last write wins: for every (tag, time) the row of the highest
        /// sequence (then the latest position) survives, in (tag, time)
        /// order, as a map from key to newest value says.
        #[test]
        fn the_newest_row_of_each_key_survives(
            requests in proptest::collection::vec(
                proptest::collection::vec((proptest::option::of(0u8..3), 0i64..4, any::<i64>()), 1..8),
                1..6,
            ),
            seqs in proptest::collection::vec(0u64..4, 6),
        ) {
            let schema = Arc::new(Schema::new(vec![
                Field::new("tag", DataType::Utf8, true),
                Field::new("time", DataType::Timestamp(TimeUnit::Microsecond, None), false),
                Field::new("v", DataType::Int64, false),
            ]));
            let mut model: BTreeMap<(Option<String>, i64), (u64, usize, i64)> = BTreeMap::new();
            let mut batches = Vec::new();
            let mut position = 0;
            for (r, rows) in requests.iter().enumerate() {
                let seq = seqs[r];
                let tag = |row: &Row| row.0.map(|t| format!("h{t}"));
                for row in rows {
                    let entry = model.entry((tag(row), row.1)).or_insert((seq, position, row.2));
                    if (seq, position) >= (entry.0, entry.1) {
                        *entry = (seq, position, row.2);
                    }
                    position += 1;
                }
                let batch = RecordBatch::try_new(schema.clone(), vec![
                    Arc::new(StringArray::from_iter(rows.iter().map(tag))),
                    Arc::new(TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.1))),
                    Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
                ]).unwrap();
                batches.push(MemBatch::new(seq, batch));
            }
            let out = dedup_last_write_wins(&[0, 1], &batches).unwrap();
            let mut got = Vec::new();
            for b in &out {
                let tags = b.column(0).as_string::<i32>();
                let times = b.column(1).as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
                let values = b.column(2).as_primitive::<Int64Type>();
                for i in 0..b.num_rows() {
                    got.push(((tags.is_valid(i).then(|| tags.value(i).to_string()), times.value(i)), values.value(i)));
                }
            }
            let want: Vec<_> = model.into_iter().map(|(k, (_, _, v))| (k, v)).collect();
            prop_assert_eq!(got, want);
        }
    }
}
