//! Binary output: one Arrow value in PostgreSQL's binary (send) format.
//!
//! Owns the byte layout of each PostgreSQL type as written to clients. The
//! PostgreSQL type decides the layout, not the Arrow type: a `UInt32` column
//! announced as `oid` is 4 bytes, as `int8` 8 bytes. Writes only the value
//! bytes; the caller writes the length word.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, Decimal128Type, Decimal256Type, Decimal32Type, Decimal64Type,
    Float16Type, Float32Type, Float64Type, TimeUnit,
};
use bytes::{BufMut, BytesMut};
use pgwire::api::Type;

use crate::access::{int_value, layout_error, resolve};
use crate::datetime::{
    timestamp_infinity, to_micros, PG_EPOCH_OFFSET_DAYS, PG_EPOCH_OFFSET_MICROS,
};
use crate::error::PgTypeError;
use crate::numeric::{encode_decimal, encode_scaled};
use crate::oid::{element_type_of, pg_type_of};
use crate::settings::PgFormatSettings;
use crate::text_out::{
    bytes_value, interval_value, list_range, str_value, time_micros, timestamp_value, write_text,
};

/// Binary (send) form of one value for the PostgreSQL type that
/// [`pg_type_of`] gives its Arrow type. Returns `true` (writing nothing)
/// for NULL.
pub fn format_binary(
    array: &dyn Array,
    row: usize,
    out: &mut BytesMut,
) -> Result<bool, PgTypeError> {
    let ty = pg_type_of(array.data_type())?;
    write_binary(array, row, &ty, out)
}

macro_rules! prim {
    ($array:expr, $t:ty) => {
        $array
            .as_primitive_opt::<$t>()
            .ok_or_else(|| layout_error($array.data_type()))?
    };
}

/// Binary form of one value as PostgreSQL type `ty`.
pub fn write_binary(
    array: &dyn Array,
    row: usize,
    ty: &Type,
    out: &mut BytesMut,
) -> Result<bool, PgTypeError> {
    let Some((array, row)) = resolve(array, row)? else {
        return Ok(true);
    };
    let dt = array.data_type();
    let mismatch = || PgTypeError::Unsupported {
        what: format!(
            "binary output of Arrow type {dt} as PostgreSQL type {}",
            ty.name()
        ),
    };
    match ty.oid() {
        // bool
        16 => {
            let b = array.as_boolean_opt().ok_or_else(mismatch)?;
            out.put_u8(u8::from(b.value(row)));
        }
        // int2, int4, int8, oid and its aliases
        21 | 23 | 20 | 26 | 24 | 2202 | 2205 | 2206 | 28 | 29 => {
            let v = int_value(array, row).ok_or_else(mismatch)?;
            let range = || PgTypeError::out_of_range(type_label(ty), &v.to_string());
            match ty.oid() {
                21 => out.put_i16(i16::try_from(v).map_err(|_| range())?),
                23 => out.put_i32(i32::try_from(v).map_err(|_| range())?),
                20 => out.put_i64(i64::try_from(v).map_err(|_| range())?),
                _ => out.put_u32(u32::try_from(v).map_err(|_| range())?),
            }
        }
        700 => {
            let v = match dt {
                DataType::Float16 => prim!(array, Float16Type).value(row).to_f32(),
                DataType::Float32 => prim!(array, Float32Type).value(row),
                DataType::Float64 => prim!(array, Float64Type).value(row) as f32,
                _ => return Err(mismatch()),
            };
            out.put_f32(v);
        }
        701 => {
            let v = match dt {
                DataType::Float16 => f64::from(prim!(array, Float16Type).value(row).to_f32()),
                DataType::Float32 => f64::from(prim!(array, Float32Type).value(row)),
                DataType::Float64 => prim!(array, Float64Type).value(row),
                _ => return Err(mismatch()),
            };
            out.put_f64(v);
        }
        1700 => match dt {
            DataType::Decimal32(_, s) => {
                encode_decimal(out, i128::from(prim!(array, Decimal32Type).value(row)), *s)
            }
            DataType::Decimal64(_, s) => {
                encode_decimal(out, i128::from(prim!(array, Decimal64Type).value(row)), *s)
            }
            DataType::Decimal128(_, s) => {
                encode_decimal(out, prim!(array, Decimal128Type).value(row), *s)
            }
            DataType::Decimal256(_, s) => {
                let text = prim!(array, Decimal256Type).value(row).to_string();
                encode_scaled(out, text.starts_with('-'), text.trim_start_matches('-'), *s);
            }
            _ => {
                let v = int_value(array, row).ok_or_else(mismatch)?;
                encode_decimal(out, v, 0);
            }
        },
        17 => out.put_slice(bytes_value(array, row).map_err(|_| mismatch())?),
        1082 => {
            let days = match dt {
                DataType::Date32 => prim!(array, Date32Type).value(row),
                DataType::Date64 => {
                    i32::try_from(prim!(array, Date64Type).value(row).div_euclid(86_400_000))
                        .map_err(|_| PgTypeError::DatetimeOverflow {
                            message: "date out of range".to_string(),
                        })?
                }
                _ => return Err(mismatch()),
            };
            let pg = match days {
                i32::MAX | i32::MIN => days,
                d => d.checked_sub(PG_EPOCH_OFFSET_DAYS).ok_or_else(|| {
                    PgTypeError::DatetimeOverflow {
                        message: "date out of range".to_string(),
                    }
                })?,
            };
            out.put_i32(pg);
        }
        1083 => out.put_i64(time_micros(array, row).map_err(|_| mismatch())?),
        1114 | 1184 => {
            let DataType::Timestamp(unit, _) = dt else {
                return Err(mismatch());
            };
            out.put_i64(timestamp_to_pg(timestamp_value(array, row, *unit)?, *unit)?);
        }
        1186 => {
            let iv = interval_value(array, row).map_err(|_| mismatch())?;
            out.put_i64(iv.micros);
            out.put_i32(iv.days);
            out.put_i32(iv.months);
        }
        _ if element_type_of(ty).is_some() => write_array(array, row, ty, out)?,
        // Every other type is sent as its text (text, varchar, name, char, json, unknown).
        _ => {
            if matches!(
                dt,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) {
                out.put_slice(str_value(array, row)?.as_bytes());
            } else {
                write_text(array, row, &PgFormatSettings::default(), out)?;
            }
        }
    }
    Ok(false)
}

