//! Frame-of-reference + bit-packing with patched exceptions.
//!
//! Owns codec `FOR_BITPACK`. Values are cut into blocks of 1024 that decode
//! independently. Each block stores `base u64, width u8, n_exc u16`, then the
//! packed `value - base` (exception slots packed as 0), then `n_exc` u16
//! positions and `n_exc` u64 raw values. A few outliers (above the chosen
//! width, or below a base taken from a low quantile) are patched in after
//! unpacking so one outlier does not widen the whole block.
//! Invariant: a block's packed region is exactly `packed_len(len, width)` bytes.

use super::bitpack::{bit_width, mask, pack, packed_len, unpack_add};
use super::{Rows, BLOCK};
use crate::cursor::ByteReader;
use crate::error::CompressionError;
use crate::predicate::KeyRanges;

/// Bytes per exception: u16 position + u64 value.
const EXCEPTION_BYTES: usize = 10;

/// One block as stored, borrowed from the input.
pub(crate) struct ForBlock<'a> {
    pub(crate) base: u64,
    pub(crate) width: u8,
    pub(crate) packed: &'a [u8],
    exc_pos: &'a [u8],
    exc_val: &'a [u8],
}

impl ForBlock<'_> {
    /// Exceptions as (position, value); positions are checked by the caller's use.
    pub(crate) fn exceptions(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        self.exc_pos
            .chunks_exact(2)
            .zip(self.exc_val.chunks_exact(8))
            .map(|(p, v)| {
                let mut b = [0u8; 8];
                b.copy_from_slice(v);
                (
                    u16::from_le_bytes([p[0], p[1]]) as usize,
                    u64::from_le_bytes(b),
                )
            })
    }

    fn has_exceptions(&self) -> bool {
        !self.exc_pos.is_empty()
    }
}

/// Chooses (base, width) for one block, minimising packed bytes + exception
/// bytes: the block's minimum as base, or its 1/64 quantile when a few low
/// outliers are cheaper as exceptions.
/// Also returns the number of exceptions the plan makes.
fn plan_block(block: &[u64], scratch: &mut Vec<u64>) -> (u64, u8, usize) {
    let min = block.iter().copied().min().unwrap_or(0);
    let hist = histogram(block, min);
    let ((width, exceptions), cost) = cheapest(&hist, block.len());
    let mut best = (min, width, cost, exceptions);
    let k = block.len() / 64;
    if k > 0 && quantile_may_pay(&hist, k, block.len(), cost) {
        scratch.clear();
        scratch.extend_from_slice(block);
        let (_, kth, _) = scratch.select_nth_unstable(k);
        let alt_base = *kth;
        if alt_base != min {
            let ((alt_width, alt_exc), alt_cost) =
                cheapest(&histogram(block, alt_base), block.len());
            if alt_cost < cost {
                best = (alt_base, alt_width, alt_cost, alt_exc);
            }
        }
    }
    (best.0, best.1, best.3)
}

/// Whether the `k`-th smallest value as base could cost less than `cost`,
/// judged from the histogram of widths above the minimum (`hist`): with
/// the k-th smallest in bucket `j`, every value of a lower bucket becomes an
/// exception and a value of bucket `i >= j + 2` still needs `i - 1` bits, so
/// the cheapest of those widths bounds the quantile's cost from below.
/// Skipping the selection when it cannot pay keeps the plan exact.
fn quantile_may_pay(hist: &[usize; 66], k: usize, len: usize, cost: usize) -> bool {
    // Bucket 65 (below the base) is empty under the minimum.
    let mut seen = 0;
    let j = hist[..65]
        .iter()
        .position(|&n| {
            seen += n;
            seen > k
        })
        .unwrap_or(64);
    let mut bound = [0usize; 66];
    bound[65] = hist[..j].iter().sum();
    for (i, &n) in hist[..65].iter().enumerate().skip(j) {
        bound[if i <= j + 1 { 0 } else { i - 1 }] += n;
    }
    cheapest(&bound, len).1 < cost
}

/// Per value, `bit_width(value - base)` counted in buckets 0..=64; values
/// below `base` in bucket 65.
fn histogram(block: &[u64], base: u64) -> [usize; 66] {
    let bucket = |v: u64| {
        if v < base {
            65
        } else {
            bit_width(v.wrapping_sub(base)) as usize
        }
    };
    // Four partial counts: neighbours mostly share a width, and with one
    // counter each increment would wait for the previous one's store.
    let mut part = [[0u32; 66]; 4];
    let mut quads = block.chunks_exact(4);
    for q in &mut quads {
        for (h, &v) in part.iter_mut().zip(q) {
            h[bucket(v)] += 1;
        }
    }
    for &v in quads.remainder() {
        part[0][bucket(v)] += 1;
    }
    std::array::from_fn(|i| part.iter().map(|p| p[i] as usize).sum())
}

