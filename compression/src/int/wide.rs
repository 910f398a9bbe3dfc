//! 128-bit integers (Decimal128 values that do not fit in i64).
//!
//! Owns codec `I128_SPLIT`: the low 64 bits as one integer node and the high
//! 64 bits (as signed keys) as another, so the usually constant high half
//! costs almost nothing.
//! Invariant: `hi << 64 | lo` reassembles the exact i128.

use super::{decode_rows, encode_node, Rows, DECODE_DEPTH, ENCODE_DEPTH, SIGN};
use crate::cursor::ByteReader;
use crate::error::CompressionError;

pub(crate) fn encode(values: &[i128], out: &mut Vec<u8>) {
    let lo: Vec<u64> = values.iter().map(|&v| v as u64).collect();
    let hi: Vec<u64> = values.iter().map(|&v| ((v >> 64) as u64) ^ SIGN).collect();
    encode_node(&lo, None, ENCODE_DEPTH, out);
    encode_node(&hi, None, ENCODE_DEPTH, out);
}

pub(crate) fn decode(r: &mut ByteReader, rows: Rows) -> Result<Vec<i128>, CompressionError> {
    let mut lo = vec![0u64; rows.len()];
    decode_rows(r, rows, &mut lo, DECODE_DEPTH)?;
    let mut hi = vec![0u64; rows.len()];
    decode_rows(r, rows, &mut hi, DECODE_DEPTH)?;
    Ok(lo
        .iter()
        .zip(&hi)
        .map(|(&l, &h)| (((h ^ SIGN) as i64 as i128) << 64) | l as i128)
        .collect())
}
