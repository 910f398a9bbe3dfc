//! Reading one value out of an Arrow array by row, whatever its layout.
//!
//! Owns dictionary resolution and the integer accessor shared by the text
//! and binary encoders. Row numbers are checked against the array length
//! here so that encoders never index out of bounds.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{
    DataType, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type,
    UInt8Type,
};

use crate::error::PgTypeError;

/// Follows dictionaries down to the array and row that hold the value.
/// `None` when the value is NULL.
pub(crate) fn resolve(
    array: &dyn Array,
    row: usize,
) -> Result<Option<(&dyn Array, usize)>, PgTypeError> {
    if row >= array.len() {
        return Err(PgTypeError::internal(format!(
            "row {row} out of bounds for an array of {} rows",
            array.len()
        )));
    }
    if array.data_type() == &DataType::Null || array.is_null(row) {
        return Ok(None);
    }
    if let Some(dict) = array.as_any_dictionary_opt() {
        let key = int_value(dict.keys(), row)
            .and_then(|k| usize::try_from(k).ok())
            .ok_or_else(|| PgTypeError::internal("dictionary key is not a valid index"))?;
        return resolve(dict.values().as_ref(), key);
    }
    Ok(Some((array, row)))
}

/// The value of an integer array at `row` (no null check).
pub(crate) fn int_value(array: &dyn Array, row: usize) -> Option<i128> {
    if row >= array.len() {
        return None;
    }
    Some(match array.data_type() {
        DataType::Int8 => i128::from(array.as_primitive_opt::<Int8Type>()?.value(row)),
        DataType::Int16 => i128::from(array.as_primitive_opt::<Int16Type>()?.value(row)),
        DataType::Int32 => i128::from(array.as_primitive_opt::<Int32Type>()?.value(row)),
        DataType::Int64 => i128::from(array.as_primitive_opt::<Int64Type>()?.value(row)),
        DataType::UInt8 => i128::from(array.as_primitive_opt::<UInt8Type>()?.value(row)),
        DataType::UInt16 => i128::from(array.as_primitive_opt::<UInt16Type>()?.value(row)),
        DataType::UInt32 => i128::from(array.as_primitive_opt::<UInt32Type>()?.value(row)),
        DataType::UInt64 => i128::from(array.as_primitive_opt::<UInt64Type>()?.value(row)),
        _ => return None,
    })
}

/// An internal error for an array whose layout does not match its type.
pub(crate) fn layout_error(dt: &DataType) -> PgTypeError {
    PgTypeError::internal(format!("array layout does not match its type {dt}"))
}
