//! The mapping between Arrow data types and PostgreSQL types (OIDs).
//!
//! Owns which PostgreSQL type a column is described as in RowDescription and
//! which Arrow type a PostgreSQL type is read into. The invariant: the text
//! and binary encoders must write exactly the type this module announces,
//! so every arm added here needs an arm in `text_out` and `binary`.

use arrow::datatypes::{DataType, Field, IntervalUnit, Schema, TimeUnit};
use pgwire::api::portal::Format;
use pgwire::api::results::{FieldFormat, FieldInfo};
use pgwire::api::Type;

use crate::error::PgTypeError;

/// Field metadata key naming the PostgreSQL type of a column (`"oid"`,
/// `"name"`, `"regclass"`, `"char"`, ...), honoured by [`pg_type_of_field`].
pub const PG_TYPE_METADATA_KEY: &str = "pg.type";

/// The time zone given to `timestamptz` values read without a column type.
pub const DEFAULT_TIMESTAMPTZ_ZONE: &str = "+00:00";

/// The PostgreSQL type an Arrow type is described and encoded as.
pub fn pg_type_of(dt: &DataType) -> Result<Type, PgTypeError> {
    Ok(match dt {
        DataType::Null => Type::TEXT,
        DataType::Boolean => Type::BOOL,
        DataType::Int8 | DataType::Int16 => Type::INT2,
        DataType::Int32 | DataType::UInt8 | DataType::UInt16 => Type::INT4,
        DataType::Int64 | DataType::UInt32 => Type::INT8,
        DataType::UInt64 => Type::NUMERIC,
        DataType::Float16 | DataType::Float32 => Type::FLOAT4,
        DataType::Float64 => Type::FLOAT8,
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => Type::NUMERIC,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Type::TEXT,
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => Type::BYTEA,
        DataType::Date32 | DataType::Date64 => Type::DATE,
        DataType::Time32(_) | DataType::Time64(_) => Type::TIME,
        DataType::Timestamp(_, None) => Type::TIMESTAMP,
        DataType::Timestamp(_, Some(_)) => Type::TIMESTAMPTZ,
        DataType::Interval(_) | DataType::Duration(_) => Type::INTERVAL,
        DataType::Dictionary(_, value) => pg_type_of(value)?,
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            array_type_of(&pg_type_of(f.data_type())?)
                .ok_or_else(|| PgTypeError::unsupported_arrow(dt))?
        }
        _ => return Err(PgTypeError::unsupported_arrow(dt)),
    })
}

/// The PostgreSQL type of a column: the `pg.type` metadata when present,
/// otherwise [`pg_type_of`] of its data type.
pub fn pg_type_of_field(field: &Field) -> Result<Type, PgTypeError> {
    match field.metadata().get(PG_TYPE_METADATA_KEY) {
        Some(name) => type_by_name(name).ok_or_else(|| PgTypeError::Unsupported {
            what: format!("PostgreSQL type \"{name}\" of column \"{}\"", field.name()),
        }),
        None => pg_type_of(field.data_type()),
    }
}

/// The Arrow type values of a PostgreSQL type are read into, or `None` when
/// the type is not supported. `numeric` without a modifier reads as
/// `Decimal128(38, 10)`, `timestamptz` as microseconds in UTC.
pub fn arrow_type_of(ty: &Type) -> Option<DataType> {
    Some(match ty.oid() {
        16 => DataType::Boolean,
        21 => DataType::Int16,
        23 => DataType::Int32,
        20 => DataType::Int64,
        26 | 24 | 2202 | 2205 | 2206 | 28 | 29 => DataType::UInt32,
        700 => DataType::Float32,
        701 => DataType::Float64,
        1700 => DataType::Decimal128(38, 10),
        25 | 1043 | 1042 | 19 | 18 | 705 | 114 | 3802 | 2950 => DataType::Utf8,
        17 => DataType::Binary,
        1082 => DataType::Date32,
        1083 => DataType::Time64(TimeUnit::Microsecond),
        1114 => DataType::Timestamp(TimeUnit::Microsecond, None),
        1184 => DataType::Timestamp(TimeUnit::Microsecond, Some(DEFAULT_TIMESTAMPTZ_ZONE.into())),
        1186 => DataType::Interval(IntervalUnit::MonthDayNano),
        _ => DataType::new_list(arrow_type_of(&element_type_of(ty)?)?, true),
    })
}

