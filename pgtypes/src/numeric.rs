//! `numeric`: Arrow decimals as PostgreSQL numeric text and binary, and
//! numeric text input rounded to a decimal's scale.
//!
//! A decimal of scale `s` always prints exactly `s` fractional digits, as
//! `numeric(p, s)` does. Rounding is half away from zero, as in PostgreSQL.
//! The binary form is base-10000 digits with a weight; zero has no digits.

use std::fmt::{self, Write};

use bytes::{BufMut, BytesMut};

use crate::error::PgTypeError;
use crate::float_fmt::StackBuf;

const NUMERIC_POS: u16 = 0x0000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;

/// Writes `|value|`'s decimal digits to a stack buffer.
fn abs_digits(value: i128) -> StackBuf {
    let mut buf = StackBuf::new();
    // An i128 has at most 39 digits: the buffer cannot overflow.
    let _ = write!(buf, "{}", value.unsigned_abs());
    buf
}

/// Writes an unscaled decimal value with `scale` fractional digits.
pub fn write_decimal<W: Write>(w: &mut W, value: i128, scale: i8) -> fmt::Result {
    let digits = abs_digits(value);
    write_scaled(w, value < 0, digits.as_str(), scale)
}

/// Writes `-digits x 10^-scale` in plain notation with `max(scale, 0)`
/// fractional digits.
pub fn write_scaled<W: Write>(w: &mut W, negative: bool, digits: &str, scale: i8) -> fmt::Result {
    if negative && digits.bytes().any(|b| b != b'0') {
        w.write_char('-')?;
    }
    if scale <= 0 {
        w.write_str(digits)?;
        if digits != "0" {
            for _ in 0..(-i32::from(scale)) {
                w.write_char('0')?;
            }
        }
        return Ok(());
    }
    let scale = scale as usize;
    if digits.len() <= scale {
        w.write_str("0.")?;
        for _ in digits.len()..scale {
            w.write_char('0')?;
        }
        return w.write_str(digits);
    }
    let (int, frac) = digits.split_at(digits.len() - scale);
    w.write_str(int)?;
    w.write_char('.')?;
    w.write_str(frac)
}

/// Writes the binary `numeric` of an unscaled decimal value.
pub fn encode_decimal(out: &mut BytesMut, value: i128, scale: i8) {
    let digits = abs_digits(value);
    encode_scaled(out, value < 0, digits.as_str(), scale);
}

/// Writes the binary `numeric` of `-digits x 10^-scale`.
pub fn encode_scaled(out: &mut BytesMut, negative: bool, digits: &str, scale: i8) {
    let dscale = scale.max(0) as usize;
    let trailing_zeros = (-i32::from(scale)).max(0) as usize;
    // The number is `digits` followed by `trailing_zeros` zeros, with the
    // point `dscale` digits from the right end.
    let total = digits.len() + trailing_zeros;
    let int_len = total as i64 - dscale as i64;
    // Position 0 is the first digit of the left-padded integer part.
    let int_groups = if int_len > 0 { (int_len + 3) / 4 } else { 0 };
    let pad_left = int_groups * 4 - int_len;
    let frac_groups = (dscale as i64 + 3) / 4;
    let digit_at = |pos: i64| -> i16 {
        // pos counts from the left of the padded string.
        let idx = pos - pad_left;
        if idx < 0 || idx as usize >= total {
            return 0;
        }
        digits
            .as_bytes()
            .get(idx as usize)
            .map_or(0, |b| i16::from(b - b'0'))
    };
    let ngroups = (int_groups + frac_groups) as usize;
    let mut stack = [0i16; 48];
    let mut heap = Vec::new();
    let groups: &mut [i16] = match stack.get_mut(..ngroups) {
        Some(s) => s,
        None => {
            // Only huge negative scales get here.
            heap.resize(ngroups, 0);
            &mut heap
        }
    };
    for (g, slot) in groups.iter_mut().enumerate() {
        let base = g as i64 * 4;
        *slot = (0..4).fold(0i16, |acc, k| acc * 10 + digit_at(base + k));
    }
    let mut weight = int_groups - 1;
    let used: &[i16] = groups;
    let lead = used.iter().take_while(|g| **g == 0).count();
    let used = used.get(lead..).unwrap_or_default();
    weight -= lead as i64;
    let trail = used.iter().rev().take_while(|g| **g == 0).count();
    let used = used.get(..used.len() - trail).unwrap_or_default();
    let (sign, weight) = if used.is_empty() {
        (NUMERIC_POS, 0)
    } else if negative {
        (NUMERIC_NEG, weight)
    } else {
        (NUMERIC_POS, weight)
    };
    out.put_i16(used.len() as i16);
    out.put_i16(weight as i16);
    out.put_u16(sign);
    out.put_u16(dscale as u16);
    for g in used {
        out.put_i16(*g);
    }
}

