//! Chunk statistics read from the header alone.
//!
//! Owns `chunk_stats`: row and NULL counts and the min/max of the non-NULL
//! values (integers as i128, floats as f64 under total order, bytes, bools),
//! all written by the encoder into the header so pruning never decodes.
//! Invariant: min/max are exact (never truncated) and absent only when no
//! row is non-NULL.

use crate::cursor::ByteReader;
use crate::error::CompressionError;
use crate::format::Header;
use crate::predicate::Scalar;

/// Statistics of one chunk.
#[derive(Clone, Debug, PartialEq)]
pub struct ChunkStats {
    pub row_count: usize,
    pub null_count: usize,
    /// Smallest non-NULL value; None when every row is NULL (or none exist).
    pub min: Option<Scalar>,
    /// Largest non-NULL value; None when every row is NULL (or none exist).
    pub max: Option<Scalar>,
}

/// Statistics of a chunk (min, max as i128/f64/bytes as appropriate, null_count, row_count),
/// readable from the blob header without decoding the values.
pub fn chunk_stats(bytes: &[u8]) -> Result<ChunkStats, CompressionError> {
    let h = Header::read(&mut ByteReader::new(bytes))?;
    Ok(ChunkStats {
        row_count: h.rows,
        null_count: h.nulls,
        min: h.min,
        max: h.max,
    })
}
