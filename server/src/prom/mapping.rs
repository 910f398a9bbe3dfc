//! Prometheus series <-> LynxStore tables.
//!
//! One table per metric name: `time TIMESTAMPTZ NOT NULL` (the sample's
//! millisecond timestamp, stored as microseconds), `value DOUBLE PRECISION`
//! (bit-exact, staleness NaNs included) and one nullable TEXT tag column per
//! label, created as a primary-key table so a resent sample replaces itself.
//! A label that first appears on an existing metric adds a column; rows
//! written before read it as NULL, which is what Prometheus means by an
//! absent label (an empty label value is stored as NULL too).
//!
//! Label names that would collide with the fixed columns are escaped with a
//! `label_` prefix, and so is every label name that already starts with
//! `label_`: `time` -> `label_time`, `value` -> `label_value`,
//! `label_x` -> `label_label_x`. The mapping is one-to-one, so no label can
//! overwrite another column and remote read maps columns back exactly.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringBuilder, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::error::ArrowError;

use lynx_storage::schema::UTC;
use lynx_storage::{ColumnDef, ColumnRole, ColumnType, TableDef, TableOptions};

use super::decode::ParsedWrite;

pub const TIME_COLUMN: &str = "time";
pub const VALUE_COLUMN: &str = "value";
const ESCAPE: &str = "label_";

/// The tag column that stores label `name`.
pub fn column_for_label(name: &str) -> Cow<'_, str> {
    if name == TIME_COLUMN || name == VALUE_COLUMN || name.starts_with(ESCAPE) {
        Cow::Owned(format!("{ESCAPE}{name}"))
    } else {
        Cow::Borrowed(name)
    }
}

/// The label stored in tag column `column` (inverse of [`column_for_label`]).
pub fn label_for_column(column: &str) -> &str {
    column.strip_prefix(ESCAPE).unwrap_or(column)
}

/// The rows of one request for one metric table.
#[derive(Debug)]
pub struct TableBatch {
    pub table: String,
    /// Tag column names, in the batch's column order (after time, value).
    pub label_columns: Vec<String>,
    pub batch: RecordBatch,
}

/// Builds one Arrow batch per metric, column by column; `skip_label` (the
/// HA replica label) is left out.
///
/// Hot path (every remote-write request): no allocation per sample; the
/// label strings are copied once into each column's value buffer.
pub fn build_batches(
    parsed: &ParsedWrite<'_>,
    skip_label: Option<&str>,
) -> Result<Vec<TableBatch>, ArrowError> {
    // Series of one metric mostly arrive one after the other: the previous
    // series' group is tried before the map.
    let mut groups: Vec<(&str, Vec<usize>)> = Vec::new();
    let mut index: hashbrown::HashMap<&str, usize> = hashbrown::HashMap::new();
    let mut last: Option<(&str, usize)> = None;
    for (i, s) in parsed.series.iter().enumerate() {
        if parsed.samples(s).is_empty() {
            continue;
        }
        let g = match last {
            Some((metric, g)) if metric == s.metric => g,
            _ => *index.entry(s.metric).or_insert_with(|| {
                groups.push((s.metric, Vec::new()));
                groups.len() - 1
            }),
        };
        last = Some((s.metric, g));
        groups[g].1.push(i);
    }
    let mut out = Vec::with_capacity(groups.len());
    let mut names: Vec<&str> = Vec::new();
    for (metric, members) in &groups {
        // The union of the members' label names, sorted. Members mostly
        // share one set of names: a member whose names equal the previous
        // one's adds nothing.
        names.clear();
        let mut rows = 0;
        let mut previous: &[(&str, &str)] = &[];
        let mut mixed = false;
        for &i in members {
            let s = &parsed.series[i];
            rows += parsed.samples(s).len();
            let labels = parsed.labels(s);
            if same_names(labels, previous) {
                continue;
            }
            mixed |= !previous.is_empty();
            previous = labels;
            names.extend(
                labels
                    .iter()
                    .map(|(n, _)| *n)
                    .filter(|n| Some(*n) != skip_label),
            );
        }
        if mixed {
            names.sort_unstable();
            names.dedup();
        }
        let mut time = Vec::with_capacity(rows);
        let mut value = Vec::with_capacity(rows);
        let mut tags: Vec<StringBuilder> = names
            .iter()
            .map(|_| StringBuilder::with_capacity(rows, rows * 8))
            .collect();
        for &i in members {
            let s = &parsed.series[i];
            // The validator keeps timestamps inside +-i64::MAX/1000 ms.
            let samples = parsed.samples(s);
            time.extend(samples.iter().map(|x| x.timestamp * 1000));
            value.extend(samples.iter().map(|x| x.value));
            let n = samples.len();
            let labels = parsed.labels(s);
            if skip_label.is_none() && same_names_as(labels, &names) {
                for (c, (_, v)) in labels.iter().enumerate() {
                    for _ in 0..n {
                        tags[c].append_value(v);
                    }
                }
                continue;
            }
            let mut j = 0;
            for (c, name) in names.iter().enumerate() {
                while labels.get(j).is_some_and(|(l, _)| l < name) {
                    j += 1; // a skipped label
                }
                match labels.get(j) {
                    Some((l, v)) if l == name => {
                        for _ in 0..n {
                            tags[c].append_value(v);
                        }
                        j += 1;
                    }
                    _ => tags[c].append_nulls(n),
                }
            }
        }
        let label_columns: Vec<String> = names
            .iter()
            .map(|n| column_for_label(n).into_owned())
            .collect();
        let mut fields = vec![
            Field::new(TIME_COLUMN, ColumnType::TimestampTz.to_arrow(), false),
            Field::new(VALUE_COLUMN, DataType::Float64, true),
        ];
        fields.extend(
            label_columns
                .iter()
                .map(|c| Field::new(c, DataType::Utf8, true)),
        );
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(TimestampMicrosecondArray::from(time).with_timezone(UTC)),
            Arc::new(Float64Array::from(value)),
        ];
        columns.extend(tags.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        out.push(TableBatch {
            table: metric.to_string(),
            label_columns,
            batch: RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?,
        });
    }
    Ok(out)
}

