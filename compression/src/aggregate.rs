//! Aggregates (count, sum, min, max of non-NULL values) over encoded chunks.
//!
//! Owns `aggregate`: min/max come from the header statistics; integer sums
//! use the codec fast paths (constant: value x n, RLE: value x run length,
//! FOR: base x n + residuals) when no row is NULL, else decode. Float sums
//! always decode and add in row order (f32 widened to f64) so they are
//! reproducible bit for bit.
//! Invariant: the result equals the same aggregate over `decode_array`'s output.

use crate::column::{decode::decode_decimals, open, read_validity};
use crate::cursor::ByteReader;
use crate::error::CompressionError;
use crate::format::Kind;
use crate::int::{self, scan, Rows, DECODE_DEPTH, SIGN};
use crate::predicate::Scalar;

/// Aggregates of one chunk's non-NULL values.
#[derive(Clone, Debug, PartialEq)]
pub struct ChunkAggregate {
    pub row_count: usize,
    /// Non-NULL rows.
    pub count: usize,
    /// Int for integers, timestamps, decimals (unscaled; None on i128 overflow)
    /// and booleans (number of true); Float for floats; None for strings and
    /// when no row is non-NULL.
    pub sum: Option<Scalar>,
    pub min: Option<Scalar>,
    pub max: Option<Scalar>,
}

/// Aggregates over encoded data (sum/min/max/count of non-null) without full decode where possible.
pub fn aggregate(bytes: &[u8]) -> Result<ChunkAggregate, CompressionError> {
    let chunk = open(bytes)?;
    let h = &chunk.header;
    let mut agg = ChunkAggregate {
        row_count: h.rows,
        count: h.rows - h.nulls,
        sum: None,
        min: h.min.clone(),
        max: h.max.clone(),
    };
    if !h.has_body() {
        return Ok(agg);
    }
    let n = h.rows;
    let mut r = ByteReader::new(&chunk.body);
    let nulls = read_validity(&mut r, h, Rows::all(n))?;
    let valid = |i: usize| nulls.as_ref().is_none_or(|nb| nb.is_valid(i));
    let count = agg.count as i128;
    agg.sum = match h.tag.kind() {
        Kind::Signed | Kind::Unsigned | Kind::Bool | Kind::Decimal => {
            let at = r.pos();
            let wide =
                h.tag.kind() == Kind::Decimal && r.u8("decimal codec id")? == int::id::I128_SPLIT;
            r.rewind(at);
            if wide {
                let values = decode_decimals(&mut r, Rows::all(n))?;
                (0..n)
                    .filter(|&i| valid(i))
                    .try_fold(0i128, |s, i| s.checked_add(values[i]))
                    .map(Scalar::Int)
            } else {
                let key_sum = if nulls.is_none() {
                    scan::sum_node(&mut r, n, DECODE_DEPTH)?
                } else {
                    let keys = int::decode_vec(&mut r, n)?;
                    (0..n)
                        .filter(|&i| valid(i))
                        .fold(0u128, |s, i| s.wrapping_add(keys[i] as u128))
                };
                let signed = matches!(h.tag.kind(), Kind::Signed | Kind::Decimal);
                let offset = if signed {
                    count.wrapping_mul(SIGN as i128)
                } else {
                    0
                };
                Some(Scalar::Int((key_sum as i128).wrapping_sub(offset)))
            }
        }
        Kind::Float(w) => {
            let mut bits = vec![0u64; n];
            crate::float::decode_node(&mut r, w, &mut bits)?;
            let sum = (0..n)
                .filter(|&i| valid(i))
                .fold(0.0f64, |s, i| s + w.to_f64(bits[i]));
            Some(Scalar::Float(sum))
        }
        Kind::Bytes => {
            // Strings have no sum; the body is still validated.
            crate::string::decode_node::<i64>(&mut r, Rows::all(n))?;
            None
        }
    };
    r.expect_end("trailing bytes after the values")?;
    Ok(agg)
}
