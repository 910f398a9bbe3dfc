//! `date_bin(stride, timestamp, origin)` without a division per row.
//!
//! `time_bucket` is rewritten to `date_bin` (sql/src/rewrite.rs), so every
//! bucketed TSBS-style query bins millions of timestamps. DataFusion's
//! `date_bin` scales each value to nanoseconds, calls the binning function
//! through a pointer and divides twice per row. [`FastDateBin`] replaces it
//! under the same name and keeps its exact results: for the common call (a
//! fixed stride, a constant origin, an array of timestamps) it computes one
//! row's bin exactly, with DataFusion's rules, and reuses that bin for the
//! following rows as long as they fall inside it. Time-series data arrives
//! sorted by time per series, so almost every row is two comparisons.
//! Every other call (months strides, scalar inputs, TIME values) goes to
//! DataFusion's implementation unchanged.
//!
//! Hot path (every bucketed query): no allocation per row.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray};
use arrow::buffer::{BooleanBuffer, NullBuffer};
use arrow::datatypes::{
    ArrowTimestampType, DataType, Field, FieldRef, IntervalMonthDayNanoType, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::sort_properties::{ExprProperties, SortProperties};
use datafusion::logical_expr::type_coercion::functions::fields_with_udf;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

const NANOS_PER_DAY: i64 = 86_400_000_000_000;

/// `date_bin` with a fast path for arrays of timestamps; see the module docs.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FastDateBin {
    inner: ScalarUDF,
    signature: Signature,
}

impl FastDateBin {
    /// Wraps DataFusion's `date_bin`, which answers every call the fast path
    /// does not take.
    pub fn new(inner: ScalarUDF) -> Self {
        FastDateBin {
            inner,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for FastDateBin {
    fn name(&self) -> &str {
        "date_bin"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// DataFusion's coercions, except that a timestamp source keeps its
    /// unit: its signature list starts with nanoseconds, so a microsecond
    /// column (every LynxStore timestamp) was cast to nanoseconds, row by
    /// row, before binning, and the bucket came out in nanoseconds.
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let fields: Vec<FieldRef> = arg_types
            .iter()
            .map(|t| Arc::new(Field::new("arg", t.clone(), true)))
            .collect();
        let mut coerced: Vec<DataType> = fields_with_udf(&fields, &self.inner)?
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        if let (Some(source @ DataType::Timestamp(..)), Some(to @ DataType::Timestamp(..))) =
            (arg_types.get(1), coerced.get_mut(1))
        {
            *to = source.clone();
        }
        Ok(coerced)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if let Some(out) = fast_path(&args.args) {
            return Ok(ColumnarValue::Array(out));
        }
        self.inner.invoke_with_args(args)
    }

    fn output_ordering(&self, input: &[ExprProperties]) -> Result<SortProperties> {
        self.inner.output_ordering(input)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
}

/// The binned array when the call is `date_bin(constant fixed stride,
/// timestamp array, constant origin)`, `None` for DataFusion to answer.
fn fast_path(args: &[ColumnarValue]) -> Option<ArrayRef> {
    let [ColumnarValue::Scalar(stride), ColumnarValue::Array(values), ColumnarValue::Scalar(ScalarValue::TimestampNanosecond(Some(origin), _))] =
        args
    else {
        return None;
    };
    let stride = match stride {
        ScalarValue::IntervalMonthDayNano(Some(v)) => {
            let (months, days, nanos) = IntervalMonthDayNanoType::to_parts(*v);
            if months != 0 {
                return None;
            }
            i64::from(days)
                .checked_mul(NANOS_PER_DAY)?
                .checked_add(nanos)?
        }
        ScalarValue::IntervalDayTime(Some(v)) => i64::from(v.days)
            .checked_mul(NANOS_PER_DAY)?
            .checked_add(i64::from(v.milliseconds).checked_mul(1_000_000)?)?,
        _ => return None,
    };
    if stride <= 0 {
        return None; // DataFusion's errors and its rules for negative strides
    }
    let bin = Bin {
        stride,
        origin: *origin,
    };
    Some(match values.data_type() {
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            bin_array::<TimestampNanosecondType>(values, bin)
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            bin_array::<TimestampMicrosecondType>(values, bin)
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            bin_array::<TimestampMillisecondType>(values, bin)
        }
        DataType::Timestamp(TimeUnit::Second, _) => bin_array::<TimestampSecondType>(values, bin),
        _ => return None,
    })
}

/// A positive stride and an origin, both in nanoseconds.
#[derive(Debug, Clone, Copy)]
struct Bin {
    stride: i64,
    origin: i64,
}

impl Bin {
    /// DataFusion's result for one value of a unit with `scale` nanoseconds:
    /// the value scaled to nanoseconds, binned with truncating remainder and
    /// one step down for values before the origin, scaled back by truncating
    /// division; `None` (NULL) where any step overflows i64.
    fn exact(self, value: i64, scale: i64) -> Option<i64> {
        let diff = value.checked_mul(scale)?.checked_sub(self.origin)?;
        let mut delta = diff.checked_sub(diff.checked_rem(self.stride)?)?;
        if diff < 0 && self.stride > 1 && delta != diff {
            delta = delta.checked_sub(self.stride)?;
        }
        Some(self.origin.checked_add(delta)? / scale)
    }
}

fn scale_of<T: ArrowTimestampType>() -> i64 {
    match T::UNIT {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    }
}

/// Bins every value of `values` (a `T` array), reusing the last bin while
/// values stay inside it.
///
/// `exact` is monotonic (non-decreasing) in the value, so when both ends
/// of a range of values bin to the same result, every value between them
/// does too: a range is cached only after checking its two ends, which
/// keeps the results identical to DataFusion's even where scaling
/// overflows or the origin is not a whole number of units.
fn bin_array<T: ArrowTimestampType>(values: &ArrayRef, bin: Bin) -> ArrayRef {
    let array = values.as_primitive::<T>();
    let scale = scale_of::<T>();
    let unit_stride = (bin.stride % scale == 0).then_some(bin.stride / scale);
    let mut out = Vec::with_capacity(array.len());
    let mut failed: Vec<usize> = Vec::new();
    // Values in `start..end` bin to `cached`; empty at first.
    let (mut start, mut end, mut cached) = (0i64, 0i64, 0i64);
    for (i, &v) in array.values().iter().enumerate() {
        if v >= start && v < end {
            out.push(cached);
            continue;
        }
        let Some(b) = bin.exact(v, scale) else {
            out.push(0);
            failed.push(i);
            continue;
        };
        out.push(b);
        let same = |x: i64| bin.exact(x, scale) == Some(b);
        let first = if b <= v && same(b) { b } else { v };
        let last = unit_stride
            .and_then(|s| b.checked_add(s - 1))
            .filter(|&l| l >= v && same(l))
            .unwrap_or(v);
        (start, end, cached) = (first, last.saturating_add(1), b);
    }
    let nulls = if failed.is_empty() {
        array.nulls().cloned()
    } else {
        let mut valid = vec![true; array.len()];
        for i in failed {
            valid[i] = false;
        }
        NullBuffer::union(
            array.nulls(),
            Some(&NullBuffer::new(BooleanBuffer::from(valid))),
        )
    };
    Arc::new(PrimitiveArray::<T>::new(out.into(), nulls).with_data_type(array.data_type().clone()))
}

#[cfg(test)]
#[path = "date_bin/tests.rs"]
mod tests;
