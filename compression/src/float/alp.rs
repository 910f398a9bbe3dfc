//! ALP-style decimal encoding of floats.
//!
//! Owns codec `ALP`. For each 1024-value block an exponent `e` is chosen on a
//! sample so that `round(v * 10^e)` is an integer `k` with `k / 10^e == v`
//! bit for bit for most values; the `k` of all blocks go to one integer node
//! (FOR, delta, ... by the usual selection). Values that do not round trip
//! (NaN, -0.0, infinities, too many digits) are exceptions: the block stores
//! their position and raw bits and their integer slot repeats the previous
//! `k`, so outliers neither widen nor break a delta run.
//! Layout: per block `e u8, n_exc u16, n_exc u16 positions, n_exc raw values`
//! (4 or 8 bytes each), then the integer node.
//! Invariant: decode computes exactly the expression encode verified.

use super::FloatWidth;
use crate::cursor::ByteReader;
use crate::error::CompressionError;
use crate::int::{self, Rows, BLOCK, SIGN};

/// Exact powers of ten (every one is representable in f64).
pub(super) const POW10: [f64; 19] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18,
];
/// Integers beyond this magnitude are not trusted to survive the f64 path.
const MAX_ABS: f64 = (1u64 << 62) as f64;
const SAMPLE: usize = 32;

pub(super) fn max_exp(w: FloatWidth) -> u8 {
    match w {
        FloatWidth::F32 => 10,
        FloatWidth::F64 => 18,
    }
}

/// The bits `k / 10^e` decodes to. `e` must be <= 18.
#[inline]
fn decode_value(k: i64, e: usize, w: FloatWidth) -> u64 {
    let d = k as f64 / POW10[e];
    match w {
        FloatWidth::F32 => (d as f32).to_bits() as u64,
        FloatWidth::F64 => d.to_bits(),
    }
}

/// `k` such that `decode_value(k, e) == bits`, if there is an obvious one.
#[inline]
fn encode_value(bits: u64, e: usize, w: FloatWidth) -> Option<i64> {
    if w == FloatWidth::F64 {
        let (k, ok) = encode_f64(bits, POW10[e]);
        if ok {
            return Some(k);
        }
    }
    // Products of 2^51 and more (and f32 values) take the exact path.
    let x = (w.to_f64(bits) * POW10[e]).round();
    if x.is_nan() || x.abs() >= MAX_ABS {
        return None;
    }
    let k = x as i64;
    (decode_value(k, e, w) == bits).then_some(k)
}

/// 2^52 + 2^51: adding and subtracting it rounds an f64 below 2^51 in
/// magnitude to an integer (half to even) without a call to `round`.
pub(super) const ROUNDER: f64 = 6_755_399_441_055_744.0;
/// Integers the rounding trick handles.
pub(super) const MAX_ROUNDED: f64 = (1u64 << 51) as f64;

/// The candidate `k` of an f64 and whether `k / p` gives the same bits
/// back. Branch-free, so a block's loop vectorizes. `k as f64` is exactly
/// the rounded product, so the check is the decoder's own expression.
#[inline]
fn encode_f64(bits: u64, p: f64) -> (i64, bool) {
    let x = (f64::from_bits(bits) * p + ROUNDER) - ROUNDER;
    let fits = x.abs() < MAX_ROUNDED;
    let k = if fits { x as i64 } else { 0 };
    (k, fits & ((x / p).to_bits() == bits))
}

/// The smallest exponent that makes the most sampled values round trip.
fn choose_exponent(block: &[u64], w: FloatWidth) -> usize {
    let step = (block.len() / SAMPLE).max(1);
    let sample: Vec<u64> = block.iter().step_by(step).copied().collect();
    let mut best = (0usize, 0usize);
    for e in 0..=max_exp(w) as usize {
        let hits = sample
            .iter()
            .filter(|&&b| encode_value(b, e, w).is_some())
            .count();
        if hits > best.1 {
            best = (e, hits);
            if hits == sample.len() {
                break;
            }
        }
    }
    best.0
}

