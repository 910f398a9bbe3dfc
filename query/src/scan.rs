//! `LynxScanExec`: the physical scan of a table snapshot.
//!
//! Owns turning a pushed-down [`ScanRequest`] into DataFusion partitions:
//! the snapshot is split into independent units (a segment's picked series,
//! a group of memtable batches, a primary-key partition), units are spread
//! over `target_partitions` by row count, and each partition decodes its
//! units lazily, one at a time, as the consumer pulls. EXPLAIN shows what
//! was pruned. A sort over the scan that stored order can give is answered
//! by a sorted scan (see `sorted`).

use std::fmt;
use std::sync::{Arc, OnceLock};

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{ColumnStatistics, DataFusionError, Result, ScalarValue, Statistics};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{
    EquivalenceProperties, LexOrdering, PhysicalExpr, PhysicalSortExpr,
};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType, SchedulingType};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::sorts::sort::sort_batch;
use datafusion::physical_plan::sorts::sort_preserving_merge::SortPreservingMergeExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    PlanProperties, ReplaceChildrenOptions, SendableRecordBatchStream, SortOrderPushdownResult,
};
use futures::StreamExt;
use lynx_storage::{
    ColumnStats, Predicate, Scalar, ScanRequest, ScanStats, ScanUnit, TableSnapshot,
};

#[derive(Debug)]
pub struct LynxScanExec {
    table: String,
    snapshot: Arc<TableSnapshot>,
    request: Arc<ScanRequest>,
    partitions: Vec<Vec<ScanUnit>>,
    stats: ScanStats,
    schema: SchemaRef,
    limit: Option<usize>,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
    column_stats: OnceLock<Vec<ColumnStatistics>>,
    /// Set for a sorted scan (see `sorted`): every partition is sorted by it.
    ordering: Option<LexOrdering>,
}

mod sorted;

/// DataFusion's exact statistics of a column from the storage's: values
/// converted to the column's type, and nothing for what does not convert
/// or where DataFusion's order and PostgreSQL's differ (a NaN minimum:
/// PostgreSQL orders every NaN above all numbers).
fn column_statistics(s: &ColumnStats, data_type: &DataType) -> ColumnStatistics {
    let value = |v: &Option<Scalar>| -> Option<ScalarValue> {
        let Some(v) = v else {
            return ScalarValue::try_from(data_type).ok(); // all NULL: a typed NULL
        };
        let raw = match v {
            Scalar::Int(i) => match i64::try_from(*i) {
                Ok(i) => ScalarValue::Int64(Some(i)),
                Err(_) => ScalarValue::UInt64(Some(u64::try_from(*i).ok()?)),
            },
            Scalar::Float(f) => ScalarValue::Float64(Some(*f)),
            Scalar::Bool(b) => ScalarValue::Boolean(Some(*b)),
            Scalar::Bytes(b) if *data_type == DataType::Utf8 => {
                ScalarValue::Utf8(Some(String::from_utf8(b.clone()).ok()?))
            }
            Scalar::Bytes(_) => return None,
        };
        if matches!(
            data_type,
            DataType::Decimal128(..) | DataType::Decimal256(..)
        ) {
            return None; // unscaled integers
        }
        raw.cast_to(data_type).ok()
    };
    let nan_min = matches!(s.min, Some(Scalar::Float(f)) if f.is_nan());
    match (value(&s.min), value(&s.max)) {
        (Some(min), Some(max)) if !nan_min => ColumnStatistics {
            null_count: Precision::Exact(s.null_count),
            min_value: Precision::Exact(min),
            max_value: Precision::Exact(max),
            ..ColumnStatistics::new_unknown()
        },
        _ => ColumnStatistics {
            null_count: Precision::Exact(s.null_count),
            ..ColumnStatistics::new_unknown()
        },
    }
}

/// A scan's plan properties: `partitions` incremental, bounded partitions.
fn properties(eq: EquivalenceProperties, partitions: usize) -> PlanProperties {
    PlanProperties::new(
        eq,
        Partitioning::UnknownPartitioning(partitions),
        EmissionType::Incremental,
        Boundedness::Bounded,
    )
    .with_scheduling_type(SchedulingType::Cooperative)
}

impl LynxScanExec {
    pub fn new(
        table: String,
        snapshot: TableSnapshot,
        request: ScanRequest,
        schema: SchemaRef,
        limit: Option<usize>,
        target_partitions: usize,
    ) -> LynxScanExec {
        let (mut units, stats) = snapshot.units(&request);
        // Largest first onto the least loaded partition.
        units.sort_by_key(|u| std::cmp::Reverse(u.rows));
        let n = target_partitions.clamp(1, units.len().max(1));
        let mut partitions: Vec<(usize, Vec<ScanUnit>)> = vec![(0, Vec::new()); n];
        for u in units {
            let least = partitions
                .iter_mut()
                .min_by_key(|p| p.0)
                .expect("at least one partition");
            least.0 += u.rows;
            least.1.push(u);
        }
        let eq = EquivalenceProperties::new(schema.clone());
        LynxScanExec {
            table,
            snapshot: Arc::new(snapshot),
            request: Arc::new(request),
            partitions: Vec::new(),
            stats,
            schema,
            limit,
            properties: Arc::new(properties(eq, 0)),
            metrics: ExecutionPlanMetricsSet::new(),
            column_stats: OnceLock::new(),
            ordering: None,
        }
        .with_partitions(partitions.into_iter().map(|p| p.1).collect(), None)
    }

