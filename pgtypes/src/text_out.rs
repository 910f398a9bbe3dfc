//! Text output: one Arrow value as PostgreSQL 16 prints it.
//!
//! Owns the dispatch from Arrow type to text writer, `bytea` and array
//! output. The same text feeds DataRows, COPY TO and the HTTP API, so it
//! must be byte-for-byte what `psql` shows against PostgreSQL.
//! Hot path: writes straight into the caller's buffer; only arrays use a
//! scratch string (for quoting decisions).

use std::fmt::Write;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, Decimal128Type, Decimal256Type, Decimal32Type, Decimal64Type,
    DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType, DurationSecondType,
    Float16Type, Float32Type, Float64Type, IntervalDayTimeType, IntervalMonthDayNanoType,
    IntervalUnit, IntervalYearMonthType, Time32MillisecondType, Time32SecondType,
    Time64MicrosecondType, Time64NanosecondType, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};

use pgwire::api::Type;

use crate::access::{int_value, layout_error, resolve};
use crate::datetime::{fmt_error, write_date, write_time, write_timestamp};
use crate::error::PgTypeError;
use crate::float_fmt::{write_f32, write_f64};
use crate::interval::{write_interval, PgInterval};
use crate::numeric::{write_decimal, write_scaled};
use crate::settings::{ByteaOutput, PgFormatSettings};

/// Text form of one value, exactly as PostgreSQL 16 prints it, appended to
/// `out`. Returns `true` (and writes nothing) for NULL.
pub fn format_text(
    array: &dyn Array,
    row: usize,
    settings: &PgFormatSettings,
    out: &mut String,
) -> Result<bool, PgTypeError> {
    write_text(array, row, settings, out)
}

/// [`format_text`] into any `fmt::Write` (a `BytesMut` for DataRows).
pub fn write_text<W: Write>(
    array: &dyn Array,
    row: usize,
    settings: &PgFormatSettings,
    w: &mut W,
) -> Result<bool, PgTypeError> {
    let Some((array, row)) = resolve(array, row)? else {
        return Ok(true);
    };
    write_value(array, row, settings, w)?;
    Ok(false)
}

/// [`write_text`] for a column announced as PostgreSQL type `ty`: the same
/// text, except `int2vector` / `oidvector` lists, which PostgreSQL prints
/// space-separated (`1 2 3`) rather than as arrays.
pub fn write_text_as<W: Write>(
    array: &dyn Array,
    row: usize,
    ty: &Type,
    settings: &PgFormatSettings,
    w: &mut W,
) -> Result<bool, PgTypeError> {
    if *ty != Type::INT2_VECTOR && *ty != Type::OID_VECTOR {
        return write_text(array, row, settings, w);
    }
    let Some((array, row)) = resolve(array, row)? else {
        return Ok(true);
    };
    let (values, start, end) = list_range(array, row)?;
    for i in start..end {
        if i > start {
            w.write_char(' ').map_err(fmt_error)?;
        }
        write_text(values, i, settings, w)?;
    }
    Ok(false)
}

macro_rules! prim {
    ($array:expr, $t:ty) => {
        $array
            .as_primitive_opt::<$t>()
            .ok_or_else(|| layout_error($array.data_type()))?
    };
}

/// Writes a non-null value (dictionaries already resolved).
fn write_value<W: Write>(
    array: &dyn Array,
    row: usize,
    settings: &PgFormatSettings,
    w: &mut W,
) -> Result<(), PgTypeError> {
    let dt = array.data_type();
    let efd = settings.extra_float_digits;
    match dt {
        DataType::Boolean => {
            let b = array.as_boolean_opt().ok_or_else(|| layout_error(dt))?;
            w.write_str(if b.value(row) { "t" } else { "f" })
                .map_err(fmt_error)
        }
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => {
            let v = int_value(array, row).ok_or_else(|| layout_error(dt))?;
            write!(w, "{v}").map_err(fmt_error)
        }
        DataType::Float16 => {
            let v = prim!(array, Float16Type).value(row).to_f32();
            write_f32(w, v, efd).map_err(fmt_error)
        }
        DataType::Float32 => {
            write_f32(w, prim!(array, Float32Type).value(row), efd).map_err(fmt_error)
        }
        DataType::Float64 => {
            write_f64(w, prim!(array, Float64Type).value(row), efd).map_err(fmt_error)
        }
        DataType::Decimal32(_, s) => {
            write_decimal(w, i128::from(prim!(array, Decimal32Type).value(row)), *s)
                .map_err(fmt_error)
        }
        DataType::Decimal64(_, s) => {
            write_decimal(w, i128::from(prim!(array, Decimal64Type).value(row)), *s)
                .map_err(fmt_error)
        }
        DataType::Decimal128(_, s) => {
            write_decimal(w, prim!(array, Decimal128Type).value(row), *s).map_err(fmt_error)
        }
        DataType::Decimal256(_, s) => {
            let v = prim!(array, Decimal256Type).value(row);
            let text = v.to_string();
            let negative = text.starts_with('-');
            write_scaled(w, negative, text.trim_start_matches('-'), *s).map_err(fmt_error)
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            w.write_str(str_value(array, row)?).map_err(fmt_error)
        }
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => {
            write_bytea(w, bytes_value(array, row)?, settings.bytea_output).map_err(fmt_error)
        }
        DataType::Date32 => write_date(w, prim!(array, Date32Type).value(row)),
        DataType::Date64 => {
            let ms = prim!(array, Date64Type).value(row);
            let days = i32::try_from(ms.div_euclid(86_400_000)).map_err(|_| {
                PgTypeError::DatetimeOverflow {
                    message: "date out of range".to_string(),
                }
            })?;
            write_date(w, days)
        }
        DataType::Time32(TimeUnit::Second) => write_time(
            w,
            i64::from(prim!(array, Time32SecondType).value(row)),
            TimeUnit::Second,
        ),
        DataType::Time32(unit) => write_time(
            w,
            i64::from(prim!(array, Time32MillisecondType).value(row)),
            *unit,
        ),
        DataType::Time64(TimeUnit::Nanosecond) => write_time(
            w,
            prim!(array, Time64NanosecondType).value(row),
            TimeUnit::Nanosecond,
        ),
        DataType::Time64(unit) => {
            write_time(w, prim!(array, Time64MicrosecondType).value(row), *unit)
        }
        DataType::Timestamp(unit, tz) => {
            let v = timestamp_value(array, row, *unit)?;
            let zone = tz.as_ref().map(|_| &settings.timezone);
            write_timestamp(w, v, *unit, zone)
        }
        DataType::Interval(_) | DataType::Duration(_) => {
            write_interval(w, interval_value(array, row)?).map_err(fmt_error)
        }
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) => {
            write_array(w, array, row, settings)
        }
        _ => Err(PgTypeError::unsupported_arrow(dt)),
    }
}

