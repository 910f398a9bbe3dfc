//! Mapping file schemas (Parquet/Arrow) onto LynxStore tables.
//!
//! Two jobs: derive a table definition from a file (`--create`), and check
//! that a file fits an existing table before anything is read, naming the
//! column and both types when it does not. Values are converted later by
//! the engine's `conform` (Arrow casts, strict: overflow is an error).
//!
//! Rules: file columns are matched to table columns by name; a file column
//! the table lacks is an error; a table column the file lacks is NULL when
//! nullable and an error when NOT NULL (e.g. the time column).

use datafusion::arrow::datatypes::{DataType, Schema};
use lynx_storage::{ColumnDef, ColumnRole, ColumnType, TableDef, TableOptions};

use crate::error::{Result, SqlError, StatusCode};

/// The stored type for a file column when creating a table from a file.
pub fn column_type_for(dt: &DataType) -> Option<ColumnType> {
    match dt {
        DataType::Dictionary(_, v) => column_type_for(v),
        // u64 does not fit i64: keep every value exact.
        DataType::UInt64 => Some(ColumnType::Numeric {
            precision: 20,
            scale: 0,
        }),
        DataType::Decimal32(p, s) | DataType::Decimal64(p, s) => Some(ColumnType::Numeric {
            precision: *p,
            scale: *s,
        }),
        DataType::Decimal256(p, s) if *p <= 38 => Some(ColumnType::Numeric {
            precision: *p,
            scale: *s,
        }),
        DataType::FixedSizeBinary(_) => Some(ColumnType::Bytea),
        other => ColumnType::from_arrow(other),
    }
}

/// PostgreSQL's name for a stored type, for messages.
pub fn type_name(t: ColumnType) -> String {
    match t {
        ColumnType::TimestampTz => "timestamp with time zone".into(),
        ColumnType::Timestamp => "timestamp without time zone".into(),
        ColumnType::Date => "date".into(),
        ColumnType::Float64 => "double precision".into(),
        ColumnType::Float32 => "real".into(),
        ColumnType::Int64 => "bigint".into(),
        ColumnType::Int32 => "integer".into(),
        ColumnType::Int16 => "smallint".into(),
        ColumnType::Bool => "boolean".into(),
        ColumnType::Text => "text".into(),
        ColumnType::Varchar(Some(n)) => format!("character varying({n})"),
        ColumnType::Varchar(None) => "character varying".into(),
        ColumnType::Bytea => "bytea".into(),
        ColumnType::Numeric { precision, scale } => format!("numeric({precision},{scale})"),
    }
}

/// Whether values of file type `file` can be stored in a column of `col`.
pub fn compatible(file: &DataType, col: ColumnType) -> bool {
    let file = match file {
        DataType::Dictionary(_, v) => v.as_ref(),
        t => t,
    };
    let decimal = matches!(
        file,
        DataType::Decimal32(..)
            | DataType::Decimal64(..)
            | DataType::Decimal128(..)
            | DataType::Decimal256(..)
    );
    match col {
        ColumnType::TimestampTz | ColumnType::Timestamp | ColumnType::Date => matches!(
            file,
            DataType::Timestamp(..) | DataType::Date32 | DataType::Date64
        ),
        ColumnType::Float64 | ColumnType::Float32 => file.is_numeric(),
        ColumnType::Int64 | ColumnType::Int32 | ColumnType::Int16 => file.is_integer(),
        ColumnType::Numeric { .. } => file.is_integer() || decimal,
        ColumnType::Bool => matches!(file, DataType::Boolean),
        ColumnType::Text | ColumnType::Varchar(_) => matches!(
            file,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        ),
        ColumnType::Bytea => matches!(
            file,
            DataType::Binary
                | DataType::LargeBinary
                | DataType::BinaryView
                | DataType::FixedSizeBinary(_)
        ),
    }
}

/// Checks that a file with `schema` can be imported into `def`.
pub fn check_fits(def: &TableDef, schema: &Schema, file: &str) -> Result<()> {
    for f in schema.fields() {
        let Some(col) = def.column(f.name()) else {
            return Err(SqlError::new(
                StatusCode::ColumnNotFound,
                format!(
                    "column \"{}\" of file {file} does not exist in table \"{}\"",
                    f.name(),
                    def.name
                ),
            ));
        };
        if !compatible(f.data_type(), col.column_type) {
            return Err(SqlError::new(
                StatusCode::DatatypeMismatch,
                format!(
                    "column \"{}\" is {} in table \"{}\" but {} in file {file}",
                    f.name(),
                    type_name(col.column_type),
                    def.name,
                    f.data_type()
                ),
            ));
        }
    }
    for col in def.columns.iter().filter(|c| !c.nullable) {
        if schema.field_with_name(&col.name).is_err() {
            return Err(SqlError::new(
                StatusCode::NotNullViolation,
                format!(
                    "file {file} has no column \"{}\", which is NOT NULL in table \"{}\"",
                    col.name, def.name
                ),
            ));
        }
    }
    Ok(())
}

/// A table definition for the columns of `schema` (`--create`). The time
/// column is `time_column` or the first timestamp column; tags are `tags`
/// or every string column.
pub fn table_from_schema(
    name: &str,
    schema: &Schema,
    time_column: Option<&str>,
    tags: Option<&[String]>,
) -> Result<TableDef> {
    let mut columns = Vec::new();
    for f in schema.fields() {
        let Some(column_type) = column_type_for(f.data_type()) else {
            return Err(SqlError::unsupported(format!(
                "column \"{}\" has type {}, which LynxStore cannot store",
                f.name(),
                f.data_type()
            )));
        };
        columns.push(ColumnDef {
            name: f.name().clone(),
            column_type,
            nullable: true,
            role: ColumnRole::Field,
        });
    }
    let time = match time_column {
        Some(t) => columns.iter().position(|c| c.name == t).ok_or_else(|| {
            SqlError::new(
                StatusCode::ColumnNotFound,
                format!("time column \"{t}\" is not in the file"),
            )
        })?,
        None => columns
            .iter()
            .position(|c| c.column_type.is_timestamp())
            .ok_or_else(|| {
                SqlError::new(
                    StatusCode::InvalidInput,
                    "the file has no timestamp column to use as the time column (pass --time-column)",
                )
            })?,
    };
    columns[time].role = ColumnRole::Time;
    columns[time].nullable = false;
    if let Some(tags) = tags {
        for t in tags {
            let c = columns.iter_mut().find(|c| &c.name == t).ok_or_else(|| {
                SqlError::new(
                    StatusCode::ColumnNotFound,
                    format!("tag column \"{t}\" is not in the file"),
                )
            })?;
            c.role = ColumnRole::Tag;
        }
    } else {
        for c in columns.iter_mut() {
            if c.column_type.is_text() && c.role != ColumnRole::Time {
                c.role = ColumnRole::Tag;
            }
        }
    }
    let def = TableDef {
        name: name.to_string(),
        columns,
        options: TableOptions::default(),
    };
    def.validate()?;
    Ok(def)
}