/// Writes the ALP payload; returns how many values are exceptions.
pub(crate) fn encode(bits: &[u64], w: FloatWidth, out: &mut Vec<u8>) -> usize {
    let mut exceptions = 0;
    let mut keys = Vec::with_capacity(bits.len());
    let mut prev_key = SIGN;
    for block in bits.chunks(BLOCK) {
        let e = choose_exponent(block, w);
        let mut exc_pos: Vec<u16> = Vec::new();
        let mut exc_bits: Vec<u64> = Vec::new();
        // f64 blocks: every value's key and check in one vectorizable pass;
        // a block with exceptions (or f32) goes value by value.
        let start = keys.len();
        let mut all_ok = w == FloatWidth::F64;
        if all_ok {
            let p = POW10[e];
            keys.extend(block.iter().map(|&b| {
                let (k, ok) = encode_f64(b, p);
                all_ok &= ok;
                (k as u64) ^ SIGN
            }));
        }
        if all_ok {
            prev_key = keys.last().copied().unwrap_or(prev_key);
        } else {
            keys.truncate(start);
            for (i, &b) in block.iter().enumerate() {
                if let Some(k) = encode_value(b, e, w) {
                    prev_key = (k as u64) ^ SIGN;
                } else {
                    exc_pos.push(i as u16);
                    exc_bits.push(b);
                }
                keys.push(prev_key);
            }
        }
        out.push(e as u8);
        write_exceptions(&exc_pos, &exc_bits, w, out);
        exceptions += exc_pos.len();
    }
    int::encode_node(&keys, None, int::ENCODE_DEPTH, out);
    exceptions
}

/// Writes one block's exceptions: their count (u16), positions (u16
/// each) and raw values (4 or 8 bytes each).
pub(super) fn write_exceptions(pos: &[u16], bits: &[u64], w: FloatWidth, out: &mut Vec<u8>) {
    out.extend_from_slice(&(pos.len() as u16).to_le_bytes());
    for p in pos {
        out.extend_from_slice(&p.to_le_bytes());
    }
    for b in bits {
        out.extend_from_slice(&b.to_le_bytes()[..w.bytes()]);
    }
}

/// One block's exceptions as `write_exceptions` laid them out.
pub(super) struct Exceptions<'a> {
    pos: &'a [u8],
    vals: &'a [u8],
}

impl<'a> Exceptions<'a> {
    /// Reads the exceptions of a block of `len` values.
    pub(super) fn read(
        r: &mut ByteReader<'a>,
        len: usize,
        w: FloatWidth,
    ) -> Result<Self, CompressionError> {
        let n_exc = r.u16("float exception count")? as usize;
        if n_exc > len {
            return Err(r.err("float exception count above block length"));
        }
        let pos = r.bytes(n_exc * 2, "float exception positions")?;
        let vals = r.bytes(n_exc * w.bytes(), "float exception values")?;
        Ok(Exceptions { pos, vals })
    }

    /// Overwrites the exceptions' slots of the decoded block `chunk`.
    pub(super) fn patch(
        &self,
        chunk: &mut [u64],
        w: FloatWidth,
        r: &ByteReader,
    ) -> Result<(), CompressionError> {
        let wb = w.bytes();
        for (p, b) in self.pos.chunks_exact(2).zip(self.vals.chunks_exact(wb)) {
            let pos = u16::from_le_bytes([p[0], p[1]]) as usize;
            let mut a = [0u8; 8];
            a[..wb].copy_from_slice(b);
            *chunk
                .get_mut(pos)
                .ok_or_else(|| r.err("float exception position out of block"))? =
                u64::from_le_bytes(a);
        }
        Ok(())
    }
}

struct BlockMeta<'a> {
    e: usize,
    exceptions: Exceptions<'a>,
}