/// Returns ((width, exceptions), cost in bytes) of the cheapest width for
/// a block of `len` values with the width histogram `hist`.
fn cheapest(hist: &[usize; 66], len: usize) -> ((u8, usize), usize) {
    let mut above = hist[65];
    let mut best = ((64u8, above), packed_len(len, 64) + above * EXCEPTION_BYTES);
    for w in (0..64u8).rev() {
        above += hist[w as usize + 1];
        let cost = packed_len(len, w) + above * EXCEPTION_BYTES;
        if cost < best.1 && above <= u16::MAX as usize {
            best = ((w, above), cost);
        }
    }
    best
}

/// Encodes `values` as FOR blocks (no codec id; the caller wrote it).
pub(crate) fn encode(values: &[u64], out: &mut Vec<u8>) {
    let mut scratch = Vec::with_capacity(BLOCK);
    let mut residuals = Vec::with_capacity(BLOCK);
    let mut exc_pos: Vec<u16> = Vec::new();
    let mut exc_val: Vec<u64> = Vec::new();
    for block in values.chunks(BLOCK) {
        let (base, width, exceptions) = plan_block(block, &mut scratch);
        let m = mask(width);
        let is_exception = |v: u64| v < base || v.wrapping_sub(base) & !m != 0;
        residuals.clear();
        exc_pos.clear();
        exc_val.clear();
        // Branch-free; the rare exceptions are collected in a second pass.
        residuals.extend(block.iter().map(|&v| {
            if is_exception(v) {
                0
            } else {
                v.wrapping_sub(base)
            }
        }));
        if exceptions > 0 {
            for (i, &v) in block.iter().enumerate() {
                if is_exception(v) {
                    exc_pos.push(i as u16);
                    exc_val.push(v);
                }
            }
        }
        debug_assert_eq!(
            block.iter().filter(|&&v| is_exception(v)).count(),
            exceptions
        );
        out.extend_from_slice(&base.to_le_bytes());
        out.push(width);
        out.extend_from_slice(&(exc_pos.len() as u16).to_le_bytes());
        pack(&residuals, width, out);
        for p in &exc_pos {
            out.extend_from_slice(&p.to_le_bytes());
        }
        for v in &exc_val {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
}

/// Reads the header and borrows the regions of one block of `len` values.
pub(crate) fn read_block<'a>(
    r: &mut ByteReader<'a>,
    len: usize,
) -> Result<ForBlock<'a>, CompressionError> {
    let base = r.u64("FOR block base")?;
    let width = r.u8("FOR block width")?;
    if width > 64 {
        return Err(r.err("FOR block width above 64"));
    }
    let n_exc = r.u16("FOR exception count")? as usize;
    if n_exc > len {
        return Err(r.err("FOR exception count above block length"));
    }
    let packed = r.bytes(packed_len(len, width), "FOR packed values")?;
    let exc_pos = r.bytes(n_exc * 2, "FOR exception positions")?;
    let exc_val = r.bytes(n_exc * 8, "FOR exception values")?;
    Ok(ForBlock {
        base,
        width,
        packed,
        exc_pos,
        exc_val,
    })
}

pub(crate) fn patch(
    r: &ByteReader,
    block: &ForBlock,
    out: &mut [u64],
) -> Result<(), CompressionError> {
    for (pos, v) in block.exceptions() {
        *out.get_mut(pos)
            .ok_or_else(|| r.err("FOR exception position out of block"))? = v;
    }
    Ok(())
}

/// Decodes the blocks `rows` into `out`; other blocks are only skipped. Hot path.
pub(crate) fn decode(
    r: &mut ByteReader,
    rows: Rows,
    out: &mut [u64],
) -> Result<(), CompressionError> {
    decode_then(r, rows, out, |_, _| {})
}

/// `decode`, calling `then(block number, values)` on each decoded block
/// while it is still in L1 (a parent's pass over its child's output, such
/// as delta's prefix sums, costs another trip through memory otherwise).
pub(crate) fn decode_then(
    r: &mut ByteReader,
    rows: Rows,
    out: &mut [u64],
    mut then: impl FnMut(usize, &mut [u64]),
) -> Result<(), CompressionError> {
    let mut out_chunks = out.chunks_mut(BLOCK);
    for (b, start) in (0..rows.n).step_by(BLOCK).enumerate() {
        let len = (rows.n - start).min(BLOCK);
        let block = read_block(r, len)?;
        if b < rows.first_block || b >= rows.end_block {
            continue;
        }
        let Some(chunk) = out_chunks.next() else {
            break;
        };
        unpack_add(block.packed, block.width, block.base, chunk);
        patch(r, &block, chunk)?;
        then(b, chunk);
    }
    Ok(())
}

