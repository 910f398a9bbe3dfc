//! Reader views: a table's segments plus memtables frozen at one instant.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use std::collections::{BTreeMap, HashSet};

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type, SchemaRef, UInt16Type};
use lynx_compression::{Predicate, Scalar};

use super::latest;
use crate::dedup::dedup_last_write_wins;
use crate::dict;
use crate::error::{Result, StorageError};
use crate::memtable::{MemBatch, MemPartition};
use crate::schema::TableDef;
use crate::segment::Segment;

/// Rows a reader wants: pushed down from the query's projection and filters.
/// Every predicate is applied exactly: a scan returns precisely the rows
/// that satisfy all of them (the time bounds, the tag filters and the field
/// filters).
#[derive(Debug, Clone, Default)]
pub struct ScanRequest {
    /// Columns of the snapshot's schema, in output order (all when `None`).
    pub projection: Option<Vec<usize>>,
    /// Inclusive time bounds in microseconds.
    pub lo: Option<i64>,
    pub hi: Option<i64>,
    /// Conjunction of tag predicates answered from series directories.
    pub tags: Vec<TagFilter>,
    /// Conjunction of comparisons of field columns with constants,
    /// evaluated on the encoded chunks of segments (blocks where no row
    /// passes are not decoded) and on memtable rows. Primary-key tables
    /// apply them after de-duplication, to the surviving rows.
    pub fields: Vec<FieldFilter>,
    /// Only rows that can be the newest of their series (see `latest`):
    /// a superset of each series' newest row, for `DISTINCT ON (tags) ...
    /// ORDER BY tags, time DESC`. Needs no time bounds to be exact; field
    /// filters must be empty (the newest row that passes them may be older
    /// than the newest row).
    pub latest_per_series: bool,
}

/// `column <predicate>` on a field column (a position in the schema).
/// Semantics are those of `lynx_compression::Predicate`: integers compare
/// exactly, floats by IEEE-754 total order (as Arrow's comparison kernels
/// do), NULL rows never match. The scalars must be `Scalar::Int` on
/// integer and timestamp columns and `Scalar::Float` on float columns.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldFilter {
    pub column: usize,
    pub predicate: Predicate,
}

/// `column IN (values)` on a tag column (a position in the schema).
#[derive(Debug, Clone, PartialEq)]
pub struct TagFilter {
    pub column: usize,
    pub values: Vec<String>,
}

/// A segment and the row ranges picked from it (all rows when `None`).
type PickedSegment = (Arc<Segment>, Option<Vec<Range<usize>>>);

/// An independent piece of a scan: one segment's picked rows, a group of
/// memtable batches, or (primary-key tables) every source of a partition
/// that must be de-duplicated together.
#[derive(Debug, Clone)]
pub struct ScanUnit {
    segments: Vec<PickedSegment>,
    mem: Vec<MemBatch>,
    dedup: bool,
    /// Upper bound of the rows this unit yields.
    pub rows: usize,
}

impl ScanUnit {
    /// Whether `rows` is exactly the number of rows reading this unit with
    /// `req` returns. Segment rows are picked by series, so tag filters
    /// keep the count exact; a time range (trimmed inside blocks), field
    /// filters, de-duplication, and any filter on memtable batches (counted
    /// whole) make it an upper bound.
    pub fn rows_exact(&self, req: &ScanRequest) -> bool {
        let mem_filtered = req.latest_per_series || !req.tags.is_empty();
        !self.dedup
            && req.lo.is_none()
            && req.hi.is_none()
            && req.fields.is_empty()
            && (self.mem.is_empty() || !mem_filtered)
    }

    /// The segment this unit reads when it reads one segment only, without
    /// memtable rows or de-duplication: its rows then come out in the
    /// segment's order, (tags ascending with NULLs first, time), and the
    /// units of one segment are made one after another in that order.
    pub fn only_segment(&self) -> Option<&Path> {
        match (self.segments.as_slice(), self.mem.is_empty(), self.dedup) {
            ([(seg, _)], true, false) => Some(seg.path()),
            _ => None,
        }
    }
}