/// The array type whose elements are `elem` (`int4` -> `int4[]`).
pub fn array_type_of(elem: &Type) -> Option<Type> {
    Some(match elem.oid() {
        16 => Type::BOOL_ARRAY,
        17 => Type::BYTEA_ARRAY,
        18 => Type::CHAR_ARRAY,
        19 => Type::NAME_ARRAY,
        20 => Type::INT8_ARRAY,
        21 => Type::INT2_ARRAY,
        23 => Type::INT4_ARRAY,
        24 => Type::REGPROC_ARRAY,
        25 => Type::TEXT_ARRAY,
        26 => Type::OID_ARRAY,
        700 => Type::FLOAT4_ARRAY,
        701 => Type::FLOAT8_ARRAY,
        1042 => Type::BPCHAR_ARRAY,
        1043 => Type::VARCHAR_ARRAY,
        1082 => Type::DATE_ARRAY,
        1083 => Type::TIME_ARRAY,
        1114 => Type::TIMESTAMP_ARRAY,
        1184 => Type::TIMESTAMPTZ_ARRAY,
        1186 => Type::INTERVAL_ARRAY,
        1700 => Type::NUMERIC_ARRAY,
        2205 => Type::REGCLASS_ARRAY,
        2206 => Type::REGTYPE_ARRAY,
        _ => return None,
    })
}

/// The element type of an array type (`int4[]` -> `int4`).
pub fn element_type_of(array: &Type) -> Option<Type> {
    // int2vector and oidvector travel as one-dimensional arrays in binary.
    if *array == Type::INT2_VECTOR {
        return Some(Type::INT2);
    }
    if *array == Type::OID_VECTOR {
        return Some(Type::OID);
    }
    ARRAY_ELEMENTS
        .iter()
        .find(|elem| array_type_of(elem).as_ref() == Some(array))
        .cloned()
}

/// Element types that have an array type in [`array_type_of`].
const ARRAY_ELEMENTS: &[Type] = &[
    Type::BOOL,
    Type::BYTEA,
    Type::CHAR,
    Type::NAME,
    Type::INT8,
    Type::INT2,
    Type::INT4,
    Type::REGPROC,
    Type::TEXT,
    Type::OID,
    Type::FLOAT4,
    Type::FLOAT8,
    Type::BPCHAR,
    Type::VARCHAR,
    Type::DATE,
    Type::TIME,
    Type::TIMESTAMP,
    Type::TIMESTAMPTZ,
    Type::INTERVAL,
    Type::NUMERIC,
    Type::REGCLASS,
    Type::REGTYPE,
];

/// Types a `pg.type` metadata value may name.
const NAMED_TYPES: &[Type] = &[
    Type::BOOL,
    Type::BYTEA,
    Type::CHAR,
    Type::NAME,
    Type::INT8,
    Type::INT2,
    Type::INT2_VECTOR,
    Type::INT4,
    Type::REGPROC,
    Type::TEXT,
    Type::OID,
    Type::OID_VECTOR,
    Type::XID,
    Type::CID,
    Type::JSON,
    Type::FLOAT4,
    Type::FLOAT8,
    Type::BPCHAR,
    Type::VARCHAR,
    Type::DATE,
    Type::TIME,
    Type::TIMESTAMP,
    Type::TIMESTAMPTZ,
    Type::INTERVAL,
    Type::NUMERIC,
    Type::REGCLASS,
    Type::REGTYPE,
    Type::REGNAMESPACE,
    Type::REGPROCEDURE,
    Type::JSONB,
    Type::PG_NODE_TREE,
    Type::ACLITEM,
    Type::ACLITEM_ARRAY,
    Type::TEXT_ARRAY,
    Type::NAME_ARRAY,
    Type::OID_ARRAY,
    Type::CHAR_ARRAY,
    Type::INT2_ARRAY,
    Type::INT4_ARRAY,
    Type::INT8_ARRAY,
    Type::FLOAT8_ARRAY,
    Type::BOOL_ARRAY,
];

