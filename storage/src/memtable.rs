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
//!
//! Small requests (a remote-write request puts ~20 rows into each of ~100
//! metric tables) are coalesced: once a partition's trailing small batches
//! reach `COALESCE_ROWS` rows or `COALESCE_BATCHES` batches, they become one
//! batch that remembers each request's sequence number and row count
//! ([`MemBatch::runs`]). Arrow's per-batch and per-buffer overhead (schema,
//! array headers, 64-byte-rounded allocations) would otherwise cost more
//! than the rows themselves.

use std::collections::BTreeMap;

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, RecordBatch};
use arrow::compute::{concat_batches, filter_record_batch};
use arrow::datatypes::SchemaRef;

use crate::conform::conform_to;
use crate::dict;
use crate::error::Result;
use crate::segment::write::times;

/// Trailing small batches of a partition are coalesced once they hold this
/// many rows ...
const COALESCE_ROWS: usize = 4096;
/// ... or are this many batches.
const COALESCE_BATCHES: usize = 64;

/// Rows of one or more requests. `seq` is the (newest) request's WAL
/// sequence number; the rows of a coalesced batch carry their own.
///
/// Batches of `COALESCE_ROWS` rows or more (coalesced or written whole) are
/// kept compact: their repetitive string columns dictionary-encoded
/// ([`crate::dict`]). [`MemBatch::batch`] gives the rows in the table's types.
#[derive(Debug, Clone)]
pub struct MemBatch {
    pub seq: u64,
    /// The rows; in a compact batch some `Utf8` columns are dictionaries.
    rows: RecordBatch,
    /// The table's schema of a compact batch (`rows` has its own).
    table_schema: Option<SchemaRef>,
    /// For a coalesced batch: (sequence number, rows) of each request, in
    /// row order, sequence numbers ascending. `None`: every row has `seq`.
    pub runs: Option<Arc<[(u64, u32)]>>,
}

impl MemBatch {
    pub fn new(seq: u64, batch: RecordBatch) -> MemBatch {
        MemBatch {
            seq,
            rows: batch,
            table_schema: None,
            runs: None,
        }
    }

    /// Rows whose string columns may be dictionaries, in the table's
    /// `schema` otherwise (a bulk load's batch: [`crate::conform::conform_bulk`]).
    pub(crate) fn with_table_schema(seq: u64, rows: RecordBatch, schema: SchemaRef) -> MemBatch {
        let table_schema = (rows.schema() != schema).then_some(schema);
        MemBatch {
            seq,
            rows,
            table_schema,
            runs: None,
        }
    }

    /// Dictionary-encodes the string columns that shrink by it.
    fn compacted(mut self) -> MemBatch {
        if self.table_schema.is_none() {
            if let Some(rows) = dict::compact(&self.rows) {
                self.table_schema = Some(self.rows.schema());
                self.rows = rows;
            }
        }
        self
    }

    /// The rows in the table's schema (zero-copy unless compact).
    pub fn batch(&self) -> Result<RecordBatch> {
        match &self.table_schema {
            None => Ok(self.rows.clone()),
            Some(schema) => dict::expand(schema, &self.rows),
        }
    }

    /// Column `i` in its table type.
    pub fn column(&self, i: usize) -> Result<ArrayRef> {
        match &self.table_schema {
            None => Ok(self.rows.column(i).clone()),
            Some(schema) => dict::expand_column(schema.field(i).data_type(), self.rows.column(i)),
        }
    }

    /// The rows as stored: columns other than strings are always in their
    /// table types (for time bounds without expanding).
    pub fn stored(&self) -> &RecordBatch {
        &self.rows
    }

    /// The table's schema of the rows.
    pub fn schema(&self) -> SchemaRef {
        match &self.table_schema {
            None => self.rows.schema(),
            Some(schema) => schema.clone(),
        }
    }

    pub fn num_rows(&self) -> usize {
        self.rows.num_rows()
    }