/// Whether two label lists have the same names (values may differ).
fn same_names(a: &[(&str, &str)], b: &[(&str, &str)]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.0 == y.0)
}

/// Whether the names of `labels` are exactly `names`.
fn same_names_as(labels: &[(&str, &str)], names: &[&str]) -> bool {
    labels.len() == names.len() && labels.iter().zip(names).all(|(l, n)| l.0 == *n)
}

/// The definition of a new metric table with these tag columns.
pub fn metric_table(name: &str, label_columns: &[String]) -> TableDef {
    let mut columns = vec![
        ColumnDef {
            name: TIME_COLUMN.into(),
            column_type: ColumnType::TimestampTz,
            nullable: false,
            role: ColumnRole::Time,
        },
        ColumnDef {
            name: VALUE_COLUMN.into(),
            column_type: ColumnType::Float64,
            nullable: true,
            role: ColumnRole::Field,
        },
    ];
    columns.extend(label_columns.iter().map(|c| tag_column(c)));
    TableDef {
        name: name.to_string(),
        columns,
        options: TableOptions {
            primary_key: true,
            ..TableOptions::default()
        },
    }
}

pub fn tag_column(name: &str) -> ColumnDef {
    ColumnDef {
        name: name.to_string(),
        column_type: ColumnType::Text,
        nullable: true,
        role: ColumnRole::Tag,
    }
}

/// Why an existing table cannot hold samples of a metric, if it cannot.
pub fn incompatibility(def: &TableDef, label_columns: &[String]) -> Option<String> {
    let why = match def.column(TIME_COLUMN) {
        Some(c) if c.role == ColumnRole::Time && c.column_type == ColumnType::TimestampTz => None,
        _ => Some("its time column is not \"time\" TIMESTAMPTZ".to_string()),
    }
    .or_else(|| match def.column(VALUE_COLUMN) {
        Some(c) if c.column_type == ColumnType::Float64 => None,
        _ => Some("it has no DOUBLE PRECISION column \"value\"".to_string()),
    })
    .or_else(|| {
        label_columns.iter().find_map(|l| match def.column(l) {
            Some(c) if !c.column_type.is_text() => Some(format!("its column \"{l}\" is not TEXT")),
            _ => None,
        })
    })
    .or_else(|| {
        def.columns
            .iter()
            .find(|c| !c.nullable && c.name != TIME_COLUMN)
            .map(|c| format!("its column \"{}\" is NOT NULL", c.name))
    })?;
    Some(format!(
        "table \"{}\" exists but cannot store Prometheus samples: {why}",
        def.name
    ))
}

/// Whether a table has the shape of a metric table (for remote read).
pub fn is_metric_table(def: &TableDef) -> bool {
    incompatibility(def, &[]).is_none()
}

#[cfg(test)]
#[path = "mapping_tests.rs"]
mod tests;
