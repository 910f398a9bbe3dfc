//! Text input: PostgreSQL literal text into an Arrow scalar.
//!
//! Owns PostgreSQL's input rules for COPY FROM (text/CSV), text-format Bind
//! parameters and literals: integers with whitespace, `_` separators and
//! `0x`/`0o`/`0b` prefixes (PostgreSQL 16), booleans (`t`, `yes`, `on`,
//! ...), `bytea` hex and escape formats, arrays. Errors carry PostgreSQL's
//! message and SQLSTATE. Input is untrusted: no indexing, no panics.

use std::sync::Arc;

use arrow::datatypes::{
    i256, DataType, IntervalDayTime, IntervalMonthDayNano, IntervalUnit, TimeUnit,
};
use datafusion_common::ScalarValue;

use crate::datetime_in::DatetimeInput;
use crate::error::PgTypeError;
use crate::float_fmt::{parse_f32, parse_f64};
use crate::interval::parse_interval;
use crate::numeric::parse_decimal;
use crate::settings::PgFormatSettings;

/// Parses PostgreSQL text input for a value of Arrow type `target`.
pub fn parse_text(
    s: &str,
    target: &DataType,
    settings: &PgFormatSettings,
) -> Result<ScalarValue, PgTypeError> {
    Ok(match target {
        DataType::Null => ScalarValue::Null,
        DataType::Boolean => ScalarValue::Boolean(Some(parse_bool(s)?)),
        DataType::Int8 => ScalarValue::Int8(Some(parse_int(s, "smallint")?)),
        DataType::Int16 => ScalarValue::Int16(Some(parse_int(s, "smallint")?)),
        DataType::Int32 => ScalarValue::Int32(Some(parse_int(s, "integer")?)),
        DataType::Int64 => ScalarValue::Int64(Some(parse_int(s, "bigint")?)),
        DataType::UInt8 => ScalarValue::UInt8(Some(parse_int(s, "integer")?)),
        DataType::UInt16 => ScalarValue::UInt16(Some(parse_int(s, "integer")?)),
        DataType::UInt32 => ScalarValue::UInt32(Some(parse_int(s, "bigint")?)),
        DataType::UInt64 => ScalarValue::UInt64(Some(parse_int(s, "numeric")?)),
        DataType::Float32 => ScalarValue::Float32(Some(parse_f32(s)?)),
        DataType::Float64 => ScalarValue::Float64(Some(parse_f64(s)?)),
        DataType::Decimal32(p, sc) => {
            let v = parse_decimal(s, *p, *sc)?;
            ScalarValue::Decimal32(Some(i32::try_from(v).map_err(|_| overflow())?), *p, *sc)
        }
        DataType::Decimal64(p, sc) => {
            let v = parse_decimal(s, *p, *sc)?;
            ScalarValue::Decimal64(Some(i64::try_from(v).map_err(|_| overflow())?), *p, *sc)
        }
        DataType::Decimal128(p, sc) => {
            ScalarValue::Decimal128(Some(parse_decimal(s, *p, *sc)?), *p, *sc)
        }
        DataType::Decimal256(p, sc) => {
            let v = parse_decimal(s, (*p).min(38), *sc)?;
            ScalarValue::Decimal256(Some(i256::from_i128(v)), *p, *sc)
        }
        DataType::Utf8 => ScalarValue::Utf8(Some(s.to_string())),
        DataType::LargeUtf8 => ScalarValue::LargeUtf8(Some(s.to_string())),
        DataType::Utf8View => ScalarValue::Utf8View(Some(s.to_string())),
        DataType::Binary => ScalarValue::Binary(Some(parse_bytea(s)?)),
        DataType::LargeBinary => ScalarValue::LargeBinary(Some(parse_bytea(s)?)),
        DataType::BinaryView => ScalarValue::BinaryView(Some(parse_bytea(s)?)),
        DataType::Date32 => ScalarValue::Date32(Some(input(settings, "date").date(s)?)),
        DataType::Date64 => {
            let days = input(settings, "date").date(s)?;
            ScalarValue::Date64(Some(i64::from(days) * 86_400_000))
        }
        DataType::Time32(unit) => {
            let v = input(settings, "time without time zone").time(s, *unit)?;
            let v = i32::try_from(v).map_err(|_| PgTypeError::field_overflow(s))?;
            match unit {
                TimeUnit::Second => ScalarValue::Time32Second(Some(v)),
                _ => ScalarValue::Time32Millisecond(Some(v)),
            }
        }
        DataType::Time64(unit) => {
            let v = input(settings, "time without time zone").time(s, *unit)?;
            match unit {
                TimeUnit::Nanosecond => ScalarValue::Time64Nanosecond(Some(v)),
                _ => ScalarValue::Time64Microsecond(Some(v)),
            }
        }
        DataType::Timestamp(unit, tz) => {
            let v = parse_timestamp(s, *unit, tz.is_some(), settings)?;
            timestamp_scalar(v, *unit, tz.clone())
        }
        DataType::Interval(unit) => {
            let iv = parse_interval(s)?;
            let range = || PgTypeError::DatetimeOverflow {
                message: "interval out of range".to_string(),
            };
            match unit {
                IntervalUnit::MonthDayNano => ScalarValue::IntervalMonthDayNano(Some(
                    IntervalMonthDayNano::new(iv.months, iv.days, iv.nanos().ok_or_else(range)?),
                )),
                IntervalUnit::YearMonth if iv.days == 0 && iv.micros == 0 => {
                    ScalarValue::IntervalYearMonth(Some(iv.months))
                }
                IntervalUnit::DayTime if iv.months == 0 && iv.micros % 1_000 == 0 => {
                    let ms = i32::try_from(iv.micros / 1_000).map_err(|_| range())?;
                    ScalarValue::IntervalDayTime(Some(IntervalDayTime::new(iv.days, ms)))
                }
                _ => return Err(range()),
            }
        }
        DataType::Duration(unit) => {
            let iv = parse_interval(s)?;
            let micros = i64::from(iv.days)
                .checked_mul(crate::datetime::MICROS_PER_DAY)
                .and_then(|d| d.checked_add(iv.micros))
                .filter(|_| iv.months == 0)
                .ok_or_else(|| PgTypeError::DatetimeOverflow {
                    message: "interval out of range".to_string(),
                })?;
            let v = crate::datetime::from_micros(micros, *unit)
                .ok_or_else(PgTypeError::timestamp_out_of_range)?;
            match unit {
                TimeUnit::Second => ScalarValue::DurationSecond(Some(v)),
                TimeUnit::Millisecond => ScalarValue::DurationMillisecond(Some(v)),
                TimeUnit::Microsecond => ScalarValue::DurationMicrosecond(Some(v)),
                TimeUnit::Nanosecond => ScalarValue::DurationNanosecond(Some(v)),
            }
        }
        DataType::Dictionary(key, value) => {
            ScalarValue::Dictionary(key.clone(), Box::new(parse_text(s, value, settings)?))
        }
        DataType::List(field) => {
            let items = parse_array(s, field.data_type(), settings)?;
            ScalarValue::List(ScalarValue::new_list_nullable(&items, field.data_type()))
        }
        DataType::LargeList(field) => {
            let items = parse_array(s, field.data_type(), settings)?;
            ScalarValue::LargeList(ScalarValue::new_large_list(&items, field.data_type()))
        }
        other => return Err(PgTypeError::unsupported_arrow(other)),
    })
}

