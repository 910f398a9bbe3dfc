//! `TableProvider` over a storage table.
//!
//! Scans take a snapshot of the table and push down what the filters imply:
//! the time range (segments, chunks and 1024-row blocks outside it are
//! skipped) and tag equality / IN lists (answered from each segment's series
//! directory), plus projection and limit. The storage scan applies those
//! two kinds of predicate exactly (segments by series directory and binary
//! search on the sorted time column, memtable rows by a mask). Comparisons
//! of numeric field columns with constants (`= <> < <= > >=`, BETWEEN, IN)
//! are evaluated by the storage on the encoded chunks. Filters made only
//! of these are `Exact`, so DataFusion neither re-applies them nor reads
//! their columns; every other filter is `Inexact`.

use std::sync::Arc;

use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::datasource::sink::DataSinkExec;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use lynx_storage::{ColumnRole, Database, FieldFilter, Predicate, Scalar, ScanRequest, TagFilter};

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
        let Some(def) = self.def() else {
            return Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()]);
        };
        let time_col = &def.columns[def.time_index()].name;
        let text_tags: Vec<&str> = def
            .columns
            .iter()
            .filter(|c| c.role == ColumnRole::Tag && c.column_type.to_arrow() == DataType::Utf8)
            .map(|c| c.name.as_str())
            .collect();
        let fields = field_columns(&def);
        Ok(filters
            .iter()
            .map(|f| {
                if applied_exactly(f, time_col, &text_tags, &fields) {
                    TableProviderFilterPushDown::Exact
                } else {
                    TableProviderFilterPushDown::Inexact
                }
            })
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
        // A newest-row scan is only planned under tag-only filters (see
        // `latest`); field filters would change which row is newest.
        let fields = if self.latest_per_series {
            Vec::new()
        } else {
            let columns = field_columns(&snapshot.def);
            filters
                .iter()
                .flat_map(|f| split_and(f))
                .filter_map(|e| field_filter(&columns, e))
                .collect()
        };
        let request = ScanRequest {
            projection: Some(projection.clone()),
            lo,
            hi,
            tags,
            fields,
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
    split(expr, Operator::And)
}

fn split_or(expr: &Expr) -> Vec<&Expr> {
    split(expr, Operator::Or)
}

/// The operands of a chain of `op` (the expression itself when it is not one).
fn split(expr: &Expr, op: Operator) -> Vec<&Expr> {
    match expr {
        Expr::BinaryExpr(b) if b.op == op => {
            let mut out = split(&b.left, op);
            out.extend(split(&b.right, op));
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
            op: Operator::Eq, ..
        }) => {
            let (_, constant) = comparison(expr, |e| is_col(tag, e))?;
            text(constant).map(|v| vec![v])
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

/// Whether the storage scan alone makes `filter` hold: a conjunction of
/// time comparisons with constants, tag equality / IN lists on text tags
/// and comparisons of numeric field columns with constants of their type.
fn applied_exactly(
    filter: &Expr,
    time_col: &str,
    text_tags: &[&str],
    fields: &[FieldColumn],
) -> bool {
    split_and(filter).into_iter().all(|c| {
        bound_of(time_col, c).is_some()
            || text_tags.iter().any(|t| literal_set(t, c).is_some())
            || field_filter(fields, c).is_some()
    })
}

/// A numeric field column: (name, position in the schema, Arrow type).
type FieldColumn = (String, usize, DataType);

fn field_columns(def: &lynx_storage::TableDef) -> Vec<FieldColumn> {
    def.columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.role == ColumnRole::Field)
        .map(|(i, c)| (c.name.clone(), i, c.column_type.to_arrow()))
        .filter(|(_, _, t)| t.is_integer() || matches!(t, DataType::Float32 | DataType::Float64))
        .collect()
}

/// The storage filter for `expr` when it compares a numeric field column
/// with constants of exactly the column's type: `c <op> k` (either side,
/// any of `= <> < <= > >=`), `c BETWEEN a AND b`, `c IN (k, ...)` (or an
/// OR of equalities). The storage compares floats by total order; the
/// predicate is shaped so that its rows are exactly those DataFusion's
/// filter keeps (which equates -0.0 and 0.0 in comparisons, not in IN).
fn field_filter(columns: &[FieldColumn], expr: &Expr) -> Option<FieldFilter> {
    let column_of = |e: &Expr| match e {
        Expr::Column(c) => columns.iter().find(|(name, _, _)| *name == c.name),
        _ => None,
    };
    let (predicate, column) = match expr {
        Expr::Between(b) if !b.negated => {
            let (_, column, data_type) = column_of(&b.expr)?;
            let lo = scalar(&b.low, data_type)?;
            let hi = scalar(&b.high, data_type)?;
            // As for `>=` and `<=` below: zeros widened to take both signs.
            let lo = if is_zero(&lo) {
                Scalar::Float(-0.0)
            } else {
                lo
            };
            let hi = if is_zero(&hi) { Scalar::Float(0.0) } else { hi };
            (Predicate::Between(lo, hi), *column)
        }
        Expr::InList(list) if !list.negated => {
            let (_, column, data_type) = column_of(&list.expr)?;
            let values = list
                .list
                .iter()
                .map(|e| scalar(e, data_type))
                .collect::<Option<Vec<_>>>()?;
            // DataFusion's IN matches floats by their bits, unlike its `=`
            // (which equates -0.0 and 0.0): leave a zero in the list to it.
            if values.iter().any(is_zero) {
                return None;
            }
            (Predicate::In(values), *column)
        }
        Expr::BinaryExpr(BinaryExpr {
            op: Operator::Or, ..
        }) => {
            // DataFusion rewrites short IN lists as ORs of equalities.
            let mut values = Vec::new();
            let mut column = None;
            for e in split_or(expr) {
                let FieldFilter {
                    column: c,
                    predicate,
                } = field_filter(columns, e)?;
                if column.is_some_and(|prev| prev != c) {
                    return None;
                }
                column = Some(c);
                match predicate {
                    Predicate::Eq(v) => values.push(v),
                    // `= 0.0`: both zeros.
                    Predicate::Between(lo, hi) if is_zero(&lo) && is_zero(&hi) => {
                        values.extend([lo, hi])
                    }
                    Predicate::In(vs) => values.extend(vs),
                    _ => return None,
                }
            }
            (Predicate::In(values), column?)
        }
        _ => {
            let (op, constant) = comparison(expr, |e| column_of(e).is_some())?;
            let Expr::BinaryExpr(BinaryExpr { left, right, .. }) = expr else {
                return None;
            };
            let (_, column, data_type) = column_of(left).or_else(|| column_of(right))?;
            let v = scalar(constant, data_type)?;
            // DataFusion compares floats by total order after turning -0.0
            // into 0.0 on both sides; against a zero constant, the same
            // rows are those of a total-order comparison with the zero on
            // the side that takes -0.0 and 0.0 in or leaves both out.
            let zero = is_zero(&v);
            let (neg, pos) = (Scalar::Float(-0.0), Scalar::Float(0.0));
            let predicate = match op {
                Operator::Eq if zero => Predicate::Between(neg, pos),
                Operator::Eq => Predicate::Eq(v),
                Operator::NotEq if zero => return None,
                Operator::NotEq => Predicate::NotEq(v),
                Operator::Lt => Predicate::Lt(if zero { neg } else { v }),
                Operator::LtEq => Predicate::LtEq(if zero { pos } else { v }),
                Operator::Gt => Predicate::Gt(if zero { pos } else { v }),
                Operator::GtEq => Predicate::GtEq(if zero { neg } else { v }),
                _ => return None,
            };
            (predicate, *column)
        }
    };
    Some(FieldFilter { column, predicate })
}

fn is_zero(v: &Scalar) -> bool {
    matches!(v, Scalar::Float(f) if *f == 0.0)
}

/// A non-NULL literal of exactly `data_type` as a storage scalar.
fn scalar(expr: &Expr, data_type: &DataType) -> Option<Scalar> {
    let Expr::Literal(v, _) = expr else {
        return None;
    };
    if &v.data_type() != data_type {
        return None;
    }
    Some(match v {
        ScalarValue::Float64(Some(f)) => Scalar::Float(*f),
        ScalarValue::Float32(Some(f)) => Scalar::Float(f64::from(*f)),
        ScalarValue::Int8(Some(i)) => Scalar::Int(i128::from(*i)),
        ScalarValue::Int16(Some(i)) => Scalar::Int(i128::from(*i)),
        ScalarValue::Int32(Some(i)) => Scalar::Int(i128::from(*i)),
        ScalarValue::Int64(Some(i)) => Scalar::Int(i128::from(*i)),
        ScalarValue::UInt8(Some(i)) => Scalar::Int(i128::from(*i)),
        ScalarValue::UInt16(Some(i)) => Scalar::Int(i128::from(*i)),
        ScalarValue::UInt32(Some(i)) => Scalar::Int(i128::from(*i)),
        ScalarValue::UInt64(Some(i)) => Scalar::Int(i128::from(*i)),
        _ => return None,
    })
}

/// Inclusive bounds `[lo, hi]` in microseconds implied by comparisons of
/// the time column with constants; `None` means unbounded.
type Range = (Option<i64>, Option<i64>);

fn time_range(time_col: &str, filters: &[Expr]) -> Range {
    let mut range: Range = (None, None);
    for f in filters {
        for bound in split_and(f)
            .into_iter()
            .filter_map(|c| bound_of(time_col, c))
        {
            tighten(&mut range, bound);
        }
    }
    range
}

/// The bounds `expr` sets when it is `time <op> constant` (either side),
/// `time BETWEEN a AND b` or `time = constant`; `None` for anything else.
/// The bounds are exact: `time < 10` is `hi = 9`, and a nanosecond constant
/// is rounded in the direction that keeps the same rows.
fn bound_of(time_col: &str, expr: &Expr) -> Option<Range> {
    if let Expr::Between(b) = expr {
        if b.negated || !is_time(time_col, &b.expr) {
            return None;
        }
        let lo = micros(&b.low, Operator::GtEq)?;
        let hi = micros(&b.high, Operator::LtEq)?;
        return Some((Some(lo), Some(hi)));
    }
    let (op, constant) = comparison(expr, |e| is_time(time_col, e))?;
    match op {
        Operator::Gt | Operator::GtEq => Some((Some(micros(constant, op)?), None)),
        Operator::Lt | Operator::LtEq => Some((None, Some(micros(constant, op)?))),
        Operator::Eq => Some((
            Some(micros(constant, Operator::GtEq)?),
            Some(micros(constant, Operator::LtEq)?),
        )),
        _ => None,
    }
}

/// `(op, other side)` when `expr` is a binary expression with a column that
/// `is_column` accepts on either side, the operator turned so the column
/// reads first (`5 < c` is `(Gt, 5)`).
fn comparison(expr: &Expr, is_column: impl Fn(&Expr) -> bool) -> Option<(Operator, &Expr)> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = expr else {
        return None;
    };
    if is_column(left) {
        Some((*op, right.as_ref()))
    } else if is_column(right) {
        Some((op.swap()?, left.as_ref()))
    } else {
        None
    }
}

fn tighten(range: &mut Range, (lo, hi): Range) {
    if let Some(lo) = lo {
        range.0 = Some(range.0.map_or(lo, |cur| cur.max(lo)));
    }
    if let Some(hi) = hi {
        range.1 = Some(range.1.map_or(hi, |cur| cur.min(hi)));
    }
}

/// The time column itself, or a cast of it that keeps every microsecond
/// (to a timestamp of microsecond or nanosecond unit, any time zone).
fn is_time(name: &str, expr: &Expr) -> bool {
    match expr {
        Expr::Column(c) => c.name == name,
        Expr::Cast(c) => {
            matches!(
                c.field.data_type(),
                DataType::Timestamp(TimeUnit::Microsecond | TimeUnit::Nanosecond, _)
            ) && is_time(name, &c.expr)
        }
        _ => false,
    }
}

/// The column `name`, or a cast of it to another string type.
fn is_col(name: &str, expr: &Expr) -> bool {
    match expr {
        Expr::Column(c) => c.name == name,
        Expr::Cast(c) => {
            matches!(
                c.field.data_type(),
                DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
            ) && is_col(name, &c.expr)
        }
        _ => false,
    }
}

/// The microsecond bound that `time <op> constant` implies for a column of
/// whole microseconds: a lower bound for `>`/`>=`, an upper bound for
/// `<`/`<=`. `None` when the constant is not a timestamp or overflows.
fn micros(expr: &Expr, op: Operator) -> Option<i64> {
    let Expr::Literal(v, _) = expr else {
        return None;
    };
    // (value, units per microsecond or microseconds per unit)
    let (value, per_micro): (i128, i128) = match v {
        ScalarValue::TimestampSecond(Some(s), _) => (i128::from(*s) * 1_000_000, 1),
        ScalarValue::TimestampMillisecond(Some(s), _) => (i128::from(*s) * 1_000, 1),
        ScalarValue::TimestampMicrosecond(Some(s), _) => (i128::from(*s), 1),
        ScalarValue::TimestampNanosecond(Some(s), _) => (i128::from(*s), 1_000),
        _ => return None,
    };
    // floor(value / per_micro) is the largest microsecond <= the constant,
    // ceil the smallest one >= it.
    let floor = value.div_euclid(per_micro);
    let ceil = floor + i128::from(value.rem_euclid(per_micro) != 0);
    let bound = match op {
        Operator::Gt => floor + 1,
        Operator::GtEq => ceil,
        Operator::Lt => ceil - 1,
        Operator::LtEq => floor,
        _ => return None,
    };
    i64::try_from(bound).ok()
}

#[cfg(test)]
mod tests;
