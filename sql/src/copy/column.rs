//! One column of COPY input being built into an Arrow array.
//!
//! Hot path: the stored types (integers, floats, booleans, text,
//! timestamps) are parsed straight into typed Arrow builders, with no
//! allocation per value; other types go through `lynx_pgtypes` scalars.
//! Parsing rules are always `lynx_pgtypes`' (PostgreSQL 16 input).

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Float32Builder, Float64Builder, Int16Builder, Int32Builder,
    Int64Builder, PrimitiveBuilder, StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{ArrowPrimitiveType, DataType, TimeUnit};
use datafusion::common::ScalarValue;
use lynx_pgtypes::{PgFormatSettings, PgTypeError};

use crate::error::{Result, SqlError, StatusCode};

pub enum ColumnBuilder {
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Bool(BooleanBuilder),
    Text(StringBuilder),
    Timestamp(TimestampMicrosecondBuilder, Option<Arc<str>>),
    /// Any other type, as scalars of `DataType`.
    Scalars(Vec<ScalarValue>, DataType),
}

fn internal(v: &ScalarValue) -> SqlError {
    SqlError::new(
        StatusCode::Internal,
        format!("COPY: unexpected value {v:?} for its column"),
    )
}

/// Where one text field's value is, packed in 8 bytes: splitting writes
/// one per field, and at 24 bytes (an enum of two `usize`) those stores
/// were a third of the split's time. Offsets are below 2^31: a COPY
/// refuses a record longer than [`MAX_RECORD_BYTES`], so blocks stay far
/// below that.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// `u32::MAX` for NULL; the top bit set for a decoded value.
    a: u32,
    b: u32,
}

/// The longest record a text or CSV COPY accepts (PostgreSQL's limit on a
/// line buffer is 1 GiB as well).
pub const MAX_RECORD_BYTES: usize = 1 << 30;

/// What a [`Span`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanKind {
    Null,
    /// `input[a..b]`: the value as written (no quotes or escapes inside).
    Raw(usize, usize),
    /// `decoded[a..b]`: the value after removing quotes or escapes.
    Decoded(usize, usize),
}

const DECODED: u32 = 1 << 31;

impl Span {
    pub const NULL: Span = Span {
        a: u32::MAX,
        b: u32::MAX,
    };

    #[inline]
    pub fn raw(a: usize, b: usize) -> Span {
        debug_assert!(a <= b && b < DECODED as usize);
        Span {
            a: a as u32,
            b: b as u32,
        }
    }

    #[inline]
    pub fn decoded(a: usize, b: usize) -> Span {
        debug_assert!(a <= b && b < DECODED as usize);
        Span {
            a: a as u32 | DECODED,
            b: b as u32,
        }
    }

    #[inline]
    pub fn kind(self) -> SpanKind {
        if self.a == u32::MAX {
            SpanKind::Null
        } else if self.a & DECODED != 0 {
            SpanKind::Decoded((self.a & !DECODED) as usize, self.b as usize)
        } else {
            SpanKind::Raw(self.a as usize, self.b as usize)
        }
    }
}

impl std::fmt::Debug for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.kind().fmt(f)
    }
}

/// What [`Span`]s point into: the input (`text` when all of it is UTF-8)
/// and the values with quotes or escapes removed.
pub struct Texts<'a> {
    pub input: &'a [u8],
    pub text: Option<&'a str>,
    pub decoded: &'a [u8],
}

impl<'a> Texts<'a> {
    /// The value of `span`, checked to be UTF-8.
    #[inline]
    fn get(&self, span: Span) -> std::result::Result<Option<&'a str>, PgTypeError> {
        match span.kind() {
            SpanKind::Null => Ok(None),
            // Spans start and end at ASCII delimiters or quotes: in valid
            // text, `get` fails only on a bad span, reported as bad bytes.
            SpanKind::Raw(a, b) => match self.text.and_then(|t| t.get(a..b)) {
                Some(s) => Ok(Some(s)),
                None => lynx_pgtypes::utf8(self.raw(span)).map(Some),
            },
            SpanKind::Decoded(..) => lynx_pgtypes::utf8(self.raw(span)).map(Some),
        }
    }

    /// The bytes of `span` (for error context).
    pub fn raw(&self, span: Span) -> &'a [u8] {
        match span.kind() {
            SpanKind::Null => &[],
            SpanKind::Raw(a, b) => self.input.get(a..b).unwrap_or_default(),
            SpanKind::Decoded(a, b) => self.decoded.get(a..b).unwrap_or_default(),
        }
    }
}

