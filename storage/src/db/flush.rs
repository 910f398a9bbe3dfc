//! Flush: frozen memtables become segment files, committed by a manifest
//! version, after which the WAL before the watermark is deleted.
//!
//! Order of steps, each safe to crash after: freeze (under the write gate,
//! so every record up to the watermark is frozen) -> write each segment to
//! `NAME.tmp`, fsync, rename -> fsync `segments/` -> commit the manifest
//! (names the segments, `flushed_seq = watermark`) -> swap the segments into
//! the tables and drop the frozen memtables -> trim the WAL. Before the
//! manifest commit, a crash leaves unreferenced files (deleted on open) and
//! a WAL that still holds every row.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, ArrayRef, Int64Array, RecordBatch, UInt32Array};
use arrow::compute::{concat, take};
use arrow::row::{RowConverter, SortField};

use super::{Database, Table};
use crate::atomic_file::sync_dir;
use crate::dedup::dedup_last_write_wins;
use crate::dict;
use crate::error::{Result, StorageError};
use crate::manifest::{segment_file_name, SegmentEntry};
use crate::memtable::{MemBatch, Memtable};
use crate::parallel::parallel_map;
use crate::schema::TableDef;
use crate::segment::{Segment, SegmentWriter};
use crate::series_order;

/// Segments written for one table, not yet visible.
pub(super) struct Written {
    pub table: Arc<Table>,
    pub entries: Vec<SegmentEntry>,
    pub segments: Vec<Arc<Segment>>,
}

impl Written {
    pub fn new(table: &Arc<Table>) -> Self {
        Written {
            table: table.clone(),
            entries: Vec::new(),
            segments: Vec::new(),
        }
    }
}

impl Database {
    /// Flushes every memtable to segments and trims the WAL.
    pub fn flush(&self) -> Result<()> {
        let _maintenance = self.maintenance.lock();
        let flushed = self.flush_locked();
        self.release_memory();
        flushed
    }

    /// `flush` with the maintenance lock already held.
    pub(super) fn flush_locked(&self) -> Result<()> {
        let (watermark, work) = {
            let _gate = self.write_gate.write();
            let watermark = self.wal.last_seq();
            // Records after the watermark go to a new file, so the trim
            // below can delete every file the flush covers.
            self.wal.rotate()?;
            let mut work = Vec::new();
            for t in self.tables.read().values() {
                let mut st = t.state.write();
                let st = &mut *st;
                st.frozen.append(&mut st.mem);
                if !st.frozen.is_empty() {
                    work.push((t.clone(), st.def.clone(), st.frozen.partitions().clone()));
                }
            }
            (watermark, work)
        };
        *self.last_flush.lock() = Instant::now();
        if work.is_empty() && watermark <= self.manifest.lock().data.flushed_seq {
            return Ok(());
        }
        let mut written = Vec::new();
        for (table, def, partitions) in work {
            // One partition at a time: only its rows are sorted at once.
            let mut w = Written::new(&table);
            let mut result = Ok(());
            for part in partitions.into_values() {
                let max_seq = part.batches.iter().map(|b| b.seq).max().unwrap_or(0);
                result = sort_and_partition(&def, &part.batches).and_then(|parts| {
                    parts.into_iter().try_for_each(|(partition, batch)| {
                        self.write_streamed(&mut w, &def, partition, max_seq, |writer| {
                            writer.push(&batch)
                        })
                    })
                });
                if result.is_err() {
                    break;
                }
            }
            written.push(w);
            if let Err(e) = result {
                self.discard(&written);
                return Err(e);
            }
        }
        if let Err(e) = self.commit_segments(&written, &[], Some(watermark)) {
            self.discard(&written);
            return Err(e);
        }
        for w in written {
            let mut st = w.table.state.write();
            st.segments.extend(w.segments);
            st.frozen = Memtable::default();
        }
        self.recount_mem_bytes();
        self.metrics.flushes.fetch_add(1, Ordering::Relaxed);
        // Everything up to the watermark is in committed segments now.
        self.wal.trim_before(watermark + 1)
    }

    /// Writes one segment per partition; files are durable but unreferenced.
    pub(super) fn write_segments(
        &self,
        table: &Arc<Table>,
        def: &TableDef,
        parts: Vec<(i64, RecordBatch)>,
        max_seq: u64,
    ) -> Result<Written> {
        let mut w = Written::new(table);
        for (partition, batch) in parts {
            let result = self.write_streamed(&mut w, def, partition, max_seq, |writer| {
                writer.push(&batch)
            });
            if let Err(e) = result {
                self.discard(std::slice::from_ref(&w));
                return Err(e);
            }
        }
        Ok(w)
    }

