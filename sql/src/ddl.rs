//! Translating PostgreSQL DDL into engine table definitions.
//!
//! Rules (see docs/architecture.md "Data model"): the time column is the
//! first NOT NULL timestamp column unless `WITH (time_column = '...')` names
//! one; TEXT columns are tags unless `WITH (tags = 'a,b')` lists them;
//! `PRIMARY KEY (...)` makes the table upsert on (tags, time).

use datafusion::sql::sqlparser::ast::{
    ColumnDef as SqlColumnDef, ColumnOption, CreateTable, CreateTableOptions, Expr, SqlOption,
    TableConstraint, Value,
};
use lynx_storage::{ColumnDef, ColumnRole, ColumnType, TableDef, TableOptions};

use crate::error::{Result, SqlError, StatusCode};
use crate::names::object_name;

/// Maps a SQL type name to the stored type.
pub fn column_type(sql_type: &str) -> Result<ColumnType> {
    let t = sql_type.trim().to_ascii_lowercase();
    let base = t.split('(').next().unwrap_or(&t).trim();
    let args: Vec<i64> = t
        .split_once('(')
        .map(|(_, a)| {
            a.trim_end_matches(')')
                .split(',')
                .filter_map(|x| x.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default();
    Ok(match base {
        "timestamptz" | "timestamp with time zone" => ColumnType::TimestampTz,
        "timestamp" | "timestamp without time zone" => {
            if t.contains("with time zone") && !t.contains("without") {
                ColumnType::TimestampTz
            } else {
                ColumnType::Timestamp
            }
        }
        "date" => ColumnType::Date,
        "double precision" | "float8" | "double" => ColumnType::Float64,
        "float" => match args.first() {
            Some(p) if *p <= 24 => ColumnType::Float32,
            _ => ColumnType::Float64,
        },
        "real" | "float4" => ColumnType::Float32,
        "bigint" | "int8" | "bigserial" | "serial8" => ColumnType::Int64,
        "integer" | "int" | "int4" | "serial" | "serial4" => ColumnType::Int32,
        "smallint" | "int2" | "smallserial" | "serial2" => ColumnType::Int16,
        "boolean" | "bool" => ColumnType::Bool,
        "varchar" | "character varying" => match args.first() {
            None => ColumnType::Varchar(None),
            Some(n) if (1..=10_485_760).contains(n) => ColumnType::Varchar(Some(*n as u32)),
            Some(n) => {
                return Err(SqlError::new(
                    StatusCode::InvalidParameterValue,
                    format!("length for type varchar must be between 1 and 10485760, not {n}"),
                ))
            }
        },
        "text" | "char" | "character" | "bpchar" | "string" | "name" | "uuid" | "json"
        | "jsonb" => ColumnType::Text,
        "bytea" => ColumnType::Bytea,
        "numeric" | "decimal" => {
            let precision = args.first().copied().unwrap_or(38);
            let scale = args
                .get(1)
                .copied()
                .unwrap_or(if args.is_empty() { 9 } else { 0 });
            if !(1..=38).contains(&precision) || scale < 0 || scale > precision {
                return Err(SqlError::new(
                    StatusCode::InvalidParameterValue,
                    format!("NUMERIC precision {precision} must be between 1 and 38, scale between 0 and the precision"),
                ));
            }
            ColumnType::Numeric {
                precision: precision as u8,
                scale: scale as i8,
            }
        }
        _ => {
            return Err(SqlError::new(
                StatusCode::Unsupported,
                format!("type \"{sql_type}\" is not supported for stored columns"),
            )
            .with_sqlstate("0A000"))
        }
    })
}

fn column_def(col: &SqlColumnDef, pk: &[String]) -> Result<ColumnDef> {
    let column_type = column_type(&col.data_type.to_string())?;
    let name = col.name.value.clone();
    let mut nullable = !pk.contains(&name);
    for opt in &col.options {
        match &opt.option {
            ColumnOption::NotNull | ColumnOption::PrimaryKey(_) => nullable = false,
            ColumnOption::Null => nullable = true,
            ColumnOption::Default(_) => {
                return Err(SqlError::unsupported(format!(
                    "DEFAULT values are not supported (column \"{name}\")"
                )))
            }
            _ => {}
        }
    }
    Ok(ColumnDef {
        name,
        column_type,
        nullable,
        role: ColumnRole::Field,
    })
}

fn option_string(value: &Expr) -> Option<String> {
    match value {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Some(s.clone()),
            Value::Number(n, _) => Some(n.clone()),
            Value::Boolean(b) => Some(b.to_string()),
            _ => None,
        },
        Expr::Identifier(i) => Some(i.value.clone()),
        _ => None,
    }
}

/// `CREATE TABLE` -> engine definition.
pub fn table_def(ct: &CreateTable) -> Result<TableDef> {
    let name = object_name(&ct.name)?;
    if ct.query.is_some() {
        return Err(SqlError::unsupported(
            "CREATE TABLE ... AS SELECT is not supported yet",
        ));
    }
    let mut pk: Vec<String> = Vec::new();
    for c in &ct.constraints {
        if let TableConstraint::PrimaryKey(p) = c {
            pk = p
                .columns
                .iter()
                .map(|c| c.column.expr.to_string().trim_matches('"').to_string())
                .collect();
        }
    }
    for col in &ct.columns {
        if col
            .options
            .iter()
            .any(|o| matches!(o.option, ColumnOption::PrimaryKey(_)))
        {
            pk.push(col.name.value.clone());
        }
    }
    let mut columns = ct
        .columns
        .iter()
        .map(|c| column_def(c, &pk))
        .collect::<Result<Vec<_>>>()?;
    let mut options = TableOptions::default();
    let mut time_column: Option<String> = None;
    let mut tags: Option<Vec<String>> = None;
    let with = match &ct.table_options {
        CreateTableOptions::With(opts) => opts.as_slice(),
        CreateTableOptions::None => &[],
        _ => {
            return Err(SqlError::unsupported(
                "only WITH (...) table options are supported",
            ))
        }
    };
    for opt in with {
        let SqlOption::KeyValue { key, value } = opt else {
            return Err(SqlError::syntax(format!("unsupported table option {opt}")));
        };
        let v = option_string(value).ok_or_else(|| {
            SqlError::new(
                StatusCode::InvalidParameterValue,
                format!("invalid value for option {key}"),
            )
        })?;
        match key.value.to_ascii_lowercase().as_str() {
            "time_column" => time_column = Some(v),
            "tags" => {
                tags = Some(
                    v.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect(),
                )
            }
            "partition" => options.partition_micros = interval_micros(&v)?,
            "ttl" => options.ttl_micros = Some(interval_micros(&v)?),
            other => {
                return Err(SqlError::new(
                    StatusCode::InvalidParameterValue,
                    format!("unrecognized parameter \"{other}\""),
                )
                .with_sqlstate("22023"))
            }
        }
    }
    let time_idx = match &time_column {
        Some(t) => columns.iter().position(|c| &c.name == t).ok_or_else(|| {
            SqlError::new(StatusCode::ColumnNotFound, format!("time column \"{t}\" does not exist"))
        })?,
        None => columns
            .iter()
            .position(|c| c.column_type.is_timestamp() && !c.nullable)
            .ok_or_else(|| {
                SqlError::new(
                    StatusCode::InvalidInput,
                    format!(
                        "table \"{name}\" needs a time column: declare a TIMESTAMPTZ (or TIMESTAMP) column NOT NULL, or name one WITH (time_column = '...')"
                    ),
                )
                .with_sqlstate("42P16")
            })?,
    };
    if !columns[time_idx].column_type.is_timestamp() {
        return Err(SqlError::new(
            StatusCode::DatatypeMismatch,
            format!(
                "time column \"{}\" must be of type timestamp or timestamptz",
                columns[time_idx].name
            ),
        ));
    }
    columns[time_idx].nullable = false;
    columns[time_idx].role = ColumnRole::Time;
    if let Some(tags) = &tags {
        for t in tags {
            let c = columns.iter_mut().find(|c| &c.name == t).ok_or_else(|| {
                SqlError::new(
                    StatusCode::ColumnNotFound,
                    format!("tag column \"{t}\" does not exist"),
                )
            })?;
            if c.role == ColumnRole::Time {
                return Err(SqlError::new(
                    StatusCode::InvalidInput,
                    format!("column \"{t}\" cannot be both time and tag"),
                ));
            }
            c.role = ColumnRole::Tag;
        }
    } else {
        for c in columns
            .iter_mut()
            .filter(|c| c.role == ColumnRole::Field && c.column_type.is_text())
        {
            c.role = ColumnRole::Tag;
        }
    }
    if !pk.is_empty() {
        let time_name = columns[time_idx].name.clone();
        if !pk.contains(&time_name) {
            return Err(SqlError::new(
                StatusCode::InvalidInput,
                format!("PRIMARY KEY must include the time column \"{time_name}\""),
            ));
        }
        for k in &pk {
            let c = columns.iter_mut().find(|c| &c.name == k).ok_or_else(|| {
                SqlError::new(
                    StatusCode::ColumnNotFound,
                    format!("column \"{k}\" named in key does not exist"),
                )
            })?;
            if c.role == ColumnRole::Field {
                c.role = ColumnRole::Tag;
            }
        }
        options.primary_key = true;
    }
    Ok(TableDef {
        name,
        columns,
        options,
    })
}

/// ALTER TABLE ... ADD COLUMN definition (always a nullable field or tag).
pub fn added_column(col: &SqlColumnDef) -> Result<ColumnDef> {
    let mut c = column_def(col, &[])?;
    if c.column_type.is_text() {
        c.role = ColumnRole::Tag;
    }
    Ok(c)
}

/// '1 day', '6 hours', '30 days', '15 minutes', '1h' -> microseconds.
pub fn interval_micros(v: &str) -> Result<i64> {
    let bad = || {
        SqlError::new(
            StatusCode::InvalidParameterValue,
            format!("invalid interval \"{v}\""),
        )
    };
    let s = v.trim().to_ascii_lowercase();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: i64 = num.trim().parse().map_err(|_| bad())?;
    let unit_micros: i64 = match unit.trim().trim_end_matches('s') {
        "second" | "sec" | "" => 1_000_000,
        "minute" | "min" | "m" => 60_000_000,
        "hour" | "h" => 3_600_000_000,
        "day" | "d" => 86_400_000_000,
        "week" | "w" => 7 * 86_400_000_000,
        _ => return Err(bad()),
    };
    n.checked_mul(unit_micros)
        .filter(|m| *m > 0)
        .ok_or_else(bad)
}
