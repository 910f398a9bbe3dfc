//! `TableProvider` over a storage table.
//!
//! Scans take a snapshot of the table, prune batches by the time range the
//! filters imply (inexact: DataFusion re-applies the filters), and push
//! projection and limit down into the memory source.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::sink::DataSinkExec;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use lynx_storage::Database;

use crate::sink::LynxSink;

/// A LynxStore table as seen by DataFusion.
#[derive(Debug)]
pub struct LynxTable {
    db: Arc<Database>,
    name: String,
    schema: SchemaRef,
}

impl LynxTable {
    pub fn new(db: Arc<Database>, name: String, schema: SchemaRef) -> LynxTable {
        LynxTable { db, name, schema }
    }
}

#[async_trait]
impl TableProvider for LynxTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn insert_into(
        &self,
        _state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        insert_op: InsertOp,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if insert_op != InsertOp::Append {
            return Err(DataFusionError::NotImplemented(format!(
                "{insert_op} is not supported; LynxStore tables accept INSERT INTO only"
            )));
        }
        let sink = LynxSink::new(self.db.clone(), self.name.clone(), self.schema.clone());
        Ok(Arc::new(DataSinkExec::new(input, Arc::new(sink), None)))
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|_| TableProviderFilterPushDown::Inexact)
            .collect())
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let snapshot = self
            .db
            .snapshot(&self.name)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let time_col = snapshot.def.columns[snapshot.def.time_index()].name.clone();
        let (lo, hi) = time_range(&time_col, filters);
        // Columns are only ever appended (ADD COLUMN), so positions in the
        // planned schema are valid in a newer snapshot too.
        let projection: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.schema.fields().len()).collect(),
        };
        // Nanosecond literals were floored; widen hi by one microsecond.
        let batches = snapshot
            .scan(Some(&projection), lo, hi.map(|h| h.saturating_add(1)))
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let schema = Arc::new(self.schema.project(&projection)?);
        // Spread batches over partitions so DataFusion can use every core.
        let parts = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut partitions: Vec<Vec<RecordBatch>> =
            vec![Vec::new(); parts.min(batches.len()).max(1)];
        let n = partitions.len();
        for (i, b) in batches.into_iter().enumerate() {
            partitions[i % n].push(b);
        }
        let source = MemorySourceConfig::try_new(&partitions, schema, None)?.with_limit(limit);
        Ok(datafusion::datasource::source::DataSourceExec::from_data_source(source))
    }
}

/// Bounds `[lo, hi]` in microseconds implied by simple comparisons of the
/// time column with constants; `None` means unbounded.
type Range = (Option<i64>, Option<i64>);

fn time_range(time_col: &str, filters: &[Expr]) -> Range {
    let mut range: Range = (None, None);
    for f in filters {
        collect_bounds(time_col, f, &mut range);
    }
    range
}

fn collect_bounds(time_col: &str, expr: &Expr, range: &mut Range) {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = expr else {
        if let Expr::Between(b) = expr {
            if !b.negated && is_col(time_col, &b.expr) {
                if let (Some(lo), Some(hi)) = (micros(&b.low), micros(&b.high)) {
                    tighten(range, Some(lo), Some(hi));
                }
            }
        }
        return;
    };
    match op {
        Operator::And => {
            collect_bounds(time_col, left, range);
            collect_bounds(time_col, right, range);
        }
        _ => {
            let (op, value) = if is_col(time_col, left) {
                (*op, micros(right))
            } else if is_col(time_col, right) {
                match op.swap() {
                    Some(op) => (op, micros(left)),
                    None => return,
                }
            } else {
                return;
            };
            let Some(v) = value else { return };
            match op {
                Operator::Gt | Operator::GtEq => tighten(range, Some(v), None),
                Operator::Lt | Operator::LtEq => tighten(range, None, Some(v)),
                Operator::Eq => tighten(range, Some(v), Some(v)),
                _ => {}
            }
        }
    }
}

fn tighten(range: &mut Range, lo: Option<i64>, hi: Option<i64>) {
    if let Some(lo) = lo {
        range.0 = Some(range.0.map_or(lo, |cur| cur.max(lo)));
    }
    if let Some(hi) = hi {
        range.1 = Some(range.1.map_or(hi, |cur| cur.min(hi)));
    }
}

fn is_col(name: &str, expr: &Expr) -> bool {
    match expr {
        Expr::Column(c) => c.name == name,
        Expr::Cast(c) => is_col(name, &c.expr),
        _ => false,
    }
}

/// A constant timestamp as microseconds (rounded outward is not needed:
/// pruning is inexact and only drops batches entirely outside the range).
fn micros(expr: &Expr) -> Option<i64> {
    let Expr::Literal(v, _) = expr else {
        return None;
    };
    match v {
        ScalarValue::TimestampSecond(Some(s), _) => s.checked_mul(1_000_000),
        ScalarValue::TimestampMillisecond(Some(s), _) => s.checked_mul(1_000),
        ScalarValue::TimestampMicrosecond(Some(s), _) => Some(*s),
        ScalarValue::TimestampNanosecond(Some(s), _) => Some(s.div_euclid(1_000)),
        _ => None,
    }
}