/// What pruning did (for EXPLAIN), and what the picked series say about
/// the order of segment rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanStats {
    pub segments_total: usize,
    pub segments_read: usize,
    pub series_total: usize,
    pub series_read: usize,
    /// The most series picked from one segment.
    pub max_series_per_segment: usize,
    /// Tag columns (schema positions) that are NULL in some picked series.
    pub null_tags: Vec<usize>,
}

/// A consistent, immutable view of one table for a reader: never blocked
/// by writers, never showing half a request.
#[derive(Debug, Clone)]
pub struct TableSnapshot {
    pub def: Arc<TableDef>,
    pub schema: SchemaRef,
    segments: Vec<Arc<Segment>>,
    /// Memtable rows by time partition (frozen, then active, batches).
    mem: BTreeMap<i64, MemPartition>,
}

impl TableSnapshot {
    pub(crate) fn new(
        def: Arc<TableDef>,
        schema: SchemaRef,
        segments: Vec<Arc<Segment>>,
        mem: BTreeMap<i64, MemPartition>,
    ) -> TableSnapshot {
        TableSnapshot {
            def,
            schema,
            segments,
            mem,
        }
    }

    pub fn segments(&self) -> &[Arc<Segment>] {
        &self.segments
    }

    /// All rows, all columns (primary-key tables de-duplicated).
    pub fn batches(&self) -> Result<Vec<RecordBatch>> {
        self.scan(None, None, None)
    }

    pub fn num_rows(&self) -> Result<usize> {
        Ok(self
            .scan(Some(&[]), None, None)?
            .iter()
            .map(|b| b.num_rows())
            .sum())
    }

    /// The rows with `lo <= time <= hi` (microseconds), with the columns
    /// `projection` of `schema` (all when `None`).
    pub fn scan(
        &self,
        projection: Option<&[usize]>,
        lo: Option<i64>,
        hi: Option<i64>,
    ) -> Result<Vec<RecordBatch>> {
        let req = ScanRequest {
            projection: projection.map(<[usize]>::to_vec),
            lo,
            hi,
            tags: Vec::new(),
            fields: Vec::new(),
            latest_per_series: false,
        };
        let mut out = Vec::new();
        for unit in self.units(&req).0 {
            out.extend(self.read_unit(&unit, &req)?);
        }
        Ok(out)
    }

    /// Exact NULL count, minimum and maximum of column `column` (a position
    /// in the snapshot's schema) over every row, from segment chunk headers
    /// and memtable batches, without decoding. `None` when they cannot be
    /// exact: primary-key tables (de-duplication may drop rows), and types
    /// without statistics (decimals, binary, unsigned values above
    /// `i64::MAX` in the memtable). Floats are ordered by IEEE totalOrder.
    pub fn column_stats(&self, column: usize) -> Result<Option<ColumnStats>> {
        if self.def.options.primary_key {
            return Ok(None);
        }
        let field = self.schema.field(column);
        let mut stats = ColumnStats::default();
        for seg in &self.segments {
            match seg.column_stats(field.name())? {
                None => stats.null_count += seg.footer().rows as usize,
                Some(chunks) => {
                    for c in chunks {
                        stats.null_count += c.null_count;
                        stats.merge(c.min, c.max);
                    }
                }
            }
        }
        for m in self.mem.values().flat_map(|p| &p.batches) {
            let array = m.column(column)?;
            stats.null_count += array.null_count();
            let Some((min, max)) = array_min_max(&array)? else {
                return Ok(None);
            };
            stats.merge(min, max);
        }
        Ok(Some(stats))
    }

