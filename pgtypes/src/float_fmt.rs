//! `float4` / `float8` text output and input, exactly as PostgreSQL 16.
//!
//! With `extra_float_digits > 0` (the default) PostgreSQL prints the shortest
//! string that reads back to the same value, in fixed notation when the
//! decimal exponent is in `-4 ..= 14` (`float8`) or `-4 ..= 5` (`float4`) and
//! as `1.5e+20` otherwise. With `extra_float_digits <= 0` it prints `%.Ng`
//! with `N = 15 + extra_float_digits` (`6 + ...` for `float4`).
//! Writes go through a stack buffer: no allocation per value.

use std::fmt::{self, Write};

use crate::error::PgTypeError;

/// A small stack buffer that implements `fmt::Write`.
pub(crate) struct StackBuf {
    buf: [u8; 64],
    len: usize,
}

impl StackBuf {
    pub(crate) fn new() -> Self {
        StackBuf {
            buf: [0; 64],
            len: 0,
        }
    }

    /// Appends one ASCII byte (dropped when the buffer is full, which the
    /// at most 25 bytes of a float never make it).
    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(self.buf.get(..self.len).unwrap_or_default()).unwrap_or_default()
    }
}

impl Write for StackBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Writes a `float8` value.
pub fn write_f64<W: Write>(w: &mut W, v: f64, extra_float_digits: i32) -> fmt::Result {
    if let Some(special) = special_name(v.is_nan(), v.is_infinite(), v < 0.0) {
        return w.write_str(special);
    }
    if extra_float_digits > 0 {
        if v.fract() == 0.0 && v.abs() < 1e15 {
            return write_integral(w, v.is_sign_negative(), v.abs() as u64);
        }
        let (digits, k) = crate::shortest::shortest_f64(v.abs());
        write_decimal(w, v.is_sign_negative(), digits, k, 15)
    } else {
        write_g(w, v, (15 + extra_float_digits).max(1) as usize)
    }
}

/// Writes a `float4` value.
pub fn write_f32<W: Write>(w: &mut W, v: f32, extra_float_digits: i32) -> fmt::Result {
    if let Some(special) = special_name(v.is_nan(), v.is_infinite(), v < 0.0) {
        return w.write_str(special);
    }
    if extra_float_digits > 0 {
        if v.fract() == 0.0 && v.abs() < 1e6 {
            return write_integral(w, v.is_sign_negative(), v.abs() as u64);
        }
        let (digits, k) = crate::shortest::shortest_f32(v.abs());
        write_decimal(w, v.is_sign_negative(), digits, k, 6)
    } else {
        write_g(w, f64::from(v), (6 + extra_float_digits).max(1) as usize)
    }
}

/// Fast path of the shortest form for integral values that print in fixed
/// notation (below 10^15 for float8, 10^6 for float4): their digits.
/// `-0` keeps its sign, as PostgreSQL prints it.
fn write_integral<W: Write>(w: &mut W, negative: bool, magnitude: u64) -> fmt::Result {
    if negative {
        w.write_char('-')?;
    }
    w.write_str(crate::fast_text::u64_digits(magnitude, &mut [0u8; 20]))
}

fn special_name(nan: bool, inf: bool, negative: bool) -> Option<&'static str> {
    match (nan, inf, negative) {
        (true, _, _) => Some("NaN"),
        (false, true, true) => Some("-Infinity"),
        (false, true, false) => Some("Infinity"),
        _ => None,
    }
}

/// Splits Rust's `{:e}` output (`1.2345e-5`) into digits and exponent.
fn split_exp(sci: &str) -> (&str, &str, i32) {
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp = exp.parse::<i32>().unwrap_or(0);
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    (int, frac, exp)
}