fn overflow() -> PgTypeError {
    PgTypeError::NumericOverflow {
        message: "numeric field overflow".to_string(),
    }
}

/// `timestamp` (`with_zone`: `timestamptz`) text input in `unit` since
/// 1970-01-01 UTC: what [`parse_text`] gives for a `Timestamp` type,
/// without building a scalar (COPY parses whole columns of these).
pub fn parse_timestamp(
    s: &str,
    unit: TimeUnit,
    with_zone: bool,
    settings: &PgFormatSettings,
) -> Result<i64, PgTypeError> {
    let name = if with_zone {
        "timestamp with time zone"
    } else {
        "timestamp without time zone"
    };
    input(settings, name).timestamp(s, unit, with_zone)
}

fn input<'a>(settings: &'a PgFormatSettings, type_name: &'static str) -> DatetimeInput<'a> {
    DatetimeInput {
        type_name,
        zone: &settings.timezone,
        order: settings.date_style.order,
    }
}

/// A timestamp scalar of `unit` and zone.
pub(crate) fn timestamp_scalar(v: i64, unit: TimeUnit, tz: Option<Arc<str>>) -> ScalarValue {
    match unit {
        TimeUnit::Second => ScalarValue::TimestampSecond(Some(v), tz),
        TimeUnit::Millisecond => ScalarValue::TimestampMillisecond(Some(v), tz),
        TimeUnit::Microsecond => ScalarValue::TimestampMicrosecond(Some(v), tz),
        TimeUnit::Nanosecond => ScalarValue::TimestampNanosecond(Some(v), tz),
    }
}