    /// Splits a scan into independent units, pruning segments by time and
    /// series (tag filters against each segment's series directory, series
    /// time bounds against the range).
    pub fn units(&self, req: &ScanRequest) -> (Vec<ScanUnit>, ScanStats) {
        let mut stats = ScanStats {
            segments_total: self.segments.len(),
            ..ScanStats::default()
        };
        let tag_idx = self.def.tag_indices();
        // Series directories name series by their text tags only, so the
        // newest-row path needs every tag to be text (otherwise a full scan,
        // which the DISTINCT ON above reduces to the same rows).
        let text_tags = tag_idx
            .iter()
            .all(|&i| self.schema.field(i).data_type() == &DataType::Utf8);
        let newest = (req.latest_per_series && text_tags).then(|| {
            latest::newest_times(
                self.segments.iter().filter(|s| s.overlaps(req.lo, req.hi)),
                tag_idx.len(),
            )
        });
        let timed = req.lo.is_some() || req.hi.is_some();
        let mut picked = Vec::new();
        for seg in self.segments.iter().filter(|s| s.overlaps(req.lo, req.hi)) {
            let series = &seg.footer().series;
            stats.series_total += series.len();
            let pick = |s: &crate::segment::SeriesEntry| {
                req.lo.is_none_or(|lo| s.last_time >= lo)
                    && req.hi.is_none_or(|hi| s.first_time <= hi)
                    && req.tags.iter().all(|f| {
                        let Some(pos) = tag_idx.iter().position(|t| *t == f.column) else {
                            return true;
                        };
                        // A tag the segment predates is NULL there.
                        match seg
                            .footer()
                            .columns
                            .iter()
                            .position(|c| c.name == self.schema.field(f.column).name().as_str())
                        {
                            None => false,
                            Some(_) => s
                                .tags
                                .get(pos)
                                .and_then(|v| v.as_deref())
                                .is_some_and(|v| f.values.iter().any(|want| want == v)),
                        }
                    })
            };
            let mut ranges: Vec<Range<usize>> = Vec::new();
            let mut rows = 0;
            let newest_here = |s: &crate::segment::SeriesEntry| {
                newest.as_ref().is_none_or(|m| {
                    m.get(&latest::series_key(s, tag_idx.len())) == Some(&s.last_time)
                })
            };
            let mut picked_here = 0;
            for s in series.iter().filter(|s| pick(s) && newest_here(s)) {
                stats.series_read += 1;
                picked_here += 1;
                for (pos, &column) in tag_idx.iter().enumerate() {
                    let null = s.tags.get(pos).is_none_or(Option::is_none);
                    if null && !stats.null_tags.contains(&column) {
                        stats.null_tags.push(column);
                    }
                }
                let r = if newest.is_some() {
                    // Rows of a series are sorted by time: its last row is newest.
                    s.end as usize - 1..s.end as usize
                } else {
                    s.start as usize..s.end as usize
                };
                rows += r.len();
                // With a time range, series stay separate ranges: each is
                // sorted by time, so a read can cut it to the exact rows.
                match ranges.last_mut() {
                    Some(last) if last.end == r.start && !timed => last.end = r.end,
                    _ => ranges.push(r),
                }
            }
            if ranges.is_empty() {
                continue;
            }
            stats.max_series_per_segment = stats.max_series_per_segment.max(picked_here);
            stats.segments_read += 1;
            let all = !timed && ranges.len() == 1 && ranges[0] == (0..seg.footer().rows as usize);
            picked.push((seg.clone(), (!all).then_some(ranges), rows));
        }
        let time_idx = self.def.time_index();
        // Memtable partitions outside the range are skipped whole, then
        // batches by their own bounds.
        let mem: Vec<(i64, Vec<MemBatch>)> = self
            .mem
            .iter()
            .filter(|(_, part)| part.overlaps(req.lo, req.hi))
            .map(|(partition, part)| {
                let batches = part
                    .batches
                    .iter()
                    .filter(|m| {
                        batch_overlaps(m.stored(), time_idx, req.lo, req.hi).unwrap_or(true)
                    })
                    .cloned()
                    .collect();
                (*partition, batches)
            })
            .collect();
        let mut units = Vec::new();
        if self.def.options.primary_key {
            // Rows with equal keys share their time, so their partition:
            // each partition's segments and memtable rows are
            // de-duplicated together, independently of the others.
            let mut by_partition: BTreeMap<i64, ScanUnit> = BTreeMap::new();
            let empty = || ScanUnit {
                segments: Vec::new(),
                mem: Vec::new(),
                dedup: false,
                rows: 0,
            };
            for (seg, ranges, rows) in picked {
                let unit = by_partition
                    .entry(seg.footer().partition)
                    .or_insert_with(empty);
                unit.rows += rows;
                unit.segments.push((seg, ranges));
            }
            for (partition, batches) in mem {
                let unit = by_partition.entry(partition).or_insert_with(empty);
                unit.rows += batches.iter().map(MemBatch::num_rows).sum::<usize>();
                unit.mem.extend(batches);
            }
            for mut unit in by_partition.into_values() {
                // One request may write a key twice, so memtable rows are
                // always de-duplicated; one segment alone never needs it.
                unit.dedup = unit.segments.len() > 1 || !unit.mem.is_empty();
                if unit.rows > 0 || !unit.segments.is_empty() {
                    units.push(unit);
                }
            }
            return (units, stats);
        }
        for (seg, ranges, _) in picked {
            // Large segments become several units so they scan on all cores.
            let ranges =
                ranges.unwrap_or_else(|| std::iter::once(0..seg.footer().rows as usize).collect());
            for piece in split_rows(ranges, UNIT_ROWS) {
                units.push(ScanUnit {
                    rows: piece.iter().map(Range::len).sum(),
                    segments: vec![(seg.clone(), Some(piece))],
                    mem: Vec::new(),
                    dedup: false,
                });
            }
        }
        // Memtable batches in groups of ~64Ki rows, so they scan in parallel.
        let mut group: Vec<MemBatch> = Vec::new();
        let mut group_rows = 0;
        for m in mem.into_iter().flat_map(|(_, batches)| batches) {
            group_rows += m.num_rows();
            group.push(m);
            if group_rows >= 1 << 16 {
                units.push(ScanUnit {
                    segments: Vec::new(),
                    mem: std::mem::take(&mut group),
                    dedup: false,
                    rows: std::mem::take(&mut group_rows),
                });
            }
        }
        if !group.is_empty() {
            units.push(ScanUnit {
                segments: Vec::new(),
                mem: group,
                dedup: false,
                rows: group_rows,
            });
        }
        (units, stats)
    }

