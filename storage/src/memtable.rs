//! In-memory, columnar buffer of a table's recent writes.
//!
//! Owns the rows acknowledged since the last flush, as Arrow record batches
//! in the table's current schema, each tagged with the WAL sequence number of
//! the request that wrote it. Batches are immutable once added, so a snapshot
//! is a cheap clone of the list and never blocks writers for long.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use crate::conform::conform_to;
use crate::error::Result;

#[derive(Debug, Clone)]
pub struct MemBatch {
    pub seq: u64,
    pub batch: RecordBatch,
}

#[derive(Debug, Default)]
pub struct Memtable {
    batches: Vec<MemBatch>,
    bytes: usize,
    rows: usize,
}

impl Memtable {
    pub fn push(&mut self, seq: u64, batch: RecordBatch) {
        self.bytes += batch.get_array_memory_size();
        self.rows += batch.num_rows();
        self.batches.push(MemBatch { seq, batch });
    }

    /// Moves every batch of `other` to the end of this memtable.
    pub fn append(&mut self, other: &mut Memtable) {
        for b in std::mem::take(&mut other.batches) {
            self.push(b.seq, b.batch);
        }
        other.bytes = 0;
        other.rows = 0;
    }

    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    pub fn batches(&self) -> &[MemBatch] {
        &self.batches
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Rewrites every batch to a new schema (after ADD COLUMN).
    pub fn reshape(&mut self, schema: &SchemaRef) -> Result<()> {
        for b in &mut self.batches {
            b.batch = conform_to(schema, &b.batch, false)?;
        }
        Ok(())
    }

    /// Keeps only the rows for which `keep` returns true; returns rows removed.
    pub fn retain_rows(
        &mut self,
        mut keep: impl FnMut(&RecordBatch) -> Result<Option<RecordBatch>>,
    ) -> Result<usize> {
        let before = self.rows;
        let mut out = Vec::with_capacity(self.batches.len());
        for b in self.batches.drain(..) {
            if let Some(kept) = keep(&b.batch)? {
                if kept.num_rows() > 0 {
                    out.push(MemBatch {
                        seq: b.seq,
                        batch: kept,
                    });
                }
            } else {
                out.push(b);
            }
        }
        self.batches = Vec::new();
        self.bytes = 0;
        self.rows = 0;
        for b in out {
            self.push(b.seq, b.batch);
        }
        Ok(before - self.rows)
    }
}
