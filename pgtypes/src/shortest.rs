//! Shortest round-trip digits of a float, as Ryu (PostgreSQL's `d2s.c` and
//! `f2s.c`) chooses them.
//!
//! The `ryu` crate computes them; it is upstream Ryu, which PostgreSQL
//! changes in one respect: PostgreSQL compiles it with `STRICTLY_SHORTEST`
//! off, so it never prints a decimal lying exactly on the midpoint between
//! two floats (`1e23` prints as `9.999999999999999e+22`) even though reading
//! it back would round to the same float. Upstream Ryu's answer is
//! PostgreSQL's whenever it is not such a midpoint (it is then strictly
//! inside PostgreSQL's narrower interval and still the closest shortest
//! candidate); a midpoint is detected exactly and replaced by the next
//! longer correctly rounded form that is not one.
//! Hot path: text output of every float column.

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

/// The shortest digits of a positive finite `f64` as `(digits, k)`,
/// meaning `digits * 10^k`, `digits` without trailing zeros.
pub(crate) fn shortest_f64(v: f64) -> (u64, i32) {
    let (digits, k) = decimal_digits(ryu::Buffer::new().format_finite(v));
    avoid_midpoint(v.to_bits(), &F64, digits, k, |precision, out| {
        let _ = write!(out, "{:.*e}", precision, v);
        out.as_str().parse::<f64>() == Ok(v)
    })
}

/// The shortest digits of a positive finite `f32`, as [`shortest_f64`].
pub(crate) fn shortest_f32(v: f32) -> (u64, i32) {
    let (digits, k) = decimal_digits(ryu::Buffer::new().format_finite(v));
    avoid_midpoint(u64::from(v.to_bits()), &F32, digits, k, |precision, out| {
        let _ = write!(out, "{:.*e}", precision, v);
        out.as_str().parse::<f32>() == Ok(v)
    })
}

/// A decimal as `ryu` or `{:e}` writes it (`1.5`, `0.001`, `100.0`,
/// `1e23`, `1.2e-7`) as `(digits, k)` without trailing zeros. Zeros are
/// counted, not multiplied in, until a later non-zero digit needs them, so
/// `100000000000000000000.0` does not overflow.
fn decimal_digits(s: &str) -> (u64, i32) {
    let (mantissa, exp) = match s.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (s, 0),
    };
    let (mut digits, mut zeros, mut frac, mut after_point) = (0u64, 0i32, 0i32, false);
    for b in mantissa.bytes() {
        match b {
            b'.' => after_point = true,
            b'0' => {
                frac += i32::from(after_point);
                zeros += i32::from(digits != 0);
            }
            _ => {
                frac += i32::from(after_point);
                for _ in 0..zeros {
                    digits *= 10;
                }
                digits = digits * 10 + u64::from(b - b'0');
                zeros = 0;
            }
        }
    }
    (digits, exp - frac + zeros)
}

