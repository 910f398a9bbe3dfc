//! Runs with patches: a smooth base node plus sparse exceptions.
//!
//! Owns codec `PATCHED`: a child node with the base (all `n` values, in
//! practice long runs), a u32 exception count, a child node with the
//! exceptions' positions (strictly increasing) and one with their values.
//! A flag column that is mostly one value with rare isolated flips costs the
//! flips' positions (Rice-coded gaps where that is smaller) instead of two
//! run lengths per flip.
//! Invariant: positions are strictly increasing and below `n`.

use arrow_buffer::BooleanBufferBuilder;

use super::{decode_node, decode_rows, encode_node, rle, Rows};
use crate::cursor::ByteReader;
use crate::error::CompressionError;

/// Runs this short between two runs of one value become exceptions.
const SHORT_RUN: u64 = 2;

/// The base (short runs between equal neighbours replaced by the
/// neighbours' value) and the exceptions (positions, values; empty when
/// there is nothing to patch).
pub(crate) fn split(values: &[u64]) -> (Vec<u64>, Vec<u64>, Vec<u64>) {
    let (vals, lens) = rle::runs(values);
    let mut base = Vec::with_capacity(values.len());
    let mut absorbed_previous = false;
    for k in 0..vals.len() {
        let absorb = !absorbed_previous
            && lens[k] <= SHORT_RUN
            && k > 0
            && k + 1 < vals.len()
            && vals[k - 1] == vals[k + 1];
        let v = if absorb { vals[k - 1] } else { vals[k] };
        base.extend(std::iter::repeat_n(v, lens[k] as usize));
        absorbed_previous = absorb;
    }
    let (positions, patches): (Vec<u64>, Vec<u64>) = values
        .iter()
        .zip(&base)
        .enumerate()
        .filter(|(_, (v, b))| v != b)
        .map(|(i, (&v, _))| (i as u64, v))
        .unzip();
    (base, positions, patches)
}

/// Writes the payload (after the codec id) for `values`.
pub(crate) fn encode(values: &[u64], depth: u8, out: &mut Vec<u8>) {
    let (base, positions, patches) = split(values);
    let depth = depth.saturating_sub(1);
    encode_node(&base, None, depth, out);
    out.extend_from_slice(&(positions.len() as u32).to_le_bytes());
    // Gaps between rare flips are geometric: Rice codes beat bit-packing.
    let mut chosen = Vec::new();
    encode_node(&positions, None, depth, &mut chosen);
    let mut rice = vec![super::id::DELTA];
    super::delta::encode(&positions, Some(super::IntScheme::Rice), depth, &mut rice);
    if rice.len() < chosen.len() {
        chosen = rice;
    }
    out.extend_from_slice(&chosen);
    encode_node(&patches, None, depth, out);
}

/// Reads and validates the exceptions of a node holding `n` values.
fn read_patches(
    r: &mut ByteReader,
    n: usize,
    depth: u8,
) -> Result<(Vec<u64>, Vec<u64>), CompressionError> {
    let count = r.count(n, "patch count")?;
    let mut positions = vec![0u64; count];
    decode_node(r, &mut positions, depth)?;
    let increasing = positions.windows(2).all(|w| w[0] < w[1]);
    if !increasing || positions.last().is_some_and(|&p| p >= n as u64) {
        return Err(r.err("patch positions not increasing within the node"));
    }
    let mut patches = vec![0u64; count];
    decode_node(r, &mut patches, depth)?;
    Ok((positions, patches))
}

/// The exceptions that fall in `rows`: (index relative to the first row, value).
fn in_rows<'a>(
    positions: &'a [u64],
    patches: &'a [u64],
    rows: Rows,
) -> impl Iterator<Item = (usize, u64)> + 'a {
    let (start, end) = (rows.start() as u64, rows.end() as u64);
    let from = positions.partition_point(|&p| p < start);
    positions[from..]
        .iter()
        .zip(&patches[from..])
        .take_while(move |(&p, _)| p < end)
        .map(move |(&p, &v)| ((p - start) as usize, v))
}

/// Decodes the blocks `rows` into `out` (after the codec id).
pub(crate) fn decode(
    r: &mut ByteReader,
    rows: Rows,
    out: &mut [u64],
    depth: u8,
) -> Result<(), CompressionError> {
    decode_rows(r, rows, out, depth)?;
    let (positions, patches) = read_patches(r, rows.n, depth)?;
    for (i, v) in in_rows(&positions, &patches, rows) {
        out[i] = v;
    }
    Ok(())
}

/// Decodes the blocks `rows` of a boolean node into a bitmap (after the
/// codec id): the base as a bitmap, then one bit set per exception.
pub(crate) fn decode_bools(
    r: &mut ByteReader,
    rows: Rows,
    depth: u8,
) -> Result<arrow_buffer::BooleanBuffer, CompressionError> {
    let base = super::decode_bool_node(r, rows, depth)?;
    let (positions, patches) = read_patches(r, rows.n, depth)?;
    let len = base.len();
    // The base's bytes are patched in place when it owns them alone.
    let offset = base.offset();
    let copy = |shared: arrow_buffer::Buffer| {
        let mut bits = BooleanBufferBuilder::new(len);
        bits.append_packed_range(offset..offset + len, shared.as_slice());
        bits
    };
    let bytes = base.into_inner();
    let mut bits = match offset {
        0 => bytes
            .into_mutable()
            .map_or_else(copy, |b| BooleanBufferBuilder::new_from_buffer(b, len)),
        _ => copy(bytes),
    };
    for (i, v) in in_rows(&positions, &patches, rows) {
        bits.set_bit(i, v != 0);
    }
    Ok(bits.finish())
}

/// Appends whether each of the node's `n` values is in `ranges` (after the
/// codec id): the base through its own fast path, then the exceptions.
pub(crate) fn evaluate(
    r: &mut ByteReader,
    n: usize,
    ranges: &crate::predicate::KeyRanges,
    depth: u8,
    bits: &mut BooleanBufferBuilder,
) -> Result<(), CompressionError> {
    let first = bits.len();
    super::scan::evaluate_node(r, n, ranges, depth, bits)?;
    let (positions, patches) = read_patches(r, n, depth)?;
    for (i, v) in in_rows(&positions, &patches, Rows::all(n)) {
        bits.set_bit(first + i, ranges.contains(v));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolated_flips_become_patches() {
        let mut values = vec![0u64; 40];
        values[5] = 1;
        values[20] = 1;
        values[21] = 1;
        values[30..].fill(1);
        values[35] = 0;
        let (base, positions, patches) = split(&values);
        assert_eq!(positions, [5, 20, 21, 35]);
        assert_eq!(patches, [1, 1, 1, 0]);
        let mut want = vec![0u64; 40];
        want[30..].fill(1);
        assert_eq!(base, want);
        // Runs at the ends and long runs stay in the base.
        assert!(split(&[1, 0, 0, 0, 0]).1.is_empty());
        assert!(split(&[0, 0, 0, 1, 1, 1, 0, 0, 0]).1.is_empty());
    }
}
