//! In-memory, columnar buffer of a table's recent writes, per time
//! partition.
//!
//! Owns the rows acknowledged since the last flush, as Arrow record batches
//! in the table's current schema, each tagged with the WAL sequence number of
//! the request that wrote it and kept under the time partition its rows fall
//! in (a batch that spans partitions is split on the way in). Batches are
//! immutable once added, so a snapshot is a cheap clone of the lists and
//! never blocks writers for long. Per-partition lists let a flush sort one
//! partition at a time and let scans skip partitions outside their time
//! range, and de-duplicate primary-key rows one partition at a time.

use std::collections::BTreeMap;

use arrow::array::{BooleanArray, RecordBatch};
use arrow::compute::filter_record_batch;
use arrow::datatypes::SchemaRef;

use crate::conform::conform_to;
use crate::error::Result;
use crate::segment::write::times;

#[derive(Debug, Clone)]
pub struct MemBatch {
    pub seq: u64,
    pub batch: RecordBatch,
}

/// The memtable rows of one time partition, oldest request first.
#[derive(Debug, Clone)]
pub struct MemPartition {
    pub batches: Vec<MemBatch>,
    /// Time bounds of the rows (microseconds), for pruning.
    pub min_time: i64,
    pub max_time: i64,
}

impl Default for MemPartition {
    fn default() -> Self {
        MemPartition {
            batches: Vec::new(),
            min_time: i64::MAX,
            max_time: i64::MIN,
        }
    }
}

impl MemPartition {
    fn push(&mut self, seq: u64, batch: RecordBatch, (lo, hi): (i64, i64)) {
        self.min_time = self.min_time.min(lo);
        self.max_time = self.max_time.max(hi);
        self.batches.push(MemBatch { seq, batch });
    }

    /// Adds the rows of `other` (newer than this partition's) at the end.
    pub fn absorb(&mut self, other: MemPartition) {
        self.min_time = self.min_time.min(other.min_time);
        self.max_time = self.max_time.max(other.max_time);
        self.batches.extend(other.batches);
    }

    /// Whether any row may have `lo <= time <= hi`.
    pub fn overlaps(&self, lo: Option<i64>, hi: Option<i64>) -> bool {
        lo.is_none_or(|lo| self.max_time >= lo) && hi.is_none_or(|hi| self.min_time <= hi)
    }
}

#[derive(Debug, Default)]
pub struct Memtable {
    parts: BTreeMap<i64, MemPartition>,
    bytes: usize,
    rows: usize,
}

/// A batch cut by time partition: (partition start, its rows in their
/// original order, (min time, max time)).
pub type PartitionedRows = Vec<(i64, RecordBatch, (i64, i64))>;

/// Cuts `batch` into the rows of each time partition of length `len`
/// (microseconds), partitions ascending. A batch inside one partition (the
/// common case) is returned whole, without copying.
pub fn split_by_partition(
    batch: &RecordBatch,
    time_index: usize,
    len: i64,
) -> Result<PartitionedRows> {
    if batch.num_rows() == 0 {
        return Ok(Vec::new());
    }
    let len = len.max(1);
    let time = times(batch, time_index)?;
    let (lo, hi) = time
        .iter()
        .fold((i64::MAX, i64::MIN), |(lo, hi), t| (lo.min(*t), hi.max(*t)));
    let first = lo.div_euclid(len) * len;
    if hi.div_euclid(len) * len == first {
        return Ok(vec![(first, batch.clone(), (lo, hi))]);
    }
    let mut partitions: Vec<i64> = time.iter().map(|t| t.div_euclid(len) * len).collect();
    let keys = partitions.clone();
    partitions.sort_unstable();
    partitions.dedup();
    let mut out = Vec::with_capacity(partitions.len());
    for p in partitions {
        let keep = BooleanArray::from_iter(keys.iter().map(|k| Some(*k == p)));
        let rows = filter_record_batch(batch, &keep)?;
        let (lo, hi) = time
            .iter()
            .zip(&keys)
            .filter(|(_, k)| **k == p)
            .fold((i64::MAX, i64::MIN), |(lo, hi), (t, _)| {
                (lo.min(*t), hi.max(*t))
            });
        out.push((p, rows, (lo, hi)));
    }
    Ok(out)
}

