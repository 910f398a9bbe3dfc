//! Bringing incoming record batches to a table's schema.
//!
//! Columns are matched by name; missing nullable columns become NULL, values
//! are cast to the column type, NOT NULL columns are checked. The result has
//! exactly the table's Arrow schema, so the memtable never holds a batch of
//! another shape.

use std::sync::Arc;

use arrow::array::{
    new_null_array, Array, ArrayRef, AsArray, RecordBatch, RecordBatchOptions, StringArray,
};
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::error::{Result, StorageError};
use crate::schema::{ColumnRole, ColumnType, TableDef};

/// Validates and converts a batch written by a client.
pub fn conform_write(def: &TableDef, batch: &RecordBatch) -> Result<RecordBatch> {
    conform_write_to(def, batch, &def.arrow_schema())
}

/// [`conform_write`] for a bulk load: a text tag column that arrives as a
/// dictionary of strings (a Parquet column read with its dictionary) stays
/// one, so that rows are grouped into series by integer keys and no string
/// is copied before the rows are sorted. Columns with a length limit
/// (`varchar(n)`) are cast as usual, so that the limit is checked.
pub fn conform_bulk(def: &TableDef, batch: &RecordBatch) -> Result<RecordBatch> {
    let schema = def.arrow_schema();
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let keep = keeps_dictionary(def, i);
            match batch.column_by_name(f.name()).map(|c| c.data_type()) {
                Some(ty @ DataType::Dictionary(_, v)) if keep && v.as_ref() == &DataType::Utf8 => {
                    f.as_ref().clone().with_data_type(ty.clone())
                }
                _ => f.as_ref().clone(),
            }
        })
        .collect();
    let target = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    conform_write_to(def, batch, &target)
}

/// Whether column `i` of `def` stays a dictionary of strings in a bulk
/// load ([`conform_bulk`]): a text tag without a length limit.
fn keeps_dictionary(def: &TableDef, i: usize) -> bool {
    def.columns.get(i).is_some_and(|c| {
        c.role == ColumnRole::Tag
            && c.column_type.to_arrow() == DataType::Utf8
            && !matches!(c.column_type, ColumnType::Varchar(Some(_)))
    })
}

/// [`conform_write`] to `schema`: the table's, or the table's with some
/// string columns as dictionaries.
fn conform_write_to(
    def: &TableDef,
    batch: &RecordBatch,
    schema: &SchemaRef,
) -> Result<RecordBatch> {
    for field in batch.schema().fields() {
        if def.column(field.name()).is_none() {
            return Err(StorageError::ColumnNotFound {
                table: def.name.clone(),
                column: field.name().clone(),
            });
        }
    }
    for col in def.columns.iter().filter(|c| !c.nullable) {
        let has_null = batch
            .column_by_name(&col.name)
            .is_none_or(|a| a.logical_null_count() > 0 || a.data_type().is_null());
        if has_null && batch.num_rows() > 0 {
            return Err(StorageError::NotNull {
                table: def.name.clone(),
                column: col.name.clone(),
            });
        }
    }
    let batch = conform_to(schema, batch, true).map_err(|e| match e {
        StorageError::Arrow(err) => StorageError::InvalidData {
            table: def.name.clone(),
            message: err.to_string(),
        },
        other => other,
    })?;
    enforce_lengths(def, batch)
}

/// `varchar(n)`: a value longer than `n` characters is an error, unless
/// only spaces are over the limit; those are cut (PostgreSQL's rule).
fn enforce_lengths(def: &TableDef, batch: RecordBatch) -> Result<RecordBatch> {
    let mut columns = batch.columns().to_vec();
    let mut changed = false;
    for (i, c) in def.columns.iter().enumerate() {
        let ColumnType::Varchar(Some(n)) = c.column_type else {
            continue;
        };
        let n = n as usize;
        let strings = columns[i].as_string::<i32>();
        let too_long = |v: &str| v.len() > n && v.chars().count() > n;
        if !strings.iter().flatten().any(too_long) {
            continue;
        }
        let mut cut = Vec::with_capacity(strings.len());
        for v in strings.iter() {
            cut.push(match v {
                Some(v) if too_long(v) => {
                    if too_long(v.trim_end_matches(' ')) {
                        return Err(StorageError::ValueTooLong {
                            type_name: format!("character varying({n})"),
                        });
                    }
                    Some(v.char_indices().nth(n).map_or(v, |(end, _)| &v[..end]))
                }
                other => other,
            });
        }
        columns[i] = Arc::new(StringArray::from(cut));
        changed = true;
    }
    if !changed {
        return Ok(batch);
    }
    Ok(RecordBatch::try_new(batch.schema(), columns)?)
}

/// Reshapes `batch` to `schema` by column name, filling absent columns with
/// NULL. `strict_cast` makes lossy casts errors (client writes); replayed
/// data was already checked and is cast leniently.
pub fn conform_to(
    schema: &SchemaRef,
    batch: &RecordBatch,
    strict_cast: bool,
) -> Result<RecordBatch> {
    if batch.schema() == *schema {
        return Ok(batch.clone());
    }
    let options = CastOptions {
        safe: !strict_cast,
        ..Default::default()
    };
    let rows = batch.num_rows();
    let columns = schema
        .fields()
        .iter()
        .map(|field| match batch.column_by_name(field.name()) {
            Some(array) if array.data_type() == field.data_type() => Ok(array.clone()),
            Some(array) => Ok(cast_with_options(array, field.data_type(), &options)?),
            None => Ok(new_null_array(field.data_type(), rows)),
        })
        .collect::<Result<Vec<ArrayRef>>>()?;
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )?)
}
