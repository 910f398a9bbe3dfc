//! Partial aggregation by runs of equal group keys, for GROUP BY tags and
//! time buckets over LynxStore scans.
//!
//! Owns [`RunAggregateExec`] and the physical optimizer rule
//! [`RunAggregation`] that puts it in place of DataFusion's Partial
//! `AggregateExec`. Segment rows are sorted by (series, time), so when the
//! group keys are tags and time buckets, equal keys arrive as long runs.
//! Each batch is cut into runs of equal consecutive keys (arrow's
//! `partition` kernel, no hashing); every run is one group of DataFusion's
//! own `GroupsAccumulator`s (group index = run number), and one partial
//! state row per run goes to the unchanged final aggregation, which merges
//! the runs of equal keys.
//!
//! Invariant: the output is what the Partial `AggregateExec` would emit,
//! except that one group may be split over several rows, which the final
//! phase merges. Results therefore never depend on input order (unsorted
//! input only yields more rows), and the rule only picks aggregates whose
//! partial state DataFusion itself defines (no DISTINCT, no ORDER BY
//! inside the aggregate, no FILTER, no grouping sets).

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use std::ops::Range;

use arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, UInt32Array, UInt64Array,
};
use arrow::buffer::{BooleanBuffer, NullBuffer};
use arrow::compute::{partition, take};
use arrow::datatypes::{DataType, Float64Type, SchemaRef};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::Result;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{ColumnarValue, EmitTo, GroupsAccumulator};
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_expr::utils::collect_columns;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, SendableRecordBatchStream,
};
use futures::StreamExt;

use crate::kernels::Kernels;
use crate::scan::LynxScanExec;

type GroupExpr = (Arc<dyn PhysicalExpr>, String);