/// Reads an integer as PostgreSQL 16's `int2in`/`int4in`/`int8in` do.
pub fn parse_int<T: TryFrom<i128>>(s: &str, type_name: &'static str) -> Result<T, PgTypeError> {
    let syntax = || PgTypeError::invalid_text(type_name, s);
    let range = || PgTypeError::out_of_range(type_name, s);
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    let (negative, body) = match t.as_bytes().first() {
        Some(b'-') => (true, t.get(1..).unwrap_or("")),
        Some(b'+') => (false, t.get(1..).unwrap_or("")),
        _ => (false, t),
    };
    let lower_prefix = body.get(..2).map(str::to_ascii_lowercase);
    let (radix, digits) = match lower_prefix.as_deref() {
        Some("0x") => (16, body.get(2..).unwrap_or("")),
        Some("0o") => (8, body.get(2..).unwrap_or("")),
        Some("0b") => (2, body.get(2..).unwrap_or("")),
        _ => (10, body),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return Err(syntax());
    }
    let mut value: i128 = 0;
    let mut overflowed = false;
    for c in digits.chars() {
        if c == '_' {
            continue;
        }
        let d = c.to_digit(radix).ok_or_else(syntax)?;
        match value
            .checked_mul(i128::from(radix))
            .and_then(|v| v.checked_add(i128::from(d)))
        {
            Some(v) => value = v,
            None => overflowed = true,
        }
    }
    if overflowed {
        return Err(range());
    }
    let value = if negative { -value } else { value };
    T::try_from(value).map_err(|_| range())
}

/// Reads a boolean as `boolin` does: any unambiguous prefix of `true`,
/// `false`, `yes`, `no`, and `on`, `off`, `1`, `0`, case-insensitive.
pub fn parse_bool(s: &str) -> Result<bool, PgTypeError> {
    let t = s
        .trim_matches(|c: char| c.is_ascii_whitespace())
        .to_ascii_lowercase();
    let prefix_of = |word: &str, min: usize| t.len() >= min && word.starts_with(t.as_str());
    if prefix_of("true", 1) || prefix_of("yes", 1) || t == "on" || t == "1" {
        Ok(true)
    } else if prefix_of("false", 1) || prefix_of("no", 1) || prefix_of("off", 2) || t == "0" {
        Ok(false)
    } else {
        Err(PgTypeError::invalid_text("boolean", s))
    }
}