/// An Arrow timestamp value as PostgreSQL microseconds since 2000-01-01.
pub(crate) fn timestamp_to_pg(v: i64, unit: TimeUnit) -> Result<i64, PgTypeError> {
    if timestamp_infinity(v).is_some() {
        return Ok(v);
    }
    to_micros(v, unit)
        .and_then(|m| m.checked_sub(PG_EPOCH_OFFSET_MICROS))
        .filter(|m| *m != i64::MIN && *m != i64::MAX)
        .ok_or_else(PgTypeError::timestamp_out_of_range)
}

/// A one-dimensional array: ndim, has-null flag, element OID, length,
/// lower bound 1, then each element as length word and bytes.
fn write_array(
    array: &dyn Array,
    row: usize,
    ty: &Type,
    out: &mut BytesMut,
) -> Result<(), PgTypeError> {
    let elem = element_type_of(ty).ok_or_else(|| layout_error(array.data_type()))?;
    let (values, start, end) = list_range(array, row)?;
    if matches!(
        values.data_type(),
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
    ) {
        return Err(PgTypeError::Unsupported {
            what: "binary output of multi-dimensional arrays".to_string(),
        });
    }
    let len = end - start;
    let has_null = (start..end).any(|i| values.is_null(i));
    out.put_i32(if len == 0 { 0 } else { 1 });
    out.put_i32(i32::from(has_null));
    out.put_u32(elem.oid());
    if len > 0 {
        out.put_i32(i32::try_from(len).map_err(|_| PgTypeError::internal("array too long"))?);
        out.put_i32(1);
    }
    for i in start..end {
        let pos = out.len();
        out.put_i32(-1);
        if !write_binary(values, i, &elem, out)? {
            let n = (out.len() - pos - 4) as i32;
            if let Some(slot) = out.get_mut(pos..pos + 4) {
                slot.copy_from_slice(&n.to_be_bytes());
            }
        }
    }
    Ok(())
}

/// `integer`, `smallint`, ... for messages.
pub(crate) fn type_label(ty: &Type) -> &'static str {
    match ty.oid() {
        21 => "smallint",
        23 => "integer",
        20 => "bigint",
        26 => "oid",
        700 => "real",
        701 => "double precision",
        1700 => "numeric",
        16 => "boolean",
        1082 => "date",
        1083 => "time without time zone",
        1114 => "timestamp without time zone",
        1184 => "timestamp with time zone",
        1186 => "interval",
        17 => "bytea",
        _ => "text",
    }
}