/// Evaluates `ranges` on `n` encoded values, appending one bit per value.
/// Whole blocks are decided from (base, width) when the ranges cover or miss
/// the block's packed range; otherwise residuals are compared without adding
/// the base back.
pub(crate) fn evaluate(
    r: &mut ByteReader,
    n: usize,
    ranges: &KeyRanges,
    bits: &mut arrow_buffer::BooleanBufferBuilder,
) -> Result<(), CompressionError> {
    let mut scratch = [0u64; BLOCK];
    let mut remaining = n;
    while remaining > 0 {
        let len = remaining.min(BLOCK);
        remaining -= len;
        let block = read_block(r, len)?;
        let hi = block.base.saturating_add(mask(block.width));
        let start = bits.len();
        if ranges.covers(block.base, hi) {
            bits.append_n(len, true);
        } else if !ranges.intersects(block.base, hi) {
            bits.append_n(len, false);
        } else {
            let local = ranges.shifted_down(block.base);
            let vals = &mut scratch[..len];
            unpack_add(block.packed, block.width, 0, vals);
            append_matches(&local, vals, bits);
        }
        if block.has_exceptions() {
            for (pos, v) in block.exceptions() {
                if pos >= len {
                    return Err(r.err("FOR exception position out of block"));
                }
                bits.set_bit(start + pos, ranges.contains(v));
            }
        }
    }
    Ok(())
}

/// Appends `ranges.contains(v)` for each value; branch-free for one range.
pub(crate) fn append_matches(
    ranges: &KeyRanges,
    vals: &[u64],
    bits: &mut arrow_buffer::BooleanBufferBuilder,
) {
    match ranges.single() {
        Some((lo, hi)) => {
            let (isa, keys) = (crate::simd::best(), crate::simd::Keys::Int);
            crate::simd::append_in_range(isa, keys, vals, lo, hi - lo, bits);
        }
        None => bits.append_buffer(&arrow_buffer::BooleanBuffer::collect_bool(
            vals.len(),
            |i| ranges.contains(vals[i]),
        )),
    }
}

/// Sum of the `n` encoded keys (wrapping, as u128), computed from residuals.
pub(crate) fn sum(r: &mut ByteReader, n: usize) -> Result<u128, CompressionError> {
    let mut scratch = [0u64; BLOCK];
    let mut total: u128 = 0;
    let mut remaining = n;
    while remaining > 0 {
        let len = remaining.min(BLOCK);
        remaining -= len;
        let block = read_block(r, len)?;
        let vals = &mut scratch[..len];
        unpack_add(block.packed, block.width, 0, vals);
        let mut s: u128 = (block.base as u128).wrapping_mul(len as u128);
        for &v in vals.iter() {
            s = s.wrapping_add(v as u128);
        }
        for (pos, v) in block.exceptions() {
            if pos >= len {
                return Err(r.err("FOR exception position out of block"));
            }
            // The slot was packed as 0 (counted as `base`) unless it was corrupted.
            s = s.wrapping_sub((block.base as u128).wrapping_add(vals[pos] as u128));
            s = s.wrapping_add(v as u128);
        }
        total = total.wrapping_add(s);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{bit_width, cheapest, histogram, mask, plan_block};

    /// The plan that always tries the 1/64 quantile as base.
    /// One counter per bucket, value by value.
    fn naive_histogram(block: &[u64], base: u64) -> [usize; 66] {
        let mut hist = [0usize; 66];
        for &v in block {
            hist[if v < base {
                65
            } else {
                bit_width(v - base) as usize
            }] += 1;
        }
        hist
    }

    fn plan_always_selecting(block: &[u64]) -> (u64, u8, usize) {
        let min = block.iter().copied().min().unwrap_or(0);
        let ((width, _), cost) = cheapest(&naive_histogram(block, min), block.len());
        let mut plan = (min, width);
        let k = block.len() / 64;
        if k > 0 {
            let mut sorted = block.to_vec();
            sorted.sort_unstable();
            let alt = sorted[k];
            let ((alt_width, _), alt_cost) = cheapest(&naive_histogram(block, alt), block.len());
            if alt != min && alt_cost < cost {
                plan = (alt, alt_width);
            }
        }
        let (base, width) = plan;
        let exceptions = block
            .iter()
            .filter(|&&v| v < base || (v - base) & !mask(width) != 0)
            .count();
        (base, width, exceptions)
    }

    proptest! {
        /// Skipping the quantile where its cost bound cannot beat the
        /// minimum's plan never changes the plan: blocks with and without
        /// low outliers, spreads of every width.
        #[test]
        fn the_quantile_is_skipped_only_where_it_cannot_pay(
            spread in 0u32..64,
            len in 1usize..1100,
            outliers in prop::collection::vec((0usize..1100, any::<u64>()), 0..40),
            seed in any::<u64>(),
        ) {
            let mut x = seed | 1;
            let top = if spread == 63 { u64::MAX } else { (1u64 << (spread + 1)) - 1 };
            let mut block: Vec<u64> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (1u64 << 40).wrapping_add(x & top)
                })
                .collect();
            for (at, v) in outliers {
                if at < len {
                    block[at] = v % (1u64 << 41);
                }
            }
            prop_assert_eq!(plan_block(&block, &mut Vec::new()), plan_always_selecting(&block));
            for base in [0, block[len / 2], block[len - 1]] {
                prop_assert_eq!(histogram(&block, base), naive_histogram(&block, base));
            }
        }
    }
}