/// The string at `row` of a Utf8, LargeUtf8 or Utf8View array.
pub(crate) fn str_value(array: &dyn Array, row: usize) -> Result<&str, PgTypeError> {
    let dt = array.data_type();
    match dt {
        DataType::Utf8 => Ok(array
            .as_string_opt::<i32>()
            .ok_or_else(|| layout_error(dt))?
            .value(row)),
        DataType::LargeUtf8 => Ok(array
            .as_string_opt::<i64>()
            .ok_or_else(|| layout_error(dt))?
            .value(row)),
        DataType::Utf8View => Ok(array
            .as_string_view_opt()
            .ok_or_else(|| layout_error(dt))?
            .value(row)),
        _ => Err(layout_error(dt)),
    }
}

/// The bytes at `row` of a binary array.
pub(crate) fn bytes_value(array: &dyn Array, row: usize) -> Result<&[u8], PgTypeError> {
    let dt = array.data_type();
    match dt {
        DataType::Binary => Ok(array
            .as_binary_opt::<i32>()
            .ok_or_else(|| layout_error(dt))?
            .value(row)),
        DataType::LargeBinary => Ok(array
            .as_binary_opt::<i64>()
            .ok_or_else(|| layout_error(dt))?
            .value(row)),
        DataType::BinaryView => Ok(array
            .as_binary_view_opt()
            .ok_or_else(|| layout_error(dt))?
            .value(row)),
        DataType::FixedSizeBinary(_) => Ok(array
            .as_fixed_size_binary_opt()
            .ok_or_else(|| layout_error(dt))?
            .value(row)),
        _ => Err(layout_error(dt)),
    }
}

/// A timestamp array's raw value in its unit.
pub(crate) fn timestamp_value(
    array: &dyn Array,
    row: usize,
    unit: TimeUnit,
) -> Result<i64, PgTypeError> {
    Ok(match unit {
        TimeUnit::Second => prim!(array, TimestampSecondType).value(row),
        TimeUnit::Millisecond => prim!(array, TimestampMillisecondType).value(row),
        TimeUnit::Microsecond => prim!(array, TimestampMicrosecondType).value(row),
        TimeUnit::Nanosecond => prim!(array, TimestampNanosecondType).value(row),
    })
}

/// A time-of-day array's value in microseconds since midnight.
pub(crate) fn time_micros(array: &dyn Array, row: usize) -> Result<i64, PgTypeError> {
    Ok(match array.data_type() {
        DataType::Time32(TimeUnit::Second) => {
            i64::from(prim!(array, Time32SecondType).value(row)) * 1_000_000
        }
        DataType::Time32(_) => i64::from(prim!(array, Time32MillisecondType).value(row)) * 1_000,
        DataType::Time64(TimeUnit::Nanosecond) => prim!(array, Time64NanosecondType)
            .value(row)
            .div_euclid(1_000),
        DataType::Time64(_) => prim!(array, Time64MicrosecondType).value(row),
        dt => return Err(layout_error(dt)),
    })
}