    /// Reads one unit with the request's projection and time range.
    pub fn read_unit(&self, unit: &ScanUnit, req: &ScanRequest) -> Result<Vec<RecordBatch>> {
        let wanted: Vec<usize> = match &req.projection {
            Some(p) => p.clone(),
            None => (0..self.schema.fields().len()).collect(),
        };
        if req.latest_per_series && !req.fields.is_empty() {
            return Err(StorageError::Internal(
                "a newest-row scan cannot apply field filters".into(),
            ));
        }
        let mut read = wanted.clone();
        let mut key_pos = Vec::new();
        // Field filters hold for the rows that survive de-duplication: a
        // newer version of a row decides, so they are applied afterwards.
        let early_fields: &[FieldFilter] = if unit.dedup { &[] } else { &req.fields };
        if unit.dedup {
            let mut key = self.def.tag_indices();
            key.push(self.def.time_index());
            for k in key.iter().chain(req.fields.iter().map(|f| &f.column)) {
                if !read.contains(k) {
                    read.push(*k);
                }
            }
            key_pos = key
                .iter()
                .map(|k| read.iter().position(|r| r == k).unwrap_or(0))
                .collect();
        }
        let mut sources = Vec::new();
        for (seg, ranges) in &unit.segments {
            let seq = seg.footer().max_seq;
            for batch in seg.read_rows(
                &self.schema,
                &read,
                ranges.as_deref(),
                (req.lo, req.hi),
                early_fields,
            )? {
                sources.push(MemBatch::new(seq, batch));
            }
        }
        // De-duplication needs each row's request: coalesced batches are
        // read request by request there (zero-copy slices).
        let requests: Vec<MemBatch>;
        let mem: &[MemBatch] = if unit.dedup {
            requests = unit.mem.iter().flat_map(MemBatch::requests).collect();
            &requests
        } else {
            &unit.mem
        };
        let read_schema = Arc::new(self.schema.project(&read)?);
        for m in mem {
            // Compact batches are filtered as stored (tag filters match the
            // dictionary values once), and only the rows and columns read
            // are expanded to the table's types.
            let batch = if req.latest_per_series {
                let time_idx = self.def.time_index();
                latest::newest_rows(&m.batch()?, &self.def.tag_indices(), time_idx)?
            } else {
                m.stored().clone()
            };
            let batch = self.apply_filters(batch, req, early_fields)?;
            if batch.num_rows() == 0 {
                continue;
            }
            let batch = dict::expand(&read_schema, &batch.project(&read)?)?;
            sources.push(MemBatch::new(m.seq, batch));
        }
        if !unit.dedup {
            return sources.iter().map(MemBatch::batch).collect();
        }
        let keep: Vec<usize> = (0..wanted.len()).collect();
        let mut out = Vec::new();
        for batch in dedup_last_write_wins(&key_pos, &sources)? {
            let mut masks = Vec::new();
            for f in &req.fields {
                let pos = read.iter().position(|r| *r == f.column).unwrap_or(0);
                masks.push(predicate_mask(batch.column(pos), &f.predicate)?);
            }
            let batch = match all_of(masks)? {
                Some(m) => arrow::compute::filter_record_batch(&batch, &m)?,
                None => batch,
            };
            if batch.num_rows() > 0 {
                out.push(batch.project(&keep)?);
            }
        }
        Ok(out)
    }
}

