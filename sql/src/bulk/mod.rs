//! Bulk data in and out: validated writes of many batches, Parquet import
//! and export, and the server-side file directory they are confined to.
//!
//! Used by `COPY` (see [`crate::copy`]) and by the `lynxstore import` /
//! `export` commands. The one rule: every input is validated completely
//! (types, casts, NOT NULL) before its first row is written, so a bad input
//! stores nothing. See [`write_validated`] for what "atomic" means for
//! inputs larger than one WAL record.

pub mod files;
pub mod parquet_in;
pub mod parquet_out;
pub mod read_parquet;
pub mod schema_map;
pub mod staged;
#[cfg(test)]
mod tests;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use lynx_storage::Database;

use crate::error::Result;

/// Validated rows up to this much Arrow memory are written as one request:
/// one WAL record, so they are all there after a crash or none is.
pub const ATOMIC_WRITE_BYTES: usize = 256 << 20;

/// Arrow memory of a batch (buffers actually used by its arrays).
pub fn batch_bytes(b: &RecordBatch) -> usize {
    b.get_array_memory_size()
}

/// Writes batches that [`Database::conform`] already accepted. Inputs up to
/// [`ATOMIC_WRITE_BYTES`] become one write (atomic, also across a crash);
/// larger inputs become consecutive writes of at most that size, so a crash
/// in the middle can leave a prefix of them (bad data cannot: it was
/// rejected before the first write). Blocking.
pub fn write_validated(db: &Database, table: &str, batches: &[RecordBatch]) -> Result<u64> {
    write_validated_in(db, table, batches, ATOMIC_WRITE_BYTES)
}

/// [`write_validated`] with another request size limit (tests).
pub fn write_validated_in(
    db: &Database,
    table: &str,
    batches: &[RecordBatch],
    atomic_bytes: usize,
) -> Result<u64> {
    let mut written = 0u64;
    let mut group: Vec<&RecordBatch> = Vec::new();
    let mut group_bytes = 0;
    for b in batches {
        let size = batch_bytes(b);
        if !group.is_empty() && group_bytes + size > atomic_bytes {
            written += write_group(db, table, &group)?;
            group.clear();
            group_bytes = 0;
        }
        group.push(b);
        group_bytes += size;
    }
    written += write_group(db, table, &group)?;
    Ok(written)
}

fn write_group(db: &Database, table: &str, group: &[&RecordBatch]) -> Result<u64> {
    let Some(first) = group.first() else {
        return Ok(0);
    };
    let batch = if group.len() == 1 {
        (*first).clone()
    } else {
        concat_batches(&first.schema(), group.iter().copied())?
    };
    Ok(db.write(table, &batch)? as u64)
}