/// Reads `bytea` input: `\x` hex (whitespace allowed between bytes) or the
/// escape format (`\\`, `\ooo`, other bytes as is).
pub fn parse_bytea(s: &str) -> Result<Vec<u8>, PgTypeError> {
    if let Some(hex) = s.strip_prefix("\\x").or_else(|| s.strip_prefix("\\X")) {
        let mut out = Vec::with_capacity(hex.len() / 2);
        let mut chars = hex.chars().filter(|c| !c.is_ascii_whitespace());
        while let Some(hi) = chars.next() {
            let invalid = |c: char| PgTypeError::InvalidParameter {
                message: format!("invalid hexadecimal digit: \"{c}\""),
            };
            let h = hi.to_digit(16).ok_or_else(|| invalid(hi))?;
            let lo = chars.next().ok_or_else(|| PgTypeError::InvalidParameter {
                message: "invalid hexadecimal data: odd number of digits".to_string(),
            })?;
            let l = lo.to_digit(16).ok_or_else(|| invalid(lo))?;
            out.push((h * 16 + l) as u8);
        }
        return Ok(out);
    }
    let syntax = || PgTypeError::Syntax {
        message: "invalid input syntax for type bytea".to_string(),
    };
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        match (bytes.get(i + 1), bytes.get(i + 2), bytes.get(i + 3)) {
            (Some(b'\\'), _, _) => {
                out.push(b'\\');
                i += 2;
            }
            (Some(a @ b'0'..=b'3'), Some(b @ b'0'..=b'7'), Some(c @ b'0'..=b'7')) => {
                out.push(((a - b'0') << 6) | ((b - b'0') << 3) | (c - b'0'));
                i += 4;
            }
            _ => return Err(syntax()),
        }
    }
    Ok(out)
}

/// Reads an array literal `{1,2,NULL}` (nested braces for nested lists).
fn parse_array(
    s: &str,
    elem: &DataType,
    settings: &PgFormatSettings,
) -> Result<Vec<ScalarValue>, PgTypeError> {
    let malformed = || PgTypeError::Syntax {
        message: format!("malformed array literal: \"{s}\""),
    };
    let t = s.trim_matches(is_array_space);
    let inner = t
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .ok_or_else(malformed)?;
    let mut items = Vec::new();
    if inner.trim_matches(is_array_space).is_empty() {
        return Ok(items);
    }
    let nested = matches!(elem, DataType::List(_) | DataType::LargeList(_));
    let mut chars = inner.char_indices().peekable();
    loop {
        while chars.next_if(|(_, c)| is_array_space(*c)).is_some() {}
        let mut text = String::new();
        let mut quoted = false;
        let mut was_quoted = false;
        if nested {
            let (start, c) = chars.next().ok_or_else(malformed)?;
            if c != '{' {
                return Err(malformed());
            }
            let mut depth = 1;
            let mut end = start;
            for (i, c) in chars.by_ref() {
                depth += match c {
                    '{' => 1,
                    '}' => -1,
                    _ => 0,
                };
                if depth == 0 {
                    end = i;
                    break;
                }
            }
            text.push_str(inner.get(start..=end).ok_or_else(malformed)?);
        } else {
            while let Some((_, c)) = chars.next_if(|(_, c)| *c != ',' || quoted) {
                match c {
                    '"' => {
                        quoted = !quoted;
                        was_quoted = true;
                    }
                    '\\' => text.push(chars.next().ok_or_else(malformed)?.1),
                    // Whitespace after a closing quote is not part of the element.
                    c if is_array_space(c) && was_quoted && !quoted => {}
                    c => text.push(c),
                }
            }
            if quoted {
                return Err(malformed());
            }
        }
        let raw = if was_quoted {
            text.as_str()
        } else {
            text.trim_end_matches(is_array_space)
        };
        if !nested && !was_quoted && raw.eq_ignore_ascii_case("NULL") {
            items.push(
                ScalarValue::try_from(elem).map_err(|_| PgTypeError::unsupported_arrow(elem))?,
            );
        } else {
            items.push(parse_text(raw, elem, settings)?);
        }
        while chars.next_if(|(_, c)| is_array_space(*c)).is_some() {}
        match chars.next() {
            None => break,
            Some((_, ',')) => continue,
            Some(_) => return Err(malformed()),
        }
    }
    Ok(items)
}

/// Whitespace as PostgreSQL's `array_in` sees it: ASCII only (U+2000 and
/// friends are element text), including the vertical tab.
fn is_array_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}
