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

use arrow::array::{ArrayRef, RecordBatch, UInt32Array};
use arrow::compute::{partition, take};
use arrow::datatypes::SchemaRef;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::Result;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{EmitTo, GroupsAccumulator};
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
        )
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
        let input = self.input.execute(partition, context)?;
        let mut runs = Runs {
            group_by: self.group_by.clone(),
            args: self.aggr.iter().map(|a| a.expressions()).collect(),
            accumulators: self
                .aggr
                .iter()
                .map(|a| a.create_groups_accumulator())
                .collect::<Result<_>>()?,
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

/// The per-stream state: accumulators are reused batch after batch (each
/// batch emits and resets them).
struct Runs {
    group_by: Vec<GroupExpr>,
    args: Vec<Vec<Arc<dyn PhysicalExpr>>>,
    accumulators: Vec<Box<dyn GroupsAccumulator>>,
    schema: SchemaRef,
    metrics: BaselineMetrics,
}

impl Runs {
    /// One partial row per run of equal keys in `batch`.
    /// Hot path: one `partition` pass over the keys, then one vectorised
    /// `update_batch` per aggregate; no hashing.
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
        let ranges = partition(&keys)?.ranges();
        let mut groups = Vec::with_capacity(n);
        let mut starts = Vec::with_capacity(ranges.len());
        for (g, r) in ranges.iter().enumerate() {
            starts.push(r.start as u32);
            groups.extend(std::iter::repeat_n(g, r.len()));
        }
        let starts = UInt32Array::from(starts);
        let mut columns = keys
            .iter()
            .map(|k| take(k, &starts, None))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        for (acc, args) in self.accumulators.iter_mut().zip(&self.args) {
            let values = args
                .iter()
                .map(|e| e.evaluate(batch)?.into_array(n))
                .collect::<Result<Vec<ArrayRef>>>()?;
            acc.update_batch(&values, &groups, None, ranges.len())?;
            columns.extend(acc.state(EmitTo::All)?);
        }
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
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