/// The first phase of a GROUP BY, one partial row per run of equal keys.
#[derive(Debug)]
pub struct RunAggregateExec {
    input: Arc<dyn ExecutionPlan>,
    group_by: Vec<GroupExpr>,
    aggr: Vec<Arc<AggregateFunctionExpr>>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl RunAggregateExec {
    /// Takes the place of `agg` (a Partial aggregate the rule found eligible),
    /// with the same input and output schema.
    fn new(agg: &AggregateExec, input: Arc<dyn ExecutionPlan>) -> RunAggregateExec {
        RunAggregateExec::with_parts(
            input,
            agg.group_expr().expr().to_vec(),
            agg.aggr_expr().to_vec(),
            agg.schema(),
        )
    }

    fn with_parts(
        input: Arc<dyn ExecutionPlan>,
        group_by: Vec<GroupExpr>,
        aggr: Vec<Arc<AggregateFunctionExpr>>,
        schema: SchemaRef,
    ) -> RunAggregateExec {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            input.properties().output_partitioning().clone(),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        RunAggregateExec {
            input,
            group_by,
            aggr,
            schema,
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

impl DisplayAs for RunAggregateExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let keys: Vec<&str> = self.group_by.iter().map(|(_, n)| n.as_str()).collect();
        let aggs: Vec<&str> = self.aggr.iter().map(|a| a.name()).collect();
        write!(
            f,
            "RunAggregateExec: mode=Partial, runs of gby=[{}], aggr=[{}]",
            keys.join(", "),
            aggs.join(", ")
        )?;
        let input = self.input.schema();
        let reduced: Vec<&str> = self
            .aggr
            .iter()
            .filter(|a| matches!(reduction(a, &input), Ok(Some(_))))
            .map(|a| a.name())
            .collect();
        if !reduced.is_empty() {
            let isa = format!("{:?}", Kernels::detect().isa()).to_lowercase();
            write!(f, ", {isa} kernels for [{}]", reduced.join(", "))?;
        }
        Ok(())
    }
}

impl ExecutionPlan for RunAggregateExec {
    fn name(&self) -> &'static str {
        "RunAggregateExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        for (e, _) in &self.group_by {
            if f(e)? == TreeNodeRecursion::Stop {
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        for a in &self.aggr {
            for e in a.expressions() {
                if f(&e)? == TreeNodeRecursion::Stop {
                    return Ok(TreeNodeRecursion::Stop);
                }
            }
        }
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(RunAggregateExec::with_parts(
            children.swap_remove(0),
            self.group_by.clone(),
            self.aggr.clone(),
            self.schema.clone(),
        )))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input_schema = self.input.schema();
        let input = self.input.execute(partition, context)?;
        let kernels = Kernels::detect();
        let aggregates = self
            .aggr
            .iter()
            .map(|a| {
                let args = a.expressions();
                Ok(match reduction(a, &input_schema)? {
                    Some(kind) => RunAggregate::Reduce {
                        kind,
                        arg: args[0].clone(),
                    },
                    None => RunAggregate::Groups {
                        accumulator: a.create_groups_accumulator()?,
                        args,
                    },
                })
            })
            .collect::<Result<_>>()?;
        let mut runs = Runs {
            group_by: self.group_by.clone(),
            aggregates,
            kernels,
            schema: self.schema.clone(),
            metrics: BaselineMetrics::new(&self.metrics, partition),
        };
        let stream = input.map(move |batch| {
            let batch = batch?;
            let time = runs.metrics.elapsed_compute().clone();
            let timer = time.timer();
            let out = runs.aggregate(&batch);
            timer.done();
            let out = out?;
            runs.metrics.record_output(out.num_rows());
            Ok(out)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema.clone(),
            stream,
        )))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// How one aggregate is computed per run.
enum RunAggregate {
    /// Our own kernels over each run's slice of a Float64 argument (or the
    /// run lengths and null counts for `count`).
    Reduce {
        kind: Reduction,
        arg: Arc<dyn PhysicalExpr>,
    },
    /// A DataFusion groups accumulator, one group per run.
    Groups {
        accumulator: Box<dyn GroupsAccumulator>,
        args: Vec<Arc<dyn PhysicalExpr>>,
    },
}

/// Aggregates whose partial state the kernels produce, in DataFusion's
/// layout: `sum`/`min`/`max` of Float64 are one nullable Float64,
/// `avg` is (count UInt64, sum Float64) with the same nulls, `count` is a
/// non-null Int64.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Reduction {
    Sum,
    Avg,
    Min,
    Max,
    Count,
}

/// The kernel form of `a`, when it has one and its partial state has the
/// layout the kernels produce.
fn reduction(a: &AggregateFunctionExpr, input: &SchemaRef) -> Result<Option<Reduction>> {
    let args = a.expressions();
    if args.len() != 1 {
        return Ok(None);
    }
    let arg_type = args[0].data_type(input)?;
    let state: Vec<DataType> = a
        .state_fields()?
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    let float = arg_type == DataType::Float64;
    use DataType::{Float64, Int64, UInt64};
    Ok(match (a.fun().name(), state.as_slice()) {
        ("sum", [Float64]) if float => Some(Reduction::Sum),
        ("avg", [UInt64, Float64]) if float => Some(Reduction::Avg),
        ("min", [Float64]) if float => Some(Reduction::Min),
        ("max", [Float64]) if float => Some(Reduction::Max),
        ("count", [Int64]) => Some(Reduction::Count),
        _ => None,
    })
}

/// The per-stream state: accumulators are reused batch after batch (each
/// batch emits and resets them).
struct Runs {
    group_by: Vec<GroupExpr>,
    aggregates: Vec<RunAggregate>,
    kernels: Kernels,
    schema: SchemaRef,
    metrics: BaselineMetrics,
}

impl Runs {
    /// One partial row per run of equal keys in `batch`.
    /// Hot path: one `partition` pass over the keys, then per aggregate
    /// either one kernel call per run or one vectorised `update_batch`;
    /// no hashing.
    fn aggregate(&mut self, batch: &RecordBatch) -> Result<RecordBatch> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(RecordBatch::new_empty(self.schema.clone()));
        }
        let keys = self
            .group_by
            .iter()
            .map(|(e, _)| e.evaluate(batch)?.into_array(n))
            .collect::<Result<Vec<ArrayRef>>>()?;
        // A tag column that holds one value in the whole batch (a scan part
        // of one series) cannot split a run: it is left out of the
        // row-by-row comparison.
        let splitting: Vec<ArrayRef> = keys
            .iter()
            .filter(|k| !constant_string(k.as_ref()))
            .cloned()
            .collect();
        let ranges = if splitting.is_empty() {
            std::iter::once(0..n).collect()
        } else {
            partition(&splitting)?.ranges()
        };
        let starts = UInt32Array::from_iter_values(ranges.iter().map(|r| r.start as u32));
        let mut columns = keys
            .iter()
            .map(|k| take(k, &starts, None))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let mut groups: Option<Vec<usize>> = None;
        for aggregate in &mut self.aggregates {
            match aggregate {
                RunAggregate::Reduce { kind, arg } => {
                    let value = arg.evaluate(batch)?;
                    columns.extend(reduce_runs(&self.kernels, *kind, value, &ranges)?);
                }
                RunAggregate::Groups { accumulator, args } => {
                    let groups = groups.get_or_insert_with(|| {
                        let mut g = Vec::with_capacity(n);
                        for (i, r) in ranges.iter().enumerate() {
                            g.extend(std::iter::repeat_n(i, r.len()));
                        }
                        g
                    });
                    let values = args
                        .iter()
                        .map(|e| e.evaluate(batch)?.into_array(n))
                        .collect::<Result<Vec<ArrayRef>>>()?;
                    accumulator.update_batch(&values, groups, None, ranges.len())?;
                    columns.extend(accumulator.state(EmitTo::All)?);
                }
            }
        }
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}