/// Decodes a binary `numeric` into its text form (`-12.50`, `NaN`).
pub fn decode_numeric_text(bytes: &[u8]) -> Result<String, PgTypeError> {
    let bad = |reason: &str| PgTypeError::binary("numeric", reason);
    let word = |i: usize| -> Result<u16, PgTypeError> {
        match bytes.get(i * 2..i * 2 + 2) {
            Some([a, b]) => Ok(u16::from_be_bytes([*a, *b])),
            _ => Err(bad("insufficient data left in message")),
        }
    };
    let ndigits = word(0)? as i16;
    let weight = i64::from(word(1)? as i16);
    let sign = word(2)?;
    let dscale = word(3)?;
    if ndigits < 0 || bytes.len() != 8 + 2 * ndigits as usize {
        return Err(bad("invalid length"));
    }
    match sign {
        NUMERIC_NAN => return Ok("NaN".to_string()),
        NUMERIC_PINF => return Ok("Infinity".to_string()),
        NUMERIC_NINF => return Ok("-Infinity".to_string()),
        NUMERIC_POS | NUMERIC_NEG => {}
        _ => return Err(bad("invalid sign")),
    }
    if dscale > 0x3FFF {
        return Err(bad("invalid scale"));
    }
    let mut groups = Vec::with_capacity(ndigits as usize);
    for i in 0..ndigits as usize {
        let g = word(4 + i)?;
        if g > 9999 {
            return Err(bad("invalid digit"));
        }
        groups.push(g);
    }
    // Digits of the integer part: groups 0..=weight.
    let mut s = String::new();
    if sign == NUMERIC_NEG {
        s.push('-');
    }
    if weight < 0 {
        s.push('0');
    } else {
        for g in 0..=weight {
            let v = groups.get(g as usize).copied().unwrap_or(0);
            if g == 0 {
                let _ = write!(s, "{v}");
            } else {
                let _ = write!(s, "{v:04}");
            }
        }
    }
    if dscale > 0 {
        s.push('.');
        let mut frac = String::new();
        let mut g = weight + 1;
        while frac.len() < dscale as usize {
            let v = if g < 0 {
                0
            } else {
                groups.get(g as usize).copied().unwrap_or(0)
            };
            let _ = write!(frac, "{v:04}");
            g += 1;
        }
        frac.truncate(dscale as usize);
        s.push_str(&frac);
    }
    if s == "-0" || (s.starts_with('-') && s.bytes().skip(1).all(|b| b == b'0' || b == b'.')) {
        s.remove(0);
    }
    Ok(s)
}