/// Writes `digits * 10^k` (no trailing zeros in `digits`) in fixed
/// notation when its decimal exponent is in `-4 ..< fixed_below`, else as
/// C's `%e` without trailing zeros (`1.5e+20`). One `write_str` per value.
fn write_decimal<W: Write>(
    w: &mut W,
    negative: bool,
    digits: u64,
    k: i32,
    fixed_below: i32,
) -> fmt::Result {
    let mut tmp = [0u8; 20];
    let ds = crate::fast_text::u64_digits(digits, &mut tmp);
    let exp = k + ds.len() as i32 - 1;
    let mut out = StackBuf::new();
    if negative {
        out.push(b'-');
    }
    if exp < -4 || exp >= fixed_below {
        let (first, rest) = ds.split_at(1);
        out.write_str(first)?;
        if !rest.is_empty() {
            out.push(b'.');
            out.write_str(rest)?;
        }
        write_exponent(&mut out, exp)?;
    } else if exp < 0 {
        out.write_str("0.")?;
        for _ in 0..(-exp - 1) {
            out.push(b'0');
        }
        out.write_str(ds)?;
    } else {
        let point_after = (exp + 1) as usize;
        if ds.len() > point_after {
            let (int, frac) = ds.split_at(point_after);
            out.write_str(int)?;
            out.push(b'.');
            out.write_str(frac)?;
        } else {
            out.write_str(ds)?;
            for _ in ds.len()..point_after {
                out.push(b'0');
            }
        }
    }
    w.write_str(out.as_str())
}

fn write_exponent<W: Write>(w: &mut W, exp: i32) -> fmt::Result {
    let sign = if exp < 0 { '-' } else { '+' };
    write!(w, "e{sign}{:02}", exp.unsigned_abs())
}

/// C's `%.{precision}g`.
fn write_g<W: Write>(w: &mut W, v: f64, precision: usize) -> fmt::Result {
    let mut buf = StackBuf::new();
    write!(buf, "{:.*e}", precision - 1, v.abs())?;
    let (int, frac, exp) = split_exp(buf.as_str());
    if v.is_sign_negative() {
        w.write_char('-')?;
    }
    if exp < -4 || exp >= precision as i32 {
        w.write_str(int)?;
        let frac = frac.trim_end_matches('0');
        if !frac.is_empty() {
            w.write_char('.')?;
            w.write_str(frac)?;
        }
        return write_exponent(w, exp);
    }
    let mut fixed = StackBuf::new();
    let decimals = (precision as i32 - 1 - exp).max(0) as usize;
    write!(fixed, "{:.*}", decimals, v.abs())?;
    let s = fixed.as_str();
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    };
    w.write_str(s)
}

/// Reads `float8` text input (`1.5`, ` 1e5 `, `NaN`, `-Infinity`, `inf`).
/// Hot path of COPY and INSERT: plain decimals go through
/// [`short_decimal`] first.
#[inline]
pub fn parse_f64(s: &str) -> Result<f64, PgTypeError> {
    if let Some(v) = short_decimal(s) {
        return Ok(v);
    }
    parse_float(s, "double precision", |t| t.parse::<f64>().ok()).and_then(|v| {
        check_range(s, v.is_infinite(), v == 0.0, "double precision")?;
        Ok(v)
    })
}

