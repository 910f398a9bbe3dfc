//! Table definitions: columns, their logical types and roles, table options.
//!
//! A table has exactly one time column (stored as i64 microseconds), tag
//! columns that identify a series, and field columns. `ColumnType` is the
//! closed set of logical types the engine stores; `to_arrow` is the one place
//! that decides their Arrow layout.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use serde::{Deserialize, Serialize};

use crate::error::{Result, StorageError};

/// Field metadata key naming the PostgreSQL type of a column when its Arrow
/// type is ambiguous (the same key the pgwire layer reads).
pub const PG_TYPE_METADATA_KEY: &str = "pg.type";

/// Time zone string used for `timestamptz` columns (DataFusion's canonical UTC).
pub const UTC: &str = "+00:00";

/// Logical column types stored by the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColumnType {
    /// `timestamp with time zone`: microseconds since the epoch, UTC.
    TimestampTz,
    /// `timestamp without time zone`: microseconds since the epoch.
    Timestamp,
    Date,
    Float64,
    Float32,
    Int64,
    Int32,
    Int16,
    Bool,
    Text,
    /// `varchar(n)` / `character varying`: stored as text; values longer
    /// than `n` characters are rejected (trailing spaces are cut first).
    Varchar(Option<u32>),
    Bytea,
    /// `numeric(precision, scale)` stored as a 128-bit decimal.
    Numeric {
        precision: u8,
        scale: i8,
    },
}

impl ColumnType {
    pub fn to_arrow(self) -> DataType {
        match self {
            ColumnType::TimestampTz => DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
            ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            ColumnType::Date => DataType::Date32,
            ColumnType::Float64 => DataType::Float64,
            ColumnType::Float32 => DataType::Float32,
            ColumnType::Int64 => DataType::Int64,
            ColumnType::Int32 => DataType::Int32,
            ColumnType::Int16 => DataType::Int16,
            ColumnType::Bool => DataType::Boolean,
            ColumnType::Text | ColumnType::Varchar(_) => DataType::Utf8,
            ColumnType::Bytea => DataType::Binary,
            ColumnType::Numeric { precision, scale } => DataType::Decimal128(precision, scale),
        }
    }

    /// The logical type that stores values of an Arrow type, if any.
    pub fn from_arrow(dt: &DataType) -> Option<ColumnType> {
        Some(match dt {
            DataType::Timestamp(_, Some(_)) => ColumnType::TimestampTz,
            DataType::Timestamp(_, None) => ColumnType::Timestamp,
            DataType::Date32 | DataType::Date64 => ColumnType::Date,
            DataType::Float64 => ColumnType::Float64,
            DataType::Float32 | DataType::Float16 => ColumnType::Float32,
            DataType::Int64 | DataType::UInt32 => ColumnType::Int64,
            DataType::Int32 | DataType::UInt16 => ColumnType::Int32,
            DataType::Int16 | DataType::Int8 | DataType::UInt8 => ColumnType::Int16,
            DataType::Boolean => ColumnType::Bool,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ColumnType::Text,
            DataType::Dictionary(_, v) => return ColumnType::from_arrow(v),
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView => ColumnType::Bytea,
            DataType::Decimal128(p, s) => ColumnType::Numeric {
                precision: *p,
                scale: *s,
            },
            _ => return None,
        })
    }

    /// Text of any declared kind (`text`, `varchar`).
    pub fn is_text(self) -> bool {
        matches!(self, ColumnType::Text | ColumnType::Varchar(_))
    }

    /// The PostgreSQL type name announced for a column whose Arrow type
    /// alone would describe it differently (`varchar` is Utf8 like `text`).
    pub fn pg_type_name(self) -> Option<&'static str> {
        match self {
            ColumnType::Varchar(_) => Some("varchar"),
            _ => None,
        }
    }

    /// PostgreSQL's `atttypmod` of the declared type: -1 when it has none.
    pub fn pg_typmod(self) -> i32 {
        const VARHDRSZ: i32 = 4;
        match self {
            ColumnType::Varchar(Some(n)) => n as i32 + VARHDRSZ,
            ColumnType::Numeric { precision, scale } => {
                ((precision as i32) << 16 | (scale as i32 & 0x7ff)) + VARHDRSZ
            }
            _ => -1,
        }
    }

    pub fn is_timestamp(self) -> bool {
        matches!(self, ColumnType::TimestampTz | ColumnType::Timestamp)
    }
}

/// What a column means for a time-series table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColumnRole {
    Time,
    Tag,
    Field,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnDef {
    pub name: String,
    pub column_type: ColumnType,
    pub nullable: bool,
    pub role: ColumnRole,
}

/// Microseconds in one day, the default partition length.
pub const DAY_MICROS: i64 = 86_400_000_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableOptions {
    /// Rows with the same (tags, time) replace each other: last write wins.
    pub primary_key: bool,
    /// Partition length in microseconds.
    pub partition_micros: i64,
    /// Rows older than now - ttl are dropped with their partition.
    pub ttl_micros: Option<i64>,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            primary_key: false,
            partition_micros: DAY_MICROS,
            ttl_micros: None,
        }
    }
}

/// A table as stored in the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableDef {
    pub name: String,
    pub columns: Vec<ColumnDef>,
    pub options: TableOptions,
}

impl TableDef {
    /// Checks the invariants: unique column names, exactly one time column,
    /// which is a NOT NULL timestamp.
    pub fn validate(&self) -> Result<()> {
        let invalid = |message: String| StorageError::InvalidDefinition {
            table: self.name.clone(),
            message,
        };
        if self.columns.is_empty() {
            return Err(invalid("a table needs at least one column".into()));
        }
        for (i, c) in self.columns.iter().enumerate() {
            if self.columns[..i].iter().any(|o| o.name == c.name) {
                return Err(invalid(format!(
                    "column \"{}\" specified more than once",
                    c.name
                )));
            }
        }
        let times: Vec<_> = self
            .columns
            .iter()
            .filter(|c| c.role == ColumnRole::Time)
            .collect();
        match times.as_slice() {
            [t] if t.column_type.is_timestamp() && !t.nullable => Ok(()),
            [t] => Err(invalid(format!(
                "time column \"{}\" must be a NOT NULL timestamp",
                t.name
            ))),
            [] => Err(invalid(
                "a time-series table needs a NOT NULL timestamp/timestamptz column".into(),
            )),
            _ => Err(invalid("only one time column is allowed".into())),
        }
    }

    pub fn time_index(&self) -> usize {
        self.columns
            .iter()
            .position(|c| c.role == ColumnRole::Time)
            .unwrap_or(0)
    }

    pub fn tag_indices(&self) -> Vec<usize> {
        (0..self.columns.len())
            .filter(|i| self.columns[*i].role == ColumnRole::Tag)
            .collect()
    }

    pub fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn arrow_schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.columns
                .iter()
                .map(|c| {
                    let field = Field::new(&c.name, c.column_type.to_arrow(), c.nullable);
                    match c.column_type.pg_type_name() {
                        Some(name) => field.with_metadata(
                            [(PG_TYPE_METADATA_KEY.to_string(), name.to_string())].into(),
                        ),
                        None => field,
                    }
                })
                .collect::<Vec<_>>(),
        ))
    }
}

/// A column definition for tests (NULLs allowed except in the time column).
#[cfg(test)]
pub(crate) fn test_column(name: &str, column_type: ColumnType, role: ColumnRole) -> ColumnDef {
    ColumnDef {
        name: name.into(),
        column_type,
        nullable: role != ColumnRole::Time,
        role,
    }
}