/// Parses numeric text into an unscaled value of `scale`, rounding half away
/// from zero, and checks it fits `precision` digits.
pub fn parse_decimal(s: &str, precision: u8, scale: i8) -> Result<i128, PgTypeError> {
    let syntax = || PgTypeError::invalid_text("numeric", s);
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    let lower = t.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "nan" | "infinity" | "+infinity" | "-infinity" | "inf" | "+inf" | "-inf"
    ) {
        return Err(PgTypeError::Unsupported {
            what: format!("numeric value \"{t}\" in a decimal column"),
        });
    }
    let (negative, body) = match t.as_bytes().first() {
        Some(b'-') => (true, t.get(1..).unwrap_or("")),
        Some(b'+') => (false, t.get(1..).unwrap_or("")),
        _ => (false, t),
    };
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (
            body.get(..i).unwrap_or(""),
            Some(body.get(i + 1..).unwrap_or("")),
        ),
        None => (body, None),
    };
    let exp: i64 = match exp {
        None => 0,
        Some(e) => {
            let digits = e.trim_start_matches(['+', '-']);
            if digits.is_empty()
                || !digits.bytes().all(|b| b.is_ascii_digit())
                || e.len() > digits.len() + 1
            {
                return Err(syntax());
            }
            let v: i64 = digits.parse().map_err(|_| syntax())?;
            if v > 1000 {
                return Err(syntax());
            }
            if e.starts_with('-') {
                -v
            } else {
                v
            }
        }
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let valid = |p: &str| {
        !p.starts_with('_')
            && !p.ends_with('_')
            && !p.contains("__")
            && p.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    };
    if (int.is_empty() && frac.is_empty()) || !valid(int) || !valid(frac) {
        return Err(syntax());
    }
    let digits = int.bytes().chain(frac.bytes()).filter(|b| *b != b'_');
    let int_len = int.bytes().filter(|b| *b != b'_').count() as i64;
    // Digits before index `cut` are kept; digit `cut` rounds.
    let cut = int_len + exp + i64::from(scale);
    let overflow = || PgTypeError::NumericOverflow {
        message: "numeric field overflow".to_string(),
    };
    let mut value: i128 = 0;
    let mut kept = 0i64;
    let mut round_up = false;
    for (i, d) in digits.enumerate() {
        let i = i as i64;
        let d = i128::from(d - b'0');
        if i < cut {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(d))
                .ok_or_else(overflow)?;
            kept += 1;
        } else {
            round_up = i == cut && d >= 5;
            break;
        }
    }
    for _ in kept..cut.max(0) {
        if value != 0 {
            value = value.checked_mul(10).ok_or_else(overflow)?;
        }
    }
    if round_up {
        value = value.checked_add(1).ok_or_else(overflow)?;
    }
    let limit = 10i128
        .checked_pow(u32::from(precision))
        .unwrap_or(i128::MAX);
    if value >= limit {
        return Err(overflow());
    }
    Ok(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: i128, s: i8) -> String {
        let mut out = String::new();
        write_decimal(&mut out, v, s).unwrap();
        out
    }

    #[test]
    fn decimals_print_with_exact_scale() {
        assert_eq!(text(12345, 2), "123.45");
        assert_eq!(text(-5, 3), "-0.005");
        assert_eq!(text(0, 2), "0.00");
        assert_eq!(text(100, 0), "100");
        assert_eq!(text(12, -2), "1200");
        assert_eq!(text(0, -2), "0");
        assert_eq!(
            text(i128::MIN + 1, 0),
            "-170141183460469231731687303715884105727"
        );
    }

    fn bin(v: i128, s: i8) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode_decimal(&mut out, v, s);
        out.to_vec()
    }

    #[test]
    fn decimals_encode_like_numeric_send() {
        // 123.45: ndigits 2, weight 0, pos, dscale 2, digits 123, 4500
        assert_eq!(bin(12345, 2), [0, 2, 0, 0, 0, 0, 0, 2, 0, 123, 0x11, 0x94]);
        // 0.00: no digits
        assert_eq!(bin(0, 2), [0, 0, 0, 0, 0, 0, 0, 2]);
        // 10000: one digit 1 at weight 1
        assert_eq!(bin(10000, 0), [0, 1, 0, 1, 0, 0, 0, 0, 0, 1]);
        // -0.0001: weight -1, digit 1
        assert_eq!(bin(-1, 4), [0, 1, 0xff, 0xff, 0x40, 0, 0, 4, 0, 1]);
        // 1200 from (12, -2): digit 1200 at weight 0, dscale 0
        assert_eq!(bin(12, -2), [0, 1, 0, 0, 0, 0, 0, 0, 0x04, 0xb0]);
    }

    #[test]
    fn numeric_binary_decodes_to_text() {
        for (v, s) in [
            (12345i128, 2i8),
            (0, 2),
            (10000, 0),
            (-1, 4),
            (12, -2),
            (-987654321012, 5),
        ] {
            let want = text(v, s);
            assert_eq!(decode_numeric_text(&bin(v, s)).unwrap(), want);
        }
        assert!(decode_numeric_text(&[0, 1, 0]).is_err());
        assert!(decode_numeric_text(&[0, 1, 0, 0, 0, 0, 0, 0, 0x27, 0x10]).is_err());
    }

    #[test]
    fn numeric_text_rounds_to_scale() {
        assert_eq!(parse_decimal("123.456", 10, 2).unwrap(), 12346);
        assert_eq!(parse_decimal("-123.455", 10, 2).unwrap(), -12346);
        assert_eq!(parse_decimal(" 1e3 ", 10, 2).unwrap(), 100000);
        assert_eq!(parse_decimal("1_000.5", 10, 0).unwrap(), 1001);
        assert_eq!(parse_decimal("0.004", 10, 2).unwrap(), 0);
        assert_eq!(parse_decimal("0.005", 10, 2).unwrap(), 1);
        assert_eq!(parse_decimal(".5", 10, 0).unwrap(), 1);
        assert_eq!(parse_decimal("5.", 10, 0).unwrap(), 5);
        assert_eq!(parse_decimal("12e-1", 10, 1).unwrap(), 12);
        let e = parse_decimal("1000", 5, 2).unwrap_err();
        assert_eq!(e.to_string(), "numeric field overflow");
        assert_eq!(e.sqlstate(), "22003");
        let e = parse_decimal("abc", 5, 2).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid input syntax for type numeric: \"abc\""
        );
        assert!(parse_decimal("1..2", 5, 2).is_err());
        assert!(parse_decimal("", 5, 2).is_err());
    }
}
