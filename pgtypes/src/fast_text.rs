//! Column-at-a-time text output for the types most results are made of.
//!
//! Owns [`FastText`]: for a column of `float8`, `int2/4/8`, `text`, `bool`
//! or microsecond timestamps (no time zone, or a session zone that is a
//! fixed offset), the array is downcast once per batch and each value is
//! written with hand-rolled digit formatting instead of going through the
//! per-value type dispatch and `core::fmt` of `text_out`. Anything else
//! (other types, dictionaries, named zones with transitions, years outside
//! 1..=9999, infinities, floats without an integral fast path) goes to the
//! general writer, so the bytes are always exactly `write_text`'s (a
//! proptest checks this).

use arrow::array::{
    Array, AsArray, BooleanArray, Float64Array, Int16Array, Int32Array, Int64Array, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, TimeUnit};
use bytes::{BufMut, BytesMut};
use chrono_tz::Tz;

use crate::error::PgTypeError;
use crate::float_fmt::write_f64;
use crate::settings::{PgFormatSettings, SessionTimeZone};
use crate::text_out::write_text;

/// A column downcast once, for text output row by row.
pub(crate) enum FastText<'a> {
    Float64(&'a Float64Array, i32),
    Int64(&'a Int64Array),
    Int32(&'a Int32Array),
    Int16(&'a Int16Array),
    Text(&'a StringArray),
    Bool(&'a BooleanArray),
    /// Offset in seconds east of UTC when the column is `timestamptz`.
    Timestamp(&'a TimestampMicrosecondArray, Option<i32>),
}

impl<'a> FastText<'a> {
    /// The fast writer for `array`, or `None` when the general one is needed.
    pub(crate) fn new(array: &'a dyn Array, settings: &PgFormatSettings) -> Option<FastText<'a>> {
        Some(match array.data_type() {
            DataType::Float64 => {
                FastText::Float64(array.as_primitive_opt()?, settings.extra_float_digits)
            }
            DataType::Int64 => FastText::Int64(array.as_primitive_opt()?),
            DataType::Int32 => FastText::Int32(array.as_primitive_opt()?),
            DataType::Int16 => FastText::Int16(array.as_primitive_opt()?),
            DataType::Utf8 => FastText::Text(array.as_string_opt()?),
            DataType::Boolean => FastText::Bool(array.as_boolean_opt()?),
            DataType::Timestamp(TimeUnit::Microsecond, tz) => {
                let offset = match tz {
                    None => None,
                    Some(_) => Some(fixed_offset(&settings.timezone)?),
                };
                FastText::Timestamp(array.as_primitive_opt()?, offset)
            }
            _ => return None,
        })
    }

    /// Writes the value at `row` (not the length prefix); `true` when it is
    /// NULL (nothing written).
    #[inline]
    pub(crate) fn write(
        &self,
        row: usize,
        settings: &PgFormatSettings,
        buf: &mut BytesMut,
    ) -> Result<bool, PgTypeError> {
        let array: &dyn Array = match self {
            FastText::Float64(a, _) => *a,
            FastText::Int64(a) => *a,
            FastText::Int32(a) => *a,
            FastText::Int16(a) => *a,
            FastText::Text(a) => *a,
            FastText::Bool(a) => *a,
            FastText::Timestamp(a, _) => *a,
        };
        if array.is_null(row) {
            return Ok(true);
        }
        match self {
            FastText::Float64(a, efd) => write_f64(buf, a.value(row), *efd)
                .map_err(|_| PgTypeError::internal("float output"))?,
            FastText::Int64(a) => put_i64(buf, a.value(row)),
            FastText::Int32(a) => put_i64(buf, i64::from(a.value(row))),
            FastText::Int16(a) => put_i64(buf, i64::from(a.value(row))),
            FastText::Text(a) => buf.put_slice(a.value(row).as_bytes()),
            FastText::Bool(a) => buf.put_u8(if a.value(row) { b't' } else { b'f' }),
            FastText::Timestamp(a, offset) => {
                if !put_timestamp(buf, a.value(row), *offset) {
                    return write_text(array, row, settings, buf);
                }
            }
        }
        Ok(false)
    }
}

/// Seconds east of UTC when the session zone never changes its offset.
fn fixed_offset(zone: &SessionTimeZone) -> Option<i32> {
    match zone {
        SessionTimeZone::Fixed(off) => Some(off.local_minus_utc()),
        SessionTimeZone::Named(tz) => matches!(
            tz,
            Tz::UTC
                | Tz::Etc__UTC
                | Tz::Etc__UCT
                | Tz::UCT
                | Tz::Universal
                | Tz::Etc__Universal
                | Tz::Zulu
                | Tz::Etc__Zulu
                | Tz::GMT
                | Tz::Etc__GMT
                | Tz::GMT0
                | Tz::Etc__GMT0
                | Tz::Greenwich
                | Tz::Etc__Greenwich
        )
        .then_some(0),
    }
}

const DIGITS: &[u8; 200] = b"00010203040506070809101112131415161718192021222324252627282930313233343536373839\
404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";

#[inline]
fn two(buf: &mut BytesMut, v: u32) {
    let i = (v as usize % 100) * 2;
    buf.put_slice(&DIGITS[i..i + 2]);
}

/// The decimal digits of `v`, written at the end of `tmp`.
pub(crate) fn u64_digits(mut v: u64, tmp: &mut [u8; 20]) -> &str {
    let mut at = tmp.len();
    while v >= 100 {
        let i = (v % 100) as usize * 2;
        v /= 100;
        at -= 2;
        tmp[at..at + 2].copy_from_slice(&DIGITS[i..i + 2]);
    }
    if v >= 10 {
        let i = v as usize * 2;
        at -= 2;
        tmp[at..at + 2].copy_from_slice(&DIGITS[i..i + 2]);
    } else {
        at -= 1;
        tmp[at] = b'0' + v as u8;
    }
    // Only ASCII digits were written.
    std::str::from_utf8(&tmp[at..]).unwrap_or_default()
}

fn put_u64(buf: &mut BytesMut, v: u64) {
    buf.put_slice(u64_digits(v, &mut [0u8; 20]).as_bytes());
}

fn put_i64(buf: &mut BytesMut, v: i64) {
    if v < 0 {
        buf.put_u8(b'-');
    }
    put_u64(buf, v.unsigned_abs());
}

/// (year, month, day) of a day count since 1970-01-01 (proleptic Gregorian;
/// H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Writes `YYYY-MM-DD HH:MM:SS[.ffffff][+HH[:MM[:SS]]]` for microseconds
/// since the epoch shifted by `offset`; `false` (nothing written) when the
/// general writer must handle it (infinities, years outside 1..=9999).
fn put_timestamp(buf: &mut BytesMut, micros: i64, offset: Option<i32>) -> bool {
    const DAY: i64 = 86_400_000_000;
    let Some(local) = micros.checked_add(i64::from(offset.unwrap_or(0)) * 1_000_000) else {
        return false;
    };
    if micros == i64::MIN || micros == i64::MAX {
        return false;
    }
    let days = local.div_euclid(DAY);
    let in_day = local.rem_euclid(DAY);
    let (y, m, d) = civil_from_days(days);
    if !(1..=9999).contains(&y) {
        return false;
    }
    two(buf, (y / 100) as u32);
    two(buf, (y % 100) as u32);
    buf.put_u8(b'-');
    two(buf, m);
    buf.put_u8(b'-');
    two(buf, d);
    buf.put_u8(b' ');
    let secs = (in_day / 1_000_000) as u32;
    two(buf, secs / 3600);
    buf.put_u8(b':');
    two(buf, secs / 60 % 60);
    buf.put_u8(b':');
    two(buf, secs % 60);
    let mut frac = (in_day % 1_000_000) as u32;
    if frac != 0 {
        let mut width = 6;
        while frac.is_multiple_of(10) {
            frac /= 10;
            width -= 1;
        }
        buf.put_u8(b'.');
        let mut tmp = [b'0'; 6];
        for slot in tmp[..width].iter_mut().rev() {
            *slot = b'0' + (frac % 10) as u8;
            frac /= 10;
        }
        buf.put_slice(&tmp[..width]);
    }
    if let Some(off) = offset {
        buf.put_u8(if off < 0 { b'-' } else { b'+' });
        let a = off.unsigned_abs();
        // chrono's fixed offsets are under a day: h < 24.
        let (h, mi, s) = (a / 3600, (a / 60) % 60, a % 60);
        two(buf, h);
        if mi != 0 || s != 0 {
            buf.put_u8(b':');
            two(buf, mi);
        }
        if s != 0 {
            buf.put_u8(b':');
            two(buf, s);
        }
    }
    true
}
