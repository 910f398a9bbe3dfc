//! Time-series aggregate functions, as TimescaleDB and Prometheus users
//! expect them:
//!
//! - `first(value, time)` / `last(value, time)`: the value at the earliest /
//!   latest time in the group (TimescaleDB; NULL values count, NULL times
//!   are skipped; ties keep the first row seen for `first`, the last for
//!   `last`).
//! - `delta(value, time)`: last - first value (a gauge's change).
//! - `increase(value, time)`: a counter's growth with resets handled as
//!   Prometheus does: whenever a sample is below its predecessor the counter
//!   restarted, so the predecessor's value is added back.
//! - `rate(value, time)`: `increase` per second between the first and the
//!   last sample.
//!
//! Unlike PromQL's `rate()`/`increase()`, the results are not extrapolated
//! to the edges of a range window: a group's answer depends only on its
//! samples. Fewer than two samples give NULL for `delta`, `increase` and
//! `rate`.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, ListArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, FieldRef, Float64Type, Int64Type, TimeUnit};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::execution::context::SessionContext;
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ScalarUDF, Signature, Volatility,
};

use crate::FastDateBin;

/// Registers every function of this module, and [`FastDateBin`] in place
/// of DataFusion's `date_bin`.
pub fn register(ctx: &SessionContext) {
    if let Ok(inner) = ctx.udf("date_bin") {
        let inner = inner.as_ref().clone();
        ctx.register_udf(ScalarUDF::new_from_impl(FastDateBin::new(inner)));
    }
    for pick in [Pick::First, Pick::Last] {
        ctx.register_udaf(AggregateUDF::from(PickUdaf::new(pick)));
    }
    for kind in [Counter::Delta, Counter::Increase, Counter::Rate] {
        ctx.register_udaf(AggregateUDF::from(CounterUdaf::new(kind)));
    }
}

/// A time argument as i64 microseconds.
fn micros(array: &ArrayRef) -> Result<ArrayRef> {
    let us = match array.data_type() {
        DataType::Timestamp(_, tz) => cast(
            array,
            &DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
        )?,
        DataType::Int64 => return Ok(array.clone()),
        other => return exec_err!("the time argument must be a timestamp, not {other}"),
    };
    Ok(cast(&us, &DataType::Int64)?)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Pick {
    First,
    Last,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct PickUdaf {
    pick: Pick,
    signature: Signature,
}

impl PickUdaf {
    fn new(pick: Pick) -> PickUdaf {
        PickUdaf {
            pick,
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for PickUdaf {
    fn name(&self) -> &str {
        match self.pick {
            Pick::First => "first",
            Pick::Last => "last",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(PickAcc {
            pick: self.pick,
            best: None,
            value: ScalarValue::try_from(args.return_field.data_type())?,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(
                "value",
                args.return_field.data_type().clone(),
                true,
            )),
            Arc::new(Field::new("time", DataType::Int64, true)),
        ])
    }
}

#[derive(Debug)]
struct PickAcc {
    pick: Pick,
    best: Option<i64>,
    value: ScalarValue,
}

impl PickAcc {
    fn offer(&mut self, values: &ArrayRef, times: &ArrayRef) -> Result<()> {
        let times = micros(times)?;
        let times = times.as_primitive::<Int64Type>();
        let mut chosen: Option<(usize, i64)> = None;
        for (i, t) in times.iter().enumerate() {
            let Some(t) = t else { continue };
            let better = match (chosen.map(|c| c.1).or(self.best), self.pick) {
                (None, _) => true,
                (Some(b), Pick::First) => t < b,
                (Some(b), Pick::Last) => t >= b,
            };
            if better {
                chosen = Some((i, t));
            }
        }
        if let Some((i, t)) = chosen {
            self.best = Some(t);
            self.value = ScalarValue::try_from_array(values, i)?;
        }
        Ok(())
    }
}

impl Accumulator for PickAcc {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.offer(&values[0], &values[1])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.offer(&states[0], &states[1])
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.value.clone(), ScalarValue::Int64(self.best)])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(self.value.clone())
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.value.size()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Counter {
    Delta,
    Increase,
    Rate,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct CounterUdaf {
    kind: Counter,
    signature: Signature,
}

impl CounterUdaf {
    fn new(kind: Counter) -> CounterUdaf {
        CounterUdaf {
            kind,
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for CounterUdaf {
    fn name(&self) -> &str {
        match self.kind {
            Counter::Delta => "delta",
            Counter::Increase => "increase",
            Counter::Rate => "rate",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(CounterAcc {
            kind: self.kind,
            points: Vec::new(),
        }))
    }

    fn state_fields(&self, _args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = |name: &str, dt: DataType| {
            Arc::new(Field::new(
                name,
                DataType::List(Arc::new(Field::new_list_field(dt, false))),
                true,
            ))
        };
        Ok(vec![
            list("times", DataType::Int64),
            list("values", DataType::Float64),
        ])
    }
}

#[derive(Debug)]
struct CounterAcc {
    kind: Counter,
    /// (time in µs, value) of every non-NULL sample.
    points: Vec<(i64, f64)>,
}

impl CounterAcc {
    fn add(&mut self, times: &Int64Array, values: &Float64Array) {
        for i in 0..times.len() {
            if times.is_valid(i) && values.is_valid(i) {
                self.points.push((times.value(i), values.value(i)));
            }
        }
    }
}

impl Accumulator for CounterAcc {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let v = cast(&values[0], &DataType::Float64)?;
        let t = micros(&values[1])?;
        self.add(
            t.as_primitive::<Int64Type>(),
            v.as_primitive::<Float64Type>(),
        );
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let times: &ListArray = states[0].as_list::<i32>();
        let values: &ListArray = states[1].as_list::<i32>();
        for i in 0..times.len() {
            if times.is_null(i) || values.is_null(i) {
                continue;
            }
            let t = times.value(i);
            let v = values.value(i);
            self.add(
                t.as_primitive::<Int64Type>(),
                v.as_primitive::<Float64Type>(),
            );
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let times: Vec<ScalarValue> = self
            .points
            .iter()
            .map(|p| ScalarValue::Int64(Some(p.0)))
            .collect();
        let values: Vec<ScalarValue> = self
            .points
            .iter()
            .map(|p| ScalarValue::Float64(Some(p.1)))
            .collect();
        Ok(vec![
            ScalarValue::List(ScalarValue::new_list(&times, &DataType::Int64, false)),
            ScalarValue::List(ScalarValue::new_list(&values, &DataType::Float64, false)),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.points.len() < 2 {
            return Ok(ScalarValue::Float64(None));
        }
        // Stable: samples with equal times keep their arrival order.
        self.points.sort_by_key(|p| p.0);
        let first = self.points[0];
        let last = self.points[self.points.len() - 1];
        let result = match self.kind {
            Counter::Delta => last.1 - first.1,
            Counter::Increase | Counter::Rate => {
                let mut resets = 0.0;
                for w in self.points.windows(2) {
                    if w[1].1 < w[0].1 {
                        resets += w[0].1;
                    }
                }
                let increase = last.1 - first.1 + resets;
                if self.kind == Counter::Increase {
                    increase
                } else {
                    let seconds = (last.0 - first.0) as f64 / 1e6;
                    if seconds <= 0.0 {
                        return Ok(ScalarValue::Float64(None));
                    }
                    increase / seconds
                }
            }
        };
        Ok(ScalarValue::Float64(Some(result)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.points.capacity() * 16
    }
}