/// Exact powers of ten up to 10^15.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// `[+-]digits[.digits]` with 1 to 15 digits in all (no exponent, no
/// spaces), read as Clinger's fast path: the digits are an exact integer
/// below 2^53 and the power of ten is exact, so one IEEE division gives
/// the correctly rounded value `str::parse` would. Such values can neither
/// overflow nor underflow. `None` for anything else.
#[inline]
fn short_decimal(s: &str) -> Option<f64> {
    let bytes = s.as_bytes();
    let (negative, body) = match bytes.first()? {
        b'-' => (true, &bytes[1..]),
        b'+' => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    if body.len() > 16 {
        return None;
    }
    // The integer digits, then a point and the fraction's digits: two
    // tight loops (the common COPY value is a short integer).
    let digit = |i: usize| {
        body.get(i)
            .map(|b| b.wrapping_sub(b'0'))
            .filter(|d| *d < 10)
    };
    let mut digits = 0u64;
    let mut i = 0;
    while let Some(d) = digit(i) {
        digits = digits * 10 + u64::from(d);
        i += 1;
    }
    let whole = i;
    if i < body.len() {
        if body[i] != b'.' {
            return None;
        }
        i += 1;
        while let Some(d) = digit(i) {
            digits = digits * 10 + u64::from(d);
            i += 1;
        }
        if i < body.len() {
            return None;
        }
    }
    let fraction = body.len() - whole - usize::from(whole < body.len());
    let count = whole + fraction;
    if count == 0 || count > 15 {
        return None;
    }
    let v = digits as f64 / POW10[fraction];
    Some(if negative { -v } else { v })
}

/// Reads `float4` text input.
pub fn parse_f32(s: &str) -> Result<f32, PgTypeError> {
    parse_float(s, "real", |t| t.parse::<f32>().ok()).and_then(|v| {
        check_range(s, v.is_infinite(), v == 0.0, "real")?;
        Ok(v)
    })
}

fn parse_float<T>(
    s: &str,
    type_name: &'static str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, PgTypeError> {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    let is_number = !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
    if is_number {
        return parse(t).ok_or_else(|| PgTypeError::invalid_text(type_name, s));
    }
    let lower = t.to_ascii_lowercase();
    let word = lower.trim_start_matches(['+', '-']);
    let is_word = matches!(word, "nan" | "inf" | "infinity");
    if !(is_word && (word != "nan" || lower == "nan")) {
        return Err(PgTypeError::invalid_text(type_name, s));
    }
    parse(t).ok_or_else(|| PgTypeError::invalid_text(type_name, s))
}

/// PostgreSQL rejects finite input that overflows, and nonzero input that
/// underflows to zero.
fn check_range(
    s: &str,
    infinite: bool,
    zero: bool,
    type_name: &'static str,
) -> Result<(), PgTypeError> {
    if !infinite && !zero {
        return Ok(());
    }
    let t = s.trim().to_ascii_lowercase();
    let word = t.trim_start_matches(['+', '-']);
    let overflow = infinite && word != "inf" && word != "infinity";
    let mantissa = t.split('e').next().unwrap_or("");
    let underflow = zero && mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b));
    if overflow || underflow {
        return Err(PgTypeError::NumericOverflow {
            message: format!("\"{s}\" is out of range for type {type_name}"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f8(v: f64) -> String {
        let mut s = String::new();
        write_f64(&mut s, v, 1).unwrap();
        s
    }

    fn f8_efd(v: f64, efd: i32) -> String {
        let mut s = String::new();
        write_f64(&mut s, v, efd).unwrap();
        s
    }

    fn f4(v: f32) -> String {
        let mut s = String::new();
        write_f32(&mut s, v, 1).unwrap();
        s
    }

    #[test]
    fn float8_shortest_matches_postgres() {
        let cases: &[(f64, &str)] = &[
            (1.5, "1.5"),
            (0.1, "0.1"),
            (1e100, "1e+100"),
            (1.2345e-5, "1.2345e-05"),
            (1e15, "1e+15"),
            (123456789012345.0, "123456789012345"),
            (1234567890123456.0, "1.234567890123456e+15"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (0.0, "0"),
            (-0.0, "-0"),
            (-1.5, "-1.5"),
            (100.0, "100"),
            (1e14, "100000000000000"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e23, "9.999999999999999e+22"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (5e-324, "5e-324"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (3.0, "3"),
            (1.0 / 3.0, "0.3333333333333333"),
            (0.000123, "0.000123"),
            (-1e-7, "-1e-07"),
        ];
        for (v, want) in cases {
            assert_eq!(f8(*v), *want, "value {v:e}");
        }
    }

    #[test]
    fn float8_with_zero_extra_digits_uses_15_significant_digits() {
        assert_eq!(f8_efd(0.1 + 0.2, 0), "0.3");
        assert_eq!(f8_efd(1.0 / 3.0, 0), "0.333333333333333");
        assert_eq!(f8_efd(1e15, 0), "1e+15");
        assert_eq!(f8_efd(123456789012345.0, 0), "123456789012345");
        assert_eq!(f8_efd(0.00001, 0), "1e-05");
        assert_eq!(f8_efd(100.0, 0), "100");
        assert_eq!(f8_efd(2.5, -14), "2");
        assert_eq!(f8_efd(1.0 / 3.0, -3), "0.333333333333");
    }

    #[test]
    fn float4_shortest_matches_postgres() {
        let cases: &[(f32, &str)] = &[
            (1.5, "1.5"),
            (0.1, "0.1"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (1e6, "1e+06"),
            (8388608.0, "8.388608e+06"),
            (1e-45, "1e-45"),
            (f32::MAX, "3.4028235e+38"),
            (-0.0, "-0"),
            (0.0001, "0.0001"),
            (f32::NAN, "NaN"),
        ];
        for (v, want) in cases {
            assert_eq!(f4(*v), *want, "value {v:e}");
        }
        let mut s = String::new();
        write_f32(&mut s, 0.1, 0).unwrap();
        assert_eq!(s, "0.1");
    }

    #[test]
    fn float_input_follows_postgres() {
        assert_eq!(parse_f64(" 1.5 ").unwrap(), 1.5);
        assert_eq!(parse_f64("1e5").unwrap(), 1e5);
        assert_eq!(parse_f64("-inf").unwrap(), f64::NEG_INFINITY);
        assert_eq!(parse_f64("Infinity").unwrap(), f64::INFINITY);
        assert!(parse_f64("NaN").unwrap().is_nan());
        assert!(parse_f64("nan").unwrap().is_nan());
        assert_eq!(parse_f64(".5").unwrap(), 0.5);
        assert_eq!(parse_f64("5e-324").unwrap(), 5e-324);
        let e = parse_f64("abc").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid input syntax for type double precision: \"abc\""
        );
        assert_eq!(e.sqlstate(), "22P02");
        let e = parse_f64("1e400").unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"1e400\" is out of range for type double precision"
        );
        assert_eq!(e.sqlstate(), "22003");
        assert!(parse_f64("1e-400").is_err());
        assert_eq!(parse_f64("0e-400").unwrap(), 0.0);
        assert!(parse_f32("1e50").is_err());
        assert_eq!(parse_f32("3.4028235e+38").unwrap(), f32::MAX);
        assert!(parse_f64("").is_err());
        assert!(parse_f64("1 2").is_err());
    }

    proptest::proptest! {
        /// The integral fast path prints what the shortest-digits path prints.
        #[test]
        fn integral_fast_path_agrees_with_shortest_digits(
            i in -999_999_999_999_999i64..=999_999_999_999_999,
            j in -999_999i32..=999_999,
        ) {
            let general = |v: f64, fixed_below: i32, f32: bool| {
                let (digits, k) = if f32 {
                    crate::shortest::shortest_f32(v.abs() as f32)
                } else {
                    crate::shortest::shortest_f64(v.abs())
                };
                let mut s = String::new();
                write_decimal(&mut s, v.is_sign_negative(), digits, k, fixed_below).unwrap();
                s
            };
            let v = i as f64;
            proptest::prop_assert_eq!(f8(v), general(v, 15, false));
            let w = j as f32;
            proptest::prop_assert_eq!(f4(w), general(f64::from(w), 6, true));
        }
    }

    proptest::proptest! {
        /// The short-decimal fast path reads what `str::parse` reads, bit
        /// for bit, and declines what it cannot read exactly.
        #[test]
        fn short_decimals_parse_like_std(s in "[+-]?[0-9]{0,17}(\\.[0-9]{0,17})?", junk in "[0-9.eE +-]{0,8}") {
            for text in [s.clone(), junk.clone(), format!("{s}{junk}")] {
                if let Some(v) = short_decimal(&text) {
                    let want: f64 = text.parse().unwrap();
                    proptest::prop_assert_eq!(v.to_bits(), want.to_bits(), "{}", text);
                }
                let fast = parse_f64(&text).map(f64::to_bits).map_err(|e| e.to_string());
                let slow = parse_float(&text, "double precision", |t| t.parse::<f64>().ok())
                    .and_then(|v| check_range(&text, v.is_infinite(), v == 0.0, "double precision").map(|_| v))
                    .map(f64::to_bits)
                    .map_err(|e| e.to_string());
                proptest::prop_assert_eq!(fast, slow, "{}", text);
            }
        }
    }

    #[test]
    fn short_decimals_take_the_fast_path() {
        assert_eq!(short_decimal("43"), Some(43.0));
        assert_eq!(
            short_decimal("-0").map(f64::to_bits),
            Some((-0.0f64).to_bits())
        );
        assert_eq!(short_decimal("0.1"), Some(0.1));
        assert_eq!(short_decimal("123456789012345"), Some(123456789012345.0));
        assert_eq!(short_decimal(".5"), Some(0.5));
        assert_eq!(short_decimal("1."), Some(1.0));
        assert_eq!(short_decimal("1234567890123456"), None);
        assert_eq!(short_decimal("1e5"), None);
        assert_eq!(short_decimal(" 1"), None);
        assert_eq!(short_decimal("."), None);
        assert_eq!(short_decimal("1.2.3"), None);
        assert_eq!(short_decimal(""), None);
    }

    #[test]
    fn integral_values_print_as_integers() {
        assert_eq!(f8(51.0), "51");
        assert_eq!(f8(-0.0), "-0");
        assert_eq!(f8(0.0), "0");
        assert_eq!(f8(1e14), "100000000000000");
        assert_eq!(f8(1e15), "1e+15");
        assert_eq!(f4(-0.0), "-0");
        assert_eq!(f4(1e6), "1e+06");
    }
}