    /// Writes one segment of `partition` from the rows `fill` pushes (in
    /// (tags, time) order) and adds it to `w`: durable, renamed into place,
    /// not yet named by the manifest. No segment when `fill` pushes no row;
    /// on an error nothing of this segment is left on disk.
    pub(super) fn write_streamed(
        &self,
        w: &mut Written,
        def: &TableDef,
        partition: i64,
        max_seq: u64,
        fill: impl FnOnce(&mut SegmentWriter) -> Result<()>,
    ) -> Result<()> {
        let id = self.manifest.lock().allocate_id();
        let file = segment_file_name(w.table.id, partition, id);
        let dir = self.dir.join("segments");
        let path = dir.join(&file);
        let tmp = dir.join(format!("{file}.tmp"));
        let written = (|| {
            let mut writer = SegmentWriter::create(&tmp, def, partition, max_seq)?;
            fill(&mut writer)?;
            if writer.rows() == 0 {
                return Ok(None);
            }
            writer.finish()?;
            std::fs::rename(&tmp, &path).map_err(|e| StorageError::io(&path, e))?;
            Segment::open(&path).map(Some)
        })();
        let segment = match written {
            Ok(Some(s)) => s,
            Ok(None) => {
                let _ = std::fs::remove_file(&tmp);
                return Ok(());
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                let _ = std::fs::remove_file(&path);
                return Err(e);
            }
        };
        let f = segment.footer();
        w.entries.push(SegmentEntry {
            id,
            table: w.table.id,
            file,
            partition,
            rows: f.rows,
            min_time: f.min_time,
            max_time: f.max_time,
            max_seq,
        });
        w.segments.push(Arc::new(segment));
        Ok(())
    }

    /// Commits a manifest version that adds `written`, removes the segment
    /// ids `removed` and optionally advances `flushed_seq`.
    pub(super) fn commit_segments(
        &self,
        written: &[Written],
        removed: &[u64],
        flushed_seq: Option<u64>,
    ) -> Result<()> {
        sync_dir(&self.dir.join("segments"))?;
        let mut manifest = self.manifest.lock();
        let mut next = manifest.data.clone();
        next.segments.retain(|e| !removed.contains(&e.id));
        for w in written {
            next.segments.extend(w.entries.iter().cloned());
        }
        if let Some(seq) = flushed_seq {
            next.flushed_seq = next.flushed_seq.max(seq);
        }
        manifest.commit(next)
    }

    /// Deletes files written for a manifest commit that did not happen.
    pub(super) fn discard(&self, written: &[Written]) {
        for w in written {
            for s in &w.segments {
                let _ = std::fs::remove_file(s.path());
            }
        }
    }
}