    /// Bytes held by the rows.
    pub fn memory_size(&self) -> usize {
        self.rows.get_array_memory_size()
    }

    /// Appends the sequence number of every row to `out`.
    pub fn extend_seqs(&self, out: &mut Vec<u64>) {
        match &self.runs {
            None => out.extend(std::iter::repeat_n(self.seq, self.num_rows())),
            Some(runs) => {
                for &(seq, rows) in runs.iter() {
                    out.extend(std::iter::repeat_n(seq, rows as usize));
                }
            }
        }
    }

    /// The rows of each request as its own batch (zero-copy slices, compact
    /// if this batch is).
    pub fn requests(&self) -> Vec<MemBatch> {
        let Some(runs) = &self.runs else {
            return vec![self.clone()];
        };
        let mut offset = 0;
        runs.iter()
            .map(|&(seq, rows)| {
                let b = MemBatch {
                    seq,
                    rows: self.rows.slice(offset, rows as usize),
                    table_schema: self.table_schema.clone(),
                    runs: None,
                };
                offset += rows as usize;
                b
            })
            .collect()
    }

    /// One compact batch of `batches` (uncoalesced, same schema), ordered by
    /// sequence number so that later rows stay newer.
    fn coalesce(mut batches: Vec<MemBatch>) -> Result<MemBatch> {
        batches.sort_by_key(|b| b.seq); // stable: one request's pieces keep their order
        let schema = batches[0].rows.schema();
        let batch = concat_batches(&schema, batches.iter().map(|b| &b.rows))?;
        let mut runs: Vec<(u64, u32)> = Vec::with_capacity(batches.len());
        for b in &batches {
            let rows = b.num_rows() as u32;
            match runs.last_mut() {
                Some((seq, n)) if *seq == b.seq => *n += rows,
                _ => runs.push((b.seq, rows)),
            }
        }
        Ok(MemBatch {
            seq: batches.last().map_or(0, |b| b.seq),
            rows: batch,
            table_schema: None,
            runs: Some(runs.into()),
        }
        .compacted())
    }
}

/// The memtable rows of one time partition, oldest request first.
#[derive(Debug, Clone)]
pub struct MemPartition {
    pub batches: Vec<MemBatch>,
    /// Time bounds of the rows (microseconds), for pruning.
    pub min_time: i64,
    pub max_time: i64,
    /// `batches[small_from..]` are small uncoalesced batches, holding
    /// `small_rows` rows.
    small_from: usize,
    small_rows: usize,
}

impl Default for MemPartition {
    fn default() -> Self {
        MemPartition {
            batches: Vec::new(),
            min_time: i64::MAX,
            max_time: i64::MIN,
            small_from: 0,
            small_rows: 0,
        }
    }
}

impl MemPartition {
    /// Adds a batch; returns (bytes added, bytes freed), coalescing and
    /// compaction included.
    fn push(
        &mut self,
        seq: u64,
        batch: RecordBatch,
        (lo, hi): (i64, i64),
    ) -> Result<(usize, usize)> {
        self.min_time = self.min_time.min(lo);
        self.max_time = self.max_time.max(hi);
        let rows = batch.num_rows();
        if rows >= COALESCE_ROWS {
            let (grown, freed) = self.coalesce_small()?;
            let large = MemBatch::new(seq, batch).compacted();
            let added = grown + large.memory_size();
            self.batches.push(large);
            self.small_from = self.batches.len();
            return Ok((added, freed));
        }
        let added = batch.get_array_memory_size();
        self.batches.push(MemBatch::new(seq, batch));
        self.small_rows += rows;
        if self.small_rows >= COALESCE_ROWS
            || self.batches.len() - self.small_from >= COALESCE_BATCHES
        {
            let (grown, freed) = self.coalesce_small()?;
            return Ok((added + grown, freed));
        }
        Ok((added, 0))
    }

