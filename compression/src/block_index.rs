//! Per-block min/max index for pruning inside a chunk.
//!
//! Owns the optional section between the header statistics and the body
//! (flag `HAS_BLOCK_INDEX`): `u32 byte length`, then two integer nodes with
//! the order-preserving keys of the minimum and the maximum of the non-NULL
//! values of every 1024-row block (an all-NULL block stores min > max).
//! Cascading makes it almost free for regular data (a regular time column's
//! block minima are themselves a constant-delta series). Written for integer,
//! timestamp, date, boolean, float and i64-sized decimal chunks of more than
//! one block; strings and wide decimals have chunk statistics only.
//! Invariant: every non-NULL value of block `b` lies within `[min_b, max_b]`,
//! and those bounds are exact.

use arrow_buffer::NullBuffer;

use crate::cursor::ByteReader;
use crate::error::CompressionError;
use crate::format::{Header, Kind};
use crate::int::{self, BLOCK, SIGN};
use crate::predicate::Scalar;

/// Bounds of the non-NULL values of one 1024-row block.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockStats {
    /// First row of the block within the chunk.
    pub first_row: usize,
    /// Rows in the block (1024 except for the last block).
    pub row_count: usize,
    /// Smallest non-NULL value; None when every row of the block is NULL.
    pub min: Option<Scalar>,
    /// Largest non-NULL value; None when every row of the block is NULL.
    pub max: Option<Scalar>,
}

/// Encodes the index of `keys` (already NULL-filled) where `order` maps a
/// stored key to an order-preserving key. None for chunks of one block.
pub(crate) fn encode(
    keys: &[u64],
    nulls: Option<&NullBuffer>,
    order: impl Fn(u64) -> u64,
) -> Option<Vec<u8>> {
    if keys.len() <= BLOCK {
        return None;
    }
    let mut mins = Vec::with_capacity(keys.len().div_ceil(BLOCK));
    let mut maxs = Vec::with_capacity(mins.capacity());
    for (b, block) in keys.chunks(BLOCK).enumerate() {
        let (mut lo, mut hi) = (u64::MAX, 0u64);
        for (i, &k) in block.iter().enumerate() {
            if nulls.is_none_or(|n| n.is_valid(b * BLOCK + i)) {
                let o = order(k);
                lo = lo.min(o);
                hi = hi.max(o);
            }
        }
        mins.push(lo);
        maxs.push(hi);
    }
    let mut out = Vec::new();
    int::encode_node(&mins, None, int::ENCODE_DEPTH, &mut out);
    int::encode_node(&maxs, None, int::ENCODE_DEPTH, &mut out);
    Some(out)
}

/// Inverse of `predicate::float_key`.
fn float_bits(key: u64) -> u64 {
    if key & SIGN != 0 {
        key ^ SIGN
    } else {
        !key
    }
}

fn scalar(kind: Kind, key: u64) -> Scalar {
    match kind {
        Kind::Signed | Kind::Decimal => Scalar::Int(((key ^ SIGN) as i64) as i128),
        Kind::Unsigned | Kind::Bytes => Scalar::Int(key as i128),
        Kind::Float(_) => Scalar::Float(f64::from_bits(float_bits(key))),
        Kind::Bool => Scalar::Bool(key != 0),
    }
}

/// Per-block bounds of a chunk, read from the header and the index section
/// without touching the body. None when the chunk has no block index
/// (strings, decimals wider than i64); a chunk of at most one block reports
/// its chunk statistics as one block.
pub fn block_stats(bytes: &[u8]) -> Result<Option<Vec<BlockStats>>, CompressionError> {
    let mut r = ByteReader::new(bytes);
    let h = Header::read(&mut r)?;
    let block = |b: usize| (b * BLOCK, (h.rows - b * BLOCK).min(BLOCK));
    let Some(range) = h.block_index.clone() else {
        let indexable = !matches!(h.tag.kind(), Kind::Bytes | Kind::Decimal);
        if h.rows > BLOCK || !indexable {
            return Ok(None);
        }
        return Ok(Some(if h.rows == 0 {
            Vec::new()
        } else {
            vec![BlockStats {
                first_row: 0,
                row_count: h.rows,
                min: h.min.clone(),
                max: h.max.clone(),
            }]
        }));
    };
    let mut ir = ByteReader::new(&bytes[range]);
    let n_blocks = h.rows.div_ceil(BLOCK);
    let mins = int::decode_vec(&mut ir, n_blocks)?;
    let maxs = int::decode_vec(&mut ir, n_blocks)?;
    ir.expect_end("trailing bytes in the block index")?;
    let kind = h.tag.kind();
    Ok(Some(
        mins.iter()
            .zip(&maxs)
            .enumerate()
            .map(|(b, (&lo, &hi))| {
                let (first_row, row_count) = block(b);
                let (min, max) = if lo > hi {
                    (None, None)
                } else {
                    (Some(scalar(kind, lo)), Some(scalar(kind, hi)))
                };
                BlockStats {
                    first_row,
                    row_count,
                    min,
                    max,
                }
            })
            .collect(),
    ))
}

/// Reads the index section announced by the header: (its byte range).
pub(crate) fn read_section(r: &mut ByteReader) -> Result<std::ops::Range<usize>, CompressionError> {
    let len = r.count(r.remaining(), "block index length")?;
    let start = r.pos();
    r.bytes(len, "block index")?;
    Ok(start..start + len)
}
