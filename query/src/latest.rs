//! The newest-row-per-series fast path for `DISTINCT ON`.
//!
//! Owns the analyzer rule [`LatestPerSeries`]: a `SELECT DISTINCT ON (tags)
//! ... FROM t ORDER BY tags, time DESC` (optionally filtered on tags only)
//! scans `t` with `ScanRequest::latest_per_series`, so storage returns only
//! the rows that can be the newest of their series, chosen from series
//! directories, instead of every row. The `DISTINCT ON` itself stays in the
//! plan and runs over those few rows.
//!
//! Invariant: the rewrite applies only when it cannot change the result:
//! every tag of the table is text (series directories name series by text
//! tags), every ON expression is a tag column (each group is a union of series),
//! the ORDER BY is the ON columns then the time column descending and
//! nothing more, and every filter under the `DISTINCT ON` reads tag columns
//! only (a series passes or fails as a whole).

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::Result;
use datafusion::datasource::{provider_as_source, source_as_provider};
use datafusion::logical_expr::{Distinct, DistinctOn, Expr, LogicalPlan, SortExpr, TableScan};
use datafusion::optimizer::AnalyzerRule;
use lynx_storage::ColumnRole;

use crate::provider::LynxTable;

/// Rewrites eligible `DISTINCT ON` scans to read only each series' newest rows.
#[derive(Debug, Default)]
pub struct LatestPerSeries;

impl AnalyzerRule for LatestPerSeries {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up(|node| {
            let LogicalPlan::Distinct(Distinct::On(on)) = &node else {
                return Ok(Transformed::no(node));
            };
            match rewrite(on)? {
                Some(input) => {
                    let mut on = on.clone();
                    on.input = Arc::new(input);
                    Ok(Transformed::yes(LogicalPlan::Distinct(Distinct::On(on))))
                }
                None => Ok(Transformed::no(node)),
            }
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "lynx_latest_per_series"
    }
}

/// The DISTINCT ON's input with its scan switched to newest rows, when eligible.
fn rewrite(on: &DistinctOn) -> Result<Option<LogicalPlan>> {
    let Some(sort) = &on.sort_expr else {
        return Ok(None);
    };
    let Some(scan) = find_scan(&on.input) else {
        return Ok(None);
    };
    let Ok(provider) = source_as_provider(&scan.source) else {
        return Ok(None);
    };
    let Some(table) = provider.downcast_ref::<LynxTable>() else {
        return Ok(None);
    };
    if table.latest_per_series() || scan.fetch.is_some() {
        return Ok(None);
    }
    let Some(def) = table.def() else {
        return Ok(None);
    };
    let tag_columns: Vec<_> = def
        .columns
        .iter()
        .filter(|c| c.role == ColumnRole::Tag)
        .collect();
    // Series directories name series by text tags only (storage falls back
    // to a full scan otherwise; do not claim the fast path then).
    if !tag_columns.iter().all(|c| c.column_type.is_text()) {
        return Ok(None);
    }
    let tags: HashSet<&str> = tag_columns.iter().map(|c| c.name.as_str()).collect();
    let time = def.columns[def.time_index()].name.as_str();
    let column = |e: &Expr| match e {
        Expr::Column(c) => Some(c.name.clone()),
        _ => None,
    };
    let Some(on_cols) = on.on_expr.iter().map(column).collect::<Option<Vec<_>>>() else {
        return Ok(None);
    };
    if on_cols.is_empty() || !on_cols.iter().all(|c| tags.contains(c.as_str())) {
        return Ok(None);
    }
    // ORDER BY <the ON columns, any direction>, time DESC — nothing else.
    let Some((last, prefix)) = sort.split_last() else {
        return Ok(None);
    };
    let prefix_cols: Option<HashSet<String>> = prefix.iter().map(|s| column(&s.expr)).collect();
    let on_set: HashSet<String> = on_cols.into_iter().collect();
    let newest_first = |s: &SortExpr| !s.asc && column(&s.expr).as_deref() == Some(time);
    if prefix_cols != Some(on_set) || prefix.len() != on.on_expr.len() || !newest_first(last) {
        return Ok(None);
    }
    if !filters_read_only(&on.input, &tags) {
        return Ok(None);
    }
    let latest = provider_as_source(Arc::new(table.latest_view()));
    on.input
        .as_ref()
        .clone()
        .transform_up(|node| match node {
            LogicalPlan::TableScan(mut s) => {
                s.source = latest.clone();
                Ok(Transformed::yes(LogicalPlan::TableScan(s)))
            }
            other => Ok(Transformed::no(other)),
        })
        .map(|t| Some(t.data))
}

/// The table scan under a chain of filters and aliases (nothing else).
fn find_scan(plan: &LogicalPlan) -> Option<&TableScan> {
    match plan {
        LogicalPlan::TableScan(s) => Some(s),
        LogicalPlan::Filter(f) => find_scan(&f.input),
        LogicalPlan::SubqueryAlias(a) => find_scan(&a.input),
        _ => None,
    }
}

/// Whether every filter predicate (Filter nodes and pushed-down scan
/// filters) references tag columns only.
fn filters_read_only(plan: &LogicalPlan, tags: &HashSet<&str>) -> bool {
    let tag_only = |e: &Expr| {
        e.column_refs()
            .iter()
            .all(|c| tags.contains(c.name.as_str()))
    };
    match plan {
        LogicalPlan::TableScan(s) => s.filters.iter().all(tag_only),
        LogicalPlan::Filter(f) => tag_only(&f.predicate) && filters_read_only(&f.input, tags),
        LogicalPlan::SubqueryAlias(a) => filters_read_only(&a.input, tags),
        _ => false,
    }
}
