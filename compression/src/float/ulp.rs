//! Decimal keys plus residuals in units in the last place (ulps), for floats
//! that are decimals up to the rounding error of the arithmetic that made
//! them.
//!
//! Owns codec `ALP_ULP`. A value `v` becomes the key `k = round(v * 10^e)`
//! and the residual `bits(v) - bits(k * 10^-e)`, wrapping in the float's own
//! width: how many ulps `v` lies from the nearest decimal with `e` digits.
//! The base is a product, not ALP's exact division: any expression both
//! sides compute alike will do, since the residual absorbs its rounding,
//! and a multiply decodes in a fraction of a division's time.
//! A gauge summed from decimal steps drifts from its decimals by about one
//! ulp per step, so consecutive residuals mostly differ by 0 or 1 and the
//! residual node delta-codes to a few bits per value. ALP must store every
//! such value as an exception, XOR and raw bits pay for the whole mantissa.
//! Layout: `e u8`, then per 1024-value block its exceptions (laid out as
//! ALP's), then the integer node of the keys and the integer node of the
//! residuals (both sign-flipped i64).
//! Exceptions are values without a usable key or residual (NaN, infinities,
//! -0.0 and other residuals beyond 2^40, keys beyond 2^51); their slots
//! repeat the previous key and residual so that delta runs stay unbroken.
//! Invariant: decode adds each residual to exactly the bits encode
//! subtracted it from (`k as f64 * 10^-e`, rounded to the width).

use super::alp::{
    max_exp, small_key_to_f64, write_exceptions, Exceptions, MAX_ROUNDED, POW10, ROUNDER,
};
use super::FloatWidth;
use crate::cursor::ByteReader;
use crate::error::CompressionError;
use crate::int::{self, Rows, BLOCK, SIGN};

/// 10^-e rounded to nearest, as the literals parse.
const INV10: [f64; 19] = [
    1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12, 1e-13, 1e-14,
    1e-15, 1e-16, 1e-17, 1e-18,
];

/// The bits the key `k` (as f64, exact) stands for before its residual.
#[inline(always)]
fn base(k: f64, e: usize, w: FloatWidth) -> u64 {
    let d = k * INV10[e];
    match w {
        FloatWidth::F64 => d.to_bits(),
        FloatWidth::F32 => (d as f32).to_bits() as u64,
    }
}

/// Residuals from this magnitude on make the value an exception (a sign
/// change, NaN payloads, values with no decimal near them).
const MAX_RESIDUAL: u64 = 1 << 40;
/// What choosing an exponent counts for an exception, in bits: its raw
/// value and position.
const EXCEPTION_BITS: u32 = 80;

/// `bits - base` in the width's own wrapping arithmetic, as i64.
#[inline(always)]
fn residual(bits: u64, base: u64, w: FloatWidth) -> i64 {
    match w {
        FloatWidth::F64 => bits.wrapping_sub(base) as i64,
        FloatWidth::F32 => (bits as u32).wrapping_sub(base as u32) as i32 as i64,
    }
}

/// The key and residual of one value at scale `10^e`, if it has usable ones.
#[inline(always)]
fn split(bits: u64, e: usize, w: FloatWidth) -> Option<(i64, i64)> {
    let x = (w.to_f64(bits) * POW10[e] + ROUNDER) - ROUNDER;
    // Infinities are beyond the bound; NaN compares false, so it is
    // checked apart.
    if x.is_nan() || x.abs() >= MAX_ROUNDED {
        return None;
    }
    let r = residual(bits, base(x, e, w), w);
    (r.unsigned_abs() < MAX_RESIDUAL).then_some((x as i64, r))
}

/// Bits needed for the magnitude of `d`.
fn width(d: i64) -> u32 {
    64 - d.unsigned_abs().leading_zeros()
}

/// The exponent whose keys and residuals change least from value to value
/// on `sample` (the bits a delta coding of both would spend); the smaller
/// exponent on a tie.
fn choose_exponent(sample: &[u64], w: FloatWidth) -> usize {
    let mut best = (u64::MAX, 0usize);
    for e in 0..=max_exp(w) as usize {
        let mut cost = 0u64;
        let mut prev = (0i64, 0i64);
        for &b in sample {
            cost += match split(b, e, w) {
                Some((k, r)) => {
                    let c = width(k.wrapping_sub(prev.0)) + width(r.wrapping_sub(prev.1));
                    prev = (k, r);
                    c
                }
                None => EXCEPTION_BITS,
            } as u64;
        }
        if cost < best.0 {
            best = (cost, e);
        }
    }
    best.1
}

