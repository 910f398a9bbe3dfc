//! Shortest round-trip digits of a float, as Ryu (PostgreSQL's `d2s.c` and
//! `f2s.c`) chooses them.
//!
//! Rust's `{:e}` already gives the shortest digits that read back to the
//! same value, and PostgreSQL's Ryu agrees except when that shortest decimal
//! lies exactly on the midpoint between two floats: PostgreSQL compiles Ryu
//! without `STRICTLY_SHORTEST`, so it never takes a midpoint (`1e23` prints
//! as `9.999999999999999e+22`) even though reading it back would round to
//! the same float. This module detects those ties exactly and falls back to
//! the next longer correctly rounded form.

use std::fmt::Write;

use crate::float_fmt::StackBuf;

/// Bit layout of a binary float format.
struct Layout {
    mantissa_bits: u32,
    exponent_bits: u32,
    bias: i32,
}

const F64: Layout = Layout {
    mantissa_bits: 52,
    exponent_bits: 11,
    bias: 1023,
};

const F32: Layout = Layout {
    mantissa_bits: 23,
    exponent_bits: 8,
    bias: 127,
};

/// Writes the shortest `d.ddde±x` of a positive finite `f64` into `buf`.
pub(crate) fn shortest_f64(v: f64, buf: &mut StackBuf) {
    let _ = write!(buf, "{v:e}");
    let round_trips = |s: &str| s.parse::<f64>() == Ok(v);
    let longer = |precision: usize, out: &mut StackBuf| {
        let _ = write!(out, "{:.*e}", precision, v);
    };
    adjust(v.to_bits(), &F64, buf, &round_trips, &longer);
}

/// Writes the shortest `d.ddde±x` of a positive finite `f32` into `buf`.
pub(crate) fn shortest_f32(v: f32, buf: &mut StackBuf) {
    let _ = write!(buf, "{v:e}");
    let round_trips = |s: &str| s.parse::<f32>() == Ok(v);
    let longer = |precision: usize, out: &mut StackBuf| {
        let _ = write!(out, "{:.*e}", precision, v);
    };
    adjust(u64::from(v.to_bits()), &F32, buf, &round_trips, &longer);
}

/// Turns Rust's shortest digits into Ryu's: ties between two shortest
/// candidates go to the even one, and midpoints are never taken.
fn adjust(
    bits: u64,
    layout: &Layout,
    buf: &mut StackBuf,
    round_trips: &dyn Fn(&str) -> bool,
    longer: &dyn Fn(usize, &mut StackBuf),
) {
    let Some((digits, k)) = decimal_parts(buf.as_str()) else {
        return;
    };
    let Some(float) = Decoded::new(bits, layout) else {
        return;
    };
    let mut digits = digits;
    if digits % 2 == 1 {
        for alt in [digits - 1, digits + 1] {
            // v exactly halfway between `digits` and `alt`: take the even one.
            if decimal_equals((digits + alt) * 5, k - 1, float.m2, float.e2) {
                let candidate = sci_of(alt, k);
                if round_trips(candidate.as_str()) && !float.is_midpoint(alt, k) {
                    *buf = candidate;
                    digits = alt;
                }
                break;
            }
        }
    }
    if float.is_midpoint(digits, k) {
        let ndigits = digits.checked_ilog10().unwrap_or(0) as usize + 1;
        for precision in ndigits..17 {
            let mut candidate = StackBuf::new();
            longer(precision, &mut candidate);
            let Some((d, kk)) = decimal_parts(candidate.as_str()) else {
                return;
            };
            if round_trips(candidate.as_str()) && !float.is_midpoint(d, kk) {
                *buf = sci_of(d, kk);
                return;
            }
        }
    }
}

/// A float as `m2 * 2^e2`, with what Ryu needs to know about its neighbours.
struct Decoded {
    m2: u64,
    e2: i32,
    /// 1 unless the float is the smallest of its binade (closer neighbour below).
    mm_shift: u64,
}

