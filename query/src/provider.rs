//! `TableProvider` over a storage table.
//!
//! Scans take a snapshot of the table and push down what the filters imply:
//! the time range (segments, chunks and 1024-row blocks outside it are
//! skipped) and tag equality / IN lists (answered from each segment's series
//! directory), plus projection and limit. Pushdown is inexact: DataFusion
//! re-applies the filters to the rows that come back.

use std::sync::Arc;

use arrow::datatypes::{DataType, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::datasource::sink::DataSinkExec;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use lynx_storage::{ColumnRole, Database, ScanRequest, TagFilter};

use crate::scan::LynxScanExec;
use crate::sink::LynxSink;

/// A LynxStore table as seen by DataFusion.
#[derive(Debug)]
pub struct LynxTable {
    db: Arc<Database>,
    name: String,
    schema: SchemaRef,
    /// Scans return only rows that can be their series' newest (see `latest`).
    latest_per_series: bool,
}

impl LynxTable {
    pub fn new(db: Arc<Database>, name: String, schema: SchemaRef) -> LynxTable {
        LynxTable {
            db,
            name,
            schema,
            latest_per_series: false,
        }
    }

    /// The same table, scanned for each series' newest rows only.
    pub(crate) fn latest_view(&self) -> LynxTable {
        LynxTable {
            latest_per_series: true,
            ..LynxTable::new(self.db.clone(), self.name.clone(), self.schema.clone())
        }
    }

    pub(crate) fn latest_per_series(&self) -> bool {
        self.latest_per_series
    }

    pub(crate) fn def(&self) -> Option<Arc<lynx_storage::TableDef>> {
        self.db.table_def(&self.name)
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
        state: &dyn Session,
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
        let tags = snapshot
            .def
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                c.role == ColumnRole::Tag && c.column_type.to_arrow() == DataType::Utf8
            })
            .filter_map(|(i, c)| {
                tag_values(&c.name, filters).map(|values| TagFilter { column: i, values })
            })
            .collect();
        let request = ScanRequest {
            projection: Some(projection.clone()),
            lo,
            // Nanosecond literals were floored; widen hi by one microsecond.
            hi: hi.map(|h| h.saturating_add(1)),
            tags,
            latest_per_series: self.latest_per_series,
        };
        let schema = Arc::new(self.schema.project(&projection)?);
        Ok(Arc::new(LynxScanExec::new(
            self.name.clone(),
            snapshot,
            request,
            schema,
            limit,
            state.config().target_partitions(),
        )))
    }
}

/// The values a tag column must take for every filter to hold, when some
/// filter is `tag = 'v'`, `'v' = tag` or `tag IN ('a', 'b')` (the
/// intersection if several are).
fn tag_values(tag: &str, filters: &[Expr]) -> Option<Vec<String>> {
    let mut allowed: Option<Vec<String>> = None;
    for f in filters {
        for conjunct in split_and(f) {
            let Some(values) = literal_set(tag, conjunct) else {
                continue;
            };
            allowed = Some(match allowed {
                None => values,
                Some(prev) => prev.into_iter().filter(|v| values.contains(v)).collect(),
            });
        }
    }
    allowed
}

fn split_and(expr: &Expr) -> Vec<&Expr> {
    match expr {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::And,
            right,
        }) => {
            let mut out = split_and(left);
            out.extend(split_and(right));
            out
        }
        other => vec![other],
    }
}

fn literal_set(tag: &str, expr: &Expr) -> Option<Vec<String>> {
    let text = |e: &Expr| match e {
        Expr::Literal(
            ScalarValue::Utf8(Some(v))
            | ScalarValue::Utf8View(Some(v))
            | ScalarValue::LargeUtf8(Some(v)),
            _,
        ) => Some(v.clone()),
        _ => None,
    };
    match expr {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) => {
            if is_col(tag, left) {
                text(right).map(|v| vec![v])
            } else if is_col(tag, right) {
                text(left).map(|v| vec![v])
            } else {
                None
            }
        }
        Expr::InList(list) if !list.negated && is_col(tag, &list.expr) => {
            list.list.iter().map(text).collect()
        }
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Or,
            right,
        }) => {
            let mut l = literal_set(tag, left)?;
            l.extend(literal_set(tag, right)?);
            Some(l)
        }
        _ => None,
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