/// Calls `f` on each value in turn; the first error and its row.
#[inline]
fn each<'a>(
    spans: &[Span],
    texts: &Texts<'a>,
    mut f: impl FnMut(Option<&'a str>) -> std::result::Result<(), PgTypeError>,
) -> std::result::Result<(), (usize, PgTypeError)> {
    for (row, span) in spans.iter().enumerate() {
        texts.get(*span).and_then(&mut f).map_err(|e| (row, e))?;
    }
    Ok(())
}

/// Appends values parsed by `parse` to a primitive builder.
#[inline]
fn fill<'a, T: ArrowPrimitiveType>(
    b: &mut PrimitiveBuilder<T>,
    spans: &[Span],
    texts: &Texts<'a>,
    parse: impl Fn(&str) -> std::result::Result<T::Native, PgTypeError>,
) -> std::result::Result<(), (usize, PgTypeError)> {
    each(spans, texts, |v| {
        b.append_option(v.map(&parse).transpose()?);
        Ok(())
    })
}

impl ColumnBuilder {
    /// A builder for `capacity` values; text columns reserve `text_bytes`
    /// for their values.
    pub fn new(dt: &DataType, capacity: usize, text_bytes: usize) -> ColumnBuilder {
        match dt {
            DataType::Int16 => ColumnBuilder::Int16(Int16Builder::with_capacity(capacity)),
            DataType::Int32 => ColumnBuilder::Int32(Int32Builder::with_capacity(capacity)),
            DataType::Int64 => ColumnBuilder::Int64(Int64Builder::with_capacity(capacity)),
            DataType::Float32 => ColumnBuilder::Float32(Float32Builder::with_capacity(capacity)),
            DataType::Float64 => ColumnBuilder::Float64(Float64Builder::with_capacity(capacity)),
            DataType::Boolean => ColumnBuilder::Bool(BooleanBuilder::with_capacity(capacity)),
            DataType::Utf8 => {
                ColumnBuilder::Text(StringBuilder::with_capacity(capacity, text_bytes))
            }
            DataType::Timestamp(TimeUnit::Microsecond, tz) => ColumnBuilder::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(capacity),
                tz.clone(),
            ),
            other => ColumnBuilder::Scalars(Vec::with_capacity(capacity), other.clone()),
        }
    }

    pub fn append_null(&mut self) -> Result<()> {
        match self {
            ColumnBuilder::Int16(b) => b.append_null(),
            ColumnBuilder::Int32(b) => b.append_null(),
            ColumnBuilder::Int64(b) => b.append_null(),
            ColumnBuilder::Float32(b) => b.append_null(),
            ColumnBuilder::Float64(b) => b.append_null(),
            ColumnBuilder::Bool(b) => b.append_null(),
            ColumnBuilder::Text(b) => b.append_null(),
            ColumnBuilder::Timestamp(b, _) => b.append_null(),
            ColumnBuilder::Scalars(v, dt) => v.push(ScalarValue::try_from(&*dt)?),
        }
        Ok(())
    }

    /// Appends PostgreSQL text input, one column of a chunk of rows at a
    /// time (`None` = NULL): the type is matched once per column, not once
    /// per value. On an error, the row it is in (counted from 0); the
    /// builder is then left part-filled.
    pub fn append_texts(
        &mut self,
        spans: &[Span],
        texts: &Texts,
        settings: &PgFormatSettings,
    ) -> std::result::Result<(), (usize, PgTypeError)> {
        match self {
            ColumnBuilder::Int16(b) => {
                fill(b, spans, texts, |s| lynx_pgtypes::parse_int(s, "smallint"))
            }
            ColumnBuilder::Int32(b) => {
                fill(b, spans, texts, |s| lynx_pgtypes::parse_int(s, "integer"))
            }
            ColumnBuilder::Int64(b) => {
                fill(b, spans, texts, |s| lynx_pgtypes::parse_int(s, "bigint"))
            }
            ColumnBuilder::Float32(b) => fill(b, spans, texts, lynx_pgtypes::parse_f32),
            ColumnBuilder::Float64(b) => fill(b, spans, texts, lynx_pgtypes::parse_f64),
            ColumnBuilder::Bool(b) => each(spans, texts, |v| {
                b.append_option(v.map(lynx_pgtypes::parse_bool).transpose()?);
                Ok(())
            }),
            ColumnBuilder::Text(b) => each(spans, texts, |v| {
                b.append_option(v);
                Ok(())
            }),
            ColumnBuilder::Timestamp(b, tz) => {
                let with_zone = tz.is_some();
                fill(b, spans, texts, |s| {
                    lynx_pgtypes::parse_timestamp(s, TimeUnit::Microsecond, with_zone, settings)
                })
            }
            ColumnBuilder::Scalars(out, dt) => each(spans, texts, |v| {
                out.push(match v {
                    Some(s) => lynx_pgtypes::parse_text(s, dt, settings)?,
                    None => ScalarValue::try_from(&*dt).map_err(|e| PgTypeError::Internal {
                        message: e.to_string(),
                    })?,
                });
                Ok(())
            }),
        }
    }

    /// The column's Arrow type (what binary input is decoded as).
    pub fn data_type(&self) -> DataType {
        match self {
            ColumnBuilder::Int16(_) => DataType::Int16,
            ColumnBuilder::Int32(_) => DataType::Int32,
            ColumnBuilder::Int64(_) => DataType::Int64,
            ColumnBuilder::Float32(_) => DataType::Float32,
            ColumnBuilder::Float64(_) => DataType::Float64,
            ColumnBuilder::Bool(_) => DataType::Boolean,
            ColumnBuilder::Text(_) => DataType::Utf8,
            ColumnBuilder::Timestamp(_, tz) => {
                DataType::Timestamp(TimeUnit::Microsecond, tz.clone())
            }
            ColumnBuilder::Scalars(_, dt) => dt.clone(),
        }
    }

    /// Appends a scalar of the column's type (binary input).
    pub fn append_scalar(&mut self, v: ScalarValue) -> Result<()> {
        match (self, v) {
            (ColumnBuilder::Int16(b), ScalarValue::Int16(x)) => b.append_option(x),
            (ColumnBuilder::Int32(b), ScalarValue::Int32(x)) => b.append_option(x),
            (ColumnBuilder::Int64(b), ScalarValue::Int64(x)) => b.append_option(x),
            (ColumnBuilder::Float32(b), ScalarValue::Float32(x)) => b.append_option(x),
            (ColumnBuilder::Float64(b), ScalarValue::Float64(x)) => b.append_option(x),
            (ColumnBuilder::Bool(b), ScalarValue::Boolean(x)) => b.append_option(x),
            (ColumnBuilder::Text(b), ScalarValue::Utf8(x)) => b.append_option(x),
            (ColumnBuilder::Timestamp(b, _), ScalarValue::TimestampMicrosecond(x, _)) => {
                b.append_option(x)
            }
            (ColumnBuilder::Scalars(values, _), v) => values.push(v),
            (_, v) => return Err(internal(&v)),
        }
        Ok(())
    }

    /// The array of the values appended so far; the builder starts over.
    pub fn finish(&mut self) -> Result<ArrayRef> {
        Ok(match self {
            ColumnBuilder::Int16(b) => Arc::new(b.finish()),
            ColumnBuilder::Int32(b) => Arc::new(b.finish()),
            ColumnBuilder::Int64(b) => Arc::new(b.finish()),
            ColumnBuilder::Float32(b) => Arc::new(b.finish()),
            ColumnBuilder::Float64(b) => Arc::new(b.finish()),
            ColumnBuilder::Bool(b) => Arc::new(b.finish()),
            ColumnBuilder::Text(b) => Arc::new(b.finish()),
            ColumnBuilder::Timestamp(b, tz) => Arc::new(b.finish().with_timezone_opt(tz.clone())),
            ColumnBuilder::Scalars(v, dt) => {
                if v.is_empty() {
                    datafusion::arrow::array::new_empty_array(dt)
                } else {
                    ScalarValue::iter_to_array(std::mem::take(v))?
                }
            }
        })
    }
}
