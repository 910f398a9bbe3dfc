//! Row selection by time range on the time column.

use arrow::array::{Array, ArrayRef, BooleanArray, Int64Array};
use arrow::compute::cast;
use arrow::datatypes::DataType;

use crate::error::Result;

/// `true` for rows whose time is outside `[lo, hi)` (microseconds).
pub fn outside_range(time: &ArrayRef, lo: i64, hi: i64) -> Result<BooleanArray> {
    let micros = cast(time, &DataType::Int64)?;
    let micros = micros
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or_else(|| crate::StorageError::Internal("time column is not i64".into()))?;
    Ok(micros
        .iter()
        .map(|v| Some(v.is_none_or(|t| t < lo || t >= hi)))
        .collect())
}
