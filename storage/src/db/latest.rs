//! Newest point per series: the rows a "last row of each series" query needs.
//!
//! Owns choosing, from metadata alone, the segment rows that can be the
//! newest row of their series: for every series (tag tuple) only the
//! segments whose series directory shows the greatest last time, and there
//! only the series' final row (rows are sorted by time within a series).
//! Memtable batches are reduced to each series' newest rows.
//!
//! Invariant: the rows kept are a superset of the newest row of every
//! series, so `DISTINCT ON (tags) ... ORDER BY tags, time DESC` over them
//! equals the same query over the whole table (primary-key tables still
//! de-duplicate the kept rows, so a replaced row never wins).

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{BooleanArray, RecordBatch};
use arrow::compute::filter_record_batch;

use crate::error::Result;
use crate::segment::write::times;
use crate::segment::{Segment, SeriesEntry};
use crate::series_order::series;

/// A series' tag tuple in table tag order (a tag a segment predates is None).
pub(super) type SeriesKey<'a> = Vec<Option<&'a str>>;

pub(super) fn series_key(entry: &SeriesEntry, tags: usize) -> SeriesKey<'_> {
    (0..tags)
        .map(|pos| entry.tags.get(pos).and_then(|v| v.as_deref()))
        .collect()
}

/// The greatest last time of every series over `segments`.
pub(super) fn newest_times<'a>(
    segments: impl Iterator<Item = &'a Arc<Segment>>,
    tags: usize,
) -> HashMap<SeriesKey<'a>, i64> {
    let mut newest: HashMap<SeriesKey<'a>, i64> = HashMap::new();
    for seg in segments {
        for entry in &seg.footer().series {
            newest
                .entry(series_key(entry, tags))
                .and_modify(|t| *t = (*t).max(entry.last_time))
                .or_insert(entry.last_time);
        }
    }
    newest
}

/// The rows of `batch` whose time is the greatest of their series in the
/// batch (all of them when a tag column is not Utf8).
pub(super) fn newest_rows(
    batch: &RecordBatch,
    tag_idx: &[usize],
    time_idx: usize,
) -> Result<RecordBatch> {
    let tags: Vec<_> = tag_idx.iter().map(|&i| batch.column(i).clone()).collect();
    let Some(ids) = series(&tags, batch.num_rows()) else {
        return Ok(batch.clone());
    };
    let times = times(batch, time_idx)?;
    let mut newest = vec![i64::MIN; ids.rank.len()];
    for (&id, &t) in ids.ids.iter().zip(&times) {
        newest[id as usize] = newest[id as usize].max(t);
    }
    let keep: BooleanArray = ids
        .ids
        .iter()
        .zip(&times)
        .map(|(&id, &t)| Some(t == newest[id as usize]))
        .collect();
    Ok(filter_record_batch(batch, &keep)?)
}