/// Decodes `out.len()` values. Hot path: one integer decode, then an
/// in-place `k / 10^e` per value, then the patches.
/// Replaces each key `k` (sign-flipped i64) of a block with the bits of
/// `k as f64 / p`, exactly as `decode_value` computes them. Hot loop of ALP
/// decoding: it must vectorize, and `i64 as f64` only does with AVX-512DQ,
/// so other CPUs convert through the 2^52 + 2^51 bias when every key of the
/// block fits in 51 bits (exact there), and per value otherwise.
fn keys_to_f64(chunk: &mut [u64], p: f64) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512dq") && std::arch::is_x86_feature_detected!("fma")
    {
        // SAFETY: the CPU supports AVX-512F, AVX-512DQ and FMA (checked
        // above; DQ implies F).
        return unsafe { keys_to_f64_avx512(chunk, p) };
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports AVX2 and FMA (checked above).
        return unsafe { keys_to_f64_avx2(chunk, p) };
    }
    keys_to_f64_portable(chunk, p);
}

/// Whether every sign-flipped key of `chunk` lies within ±2^51, where the
/// bias trick converts it exactly.
#[inline(always)]
fn all_small(chunk: &[u64]) -> bool {
    const HALF: u64 = 1 << 51;
    // Sign-flipped keys are offset by 2^63; small keys lie in 2^63 ± 2^51.
    chunk.iter().fold(true, |ok, &v| {
        ok & (v.wrapping_sub(SIGN).wrapping_add(HALF) < 2 * HALF)
    })
}

/// The key `v` (sign-flipped, within ±2^51) as f64, exactly: its two's
/// complement added to the bits of 2^52 + 2^51, minus that bias.
#[inline(always)]
pub(super) fn small_key_to_f64(v: u64) -> f64 {
    const MAGIC: f64 = 6_755_399_441_055_744.0; // 2^52 + 2^51
    f64::from_bits(MAGIC.to_bits().wrapping_add(v.wrapping_sub(SIGN))) - MAGIC
}