pub(crate) fn encode(bits: &[u64], w: FloatWidth, out: &mut Vec<u8>) {
    let e = choose_exponent(&crate::select::sample(bits), w);
    out.push(e as u8);
    let mut keys = Vec::with_capacity(bits.len());
    let mut residuals = Vec::with_capacity(bits.len());
    let mut prev = (0i64, 0i64);
    let (mut exc_pos, mut exc_bits) = (Vec::new(), Vec::new());
    for block in bits.chunks(BLOCK) {
        exc_pos.clear();
        exc_bits.clear();
        for (i, &b) in block.iter().enumerate() {
            match split(b, e, w) {
                Some(kr) => prev = kr,
                None => {
                    exc_pos.push(i as u16);
                    exc_bits.push(b);
                }
            }
            keys.push((prev.0 as u64) ^ SIGN);
            residuals.push((prev.1 as u64) ^ SIGN);
        }
        write_exceptions(&exc_pos, &exc_bits, w, out);
    }
    int::encode_node(&keys, None, int::ENCODE_DEPTH, out);
    int::encode_node(&residuals, None, int::ENCODE_DEPTH, out);
}

/// Decodes the blocks `rows` into `out`. Hot path: two integer decodes,
/// one vectorized pass of convert, multiply and add, then the patches.
pub(crate) fn decode(
    r: &mut ByteReader,
    w: FloatWidth,
    rows: Rows,
    out: &mut [u64],
) -> Result<(), CompressionError> {
    let e = r.u8("ALP_ULP exponent")? as usize;
    if e > max_exp(w) as usize {
        return Err(r.err("ALP_ULP exponent out of range"));
    }
    let mut exceptions = Vec::with_capacity(rows.n.div_ceil(BLOCK));
    for start in (0..rows.n).step_by(BLOCK) {
        exceptions.push(Exceptions::read(r, (rows.n - start).min(BLOCK), w)?);
    }
    int::decode_rows(r, rows, out, int::DECODE_DEPTH)?;
    let mut residuals = vec![0u64; out.len()];
    int::decode_rows(r, rows, &mut residuals, int::DECODE_DEPTH)?;
    // Keys within ±2^51 (all that encode writes) convert exactly through
    // the bias; others only come from damaged input and decode to garbage.
    match w {
        FloatWidth::F64 => {
            let inv = INV10[e];
            for (v, &d) in out.iter_mut().zip(&residuals) {
                *v = (small_key_to_f64(*v) * inv)
                    .to_bits()
                    .wrapping_add(d ^ SIGN);
            }
        }
        FloatWidth::F32 => {
            for (v, &d) in out.iter_mut().zip(&residuals) {
                let b = base(small_key_to_f64(*v), e, w) as u32;
                *v = b.wrapping_add((d ^ SIGN) as u32) as u64;
            }
        }
    }
    for (chunk, exc) in out.chunks_mut(BLOCK).zip(&exceptions[rows.first_block..]) {
        exc.patch(chunk, w, r)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A gauge summed from 5-digit decimal steps, as Prometheus gauges
    /// computed by arithmetic are.
    fn drifting_gauge(n: usize) -> Vec<u64> {
        let mut g = 0.5f64;
        let mut x = 7u64;
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                g = (g + ((x >> 33) % 1000) as f64 / 1e5 - 0.005).clamp(0.0, 1.0);
                g.to_bits()
            })
            .collect()
    }

    #[test]
    fn the_exponent_is_the_decimals_the_steps_have() {
        let bits = drifting_gauge(4096);
        assert_eq!(choose_exponent(&bits, FloatWidth::F64), 5);
        // Most values are no decimal with five digits: ALP cannot use them.
        let exact = bits
            .iter()
            .filter(|&&b| split(b, 5, FloatWidth::F64).is_some_and(|(_, r)| r == 0))
            .count();
        assert!(exact < bits.len() / 2, "{exact} exact");
    }

    #[test]
    fn specials_and_sign_changes_are_exceptions() {
        let w = FloatWidth::F64;
        for v in [f64::NAN, f64::INFINITY, -0.0, 1e300, -f64::NAN] {
            assert_eq!(split(v.to_bits(), 2, w), None, "{v}");
        }
        assert_eq!(split(0.25f64.to_bits(), 2, w), Some((25, 0)));
        let next = f64::from_bits(0.25f64.to_bits() + 3);
        assert_eq!(split(next.to_bits(), 2, w), Some((25, 3)));
        let below = f64::from_bits(0.25f64.to_bits() - 2);
        assert_eq!(split(below.to_bits(), 2, w), Some((25, -2)));
        let f32_below = f32::from_bits(0.25f32.to_bits() - 2);
        assert_eq!(
            split(f32_below.to_bits() as u64, 2, FloatWidth::F32),
            Some((25, -2))
        );
    }
}