    /// Replaces the trailing small batches by one compact batch; returns
    /// (bytes grown, bytes freed): one of them is zero.
    fn coalesce_small(&mut self) -> Result<(usize, usize)> {
        let small = self.batches.len() - self.small_from;
        let mut delta = (0, 0);
        if small >= 2 {
            let tail = self.batches.split_off(self.small_from);
            let before: usize = tail.iter().map(MemBatch::memory_size).sum();
            let merged = MemBatch::coalesce(tail)?;
            let after = merged.memory_size();
            delta = (after.saturating_sub(before), before.saturating_sub(after));
            self.batches.push(merged);
        }
        self.small_from = self.batches.len();
        self.small_rows = 0;
        Ok(delta)
    }

    /// Adds the rows of `other` (newer than this partition's) at the end.
    pub fn absorb(&mut self, other: MemPartition) {
        self.min_time = self.min_time.min(other.min_time);
        self.max_time = self.max_time.max(other.max_time);
        self.batches.extend(other.batches);
        self.small_from = self.batches.len();
        self.small_rows = 0;
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
    /// Adds the rows of one request, already cut by `split_by_partition`;
    /// returns (bytes added, bytes freed by coalescing).
    pub fn push(&mut self, seq: u64, rows: PartitionedRows) -> Result<(usize, usize)> {
        let (mut added, mut freed) = (0, 0);
        for (partition, batch, bounds) in rows {
            self.rows += batch.num_rows();
            let part = self.parts.entry(partition).or_default();
            let (a, f) = part.push(seq, batch, bounds)?;
            added += a;
            freed += f;
        }
        self.bytes = (self.bytes + added).saturating_sub(freed);
        Ok((added, freed))
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
                let plain = MemBatch {
                    rows: conform_to(schema, &b.batch()?, false)?,
                    table_schema: None,
                    ..b.clone()
                };
                *b = match b.table_schema {
                    Some(_) => plain.compacted(),
                    None => plain,
                };
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
            // Request by request, so coalesced rows keep their sequence numbers.
            for b in part.batches.iter().flat_map(MemBatch::requests) {
                let plain = b.batch()?;
                let batch = keep(&plain)?.unwrap_or(plain);
                if batch.num_rows() == 0 {
                    continue;
                }
                let time = times(&batch, time_index)?;
                let bounds = time
                    .iter()
                    .fold((i64::MAX, i64::MIN), |(lo, hi), t| (lo.min(*t), hi.max(*t)));
                kept.push(b.seq, vec![(partition, batch, bounds)])?;
            }
        }
        *self = kept;
        Ok(before - self.rows)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use std::collections::BTreeMap;

    use arrow::array::{AsArray, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
    use arrow::datatypes::{
        DataType, Field, Int64Type, Schema, TimeUnit, TimestampMicrosecondType,
    };
    use proptest::prelude::*;

    use super::{split_by_partition, MemBatch, Memtable};
    use crate::dedup::dedup_last_write_wins;

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

    fn tagged(rows: &[(u8, i64, i64)]) -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("tag", DataType::Utf8, true),
            Field::new(
                "time",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                false,
            ),
            Field::new("v", DataType::Int64, false),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(StringArray::from_iter_values(
                    rows.iter().map(|r| format!("h{}", r.0)),
                )),
                Arc::new(TimestampMicrosecondArray::from_iter_values(
                    rows.iter().map(|r| r.1),
                )),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
            ],
        )
        .unwrap()
    }

    proptest! {
        /// Requests pushed in any sequence order, small ones coalesced:
        /// last-write-wins over the partition's batches still picks, per
        /// key, the row of the highest sequence number (then the later row
        /// of that request); `requests()` gives back every request's rows
        /// under its own number; the byte count matches the batches held.
        #[test]
        fn coalesced_requests_keep_their_sequence_numbers(
            requests in prop::collection::vec(
                prop::collection::vec((0u8..3, 0i64..6, any::<i64>()), 1..12),
                1..400,
            ),
            big in prop::collection::vec(0usize..400, 0..3),
            order in Just(()).prop_perturb(|_, mut rng| rng.random::<u64>()),
        ) {
            let mut requests = requests;
            for &i in &big {
                if let Some(r) = requests.get_mut(i) {
                    // A request over the coalescing threshold.
                    *r = (0..5000).map(|j| ((j % 3) as u8, j % 6, j)).collect();
                }
            }
            // Sequence numbers: a permutation, as concurrent writers push
            // out of WAL order.
            let mut seqs: Vec<u64> = (1..=requests.len() as u64).collect();
            let mut state = order | 1;
            for i in (1..seqs.len()).rev() {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17;
                seqs.swap(i, (state % (i as u64 + 1)) as usize);
            }
            let mut mem = Memtable::default();
            let mut model: BTreeMap<(String, i64), (u64, i64)> = BTreeMap::new();
            for (rows, &seq) in requests.iter().zip(&seqs) {
                for &(tag, time, v) in rows {
                    let e = model.entry((format!("h{tag}"), time)).or_insert((seq, v));
                    if seq >= e.0 {
                        *e = (seq, v);
                    }
                }
                let batch = tagged(rows);
                let parts = split_by_partition(&batch, 1, 1 << 40).unwrap();
                mem.push(seq, parts).unwrap();
            }
            let parts = mem.partitions();
            prop_assert_eq!(parts.len(), 1);
            let part = parts.values().next().unwrap();
            let total: usize = part.batches.iter().map(MemBatch::memory_size).sum();
            prop_assert_eq!(mem.bytes(), total);
            // Coalesced and large batches keep their three tag values as a
            // dictionary (from 6 rows on it is always the smaller form).
            for b in &part.batches {
                let compact = matches!(b.stored().column(0).data_type(), DataType::Dictionary(..));
                let coalesced = b.num_rows() >= super::COALESCE_ROWS || b.runs.is_some();
                prop_assert!(coalesced || !compact);
                prop_assert!(compact || !coalesced || b.num_rows() < 6);
            }
            // At most 63 trailing small batches stay uncoalesced.
            prop_assert!(part.batches.len() <= requests.len() / 64 + 63 + 2 * big.len() + 1);
            // Every request's rows, back under its own number.
            let mut back: Vec<(u64, Vec<String>, Vec<i64>)> = part
                .batches
                .iter()
                .flat_map(|b| b.requests())
                .map(|b| {
                    let rows = b.batch().unwrap();
                    let tags = rows.column(0).as_string::<i32>();
                    let tags: Vec<String> = tags.iter().map(|t| t.unwrap().to_string()).collect();
                    (b.seq, tags, rows.column(2).as_primitive::<Int64Type>().values().to_vec())
                })
                .collect();
            back.sort_by_key(|(seq, _, _)| *seq);
            let mut want: Vec<(u64, Vec<String>, Vec<i64>)> = requests
                .iter()
                .zip(&seqs)
                .map(|(rows, &seq)| {
                    let tags = rows.iter().map(|r| format!("h{}", r.0)).collect();
                    (seq, tags, rows.iter().map(|r| r.2).collect())
                })
                .collect();
            want.sort_by_key(|(seq, _, _)| *seq);
            prop_assert_eq!(back, want);
            let out = dedup_last_write_wins(&[0, 1], &part.batches).unwrap();
            let mut got = Vec::new();
            for b in &out {
                let tags = b.column(0).as_string::<i32>();
                let times = b.column(1).as_primitive::<TimestampMicrosecondType>();
                let values = b.column(2).as_primitive::<Int64Type>();
                for i in 0..b.num_rows() {
                    got.push(((tags.value(i).to_string(), times.value(i)), values.value(i)));
                }
            }
            let want: Vec<((String, i64), i64)> = model.into_iter().map(|(k, (_, v))| (k, v)).collect();
            prop_assert_eq!(got, want);
        }
    }
}