impl TableSnapshot {
    /// The rows of a memtable batch (all columns of the snapshot's schema)
    /// that satisfy the request's time bounds and tag filters and `fields`.
    /// Segments apply the same predicates from their series directories,
    /// sorted time columns and encoded chunks.
    fn apply_filters(
        &self,
        batch: RecordBatch,
        req: &ScanRequest,
        fields: &[FieldFilter],
    ) -> Result<RecordBatch> {
        if req.lo.is_none() && req.hi.is_none() && req.tags.is_empty() && fields.is_empty() {
            return Ok(batch);
        }
        let mut masks: Vec<BooleanArray> = Vec::new();
        if req.lo.is_some() || req.hi.is_some() {
            let micros = cast(batch.column(self.def.time_index()), &DataType::Int64)?;
            let micros = micros.as_primitive::<Int64Type>();
            let (lo, hi) = (req.lo.unwrap_or(i64::MIN), req.hi.unwrap_or(i64::MAX));
            masks.push(BooleanArray::from_unary(micros, |t| lo <= t && t <= hi));
        }
        for f in &req.tags {
            let column = batch.column(f.column);
            let wanted: HashSet<&str> = f.values.iter().map(String::as_str).collect();
            if let Some(dict) = column.as_dictionary_opt::<UInt16Type>() {
                if let Some(values) = dict.values().as_string_opt::<i32>() {
                    let hit: Vec<bool> = values
                        .iter()
                        .map(|v| v.is_some_and(|v| wanted.contains(v)))
                        .collect();
                    let keys = dict.keys();
                    masks.push(BooleanArray::from_iter(keys.iter().map(|k| {
                        Some(k.is_some_and(|k| hit.get(usize::from(k)).copied().unwrap_or(false)))
                    })));
                    continue;
                }
            }
            let Some(text) = column.as_string_opt::<i32>() else {
                return Err(StorageError::Internal(format!(
                    "tag filter on column {} of type {}, not text",
                    self.schema.field(f.column).name(),
                    column.data_type()
                )));
            };
            masks.push(
                text.iter()
                    .map(|v| Some(v.is_some_and(|v| wanted.contains(v))))
                    .collect(),
            );
        }
        for f in fields {
            let ty = self.schema.field(f.column).data_type();
            let column = crate::dict::expand_column(ty, batch.column(f.column))?;
            masks.push(predicate_mask(&column, &f.predicate)?);
        }
        let Some(mask) = all_of(masks)? else {
            return Ok(batch);
        };
        if mask.true_count() == batch.num_rows() {
            return Ok(batch);
        }
        Ok(arrow::compute::filter_record_batch(&batch, &mask)?)
    }
}