/// An interval or duration array's value as a PostgreSQL interval.
pub(crate) fn interval_value(array: &dyn Array, row: usize) -> Result<PgInterval, PgTypeError> {
    let overflow = || PgTypeError::DatetimeOverflow {
        message: "interval out of range".to_string(),
    };
    Ok(match array.data_type() {
        DataType::Interval(IntervalUnit::YearMonth) => PgInterval {
            months: prim!(array, IntervalYearMonthType).value(row),
            ..PgInterval::default()
        },
        DataType::Interval(IntervalUnit::DayTime) => {
            let v = prim!(array, IntervalDayTimeType).value(row);
            PgInterval {
                months: 0,
                days: v.days,
                micros: i64::from(v.milliseconds) * 1_000,
            }
        }
        DataType::Interval(IntervalUnit::MonthDayNano) => {
            let v = prim!(array, IntervalMonthDayNanoType).value(row);
            PgInterval::from_month_day_nano(v.months, v.days, v.nanoseconds)
        }
        DataType::Duration(unit) => {
            let v = match unit {
                TimeUnit::Second => prim!(array, DurationSecondType).value(row),
                TimeUnit::Millisecond => prim!(array, DurationMillisecondType).value(row),
                TimeUnit::Microsecond => prim!(array, DurationMicrosecondType).value(row),
                TimeUnit::Nanosecond => prim!(array, DurationNanosecondType).value(row),
            };
            PgInterval::from_duration(v, *unit).ok_or_else(overflow)?
        }
        dt => return Err(layout_error(dt)),
    })
}

/// Writes `bytea` in the `hex` (`\x01ff`) or `escape` output format.
pub fn write_bytea<W: Write>(w: &mut W, bytes: &[u8], output: ByteaOutput) -> std::fmt::Result {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match output {
        ByteaOutput::Hex => {
            w.write_str("\\x")?;
            for b in bytes {
                w.write_char(char::from(HEX[usize::from(b >> 4)]))?;
                w.write_char(char::from(HEX[usize::from(b & 0xf)]))?;
            }
        }
        ByteaOutput::Escape => {
            for &b in bytes {
                match b {
                    b'\\' => w.write_str("\\\\")?,
                    0x20..=0x7e => w.write_char(char::from(b))?,
                    _ => write!(w, "\\{b:03o}")?,
                }
            }
        }
    }
    Ok(())
}

/// The child values and the range of a list value.
pub(crate) fn list_range(
    array: &dyn Array,
    row: usize,
) -> Result<(&dyn Array, usize, usize), PgTypeError> {
    let dt = array.data_type();
    match dt {
        DataType::List(_) => {
            let l = array.as_list_opt::<i32>().ok_or_else(|| layout_error(dt))?;
            let o = l.value_offsets();
            let (a, b) = (o.get(row), o.get(row + 1));
            let (Some(a), Some(b)) = (a, b) else {
                return Err(layout_error(dt));
            };
            Ok((l.values().as_ref(), *a as usize, *b as usize))
        }
        DataType::LargeList(_) => {
            let l = array.as_list_opt::<i64>().ok_or_else(|| layout_error(dt))?;
            let o = l.value_offsets();
            let (Some(a), Some(b)) = (o.get(row), o.get(row + 1)) else {
                return Err(layout_error(dt));
            };
            Ok((l.values().as_ref(), *a as usize, *b as usize))
        }
        DataType::FixedSizeList(_, n) => {
            let l = array
                .as_fixed_size_list_opt()
                .ok_or_else(|| layout_error(dt))?;
            let n = *n as usize;
            Ok((l.values().as_ref(), row * n, row * n + n))
        }
        _ => Err(layout_error(dt)),
    }
}

/// Writes an array value: `{1,2,NULL}`, `{"a b","x\"y"}`, `{{1,2},{3,4}}`.
fn write_array<W: Write>(
    w: &mut W,
    array: &dyn Array,
    row: usize,
    settings: &PgFormatSettings,
) -> Result<(), PgTypeError> {
    let (values, start, end) = list_range(array, row)?;
    let nested = matches!(
        values.data_type(),
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
    );
    let mut scratch = String::new();
    w.write_char('{').map_err(fmt_error)?;
    for i in start..end {
        if i > start {
            w.write_char(',').map_err(fmt_error)?;
        }
        scratch.clear();
        if write_text(values, i, settings, &mut scratch)? {
            w.write_str("NULL").map_err(fmt_error)?;
        } else if nested {
            w.write_str(&scratch).map_err(fmt_error)?;
        } else {
            write_array_element(w, &scratch).map_err(fmt_error)?;
        }
    }
    w.write_char('}').map_err(fmt_error)
}

/// Writes one element, double-quoted when PostgreSQL would quote it.
fn write_array_element<W: Write>(w: &mut W, s: &str) -> std::fmt::Result {
    let needs_quotes = s.is_empty()
        || s.eq_ignore_ascii_case("NULL")
        || s.bytes().any(|b| {
            matches!(
                b,
                b'{' | b'}' | b',' | b'"' | b'\\' | b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c
            )
        });
    if !needs_quotes {
        return w.write_str(s);
    }
    w.write_char('"')?;
    for c in s.chars() {
        if c == '"' || c == '\\' {
            w.write_char('\\')?;
        }
        w.write_char(c)?;
    }
    w.write_char('"')
}