    /// The same scan over `partitions`, sorted by `ordering` in each when
    /// given (with the equivalences of `eq`), fresh metrics.
    fn with_partitions(
        &self,
        partitions: Vec<Vec<ScanUnit>>,
        sorted: Option<(LexOrdering, EquivalenceProperties)>,
    ) -> LynxScanExec {
        let (ordering, eq) = match sorted {
            Some((o, eq)) => (Some(o), eq),
            None => (None, EquivalenceProperties::new(self.schema.clone())),
        };
        LynxScanExec {
            table: self.table.clone(),
            snapshot: self.snapshot.clone(),
            request: self.request.clone(),
            properties: Arc::new(properties(eq, partitions.len())),
            partitions,
            stats: self.stats.clone(),
            schema: self.schema.clone(),
            limit: self.limit,
            metrics: ExecutionPlanMetricsSet::new(),
            column_stats: OnceLock::new(),
            ordering,
        }
    }

    /// The table's tag column names and its time column name.
    pub(crate) fn tag_and_time_columns(&self) -> crate::run_aggregate::TagsAndTime {
        let def = &self.snapshot.def;
        let tags = def
            .columns
            .iter()
            .filter(|c| c.role == lynx_storage::ColumnRole::Tag)
            .map(|c| c.name.clone())
            .collect();
        (tags, def.columns[def.time_index()].name.clone())
    }

    /// Exact min/max/NULL count of each output column over the whole
    /// snapshot, from chunk headers (computed once, on first use), so that
    /// DataFusion answers `min`, `max` and `count(col)` without scanning.
    fn column_statistics(&self) -> Result<&Vec<ColumnStatistics>> {
        if let Some(done) = self.column_stats.get() {
            return Ok(done);
        }
        let positions: Vec<usize> = match &self.request.projection {
            Some(p) => p.clone(),
            None => (0..self.snapshot.schema.fields().len()).collect(),
        };
        let mut out = Vec::with_capacity(positions.len());
        for (field, pos) in self.schema.fields().iter().zip(positions) {
            let stats = self
                .snapshot
                .column_stats(pos)
                .map_err(|e| DataFusionError::External(Box::new(e)))?;
            out.push(stats.map_or_else(ColumnStatistics::new_unknown, |s| {
                column_statistics(&s, field.data_type())
            }));
        }
        Ok(self.column_stats.get_or_init(|| out))
    }

    fn rows_bound(&self) -> usize {
        self.partitions.iter().flatten().map(|u| u.rows).sum()
    }
}

/// `name <op> value` in SQL-like text, for EXPLAIN.
fn predicate_text(name: &str, p: &Predicate) -> String {
    let v = |s: &Scalar| match s {
        Scalar::Int(i) => i.to_string(),
        Scalar::Float(v) => format!("{v:?}"),
        other => format!("{other:?}"),
    };
    match p {
        Predicate::Eq(x) => format!("{name} = {}", v(x)),
        Predicate::NotEq(x) => format!("{name} <> {}", v(x)),
        Predicate::Lt(x) => format!("{name} < {}", v(x)),
        Predicate::LtEq(x) => format!("{name} <= {}", v(x)),
        Predicate::Gt(x) => format!("{name} > {}", v(x)),
        Predicate::GtEq(x) => format!("{name} >= {}", v(x)),
        Predicate::Between(a, b) => format!("{name} BETWEEN {} AND {}", v(a), v(b)),
        Predicate::In(xs) => {
            let xs: Vec<String> = xs.iter().map(v).collect();
            format!("{name} IN ({})", xs.join(", "))
        }
    }
}

impl DisplayAs for LynxScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let r = &self.request;
        write!(f, "LynxScanExec: table={}", self.table)?;
        let names: Vec<&str> = self
            .schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        write!(f, ", projection=[{}]", names.join(", "))?;
        if r.lo.is_some() || r.hi.is_some() {
            let bound = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
            write!(f, ", time_us=[{}, {}]", bound(r.lo), bound(r.hi))?;
        }
        for t in &r.tags {
            let name = self.snapshot.schema.field(t.column).name();
            write!(f, ", tag {name} IN ({})", t.values.join(", "))?;
        }
        for p in &r.fields {
            let name = self.snapshot.schema.field(p.column).name();
            write!(
                f,
                ", {} (on encoded data)",
                predicate_text(name, &p.predicate)
            )?;
        }
        let s = &self.stats;
        write!(
            f,
            ", segments={}/{}, series={}/{}, rows<={}, partitions={}",
            s.segments_read,
            s.segments_total,
            s.series_read,
            s.series_total,
            self.rows_bound(),
            self.partitions.len()
        )?;
        if let Some(l) = self.limit {
            write!(f, ", limit={l}")?;
        }
        if let Some(o) = &self.ordering {
            write!(f, ", sorted by [{o}]")?;
        }
        if r.latest_per_series {
            write!(f, ", newest rows per series")?;
        }
        Ok(())
    }
}