/// Whether every row of `array` holds the same non-NULL string, found with
/// no per-row comparison: the offsets step by the first value's length and
/// the bytes repeat with that period (one compare of the bytes against
/// themselves shifted by one value).
fn constant_string(array: &dyn Array) -> bool {
    let Some(strings) = array.as_string_opt::<i32>() else {
        return false;
    };
    if strings.is_empty() || strings.null_count() > 0 {
        return false;
    }
    let offsets = strings.value_offsets();
    let base = i64::from(offsets[0]);
    let step = i64::from(offsets[1]) - base;
    let progression = offsets
        .iter()
        .zip(0i64..)
        .all(|(&o, i)| i64::from(o) - base == step * i);
    if !progression {
        return false;
    }
    let (start, step) = (base as usize, step as usize);
    let bytes = &strings.value_data()[start..offsets[strings.len()] as usize];
    bytes[step..] == bytes[..bytes.len() - step]
}

/// The partial state of `kind` for each run of `value`.
fn reduce_runs(
    kernels: &Kernels,
    kind: Reduction,
    value: ColumnarValue,
    ranges: &[Range<usize>],
) -> Result<Vec<ArrayRef>> {
    if kind == Reduction::Count {
        // count(*) is count of a non-null constant: each run's length.
        let counts: Int64Array = match &value {
            ColumnarValue::Scalar(s) => ranges
                .iter()
                .map(|r| Some(if s.is_null() { 0 } else { r.len() as i64 }))
                .collect(),
            ColumnarValue::Array(a) => ranges
                .iter()
                .map(|r| Some((r.len() - a.slice(r.start, r.len()).null_count()) as i64))
                .collect(),
        };
        return Ok(vec![Arc::new(counts)]);
    }
    let n = ranges.last().map_or(0, |r| r.end);
    let array = value.into_array(n)?;
    let values = array.as_primitive::<Float64Type>();
    let nulls = values.nulls().filter(|nb| nb.null_count() > 0);
    let data = values.values();
    // Per run: (valid values, the run's slice and validity).
    let runs = ranges.iter().map(|r| {
        let slice = &data[r.clone()];
        match nulls {
            None => (r.len(), slice, None),
            Some(nb) => {
                let valid = nb.inner().slice(r.start, r.len());
                (valid.count_set_bits(), slice, Some(valid))
            }
        }
    });
    let sum = |slice: &[f64], valid: &Option<BooleanBuffer>| match valid {
        None => kernels.sum(slice),
        Some(v) => kernels.sum_valid(slice, v),
    };
    let extremes = |slice: &[f64], valid: &Option<BooleanBuffer>| match valid {
        None => kernels.min_max(slice),
        Some(v) => kernels.min_max_valid(slice, v),
    };
    Ok(match kind {
        Reduction::Sum => {
            let sums: Float64Array = runs
                .map(|(count, slice, valid)| (count > 0).then(|| sum(slice, &valid)))
                .collect();
            vec![Arc::new(sums)]
        }
        Reduction::Avg => {
            let mut counts = Vec::with_capacity(ranges.len());
            let mut sums = Vec::with_capacity(ranges.len());
            for (count, slice, valid) in runs {
                counts.push(count as u64);
                sums.push(if count > 0 { sum(slice, &valid) } else { 0.0 });
            }
            let nulls = NullBuffer::from_iter(counts.iter().map(|&c| c > 0));
            let nulls = (nulls.null_count() > 0).then_some(nulls);
            vec![
                Arc::new(UInt64Array::new(counts.into(), nulls.clone())),
                Arc::new(Float64Array::new(sums.into(), nulls)),
            ]
        }
        Reduction::Min | Reduction::Max => {
            let out: Float64Array = runs
                .map(|(_, slice, valid)| {
                    extremes(slice, &valid)
                        .map(|(lo, hi)| if kind == Reduction::Min { lo } else { hi })
                })
                .collect();
            vec![Arc::new(out)]
        }
        Reduction::Count => unreachable!("handled above"),
    })
}