/// `a / p` correctly rounded without a division (the slowest vector op):
/// q = a * RN(1/p) is within one ulp of a/p, the FMA gives the exact
/// remainder, and one more FMA rounds to exactly RN(a/p) (Markstein's
/// theorem; no underflow or overflow for |a| < 2^63 and p <= 1e18).
/// `key_conversion_paths_agree` checks it against `/`. Only where FMA is
/// a single rounding (the callers enable the `fma` feature).
#[inline(always)]
fn div_by_fma(a: f64, p: f64, inv: f64) -> f64 {
    let q = a * inv;
    let r = (-q).mul_add(p, a);
    r.mul_add(inv, q)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn keys_to_f64_avx2(chunk: &mut [u64], p: f64) {
    let inv = 1.0 / p;
    convert_keys(chunk, p, |a| div_by_fma(a, p, inv));
}

/// Converts a block's keys to the bits of `div(k as f64)` (which must be
/// `k / p` correctly rounded): through the bias when every key is small,
/// per value otherwise. Inlined into each instruction set's copy.
#[inline(always)]
fn convert_keys(chunk: &mut [u64], p: f64, div: impl Fn(f64) -> f64) {
    if !all_small(chunk) {
        for v in chunk.iter_mut() {
            *v = div(((*v ^ SIGN) as i64) as f64).to_bits();
        }
    } else if p == 1.0 {
        chunk
            .iter_mut()
            .for_each(|v| *v = small_key_to_f64(*v).to_bits());
    } else {
        chunk
            .iter_mut()
            .for_each(|v| *v = div(small_key_to_f64(*v)).to_bits());
    }
}

fn keys_to_f64_portable(chunk: &mut [u64], p: f64) {
    convert_keys(chunk, p, |a| a / p);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,fma")]
fn keys_to_f64_avx512(chunk: &mut [u64], p: f64) {
    if p == 1.0 {
        // Exponent 0 (integral values): x / 1.0 == x, skip the division.
        for v in chunk.iter_mut() {
            *v = (((*v ^ SIGN) as i64) as f64).to_bits();
        }
        return;
    }
    let inv = 1.0 / p;
    for v in chunk.iter_mut() {
        *v = div_by_fma(((*v ^ SIGN) as i64) as f64, p, inv).to_bits();
    }
}

pub(crate) fn decode(
    r: &mut ByteReader,
    w: FloatWidth,
    rows: Rows,
    out: &mut [u64],
) -> Result<(), CompressionError> {
    let mut metas = Vec::with_capacity(rows.n.div_ceil(BLOCK));
    for start in (0..rows.n).step_by(BLOCK) {
        let e = r.u8("ALP exponent")? as usize;
        if e > max_exp(w) as usize {
            return Err(r.err("ALP exponent out of range"));
        }
        let exceptions = Exceptions::read(r, (rows.n - start).min(BLOCK), w)?;
        metas.push(BlockMeta { e, exceptions });
    }
    int::decode_rows(r, rows, out, int::DECODE_DEPTH)?;
    for (chunk, meta) in out.chunks_mut(BLOCK).zip(&metas[rows.first_block..]) {
        let e = meta.e;
        match w {
            FloatWidth::F64 => keys_to_f64(chunk, POW10[e]),
            FloatWidth::F32 => {
                for v in chunk.iter_mut() {
                    *v = decode_value((*v ^ SIGN) as i64, e, w);
                }
            }
        }
        meta.exceptions.patch(chunk, w, r)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fast_and_exact_paths_find_the_same_keys() {
        let slow = |bits: u64, e: usize| {
            let x = (f64::from_bits(bits) * POW10[e]).round();
            (x.abs() < MAX_ABS && (x / POW10[e]).to_bits() == bits).then_some(x as i64)
        };
        let values = [
            0.25,
            1.5,
            -3.75,
            12.34,
            99.99,
            1e15,
            2.0e15 + 3.0,
            1e16,
            3e17,
            -4.5e17,
            0.1,
            1e-7,
        ];
        for v in values {
            for e in 0..=18 {
                let bits = f64::to_bits(v);
                // Above 2^51 the fast path defers to the exact one.
                assert_eq!(
                    encode_value(bits, e, FloatWidth::F64),
                    slow(bits, e),
                    "{v} e={e}"
                );
            }
        }
        assert_eq!(encode_value((-0.0f64).to_bits(), 0, FloatWidth::F64), None);
        assert_eq!(encode_value(f64::NAN.to_bits(), 2, FloatWidth::F64), None);
        assert_eq!(
            encode_value(f64::INFINITY.to_bits(), 2, FloatWidth::F64),
            None
        );
    }

    fn reference(keys: &[u64], p: f64) -> Vec<u64> {
        keys.iter()
            .map(|&v| (((v ^ SIGN) as i64) as f64 / p).to_bits())
            .collect()
    }

    proptest! {
        /// Both conversion paths (and the one this CPU dispatches to) give
        /// the bits of `k as f64 / 10^e`, for small keys (bias trick) and
        /// blocks holding a key beyond 2^51 (per-value path).
        #[test]
        fn key_conversion_paths_agree(
            small in prop::collection::vec(-(1i64 << 51)..(1i64 << 51), 0..300),
            decimals in prop::collection::vec(-10_000_000i64..10_000_000, 0..300),
            large in prop::option::of(any::<i64>()),
            e in 0usize..19,
        ) {
            let mut keys: Vec<u64> = small
                .iter()
                .chain(&decimals)
                .map(|&k| (k as u64) ^ SIGN)
                .collect();
            if let Some(k) = large {
                keys.push((k as u64) ^ SIGN);
            }
            let want = reference(&keys, POW10[e]);
            let mut portable = keys.clone();
            keys_to_f64_portable(&mut portable, POW10[e]);
            prop_assert_eq!(&portable, &want);
            let mut dispatched = keys.clone();
            keys_to_f64(&mut dispatched, POW10[e]);
            prop_assert_eq!(&dispatched, &want);
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                let mut avx2 = keys.clone();
                // SAFETY: AVX2 and FMA are supported (checked above).
                unsafe { keys_to_f64_avx2(&mut avx2, POW10[e]) };
                prop_assert_eq!(&avx2, &want);
            }
        }
    }
}