impl ExecutionPlan for LynxScanExec {
    fn name(&self) -> &'static str {
        "LynxScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        _: Vec<Arc<dyn ExecutionPlan>>,
        _: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    /// Sorts the data already sorted in storage are given by a sorted scan
    /// (merged into one partition when it has several), so the sort goes.
    fn try_pushdown_sort(
        &self,
        order: &[PhysicalSortExpr],
    ) -> Result<SortOrderPushdownResult<Arc<dyn ExecutionPlan>>> {
        let Some(sorted) = self.sorted_for(order)? else {
            return Ok(SortOrderPushdownResult::Unsupported);
        };
        let Some(merge_order) = LexOrdering::new(order.to_vec()) else {
            return Ok(SortOrderPushdownResult::Unsupported);
        };
        let sorted: Arc<dyn ExecutionPlan> = Arc::new(sorted);
        let inner: Arc<dyn ExecutionPlan> = if sorted.output_partitioning().partition_count() > 1 {
            Arc::new(SortPreservingMergeExec::new(merge_order, sorted))
        } else {
            sorted
        };
        Ok(SortOrderPushdownResult::Exact { inner })
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    #[allow(deprecated)]
    fn partition_statistics(&self, partition: Option<usize>) -> Result<Arc<Statistics>> {
        let rows = match partition {
            Some(p) => self
                .partitions
                .get(p)
                .map_or(0, |units| units.iter().map(|u| u.rows).sum()),
            None => self.rows_bound(),
        };
        // When every unit's count is exact, DataFusion answers count(*)
        // from this without scanning.
        let exact = self
            .partitions
            .iter()
            .flatten()
            .all(|u| u.rows_exact(&self.request));
        if !exact {
            return Ok(Arc::new(
                Statistics::new_unknown(&self.schema).with_num_rows(Precision::Inexact(rows)),
            ));
        }
        let mut stats = Statistics::new_unknown(&self.schema).with_num_rows(Precision::Exact(rows));
        // Column statistics describe the whole table: only an unfiltered
        // scan of it, asked as a whole, has them.
        if partition.is_none() && self.request.tags.is_empty() && !self.request.latest_per_series {
            stats.column_statistics = self.column_statistics()?.clone();
        }
        Ok(Arc::new(stats))
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let units = self.partitions.get(partition).cloned().ok_or_else(|| {
            DataFusionError::Internal(format!("LynxScanExec has no partition {partition}"))
        })?;
        let snapshot = self.snapshot.clone();
        let request = self.request.clone();
        let schema = self.schema.clone();
        let ordering = self.ordering.clone();
        let metrics = BaselineMetrics::new(&self.metrics, partition);
        let batches = futures::stream::iter(units)
            .map(move |unit| {
                let timer = metrics.elapsed_compute().timer();
                let mut batches = snapshot
                    .read_unit(&unit, &request)
                    .map_err(|e| DataFusionError::External(Box::new(e)))?;
                // A sorted scan sorts what storage does not hold sorted, and
                // reverses segment rows for a descending time.
                match (&ordering, unit.only_segment()) {
                    (Some(ordering), None) if !batches.is_empty() => {
                        let all = arrow::compute::concat_batches(&batches[0].schema(), &batches)?;
                        batches = vec![sort_batch(&all, ordering, None)?];
                    }
                    (Some(ordering), Some(_)) if sorted::descending(ordering) => {
                        batches.reverse();
                        for b in &mut batches {
                            let rows = b.num_rows() as u32;
                            let back = arrow::array::UInt32Array::from_iter_values((0..rows).rev());
                            *b = arrow::compute::take_record_batch(b, &back)?;
                        }
                    }
                    _ => {}
                }
                timer.done();
                metrics.record_output(batches.iter().map(RecordBatch::num_rows).sum());
                Ok::<_, DataFusionError>(futures::stream::iter(
                    batches.into_iter().map(Ok::<RecordBatch, DataFusionError>),
                ))
            })
            .flat_map(|r| match r {
                Ok(s) => s.left_stream(),
                Err(e) => futures::stream::once(async move { Err(e) }).right_stream(),
            });
        let stream: futures::stream::BoxStream<'static, Result<RecordBatch>> = match self.limit {
            None => batches.boxed(),
            Some(limit) => {
                let mut left = limit;
                batches
                    .take_while(move |b| {
                        let go = left > 0;
                        if let Ok(b) = b {
                            left = left.saturating_sub(b.num_rows());
                        }
                        futures::future::ready(go)
                    })
                    .boxed()
            }
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}
