//! Predicates and sums evaluated on encoded integer nodes.
//!
//! Owns the fast paths that avoid materialising values: CONSTANT decides all
//! rows at once, RLE decides once per run, FOR decides whole blocks from
//! (base, width) or compares residuals against shifted ranges, PATCHED
//! evaluates its base and then each exception. Other codecs
//! decode and compare. Invariant: results equal the same operation on the
//! decoded keys.

use arrow_buffer::BooleanBufferBuilder;

use super::{decode_node, for_, id, patched, plain, rle};
use crate::cursor::ByteReader;
use crate::error::{corrupt, CompressionError};
use crate::predicate::KeyRanges;

/// Appends one bit per value of the node (`n` values): whether its key is in `ranges`.
pub(crate) fn evaluate_node(
    r: &mut ByteReader,
    n: usize,
    ranges: &KeyRanges,
    depth: u8,
    bits: &mut BooleanBufferBuilder,
) -> Result<(), CompressionError> {
    if depth == 0 {
        return Err(r.err("integer codecs nested too deep"));
    }
    let at = r.pos();
    match r.u8("integer codec id")? {
        id::CONSTANT => {
            let v = plain::read_constant(r)?;
            bits.append_n(n, ranges.contains(v));
            Ok(())
        }
        id::FOR_BITPACK => for_::evaluate(r, n, ranges, bits),
        id::RLE => {
            let (vals, lens) = rle::read_runs(r, n, depth - 1)?;
            for (&v, &l) in vals.iter().zip(&lens) {
                bits.append_n(l as usize, ranges.contains(v));
            }
            Ok(())
        }
        id::PATCHED => patched::evaluate(r, n, ranges, depth - 1, bits),
        id::FLIPS => patched::evaluate_flips(r, n, ranges, depth - 1, bits),
        id::PLAIN | id::DELTA | id::LINEAR | id::RICE | id::RICE_SPLIT => {
            r.rewind(at);
            let mut vals = vec![0u64; n];
            decode_node(r, &mut vals, depth)?;
            for_::append_matches(ranges, &vals, bits);
            Ok(())
        }
        _ => Err(corrupt(at, "unknown integer codec id")),
    }
}

/// Wrapping sum of the node's `n` keys.
pub(crate) fn sum_node(r: &mut ByteReader, n: usize, depth: u8) -> Result<u128, CompressionError> {
    if depth == 0 {
        return Err(r.err("integer codecs nested too deep"));
    }
    let at = r.pos();
    match r.u8("integer codec id")? {
        id::CONSTANT => Ok((plain::read_constant(r)? as u128).wrapping_mul(n as u128)),
        id::FOR_BITPACK => for_::sum(r, n),
        id::RLE => {
            let (vals, lens) = rle::read_runs(r, n, depth - 1)?;
            Ok(vals.iter().zip(&lens).fold(0u128, |s, (&v, &l)| {
                s.wrapping_add((v as u128).wrapping_mul(l as u128))
            }))
        }
        id::PLAIN
        | id::DELTA
        | id::LINEAR
        | id::PATCHED
        | id::FLIPS
        | id::RICE
        | id::RICE_SPLIT => {
            r.rewind(at);
            let mut vals = vec![0u64; n];
            decode_node(r, &mut vals, depth)?;
            Ok(vals.iter().fold(0u128, |s, &v| s.wrapping_add(v as u128)))
        }
        _ => Err(corrupt(at, "unknown integer codec id")),
    }
}