/// `digits * 10^k`, or when that is exactly a midpoint between `bits` and
/// a neighbour, the shortest correctly rounded longer form that is not
/// one. `longer(p, out)` writes `v` with `p` digits after the point in
/// `{:e}` form and says whether that reads back as `v`.
fn avoid_midpoint(
    bits: u64,
    layout: &Layout,
    digits: u64,
    k: i32,
    longer: impl Fn(usize, &mut StackBuf) -> bool,
) -> (u64, i32) {
    let Some(float) = Decoded::new(bits, layout) else {
        return (digits, k);
    };
    if !float.is_midpoint(digits, k) {
        return (digits, k);
    }
    let ndigits = digits.checked_ilog10().unwrap_or(0) as usize + 1;
    for precision in ndigits..17 {
        let mut candidate = StackBuf::new();
        let round_trips = longer(precision, &mut candidate);
        let (d, kk) = decimal_digits(candidate.as_str());
        if round_trips && !float.is_midpoint(d, kk) {
            return (d, kk);
        }
    }
    (digits, k)
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

    fn strip_zeros(mut digits: u64, mut k: i32) -> (u64, i32) {
        while digits != 0 && digits.is_multiple_of(10) {
            digits /= 10;
            k += 1;
        }
        (digits, k)
    }

    /// `d.ddde±x` as (all digits, power of ten of the last digit), trailing
    /// zeros kept: the oracle needs each candidate at its own length.
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

    fn s64(v: f64) -> (u64, i32) {
        shortest_f64(v)
    }

    /// PostgreSQL's choice, found without Ryu: the first length whose
    /// correctly rounded value, or one of its two neighbours at that
    /// length, reads back as `v` and is not a midpoint. The correctly
    /// rounded value is the closest candidate of its length, and at most
    /// one neighbour can lie inside the interval when it does not.
    fn oracle(
        bits: u64,
        layout: &Layout,
        parses_back: &dyn Fn(&str) -> bool,
        rounded: &dyn Fn(usize) -> String,
    ) -> (u64, i32) {
        let float = Decoded::new(bits, layout).unwrap();
        for p in 1..=17u32 {
            let (d, k) = decimal_parts(&rounded(p as usize - 1)).unwrap();
            let low = 10u64.pow(p - 1);
            let below = if d - 1 < low {
                (10 * low - 1, k - 1)
            } else {
                (d - 1, k)
            };
            let above = if d + 1 == 10 * low {
                (low, k + 1)
            } else {
                (d + 1, k)
            };
            for (cd, ck) in [(d, k), below, above] {
                if parses_back(&format!("{cd}e{ck}")) && !float.is_midpoint(cd, ck) {
                    return strip_zeros(cd, ck);
                }
            }
        }
        panic!("no candidate for {bits:#x}");
    }

    fn oracle64(v: f64) -> (u64, i32) {
        oracle(v.to_bits(), &F64, &|s| s.parse::<f64>() == Ok(v), &|p| {
            format!("{v:.p$e}")
        })
    }

    fn oracle32(v: f32) -> (u64, i32) {
        oracle(
            u64::from(v.to_bits()),
            &F32,
            &|s| s.parse::<f32>() == Ok(v),
            &|p| format!("{v:.p$e}"),
        )
    }

    #[test]
    fn upper_midpoint_ties_take_the_longer_form() {
        assert_eq!(
            s64(f64::from_bits(0x44b52d02c7e14af6)),
            (9999999999999999, 7)
        );
        assert_eq!(s64(1e23), (9999999999999999, 7));
        assert_eq!(s64(0.1), (1, -1));
        assert_eq!(s64(5e-324), (5, -324));
        assert_eq!(s64(1e20), (1, 20));
        assert_eq!(s64(100.0), (1, 2));
        assert_eq!(s64(1.25e-7), (125, -9));
        assert_eq!(decimal_digits("100000000000000000000.0"), (1, 20));
        assert_eq!(decimal_digits("0.00102"), (102, -5));
        assert_eq!(decimal_digits("1.2e-7"), (12, -8));
        assert!(decimal_equals(3, 0, 3, 0));
        assert!(decimal_equals(12, 0, 3, 2));
        assert!(decimal_equals(5, -1, 1, -1));
        assert!(!decimal_equals(7, -1, 7, -1));
        assert!(decimal_equals(18, 0, 36, -1));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Every finite positive f64 and f32 gets the oracle's digits.
        #[test]
        fn digits_match_the_oracle(bits in proptest::prelude::any::<u64>(), small in proptest::prelude::any::<u32>()) {
            let v = f64::from_bits(bits & !(1 << 63));
            if v.is_finite() && v > 0.0 {
                proptest::prop_assert_eq!(s64(v), oracle64(v), "{:e}", v);
            }
            let w = f32::from_bits(small & !(1 << 31));
            if w.is_finite() && w > 0.0 {
                proptest::prop_assert_eq!(shortest_f32(w), oracle32(w), "{:e}", w);
            }
        }

        /// Powers of two (the narrower interval below) and short decimals,
        /// where midpoints and shortest forms are most likely.
        #[test]
        fn boundary_and_decimal_values_match_the_oracle(e in -1074i32..1024, d in 1u64..100_000, s in -30i32..30) {
            let v = 2f64.powi(e);
            if v.is_finite() && v > 0.0 {
                proptest::prop_assert_eq!(s64(v), oracle64(v), "{:e}", v);
            }
            let v: f64 = format!("{d}e{s}").parse().unwrap();
            proptest::prop_assert_eq!(s64(v), oracle64(v), "{:e}", v);
            let w = v as f32;
            if w.is_finite() && w > 0.0 {
                proptest::prop_assert_eq!(shortest_f32(w), oracle32(w), "{:e}", w);
            }
        }
    }
}
