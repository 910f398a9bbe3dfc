//! Linear prediction: values minus a constant step per position.
//!
//! Owns codec `LINEAR`: the step (u64, wrapping) then a child node with
//! `value[i] - i * step` (wrapping) for every position `i` of the node.
//! Meant for timestamps taken at a fixed interval with jitter: delta coding
//! stores the difference of two jitters (twice the range), this stores the
//! jitter itself against the ideal grid, so a frame-of-reference child packs
//! one bit less per value. Blocks stay independent and decoding has no
//! prefix sum: one add per value, which vectorizes.
//! Invariant: the step is the median of the deltas (any step round trips;
//! the median keeps the residuals' range smallest for jittered grids).

use super::{decode_rows, encode_node, Rows};
use crate::cursor::ByteReader;
use crate::error::CompressionError;

/// The step (median delta, as a wrapping u64) and the residuals of `values`.
pub(crate) fn residuals(values: &[u64]) -> (u64, Vec<u64>) {
    let mut deltas: Vec<i64> = values
        .windows(2)
        .map(|w| w[1].wrapping_sub(w[0]) as i64)
        .collect();
    let step = if deltas.is_empty() {
        0
    } else {
        let mid = deltas.len() / 2;
        *deltas.select_nth_unstable(mid).1 as u64
    };
    let residuals = values
        .iter()
        .enumerate()
        .map(|(i, &v)| v.wrapping_sub((i as u64).wrapping_mul(step)))
        .collect();
    (step, residuals)
}

pub(crate) fn encode(values: &[u64], depth: u8, out: &mut Vec<u8>) {
    let (step, residuals) = residuals(values);
    out.extend_from_slice(&step.to_le_bytes());
    encode_node(&residuals, None, depth.saturating_sub(1), out);
}

/// Decodes the blocks `rows` into `out`. Hot path.
pub(crate) fn decode(
    r: &mut ByteReader,
    rows: Rows,
    out: &mut [u64],
    depth: u8,
) -> Result<(), CompressionError> {
    let step = r.u64("linear step")?;
    decode_rows(r, rows, out, depth)?;
    // The grid value as an induction variable (one add per value, no
    // 64-bit multiply, which SSE2/AVX2 lack): the loop vectorizes.
    let mut grid = (rows.start() as u64).wrapping_mul(step);
    for v in out.iter_mut() {
        *v = v.wrapping_add(grid);
        grid = grid.wrapping_add(step);
    }
    Ok(())
}