impl Memtable {
    /// Adds the rows of one request, already cut by `split_by_partition`.
    pub fn push(&mut self, seq: u64, rows: PartitionedRows) {
        for (partition, batch, bounds) in rows {
            self.bytes += batch.get_array_memory_size();
            self.rows += batch.num_rows();
            self.parts
                .entry(partition)
                .or_default()
                .push(seq, batch, bounds);
        }
    }

    /// Moves every batch of `other` to the end of this memtable.
    pub fn append(&mut self, other: &mut Memtable) {
        for (partition, part) in std::mem::take(&mut other.parts) {
            self.parts.entry(partition).or_default().absorb(part);
        }
        self.bytes += std::mem::take(&mut other.bytes);
        self.rows += std::mem::take(&mut other.rows);
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// The partitions, ascending by start time.
    pub fn partitions(&self) -> &BTreeMap<i64, MemPartition> {
        &self.parts
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Rewrites every batch to a new schema (after ADD COLUMN).
    pub fn reshape(&mut self, schema: &SchemaRef) -> Result<()> {
        for part in self.parts.values_mut() {
            for b in &mut part.batches {
                b.batch = conform_to(schema, &b.batch, false)?;
            }
        }
        Ok(())
    }

    /// Keeps only the rows for which `keep` returns true; returns rows removed.
    pub fn retain_rows(
        &mut self,
        mut keep: impl FnMut(&RecordBatch) -> Result<Option<RecordBatch>>,
        time_index: usize,
    ) -> Result<usize> {
        let before = self.rows;
        let mut kept = Memtable::default();
        for (partition, part) in std::mem::take(&mut self.parts) {
            for b in part.batches {
                let batch = keep(&b.batch)?.unwrap_or(b.batch);
                if batch.num_rows() == 0 {
                    continue;
                }
                let time = times(&batch, time_index)?;
                let bounds = time
                    .iter()
                    .fold((i64::MAX, i64::MIN), |(lo, hi), t| (lo.min(*t), hi.max(*t)));
                kept.push(b.seq, vec![(partition, batch, bounds)]);
            }
        }
        *self = kept;
        Ok(before - self.rows)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{AsArray, Int64Array, RecordBatch, TimestampMicrosecondArray};
    use arrow::datatypes::{DataType, Field, Int64Type, Schema, TimeUnit};
    use proptest::prelude::*;

    use super::split_by_partition;

    fn batch(times: &[i64]) -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new(
                "time",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                false,
            ),
            Field::new("row", DataType::Int64, false),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(TimestampMicrosecondArray::from(times.to_vec())),
                Arc::new(Int64Array::from_iter_values(0..times.len() as i64)),
            ],
        )
        .unwrap()
    }

    proptest! {
        /// Every row lands in the partition `floor(time / len) * len`, each
        /// partition once and ascending, rows in their original order, with
        /// exact time bounds.
        #[test]
        fn split_puts_each_row_in_its_partition(
            times in prop::collection::vec(-50i64..50, 1..40),
            len in 1i64..30,
        ) {
            let parts = split_by_partition(&batch(&times), 0, len).unwrap();
            let mut want: Vec<(i64, Vec<i64>)> = Vec::new();
            for (row, t) in times.iter().enumerate() {
                let p = t.div_euclid(len) * len;
                match want.iter_mut().find(|(q, _)| *q == p) {
                    Some((_, rows)) => rows.push(row as i64),
                    None => want.push((p, vec![row as i64])),
                }
            }
            want.sort();
            let got: Vec<(i64, Vec<i64>)> = parts
                .iter()
                .map(|(p, b, _)| (*p, b.column(1).as_primitive::<Int64Type>().values().to_vec()))
                .collect();
            prop_assert_eq!(got, want);
            for (p, b, (lo, hi)) in &parts {
                let rows = b.column(1).as_primitive::<Int64Type>();
                let ts: Vec<i64> = rows.values().iter().map(|r| times[*r as usize]).collect();
                prop_assert_eq!(*lo, *ts.iter().min().unwrap());
                prop_assert_eq!(*hi, *ts.iter().max().unwrap());
                prop_assert!(*p <= *lo && *hi < *p + len);
            }
        }
    }
}
