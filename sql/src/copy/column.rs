//! One column of COPY input being built into an Arrow array.
//!
//! Hot path: the stored types (integers, floats, booleans, text,
//! timestamps) are parsed straight into typed Arrow builders, with no
//! allocation per value; other types go through `lynx_pgtypes` scalars.
//! Parsing rules are always `lynx_pgtypes`' (PostgreSQL 16 input).

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Float32Builder, Float64Builder, Int16Builder, Int32Builder,
    Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
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

    /// Appends PostgreSQL text input `s`.
    pub fn append_text(
        &mut self,
        s: &str,
        settings: &PgFormatSettings,
    ) -> std::result::Result<(), PgTypeError> {
        match self {
            ColumnBuilder::Int16(b) => b.append_value(lynx_pgtypes::parse_int(s, "smallint")?),
            ColumnBuilder::Int32(b) => b.append_value(lynx_pgtypes::parse_int(s, "integer")?),
            ColumnBuilder::Int64(b) => b.append_value(lynx_pgtypes::parse_int(s, "bigint")?),
            ColumnBuilder::Float32(b) => b.append_value(lynx_pgtypes::parse_f32(s)?),
            ColumnBuilder::Float64(b) => b.append_value(lynx_pgtypes::parse_f64(s)?),
            ColumnBuilder::Bool(b) => b.append_value(lynx_pgtypes::parse_bool(s)?),
            ColumnBuilder::Text(b) => b.append_value(s),
            ColumnBuilder::Timestamp(b, tz) => {
                let dt = DataType::Timestamp(TimeUnit::Microsecond, tz.clone());
                match lynx_pgtypes::parse_text(s, &dt, settings)? {
                    ScalarValue::TimestampMicrosecond(v, _) => b.append_option(v),
                    other => {
                        return Err(PgTypeError::Internal {
                            message: format!("timestamp input gave {other:?}"),
                        })
                    }
                }
            }
            ColumnBuilder::Scalars(v, dt) => v.push(lynx_pgtypes::parse_text(s, dt, settings)?),
        }
        Ok(())
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