/// Replaces eligible Partial aggregates over LynxStore scans with
/// [`RunAggregateExec`]: simple GROUP BY keys that read only tag and time
/// columns (at least one tag, so runs are long in (series, time) order),
/// and aggregates with DataFusion groups accumulators.
#[derive(Debug, Default)]
pub struct RunAggregation;

impl PhysicalOptimizerRule for RunAggregation {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(agg) = node.downcast_ref::<AggregateExec>() else {
                return Ok(Transformed::no(node));
            };
            if !eligible(agg) {
                return Ok(Transformed::no(node));
            }
            let run = RunAggregateExec::new(agg, agg.input().clone());
            Ok(Transformed::yes(Arc::new(run) as Arc<dyn ExecutionPlan>))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "lynx_run_aggregation"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

fn eligible(agg: &AggregateExec) -> bool {
    let group_by = agg.group_expr();
    if *agg.mode() != AggregateMode::Partial
        || !group_by.is_single()
        || group_by.expr().is_empty()
        || agg.filter_expr().iter().any(Option::is_some)
        || agg.limit_options().is_some()
    {
        return false;
    }
    let plain = |a: &Arc<AggregateFunctionExpr>| {
        !a.is_distinct() && a.order_bys().is_empty() && a.groups_accumulator_supported()
    };
    if !agg.aggr_expr().iter().all(plain) {
        return false;
    }
    let Some(scan) = scan_below(agg.input()) else {
        return false;
    };
    let (tags, time) = scan.tag_and_time_columns();
    let mut read_tag = false;
    for (e, _) in group_by.expr() {
        for c in collect_columns(e) {
            if tags.contains(c.name()) {
                read_tag = true;
            } else if c.name() != time {
                return false;
            }
        }
    }
    read_tag
}

/// The LynxStore scan feeding `plan` through row-preserving operators only.
fn scan_below(plan: &Arc<dyn ExecutionPlan>) -> Option<&LynxScanExec> {
    if let Some(scan) = plan.downcast_ref::<LynxScanExec>() {
        return Some(scan);
    }
    let passes = plan.downcast_ref::<FilterExec>().is_some()
        || plan.downcast_ref::<ProjectionExec>().is_some()
        || plan.downcast_ref::<RepartitionExec>().is_some();
    match plan.children().as_slice() {
        [child] if passes => scan_below(child),
        _ => None,
    }
}

/// Tag column names and the time column name of a scan's table.
pub(crate) type TagsAndTime = (HashSet<String>, String);

#[cfg(test)]
mod tests;
