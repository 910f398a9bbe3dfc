//! Delta coding (and, nested twice, delta-of-delta).
//!
//! Owns codec `DELTA`: a child node with the first value of every 1024-value
//! block, then a child node with `n` deltas as signed keys (`d ^ SIGN`, so a
//! FOR child absorbs the sign; zigzag would double the range of all-positive
//! deltas). The delta stored at a
//! block start is ignored by the decoder (the block's first value replaces
//! it); the encoder stores the true delta there so the delta stream stays
//! smooth, which makes a regular series a constant child (about 0 bits/value)
//! and a DELTA child of a DELTA node delta-of-delta.
//! Invariant: block `b` decodes from `firsts[b]` and its own deltas only.

use super::{decode_node, decode_rows, encode_node, IntScheme, Rows, BLOCK, SIGN};
use crate::cursor::ByteReader;
use crate::error::CompressionError;

/// The per-block first values and the delta stream (signed keys) of `values`.
pub(crate) fn split(values: &[u64]) -> (Vec<u64>, Vec<u64>) {
    let firsts: Vec<u64> = values.iter().step_by(BLOCK).copied().collect();
    let mut deltas = Vec::with_capacity(values.len());
    if !values.is_empty() {
        deltas.push(0);
        for w in values.windows(2) {
            deltas.push(w[1].wrapping_sub(w[0]) ^ SIGN);
        }
        if deltas.len() > 1 {
            deltas[0] = deltas[1];
        }
    }
    (firsts, deltas)
}

/// Encodes `values`; `child` forces the scheme of the delta stream (for delta-of-delta).
pub(crate) fn encode(values: &[u64], child: Option<IntScheme>, depth: u8, out: &mut Vec<u8>) {
    let (firsts, deltas) = split(values);
    encode_node(&firsts, None, depth.saturating_sub(1), out);
    encode_node(&deltas, child, depth.saturating_sub(1), out);
}

/// Decodes the blocks `rows` into `out`. Hot path: in-place prefix sums per block.
pub(crate) fn decode(
    r: &mut ByteReader,
    rows: Rows,
    out: &mut [u64],
    depth: u8,
) -> Result<(), CompressionError> {
    let n_blocks = rows.n.div_ceil(BLOCK);
    let mut firsts = vec![0u64; n_blocks];
    decode_node(r, &mut firsts, depth)?;
    decode_rows(r, rows, out, depth)?;
    for (chunk, &first) in out.chunks_mut(BLOCK).zip(&firsts[rows.first_block..]) {
        let mut acc = first;
        chunk[0] = first;
        for v in chunk[1..].iter_mut() {
            acc = acc.wrapping_add(*v ^ SIGN);
            *v = acc;
        }
    }
    Ok(())
}