/// Sorts rows by (partition, tags, time), de-duplicating primary-key tables
/// (the batch with the highest `seq` wins), and cuts them per partition.
/// Text tag columns come out as dictionaries with distinct entries (for
/// [`SegmentWriter`], which stores them as text).
pub(super) fn sort_and_partition(
    def: &TableDef,
    batches: &[MemBatch],
) -> Result<Vec<(i64, RecordBatch)>> {
    let Some(first) = batches.first() else {
        return Ok(Vec::new());
    };
    let schema = first.schema();
    // Compact memtable batches and bulk loads may hold string columns as
    // dictionaries: tag columns are used as they are where every batch
    // agrees on the type, everything else is read in the table's types.
    let sources: Vec<RecordBatch> = if def.options.primary_key {
        let mut key = def.tag_indices();
        key.push(def.time_index());
        dedup_last_write_wins(&key, batches)?
    } else {
        batches.iter().map(|b| b.stored().clone()).collect()
    };
    let rows: usize = sources.iter().map(RecordBatch::num_rows).sum();
    if rows == 0 {
        return Ok(Vec::new());
    }
    let table_column = |b: &RecordBatch, i: usize| -> Result<ArrayRef> {
        dict::expand_column(schema.field(i).data_type(), b.column(i))
    };
    // Only the key columns are concatenated; the others are gathered
    // once, in sorted order, straight from the source batches.
    let column = |i: usize| -> Result<ArrayRef> {
        let ty = sources[0].column(i).data_type();
        if sources.iter().all(|b| b.column(i).data_type() == ty) {
            let parts: Vec<&dyn Array> = sources.iter().map(|b| b.column(i).as_ref()).collect();
            // Dictionaries whose merged values overflow their key type
            // cannot be concatenated as they are: expand them below.
            if let Ok(column) = concat(&parts) {
                return Ok(column);
            }
        }
        let parts = sources
            .iter()
            .map(|b| table_column(b, i))
            .collect::<Result<Vec<_>>>()?;
        let parts: Vec<&dyn Array> = parts.iter().map(|c| c.as_ref()).collect();
        Ok(concat(&parts)?)
    };
    let time_col = column(def.time_index())?;
    let times = crate::segment::write::time_values(&time_col)?;
    let len = def.options.partition_micros.max(1);
    let partitions: Int64Array = times.iter().map(|t| t.div_euclid(len) * len).collect();
    let tag_indices = def.tag_indices();
    let mut tag_cols = tag_indices
        .iter()
        .map(|i| column(*i))
        .collect::<Result<Vec<_>>>()?;
    let all_dictionaries =
        !tag_cols.is_empty() && tag_cols.iter().all(series_order::is_string_dictionary);
    let mut series = all_dictionaries
        .then(|| series_order::series_of_codes(&tag_cols, rows))
        .flatten();
    if series.is_none() {
        for (col, i) in tag_cols.iter_mut().zip(&tag_indices) {
            *col = dict::expand_column(schema.field(*i).data_type(), col)?;
        }
        let starts: Vec<usize> = sources
            .iter()
            .scan(0, |at, b| {
                let start = *at;
                *at += b.num_rows();
                Some(start)
            })
            .collect();
        series = series_order::series_of_batches(&tag_cols, rows, &starts);
    }
    let order = match &series {
        Some(series) => series_order::order(partitions.values(), series, &times),
        None => row_format_order(&partitions, &tag_cols, &time_col)?,
    };
    let runs = series.as_ref().map(|s| series_order::runs(s, &order));
    let order = UInt32Array::from(order);
    let columns = parallel_map(schema.fields().len(), |c| {
        // Tag columns by runs of one series (see `gather_tag`).
        let tag = tag_indices.iter().position(|t| *t == c);
        if let (Some(series), Some(runs), Some(t)) = (&series, &runs, tag) {
            if let Some(sorted) = series_order::gather_tag(&tag_cols[t], series, runs) {
                return Ok(sorted);
            }
        }
        // One contiguous column gathered by row numbers, instead of
        // interleaving (batch, row) pairs across the source batches (7 %
        // of a CSV COPY's samples for interleave, 2 % for concat + take).
        let whole = match tag {
            Some(t) => dict::expand_column(schema.field(c).data_type(), &tag_cols[t])?,
            None if c == def.time_index() => time_col.clone(),
            None => {
                let parts = sources
                    .iter()
                    .map(|b| table_column(b, c))
                    .collect::<Result<Vec<_>>>()?;
                let parts: Vec<&dyn Array> = parts.iter().map(|c| c.as_ref()).collect();
                concat(&parts)?
            }
        };
        Ok(take(&whole, &order, None)?)
    })
    .into_iter()
    .collect::<Result<Vec<_>>>()?;
    // Sorted tag columns are dictionaries (see `gather_tag`).
    let sorted = dict::with_columns(&schema, columns)?;
    let sorted_parts: Vec<i64> = order
        .values()
        .iter()
        .map(|g| partitions.value(*g as usize))
        .collect();
    let mut out = Vec::new();
    let mut start = 0;
    for row in 1..=sorted.num_rows() {
        if row == sorted.num_rows() || sorted_parts[row] != sorted_parts[start] {
            out.push((sorted_parts[start], sorted.slice(start, row - start)));
            start = row;
        }
    }
    Ok(out)
}

/// (partition, tags, time) order through arrow's row format, for tag
/// columns that are not Utf8.
fn row_format_order(
    partitions: &Int64Array,
    tags: &[ArrayRef],
    time: &ArrayRef,
) -> Result<Vec<u32>> {
    let mut cols: Vec<ArrayRef> = vec![Arc::new(partitions.clone())];
    cols.extend(tags.iter().cloned());
    cols.push(time.clone());
    let converter = RowConverter::new(
        cols.iter()
            .map(|c| SortField::new(c.data_type().clone()))
            .collect(),
    )?;
    let keys = converter.convert_columns(&cols)?;
    let mut order: Vec<u32> = (0..partitions.len() as u32).collect();
    order.sort_unstable_by(|a, b| keys.row(*a as usize).cmp(&keys.row(*b as usize)));
    Ok(order)
}