/// The rows where every mask is true; `None` without masks.
fn all_of(masks: Vec<BooleanArray>) -> Result<Option<BooleanArray>> {
    let mut masks = masks.into_iter();
    let Some(mut mask) = masks.next() else {
        return Ok(None);
    };
    for m in masks {
        mask = arrow::compute::and(&mask, &m)?;
    }
    Ok(Some(mask))
}

/// Which rows of `array` satisfy `predicate`, by
/// `lynx_compression::evaluate_array`: the semantics `evaluate` has on
/// encoded chunks, so memtable rows and segment rows agree.
fn predicate_mask(array: &ArrayRef, predicate: &Predicate) -> Result<BooleanArray> {
    let bits = lynx_compression::evaluate_array(array.as_ref(), predicate).map_err(|e| {
        StorageError::Internal(format!(
            "field filter {predicate:?} on {}: {e}",
            array.data_type()
        ))
    })?;
    Ok(BooleanArray::new(bits, None))
}

/// Exact statistics of one column (see [`TableSnapshot::column_stats`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnStats {
    pub null_count: usize,
    /// Smallest and largest non-NULL value; `None` when there is none.
    pub min: Option<Scalar>,
    pub max: Option<Scalar>,
}

impl ColumnStats {
    fn merge(&mut self, min: Option<Scalar>, max: Option<Scalar>) {
        use std::cmp::Ordering::{Greater, Less};
        if let Some(v) = min {
            if self
                .min
                .as_ref()
                .is_none_or(|cur| scalar_cmp(&v, cur) == Less)
            {
                self.min = Some(v);
            }
        }
        if let Some(v) = max {
            if self
                .max
                .as_ref()
                .is_none_or(|cur| scalar_cmp(&v, cur) == Greater)
            {
                self.max = Some(v);
            }
        }
    }
}

/// Total order of statistics values of one column (same variant).
fn scalar_cmp(a: &Scalar, b: &Scalar) -> std::cmp::Ordering {
    match (a, b) {
        (Scalar::Int(a), Scalar::Int(b)) => a.cmp(b),
        (Scalar::Float(a), Scalar::Float(b)) => a.total_cmp(b),
        (Scalar::Bytes(a), Scalar::Bytes(b)) => a.cmp(b),
        (Scalar::Bool(a), Scalar::Bool(b)) => a.cmp(b),
        _ => std::cmp::Ordering::Equal,
    }
}

