//! Binary input: PostgreSQL binary (recv) format into an Arrow scalar.
//!
//! Owns reading Bind parameters sent in binary and COPY FROM BINARY fields.
//! These bytes come from the network: every read is length-checked and
//! malformed input is a protocol violation (08P01), never a panic.

use arrow::datatypes::{DataType, IntervalMonthDayNano};
use datafusion_common::ScalarValue;
use pgwire::api::Type;

use crate::binary::type_label;
use crate::datetime::{from_micros, PG_EPOCH_OFFSET_DAYS, PG_EPOCH_OFFSET_MICROS};
use crate::error::{utf8, PgTypeError};
use crate::numeric::decode_numeric_text;
use crate::oid::{arrow_type_of, element_type_of, pg_type_of};
use crate::settings::PgFormatSettings;
use crate::text_in::{parse_text, timestamp_scalar};

/// COPY binary: one field in binary input format, read as the PostgreSQL
/// type [`pg_type_of`] gives `target`.
pub fn parse_binary(bytes: &[u8], target: &DataType) -> Result<ScalarValue, PgTypeError> {
    let ty = pg_type_of(target)?;
    decode_binary(bytes, &ty, target)
}

/// Reads `bytes` in the binary format of PostgreSQL type `ty` into a scalar
/// of Arrow type `target`.
pub fn decode_binary(
    bytes: &[u8],
    ty: &Type,
    target: &DataType,
) -> Result<ScalarValue, PgTypeError> {
    let label = type_label(ty);
    match (ty.oid(), target) {
        (1700, _) if target.is_integer() => {
            // numeric to integer rounds, as PostgreSQL's cast does.
            let label = type_label(&pg_type_of(target)?);
            let text = decode_numeric_text(bytes)?;
            let v = crate::numeric::parse_decimal(&text, 38, 0)?;
            return ScalarValue::Decimal128(Some(v), 38, 0)
                .cast_to(target)
                .map_err(|_| PgTypeError::out_of_range(label, &text));
        }
        (1700, _) => {
            let text = decode_numeric_text(bytes)?;
            return parse_text(&text, target, &PgFormatSettings::default());
        }
        (1114 | 1184, DataType::Timestamp(unit, tz)) => {
            let pg = i64::from_be_bytes(fixed(bytes, label)?);
            let v = match pg {
                i64::MAX | i64::MIN => pg,
                _ => pg
                    .checked_add(PG_EPOCH_OFFSET_MICROS)
                    .and_then(|m| from_micros(m, *unit))
                    .ok_or_else(PgTypeError::timestamp_out_of_range)?,
            };
            return Ok(timestamp_scalar(v, *unit, tz.clone()));
        }
        (_, DataType::List(field) | DataType::LargeList(field))
            if element_type_of(ty).is_some() =>
        {
            let elem = element_type_of(ty).ok_or_else(|| PgTypeError::unsupported_arrow(target))?;
            let items = decode_array(bytes, &elem, field.data_type())?;
            return Ok(match target {
                DataType::LargeList(_) => {
                    ScalarValue::LargeList(ScalarValue::new_large_list(&items, field.data_type()))
                }
                _ => ScalarValue::List(ScalarValue::new_list_nullable(&items, field.data_type())),
            });
        }
        _ => {}
    }
    let natural = decode_natural(bytes, ty)?;
    if &natural.data_type() == target {
        return Ok(natural);
    }
    natural
        .cast_to(target)
        .map_err(|e| PgTypeError::Unsupported {
            what: format!("reading {} as {target} ({e})", ty.name()),
        })
}

/// Exactly `N` bytes, or a protocol error.
fn fixed<const N: usize>(bytes: &[u8], label: &'static str) -> Result<[u8; N], PgTypeError> {
    bytes
        .try_into()
        .map_err(|_| PgTypeError::binary(label, format!("expected {N} bytes, got {}", bytes.len())))
}

