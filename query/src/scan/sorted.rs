//! Sorted scans: the answer to DataFusion's sort pushdown.
//!
//! Segment rows are stored sorted by (tags ascending, NULLs first, time),
//! and the units of one segment are made in that order, so a partition that
//! reads one segment's units in turn is sorted. A sorted scan has one
//! partition per segment and one per other unit (memtable batches, primary-
//! key de-duplication), whose rows are sorted after reading. It declares:
//! - the tag prefix of the table's tags that the projection keeps, then
//!   time; tags a filter fixes to one value are constants and are skipped;
//!   a tag is compared NULLs last only when no picked series has it NULL;
//! - or, when no segment holds more than one picked series, time alone.
//!
//! Time may be descending when no segment holds more than one picked
//! series: each segment partition then reads its units last first and
//! reverses their rows.
//!
//! Invariant: every partition of a sorted scan is sorted by its declared
//! ordering, so DataFusion can drop the sort and merge partitions instead.

use std::path::PathBuf;
use std::sync::Arc;

use arrow::compute::SortOptions;
use datafusion::common::{Result, ScalarValue};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::{
    AcrossPartitions, ConstExpr, EquivalenceProperties, LexOrdering, PhysicalExpr, PhysicalSortExpr,
};
use lynx_storage::{ColumnRole, ScanUnit};

use super::LynxScanExec;

/// The default ascending order of segment rows.
const STORED: SortOptions = SortOptions {
    descending: false,
    nulls_first: true,
};

impl LynxScanExec {
    /// This scan, sorted so that `order` holds in every partition, or
    /// `None` when the stored order cannot give it.
    pub(super) fn sorted_for(&self, order: &[PhysicalSortExpr]) -> Result<Option<LynxScanExec>> {
        if self.ordering.is_some() || self.request.latest_per_series {
            return Ok(None);
        }
        let def = &self.snapshot.def;
        let column = |name: &str| -> Option<Arc<dyn PhysicalExpr>> {
            let i = self.schema.index_of(name).ok()?;
            Some(Arc::new(Column::new(name, i)))
        };
        let requested = |name: &str| {
            order.iter().find_map(|e| {
                let c = e.expr.downcast_ref::<Column>()?;
                (c.name() == name).then_some(e.options)
            })
        };
        // Tags fixed to one value by a filter.
        let fixed: Vec<(usize, &str)> = self
            .request
            .tags
            .iter()
            .filter_map(|f| match f.values.as_slice() {
                [one] => Some((f.column, one.as_str())),
                _ => None,
            })
            .collect();
        let constants: Vec<ConstExpr> = fixed
            .iter()
            .filter_map(|(i, v)| {
                let expr = column(def.columns[*i].name.as_str())?;
                let value = ScalarValue::Utf8(Some((*v).to_string()));
                Some(ConstExpr::new(expr, AcrossPartitions::Uniform(Some(value))))
            })
            .collect();
        let time_name = def.columns[def.time_index()].name.as_str();
        // Descending time reads each segment's units backwards, which is
        // time order only when a segment holds one picked series.
        let one_series = self.stats.max_series_per_segment <= 1;
        let time = |options: Option<SortOptions>| {
            let options = options.unwrap_or(STORED);
            let expr = column(time_name)?;
            (!options.descending || one_series).then_some(PhysicalSortExpr { expr, options })
        };
        // The tag prefix, then time.
        let mut by_tags = Vec::new();
        let mut complete = true;
        for (i, c) in def.columns.iter().enumerate() {
            if c.role != ColumnRole::Tag || fixed.iter().any(|(f, _)| *f == i) {
                continue;
            }
            let options = requested(&c.name).unwrap_or(STORED);
            let usable =
                !options.descending && (options.nulls_first || !self.stats.null_tags.contains(&i));
            match column(&c.name) {
                Some(expr) if usable => by_tags.push(PhysicalSortExpr { expr, options }),
                _ => {
                    complete = false;
                    break;
                }
            }
        }
        if complete {
            by_tags.extend(time(requested(time_name)));
        }
        let mut candidates = vec![by_tags];
        if one_series {
            candidates.extend(time(requested(time_name)).map(|t| vec![t]));
        }
        for ordering in candidates {
            let Some(ordering) = LexOrdering::new(ordering) else {
                continue;
            };
            let mut eq =
                EquivalenceProperties::new_with_orderings(self.schema.clone(), [ordering.clone()]);
            eq.add_constants(constants.clone())?;
            if eq.ordering_satisfy(order.iter().cloned())? {
                return Ok(Some(self.with_sorted_partitions(ordering, eq)));
            }
        }
        Ok(None)
    }

    fn with_sorted_partitions(&self, ordering: LexOrdering, eq: EquivalenceProperties) -> Self {
        let (units, _) = self.snapshot.units(&self.request);
        let mut partitions = sorted_partitions(units);
        if descending(&ordering) {
            for p in &mut partitions {
                p.reverse();
            }
        }
        self.with_partitions(partitions, Some((ordering, eq)))
    }
}

/// Whether a sorted scan's ordering reads segments backwards (its time is
/// descending; tags never are).
pub(super) fn descending(ordering: &LexOrdering) -> bool {
    ordering.iter().any(|e| e.options.descending)
}

/// One partition per segment (its units in the order they were made) and
/// one per other unit; at least one partition.
fn sorted_partitions(units: Vec<ScanUnit>) -> Vec<Vec<ScanUnit>> {
    let mut partitions: Vec<Vec<ScanUnit>> = Vec::new();
    let mut current: Option<PathBuf> = None;
    for unit in units {
        let segment = unit.only_segment().map(|p| p.to_path_buf());
        match (&segment, partitions.last_mut()) {
            (Some(s), Some(last)) if current.as_ref() == Some(s) => last.push(unit),
            _ => partitions.push(vec![unit]),
        }
        current = segment;
    }
    if partitions.is_empty() {
        partitions.push(Vec::new());
    }
    partitions
}

#[cfg(test)]
mod tests;