/// Min and max of a memtable column as statistics values (`Some((None,
/// None))` when every value is NULL), `None` for types without statistics.
fn array_min_max(array: &ArrayRef) -> Result<Option<(Option<Scalar>, Option<Scalar>)>> {
    let dt = array.data_type();
    if dt.is_integer() || dt.is_temporal() {
        if matches!(dt, DataType::UInt64) {
            let values = array.as_primitive::<arrow::datatypes::UInt64Type>();
            let int = |v: Option<u64>| v.map(|v| Scalar::Int(i128::from(v)));
            return Ok(Some((
                int(arrow::compute::min(values)),
                int(arrow::compute::max(values)),
            )));
        }
        let Ok(ints) = cast(array, &DataType::Int64) else {
            return Ok(None);
        };
        let ints = ints.as_primitive::<Int64Type>();
        let int = |v: Option<i64>| v.map(|v| Scalar::Int(i128::from(v)));
        return Ok(Some((
            int(arrow::compute::min(ints)),
            int(arrow::compute::max(ints)),
        )));
    }
    Ok(match dt {
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            let floats = cast(array, &DataType::Float64)?;
            let floats = floats.as_primitive::<arrow::datatypes::Float64Type>();
            let mut out: Option<(f64, f64)> = None;
            for v in floats.iter().flatten() {
                out = Some(match out {
                    None => (v, v),
                    Some((lo, hi)) => (
                        if v.total_cmp(&lo).is_lt() { v } else { lo },
                        if v.total_cmp(&hi).is_gt() { v } else { hi },
                    ),
                });
            }
            Some(out.map_or((None, None), |(lo, hi)| {
                (Some(Scalar::Float(lo)), Some(Scalar::Float(hi)))
            }))
        }
        DataType::Utf8 => {
            let text = array.as_string::<i32>();
            let bytes = |v: Option<&str>| v.map(|v| Scalar::Bytes(v.as_bytes().to_vec()));
            Some((
                bytes(arrow::compute::min_string(text)),
                bytes(arrow::compute::max_string(text)),
            ))
        }
        DataType::Boolean => {
            let b = array.as_boolean();
            Some((
                arrow::compute::min_boolean(b).map(Scalar::Bool),
                arrow::compute::max_boolean(b).map(Scalar::Bool),
            ))
        }
        _ => None,
    })
}

/// Rows per scan unit cut from one segment: one chunk of 65,536 rows. A
/// unit is decoded whole before its batches go up the plan, so a small unit
/// keeps the decoded columns in cache while the operators above read them
/// (units of 16 chunks decoded ~100 MB before the first batch was consumed).
const UNIT_ROWS: usize = 1 << 16;

/// Cuts sorted, disjoint row ranges into pieces of at most `max` rows,
/// cutting only at multiples of `max` so pieces align with chunks.
fn split_rows(ranges: Vec<Range<usize>>, max: usize) -> Vec<Vec<Range<usize>>> {
    let mut pieces: Vec<Vec<Range<usize>>> = Vec::new();
    let mut current_slot = None;
    for r in ranges {
        let mut start = r.start;
        while start < r.end {
            let slot = start / max;
            let end = r.end.min((slot + 1) * max);
            if current_slot != Some(slot) {
                pieces.push(Vec::new());
                current_slot = Some(slot);
            }
            pieces.last_mut().expect("pushed above").push(start..end);
            start = end;
        }
    }
    pieces
}

fn batch_overlaps(
    batch: &RecordBatch,
    time_idx: usize,
    lo: Option<i64>,
    hi: Option<i64>,
) -> Result<bool> {
    if lo.is_none() && hi.is_none() {
        return Ok(true);
    }
    let micros = cast(batch.column(time_idx), &DataType::Int64)?;
    let micros = micros.as_primitive::<Int64Type>();
    let (Some(min), Some(max)) = (arrow::compute::min(micros), arrow::compute::max(micros)) else {
        return Ok(false); // no rows
    };
    Ok(lo.is_none_or(|lo| max >= lo) && hi.is_none_or(|hi| min <= hi))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Pieces keep every row once, in order, and never cross a multiple of `max`.
        #[test]
        fn split_rows_keeps_every_row_within_aligned_pieces(
            cuts in prop::collection::btree_set(0usize..3000, 0..20),
            max in 1usize..700,
        ) {
            let cuts: Vec<usize> = cuts.into_iter().collect();
            let ranges: Vec<Range<usize>> = cuts.chunks_exact(2).map(|c| c[0]..c[1]).collect();
            let pieces = split_rows(ranges.clone(), max);
            let rows = |rs: &[Range<usize>]| rs.iter().flat_map(|r| r.clone()).collect::<Vec<_>>();
            prop_assert_eq!(rows(&pieces.concat()), rows(&ranges));
            for piece in &pieces {
                prop_assert!(!piece.is_empty());
                let slot = piece[0].start / max;
                prop_assert!(piece.iter().all(|r| r.start / max == slot && (r.end - 1) / max == slot));
            }
        }
    }
}
