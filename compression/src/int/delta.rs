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
    let isa = crate::simd::best();
    let sum_block = |first: u64, chunk: &mut [u64]| {
        chunk[0] = first;
        prefix_sum(isa, &mut chunk[1..], first);
    };
    if r.peek_u8() == Some(super::id::FOR_BITPACK) {
        // The common child: sum each block as it is unpacked.
        r.u8("integer codec id")?;
        return super::for_::decode_then(r, rows, out, |b, chunk| sum_block(firsts[b], chunk));
    }
    decode_rows(r, rows, out, depth)?;
    for (chunk, &first) in out.chunks_mut(BLOCK).zip(&firsts[rows.first_block..]) {
        sum_block(first, chunk);
    }
    Ok(())
}

/// Replaces each signed key `d ^ SIGN` of `deltas` with `acc` plus the sum
/// of the deltas up to and including it (wrapping), computed with `isa`,
/// which must be one of `simd::supported()`.
fn prefix_sum(isa: crate::simd::Isa, deltas: &mut [u64], acc: u64) {
    #[cfg(target_arch = "x86_64")]
    if isa == crate::simd::Isa::Avx512 {
        // SAFETY: `isa` is supported, so the CPU has AVX-512F.
        return unsafe { prefix_sum_avx512(deltas, acc) };
    }
    #[cfg(target_arch = "x86_64")]
    if isa == crate::simd::Isa::Avx2 {
        // SAFETY: `isa` is supported, so the CPU has AVX2.
        return unsafe { prefix_sum_avx2(deltas, acc) };
    }
    let _ = isa;
    prefix_sum_scalar(deltas, acc);
}

fn prefix_sum_scalar(deltas: &mut [u64], mut acc: u64) {
    for v in deltas.iter_mut() {
        acc = acc.wrapping_add(*v ^ SIGN);
        *v = acc;
    }
}

/// Eight lanes at a time: an in-register prefix sum (three shifted adds)
/// plus the running total broadcast to every lane. The only dependency
/// between vectors is one add on the running total, where the scalar loop
/// has one add per value.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn prefix_sum_avx512(deltas: &mut [u64], acc: u64) {
    use std::arch::x86_64::*;
    let sign = _mm512_set1_epi64(SIGN as i64);
    let zero = _mm512_setzero_si512();
    let last = _mm512_set1_epi64(7);
    let mut total = _mm512_set1_epi64(acc as i64);
    let mut chunks = deltas.chunks_exact_mut(8);
    for c in &mut chunks {
        // SAFETY: `c` holds 8 u64, 64 bytes; unaligned load and store.
        let mut x = unsafe { _mm512_loadu_si512(c.as_ptr().cast()) };
        x = _mm512_xor_si512(x, sign);
        // Lane i gets x[i-1], x[i-2] and x[i-4] added in: lane i then holds
        // the sum of lanes 0..=i.
        x = _mm512_add_epi64(x, _mm512_alignr_epi64::<7>(x, zero));
        x = _mm512_add_epi64(x, _mm512_alignr_epi64::<6>(x, zero));
        x = _mm512_add_epi64(x, _mm512_alignr_epi64::<4>(x, zero));
        let sums = _mm512_add_epi64(x, total);
        total = _mm512_add_epi64(total, _mm512_permutexvar_epi64(last, x));
        // SAFETY: as the load.
        unsafe { _mm512_storeu_si512(c.as_mut_ptr().cast(), sums) };
    }
    let rest = chunks.into_remainder();
    let acc = _mm_cvtsi128_si64(_mm512_castsi512_si128(total)) as u64;
    prefix_sum_scalar(rest, acc);
}

/// Two lanes at a time in 128-bit registers: on CPUs that split 256-bit
/// vectors (Zen 1), the cross-lane shuffles a four-lane version needs cost
/// more than they save. `[x0, x1] + [0, x0]`, then the running total, which
/// takes the vector's own last lane, so the chain between vectors is one add.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn prefix_sum_avx2(deltas: &mut [u64], acc: u64) {
    use std::arch::x86_64::*;
    let sign = _mm_set1_epi64x(SIGN as i64);
    let mut total = _mm_set1_epi64x(acc as i64);
    let mut chunks = deltas.chunks_exact_mut(2);
    for c in &mut chunks {
        // SAFETY: `c` holds 2 u64, 16 bytes; unaligned load and store.
        let mut x = unsafe { _mm_loadu_si128(c.as_ptr().cast()) };
        x = _mm_xor_si128(x, sign);
        x = _mm_add_epi64(x, _mm_slli_si128::<8>(x));
        let sums = _mm_add_epi64(x, total);
        total = _mm_add_epi64(total, _mm_unpackhi_epi64(x, x));
        // SAFETY: as the load.
        unsafe { _mm_storeu_si128(c.as_mut_ptr().cast(), sums) };
    }
    let rest = chunks.into_remainder();
    let acc = _mm_cvtsi128_si64(total) as u64;
    prefix_sum_scalar(rest, acc);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Every instruction set's prefix sum gives the scalar loop's
        /// values, for any length (vector body and remainder) and keys
        /// (wrapping sums included).
        #[test]
        fn prefix_sums_agree_on_every_isa(
            keys in prop::collection::vec(any::<u64>(), 0..40),
            small in prop::collection::vec(SIGN - 3..SIGN + 3, 0..40),
            acc in any::<u64>(),
        ) {
            for keys in [keys, small] {
                let mut want = keys.clone();
                prefix_sum_scalar(&mut want, acc);
                for isa in crate::simd::supported() {
                    let mut got = keys.clone();
                    prefix_sum(isa, &mut got, acc);
                    prop_assert_eq!(&got, &want, "{:?}", isa);
                }
            }
        }
    }
}