/// Reads a value into the Arrow type [`arrow_type_of`] gives `ty`.
fn decode_natural(bytes: &[u8], ty: &Type) -> Result<ScalarValue, PgTypeError> {
    let label = type_label(ty);
    Ok(match ty.oid() {
        16 => ScalarValue::Boolean(Some(u8::from_be_bytes(fixed(bytes, label)?) != 0)),
        21 => ScalarValue::Int16(Some(i16::from_be_bytes(fixed(bytes, label)?))),
        23 => ScalarValue::Int32(Some(i32::from_be_bytes(fixed(bytes, label)?))),
        20 => ScalarValue::Int64(Some(i64::from_be_bytes(fixed(bytes, label)?))),
        26 | 24 | 2202 | 2205 | 2206 | 28 | 29 => {
            ScalarValue::UInt32(Some(u32::from_be_bytes(fixed(bytes, label)?)))
        }
        700 => ScalarValue::Float32(Some(f32::from_be_bytes(fixed(bytes, label)?))),
        701 => ScalarValue::Float64(Some(f64::from_be_bytes(fixed(bytes, label)?))),
        17 => ScalarValue::Binary(Some(bytes.to_vec())),
        1082 => {
            let pg = i32::from_be_bytes(fixed(bytes, label)?);
            let days = match pg {
                i32::MAX | i32::MIN => pg,
                _ => pg.checked_add(PG_EPOCH_OFFSET_DAYS).ok_or_else(|| {
                    PgTypeError::DatetimeOverflow {
                        message: "date out of range".to_string(),
                    }
                })?,
            };
            ScalarValue::Date32(Some(days))
        }
        1083 => {
            let micros = i64::from_be_bytes(fixed(bytes, label)?);
            if !(0..=crate::datetime::MICROS_PER_DAY).contains(&micros) {
                return Err(PgTypeError::binary(label, "time out of range"));
            }
            ScalarValue::Time64Microsecond(Some(micros))
        }
        1114 | 1184 => {
            let target =
                arrow_type_of(ty).ok_or_else(|| PgTypeError::binary(label, "unknown type"))?;
            return decode_binary(bytes, ty, &target);
        }
        1186 => {
            let raw: [u8; 16] = fixed(bytes, label)?;
            let (a, rest) = raw.split_at(8);
            let (b, c) = rest.split_at(4);
            let micros = i64::from_be_bytes(
                a.try_into()
                    .map_err(|_| PgTypeError::binary(label, "short"))?,
            );
            let days = i32::from_be_bytes(
                b.try_into()
                    .map_err(|_| PgTypeError::binary(label, "short"))?,
            );
            let months = i32::from_be_bytes(
                c.try_into()
                    .map_err(|_| PgTypeError::binary(label, "short"))?,
            );
            let nanos = micros
                .checked_mul(1_000)
                .ok_or_else(|| PgTypeError::DatetimeOverflow {
                    message: "interval out of range".to_string(),
                })?;
            ScalarValue::IntervalMonthDayNano(Some(IntervalMonthDayNano::new(months, days, nanos)))
        }
        // jsonb: a version byte (1) before the text.
        3802 => match bytes.split_first() {
            Some((1, text)) => ScalarValue::Utf8(Some(utf8(text)?.to_string())),
            _ => {
                return Err(PgTypeError::binary(
                    "jsonb",
                    "unsupported jsonb version number",
                ))
            }
        },
        25 | 1043 | 1042 | 19 | 18 | 705 | 114 | 0 => {
            ScalarValue::Utf8(Some(utf8(bytes)?.to_string()))
        }
        _ => {
            return Err(PgTypeError::Unsupported {
                what: format!("binary input of type {}", ty.name()),
            })
        }
    })
}

/// A cursor over untrusted bytes.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PgTypeError> {
        let short = || PgTypeError::binary("array", "insufficient data left in message");
        let head = self.bytes.get(..n).ok_or_else(short)?;
        self.bytes = self.bytes.get(n..).ok_or_else(short)?;
        Ok(head)
    }

    fn i32(&mut self) -> Result<i32, PgTypeError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes(fixed(b, "array")?))
    }
}

/// A one-dimensional binary array of `elem` into scalars of `elem_target`.
fn decode_array(
    bytes: &[u8],
    elem: &Type,
    elem_target: &DataType,
) -> Result<Vec<ScalarValue>, PgTypeError> {
    let bad = |reason: &str| PgTypeError::binary("array", reason);
    let mut r = Reader { bytes };
    let ndim = r.i32()?;
    let _flags = r.i32()?;
    let oid = r.i32()? as u32;
    if oid != elem.oid() {
        return Err(bad("wrong element type"));
    }
    let mut items = Vec::new();
    match ndim {
        0 => {}
        1 => {
            let len = r.i32()?;
            let _lower_bound = r.i32()?;
            if len < 0 || len as usize > r.bytes.len() / 4 {
                return Err(bad("invalid array length"));
            }
            for _ in 0..len {
                let n = r.i32()?;
                if n == -1 {
                    items.push(
                        ScalarValue::try_from(elem_target)
                            .map_err(|_| PgTypeError::unsupported_arrow(elem_target))?,
                    );
                } else {
                    let n = usize::try_from(n).map_err(|_| bad("invalid element length"))?;
                    items.push(decode_binary(r.take(n)?, elem, elem_target)?);
                }
            }
        }
        _ => {
            return Err(PgTypeError::Unsupported {
                what: "binary input of multi-dimensional arrays".to_string(),
            })
        }
    }
    if !r.bytes.is_empty() {
        return Err(bad("trailing bytes after array"));
    }
    Ok(items)
}
