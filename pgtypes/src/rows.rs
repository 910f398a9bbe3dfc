//! DataRows: a RecordBatch encoded for the wire.
//!
//! Owns the DataRow body layout (per column a length word, -1 for NULL,
//! then the value in the column's text or binary format).
//! Hot path: one growing buffer per batch, split into rows without copying;
//! values are written in place, with no allocation per value.

use std::sync::Arc;

use arrow::array::RecordBatch;
use bytes::{BufMut, BytesMut};
use pgwire::api::results::{FieldFormat, FieldInfo};
use pgwire::api::Type;
use pgwire::messages::data::DataRow;

use crate::binary::write_binary;
use crate::error::PgTypeError;
use crate::fast_text::FastText;
use crate::settings::PgFormatSettings;
use crate::text_out::write_text_as;

/// Encodes every row of `batch` as a DataRow, each column in the format and
/// PostgreSQL type of its FieldInfo (see [`crate::field_infos`]).
pub fn encode_batch(
    batch: &RecordBatch,
    fields: &Arc<Vec<FieldInfo>>,
    settings: &PgFormatSettings,
) -> Result<Vec<DataRow>, PgTypeError> {
    let columns = batch.columns();
    if columns.len() != fields.len() {
        return Err(PgTypeError::internal(format!(
            "batch has {} columns but the row description has {}",
            columns.len(),
            fields.len()
        )));
    }
    let field_count = i16::try_from(columns.len())
        .map_err(|_| PgTypeError::internal("more than 32767 columns"))?;
    let rows = batch.num_rows();
    let mut buf = BytesMut::with_capacity(rows * columns.len() * 12 + 64);
    let mut out = Vec::with_capacity(rows);
    // Common text columns are downcast once per batch (see `fast_text`).
    let fast: Vec<Option<FastText>> = columns
        .iter()
        .zip(fields.iter())
        .map(|(column, field)| match field.format() {
            FieldFormat::Text
                if *field.datatype() != Type::INT2_VECTOR
                    && *field.datatype() != Type::OID_VECTOR =>
            {
                FastText::new(column.as_ref(), settings)
            }
            _ => None,
        })
        .collect();
    for row in 0..rows {
        for ((column, field), fast) in columns.iter().zip(fields.iter()).zip(&fast) {
            let pos = buf.len();
            buf.put_i32(-1);
            let is_null = match (fast, field.format()) {
                (Some(fast), _) => fast.write(row, settings, &mut buf)?,
                (None, FieldFormat::Text) => {
                    write_text_as(column.as_ref(), row, field.datatype(), settings, &mut buf)?
                }
                (None, FieldFormat::Binary) => {
                    write_binary(column.as_ref(), row, field.datatype(), &mut buf)?
                }
            };
            if !is_null {
                let len = i32::try_from(buf.len() - pos - 4)
                    .map_err(|_| PgTypeError::internal("value longer than 2 GiB"))?;
                if let Some(slot) = buf.get_mut(pos..pos + 4) {
                    slot.copy_from_slice(&len.to_be_bytes());
                }
            }
        }
        out.push(DataRow::new(buf.split(), field_count));
    }
    Ok(out)
}