/// Looks a type up by its `pg_type.typname` (`"oid"`, `"_int4"`) or its SQL
/// spelling (`"integer"`, `"int4[]"`).
pub fn type_by_name(name: &str) -> Option<Type> {
    let lower = name.trim().to_ascii_lowercase();
    if let Some(elem) = lower.strip_suffix("[]") {
        return array_type_of(&type_by_name(elem)?);
    }
    let canonical = match lower.as_str() {
        "integer" | "int" => "int4",
        "smallint" => "int2",
        "bigint" => "int8",
        "real" => "float4",
        "double precision" => "float8",
        "boolean" => "bool",
        "\"char\"" => "char",
        "character varying" => "varchar",
        "character" => "bpchar",
        "timestamp without time zone" => "timestamp",
        "timestamp with time zone" => "timestamptz",
        "time without time zone" => "time",
        "decimal" => "numeric",
        other => other,
    };
    NAMED_TYPES.iter().find(|t| t.name() == canonical).cloned()
}

/// `pg_type.typlen` of a type: its fixed width, or -1 for varlena types.
pub fn type_size(ty: &Type) -> i16 {
    match ty.oid() {
        16 | 18 => 1,
        21 => 2,
        23 | 26 | 24 | 28 | 29 | 700 | 1082 | 2202 | 2205 | 2206 => 4,
        20 | 701 | 1083 | 1114 | 1184 => 8,
        1186 => 16,
        19 => 64,
        _ => -1,
    }
}

/// `atttypmod` for a column: `numeric(p, s)` packs precision and scale.
pub fn type_modifier(dt: &DataType) -> i32 {
    match dt {
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s)
            if *s >= 0 && *p <= 38 =>
        {
            ((i32::from(*p) << 16) | i32::from(*s)) + 4
        }
        DataType::Dictionary(_, v) => type_modifier(v),
        _ => -1,
    }
}

/// The format of result column `idx` of `columns` under a Bind's format codes,
/// checked the way PostgreSQL checks them.
pub fn format_for(
    formats: &Format,
    idx: usize,
    columns: usize,
) -> Result<FieldFormat, PgTypeError> {
    match formats {
        Format::UnifiedText => Ok(FieldFormat::Text),
        Format::UnifiedBinary => Ok(FieldFormat::Binary),
        Format::Individual(codes) => {
            if codes.len() != columns {
                return Err(PgTypeError::FormatCount {
                    formats: codes.len(),
                    columns,
                });
            }
            match codes.get(idx) {
                Some(0) => Ok(FieldFormat::Text),
                Some(1) => Ok(FieldFormat::Binary),
                Some(code) => Err(PgTypeError::binary(
                    "format code",
                    format!("unsupported format code: {code}"),
                )),
                None => Err(PgTypeError::FormatCount {
                    formats: codes.len(),
                    columns,
                }),
            }
        }
    }
}

/// The RowDescription of a schema under a Bind's result format codes.
pub fn field_infos(schema: &Schema, formats: &Format) -> Result<Vec<FieldInfo>, PgTypeError> {
    let columns = schema.fields().len();
    schema
        .fields()
        .iter()
        .enumerate()
        .map(|(idx, field)| {
            let ty = pg_type_of_field(field)?;
            let format = format_for(formats, idx, columns)?;
            let size = type_size(&ty);
            Ok(FieldInfo::new(field.name().clone(), None, None, ty, format)
                .with_type_size(size)
                .with_type_modifier(type_modifier(field.data_type())))
        })
        .collect()
}