impl Decoded {
    fn new(bits: u64, layout: &Layout) -> Option<Decoded> {
        let ieee_mantissa = bits & ((1u64 << layout.mantissa_bits) - 1);
        let ieee_exponent =
            ((bits >> layout.mantissa_bits) & ((1u64 << layout.exponent_bits) - 1)) as i32;
        let (m2, e2) = if ieee_exponent == 0 {
            (ieee_mantissa, 1 - layout.bias - layout.mantissa_bits as i32)
        } else {
            (
                ieee_mantissa | (1u64 << layout.mantissa_bits),
                ieee_exponent - layout.bias - layout.mantissa_bits as i32,
            )
        };
        (m2 != 0).then_some(Decoded {
            m2,
            e2,
            mm_shift: u64::from(ieee_mantissa != 0 || ieee_exponent <= 1),
        })
    }

    /// Whether `digits * 10^k` is exactly the midpoint to a neighbour:
    /// `(4*m2 + 2) * 2^(e2-2)` above or `(4*m2 - 1 - mm_shift) * 2^(e2-2)`
    /// below. PostgreSQL builds Ryu without `STRICTLY_SHORTEST`, so it never
    /// prints a midpoint.
    fn is_midpoint(&self, digits: u64, k: i32) -> bool {
        decimal_equals(digits, k, 4 * self.m2 + 2, self.e2 - 2)
            || decimal_equals(digits, k, 4 * self.m2 - 1 - self.mm_shift, self.e2 - 2)
    }
}

/// `digits * 10^k` as `d.ddde±x` without trailing zeros.
fn sci_of(digits: u64, k: i32) -> StackBuf {
    let mut all = StackBuf::new();
    let _ = write!(all, "{digits}");
    let text = all.as_str();
    let exp = k + text.len() as i32 - 1;
    let (first, rest) = text.split_at(1.min(text.len()));
    let rest = rest.trim_end_matches('0');
    let mut out = StackBuf::new();
    if rest.is_empty() {
        let _ = write!(out, "{first}e{exp}");
    } else {
        let _ = write!(out, "{first}.{rest}e{exp}");
    }
    out
}

/// `d.ddde±x` as (all digits, power of ten of the last digit).
fn decimal_parts(sci: &str) -> Option<(u64, i32)> {
    let (mantissa, exp) = sci.split_once('e')?;
    let exp: i32 = exp.parse().ok()?;
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits: u64 = 0;
    for b in int.bytes().chain(frac.bytes()) {
        digits = digits
            .checked_mul(10)?
            .checked_add(u64::from(b.checked_sub(b'0')?))?;
    }
    Some((digits, exp - frac.len() as i32))
}

/// Whether `digits * 10^k == m * 2^e` exactly.
fn decimal_equals(digits: u64, k: i32, m: u64, e: i32) -> bool {
    if digits == 0 || m == 0 {
        return false;
    }
    let shift = m.trailing_zeros();
    let (odd, e) = (m >> shift, e + shift as i32);
    let t = digits.trailing_zeros() as i32;
    if t + k != e {
        return false;
    }
    let d1 = u128::from(digits >> t);
    let odd_part = if k >= 0 {
        match 5u128.checked_pow(k as u32).and_then(|p| d1.checked_mul(p)) {
            Some(v) => v,
            None => return false,
        }
    } else {
        match 5u128.checked_pow((-k) as u32) {
            Some(p) if d1 % p == 0 => d1 / p,
            _ => return false,
        }
    };
    odd_part == u128::from(odd)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s64(v: f64) -> String {
        let mut b = StackBuf::new();
        shortest_f64(v, &mut b);
        b.as_str().to_string()
    }

    #[test]
    fn upper_midpoint_ties_take_the_longer_form() {
        assert_eq!(
            s64(f64::from_bits(0x44b52d02c7e14af6)),
            "9.999999999999999e22"
        );
        assert_eq!(s64(1e23), "9.999999999999999e22");
        assert_eq!(s64(0.1), "1e-1");
        assert_eq!(s64(5e-324), "5e-324");
        assert!(decimal_equals(3, 0, 3, 0));
        assert!(decimal_equals(12, 0, 3, 2));
        assert!(decimal_equals(5, -1, 1, -1));
        assert!(!decimal_equals(7, -1, 7, -1));
        assert!(decimal_equals(18, 0, 36, -1));
    }
}
