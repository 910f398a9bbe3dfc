//! Reader views: a table's segments plus memtables frozen at one instant.

use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type, SchemaRef};

use crate::dedup::dedup_last_write_wins;
use crate::error::Result;
use crate::memtable::MemBatch;
use crate::schema::TableDef;
use crate::segment::Segment;

/// A consistent, immutable view of one table for a reader: never blocked
/// by writers, never showing half a request.
#[derive(Debug, Clone)]
pub struct TableSnapshot {
    pub def: Arc<TableDef>,
    pub schema: SchemaRef,
    segments: Vec<Arc<Segment>>,
    mem: Vec<MemBatch>,
}

impl TableSnapshot {
    pub(crate) fn new(
        def: Arc<TableDef>,
        schema: SchemaRef,
        segments: Vec<Arc<Segment>>,
        mem: Vec<MemBatch>,
    ) -> TableSnapshot {
        TableSnapshot {
            def,
            schema,
            segments,
            mem,
        }
    }

    pub fn segments(&self) -> &[Arc<Segment>] {
        &self.segments
    }

    /// All rows, all columns (primary-key tables de-duplicated).
    pub fn batches(&self) -> Result<Vec<RecordBatch>> {
        self.scan(None, None, None)
    }

    pub fn num_rows(&self) -> Result<usize> {
        Ok(self
            .scan(Some(&[]), None, None)?
            .iter()
            .map(|b| b.num_rows())
            .sum())
    }

    /// Rows that may have `lo <= time <= hi` (microseconds; pruning is by
    /// segment, chunk and batch, so rows outside the range can appear), with
    /// the columns `projection` of `schema` (all when `None`).
    pub fn scan(
        &self,
        projection: Option<&[usize]>,
        lo: Option<i64>,
        hi: Option<i64>,
    ) -> Result<Vec<RecordBatch>> {
        let wanted: Vec<usize> = match projection {
            Some(p) => p.to_vec(),
            None => (0..self.schema.fields().len()).collect(),
        };
        if !self.def.options.primary_key {
            return self
                .read_sources(&wanted, lo, hi)
                .map(|sources| sources.into_iter().map(|s| s.batch).collect());
        }
        // Last write wins across segments and memtables: read the key
        // columns too, de-duplicate, then drop what was not asked for.
        let mut key = self.def.tag_indices();
        key.push(self.def.time_index());
        let mut read = wanted.clone();
        for k in &key {
            if !read.contains(k) {
                read.push(*k);
            }
        }
        let key_pos: Vec<usize> = key
            .iter()
            .map(|k| read.iter().position(|r| r == k).unwrap_or(0))
            .collect();
        let sources = self.read_sources(&read, lo, hi)?;
        let single_segment = sources.iter().all(|s| s.seq == sources[0].seq) && self.mem.is_empty();
        let rows = if single_segment {
            sources.into_iter().map(|s| s.batch).collect()
        } else {
            dedup_last_write_wins(&key_pos, &sources)?
        };
        let keep: Vec<usize> = (0..wanted.len()).collect();
        rows.iter()
            .map(|b| b.project(&keep).map_err(Into::into))
            .collect()
    }

    /// Batches from segments (oldest first) then memtables, each tagged with
    /// the WAL sequence that orders it for last-write-wins.
    fn read_sources(
        &self,
        projection: &[usize],
        lo: Option<i64>,
        hi: Option<i64>,
    ) -> Result<Vec<MemBatch>> {
        let mut out = Vec::new();
        for seg in self.segments.iter().filter(|s| s.overlaps(lo, hi)) {
            let seq = seg.footer().max_seq;
            for batch in seg.read(&self.schema, projection, lo, hi)? {
                out.push(MemBatch { seq, batch });
            }
        }
        let time_idx = self.def.time_index();
        for m in &self.mem {
            if batch_overlaps(&m.batch, time_idx, lo, hi)? {
                out.push(MemBatch {
                    seq: m.seq,
                    batch: m.batch.project(projection)?,
                });
            }
        }
        Ok(out)
    }
}

fn batch_overlaps(
    batch: &RecordBatch,
    time_idx: usize,
    lo: Option<i64>,
    hi: Option<i64>,
) -> Result<bool> {
    if lo.is_none() && hi.is_none() {
        return Ok(true);
    }
    let micros = cast(batch.column(time_idx), &DataType::Int64)?;
    let micros = micros.as_primitive::<Int64Type>();
    let (Some(min), Some(max)) = (arrow::compute::min(micros), arrow::compute::max(micros)) else {
        return Ok(false); // no rows
    };
    Ok(lo.is_none_or(|lo| max >= lo) && hi.is_none_or(|hi| min <= hi))
}
