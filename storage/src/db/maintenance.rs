//! Work that rewrites the manifest besides flushing: loading segments on
//! open, deletes on segments, DROP TABLE, compaction, retention, and the
//! background thread that runs flush, compaction and retention.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arrow::compute::filter_record_batch;
use arrow::datatypes::SchemaRef;

use super::flush::Written;
use super::merge::merge_segments;
use super::{Database, Table};
use crate::catalog::TableId;
use crate::error::{Result, StorageError};
use crate::manifest::Manifest;
use crate::schema::TableDef;
use crate::segment::Segment;
use crate::time_filter::outside_range;

/// Opens the segments the manifest names into their tables. Entries of
/// tables missing from the catalog (a crash inside DROP TABLE) are removed;
/// files the manifest does not name are deleted; a segment that fails to
/// open is logged and recorded on its table, whose scans then report it.
pub(super) fn load_segments(
    dir: &Path,
    manifest: &mut Manifest,
    tables: &HashMap<TableId, Arc<Table>>,
) -> Result<()> {
    let mut data = manifest.data.clone();
    let before = data.segments.len();
    data.segments.retain(|e| tables.contains_key(&e.table));
    if data.segments.len() != before {
        manifest.commit(data.clone())?;
    }
    let mut entries = data.segments.clone();
    entries.sort_by_key(|e| (e.max_seq, e.id));
    for e in &entries {
        let path = dir.join(&e.file);
        let Some(table) = tables.get(&e.table) else {
            continue;
        };
        let mut st = table.state.write();
        match Segment::open(&path) {
            Ok(seg) => st.segments.push(Arc::new(seg)),
            Err(err) => {
                tracing::error!(file = %path.display(), error = %err, "segment cannot be read");
                st.corrupt.push(err);
            }
        }
    }
    let live: HashSet<&str> = entries.iter().map(|e| e.file.as_str()).collect();
    let listing = std::fs::read_dir(dir).map_err(|e| StorageError::io(dir, e))?;
    for item in listing {
        let item = item.map_err(|e| StorageError::io(dir, e))?;
        let name = item.file_name();
        let name = name.to_string_lossy();
        if !live.contains(name.as_ref()) {
            tracing::info!(file = %name, "removing a segment file no manifest names");
            std::fs::remove_file(item.path()).map_err(|e| StorageError::io(item.path(), e))?;
        }
    }
    Ok(())
}

/// The background thread; dropping the handle stops and joins it.
pub struct MaintenanceHandle {
    stop: Arc<AtomicBool>,
    db: Weak<Database>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for MaintenanceHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(db) = self.db.upgrade() {
            let (lock, cond) = &db.wake;
            *lock.lock() = true;
            cond.notify_all();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Database {
    /// Starts the thread that flushes (on size or age), compacts and
    /// enforces retention, checking at least every `tick`.
    pub fn start_maintenance(self: &Arc<Self>, tick: Duration) -> MaintenanceHandle {
        let stop = Arc::new(AtomicBool::new(false));
        let weak = Arc::downgrade(self);
        let thread = {
            let stop = stop.clone();
            let weak = weak.clone();
            std::thread::Builder::new()
                .name("lynx-maintenance".into())
                .spawn(move || maintenance_loop(&weak, &stop, tick))
                .ok()
        };
        MaintenanceHandle {
            stop,
            db: weak,
            thread,
        }
    }

    /// One round of background work; errors are returned for the caller to
    /// log (the next round retries).
    pub fn maintain(&self) -> Result<()> {
        let due = self.memtable_bytes() >= self.flush_bytes
            || (self.memtable_bytes() > 0 && self.last_flush.lock().elapsed() >= self.flush_age);
        if due {
            self.flush()?;
        }
        self.compact(self.compaction_min_segments)?;
        self.enforce_retention(now_micros())?;
        Ok(())
    }

    /// Merges, in every partition, the newest run of at least
    /// `min_segments` similar-sized segments (see `pick_tier`) into one
    /// sorted (and, for primary-key tables, de-duplicated) segment.
    /// Returns the number of merges done.
    pub fn compact(&self, min_segments: usize) -> Result<usize> {
        self.compact_with(min_segments, true)
    }

    /// Merges every partition with more than one segment into one (VACUUM).
    pub fn compact_all(&self) -> Result<usize> {
        self.compact_with(2, false)
    }

    fn compact_with(&self, min_segments: usize, tiered: bool) -> Result<usize> {
        // Merging runs without the maintenance lock (flushes, deletes and
        // writers under back-pressure go on); it is taken for each commit.
        let _compaction = self.compaction.lock();
        let tables: Vec<Arc<Table>> = self.tables.read().values().cloned().collect();
        let mut done = 0;
        for table in tables {
            let (def, schema, segments) = {
                let st = table.state.read();
                (st.def.clone(), st.schema.clone(), st.segments.clone())
            };
            let mut by_partition: BTreeMap<i64, Vec<Arc<Segment>>> = BTreeMap::new();
            for s in segments {
                by_partition
                    .entry(s.footer().partition)
                    .or_default()
                    .push(s);
            }
            for segments in by_partition.into_values() {
                let group = match tiered {
                    true => pick_tier(segments, min_segments.max(2)),
                    false if segments.len() >= 2 => segments,
                    false => Vec::new(),
                };
                if group.is_empty() {
                    continue;
                }
                self.merge_group(&table, &def, &schema, group)?;
                done += 1;
                self.metrics.compactions.fetch_add(1, Ordering::Relaxed);
            }
        }
        if done > 0 {
            self.release_memory();
        }
        Ok(done)
    }

    /// Retention: drops whole partitions that ended before `now - ttl`.
    pub fn enforce_retention(&self, now_micros: i64) -> Result<()> {
        let tables: Vec<(String, Arc<TableDef>)> = self
            .tables
            .read()
            .iter()
            .map(|(n, t)| (n.clone(), t.state.read().def.clone()))
            .collect();
        for (name, def) in tables {
            let Some(ttl) = def.options.ttl_micros else {
                continue;
            };
            let len = def.options.partition_micros.max(1);
            let boundary = now_micros.saturating_sub(ttl).div_euclid(len) * len;
            if self.has_rows_before(&name, boundary)? {
                tracing::info!(table = %name, boundary, "retention drops expired partitions");
                self.delete_time_range(&name, i64::MIN, boundary)?;
            }
        }
        Ok(())
    }

    fn has_rows_before(&self, table: &str, boundary: i64) -> Result<bool> {
        let snap = self.snapshot(table)?;
        if snap
            .segments()
            .iter()
            .any(|s| s.footer().min_time < boundary)
        {
            return Ok(true);
        }
        Ok(snap
            .scan(Some(&[snap.def.time_index()]), None, Some(boundary - 1))?
            .iter()
            .any(|b| b.num_rows() > 0))
    }

    /// Applies a time-range delete to a table's segments: segments inside
    /// the range are dropped, overlapping ones rewritten without the range.
    /// Caller holds the maintenance lock.
    pub(super) fn delete_in_segments(&self, table: &Arc<Table>, lo: i64, hi: i64) -> Result<usize> {
        let segments = table.state.read().segments.clone();
        let mut removed = 0;
        for seg in segments {
            let f = seg.footer();
            if f.max_time < lo || f.min_time >= hi {
                continue;
            }
            let def = TableDef {
                name: table.state.read().def.name.clone(),
                columns: f.columns.clone(),
                options: table.state.read().def.options.clone(),
            };
            let schema = def.arrow_schema();
            let mut w = Written::new(table);
            let mut deleted = 0;
            // Filtering keeps the (tags, time) order of the segment.
            self.write_streamed(&mut w, &def, f.partition, f.max_seq, |writer| {
                for chunk in 0..f.chunks.len() {
                    let batch = seg.read_chunk(&schema, chunk)?;
                    let keep = outside_range(batch.column(def.time_index()), lo, hi)?;
                    let kept = filter_record_batch(&batch, &keep)?;
                    deleted += batch.num_rows() - kept.num_rows();
                    writer.push(&kept)?;
                }
                Ok(())
            })?;
            removed += deleted;
            // The maintenance lock keeps `seg` live, so this always swaps.
            self.replace_segments(table, std::slice::from_ref(&seg), w)?;
        }
        Ok(removed)
    }

    /// Removes every segment of a dropped table from the manifest and disk.
    pub(super) fn remove_table_segments(&self, id: TableId) -> Result<()> {
        let doomed: Vec<(u64, String)> = self
            .manifest
            .lock()
            .data
            .segments
            .iter()
            .filter(|e| e.table == id)
            .map(|e| (e.id, e.file.clone()))
            .collect();
        if doomed.is_empty() {
            return Ok(());
        }
        let ids: Vec<u64> = doomed.iter().map(|d| d.0).collect();
        self.commit_segments(&[], &ids, None)?;
        for (_, file) in doomed {
            let _ = std::fs::remove_file(self.dir.join("segments").join(file));
        }
        Ok(())
    }

    /// Merges `group` (segments of one partition) into one segment, at
    /// most `MAX_FAN_IN` sources at a time: each merge takes a run of
    /// consecutive segments by `max_seq`, so last-write-wins order holds.
    /// Stops early (leaving the rest for a later round) when a delete or
    /// DROP TABLE replaced a source while it was being merged.
    fn merge_group(
        &self,
        table: &Arc<Table>,
        def: &TableDef,
        schema: &SchemaRef,
        mut group: Vec<Arc<Segment>>,
    ) -> Result<()> {
        group.sort_by_key(|s| s.footer().max_seq);
        while group.len() > 1 {
            let mut next = Vec::new();
            for window in group.chunks(MAX_FAN_IN) {
                if window.len() == 1 {
                    next.extend(window.iter().cloned());
                    continue;
                }
                let w = self.merge_window(table, def, schema, window)?;
                next.extend(w.segments.iter().cloned());
                if !self.commit_merge(table, window, w)? {
                    return Ok(());
                }
            }
            group = next;
        }
        Ok(())
    }

    /// Writes the merge of `window` as a new, unreferenced segment.
    fn merge_window(
        &self,
        table: &Arc<Table>,
        def: &TableDef,
        schema: &SchemaRef,
        window: &[Arc<Segment>],
    ) -> Result<Written> {
        let partition = window.first().map_or(0, |s| s.footer().partition);
        let max_seq = window.iter().map(|s| s.footer().max_seq).max().unwrap_or(0);
        let mut w = Written::new(table);
        self.write_streamed(&mut w, def, partition, max_seq, |writer| {
            merge_segments(def, schema, window, writer)
        })?;
        Ok(w)
    }

    /// Swaps a merge's output in for its sources under the maintenance
    /// lock; false (and the output deleted) when a source is no longer live.
    fn commit_merge(&self, table: &Arc<Table>, old: &[Arc<Segment>], w: Written) -> Result<bool> {
        let _maintenance = self.maintenance.lock();
        self.replace_segments(table, old, w)
    }

    /// Atomically swaps the segments `written` for `old` (in the manifest,
    /// then in the table), then deletes the old files; readers holding the
    /// old segments keep their mappings. Caller holds the maintenance lock.
    /// When one of `old` is no longer named by the manifest (a delete or
    /// DROP TABLE replaced it after `written` was made from it), nothing
    /// changes, `written` is deleted and the result is false.
    fn replace_segments(
        &self,
        table: &Arc<Table>,
        old: &[Arc<Segment>],
        written: Written,
    ) -> Result<bool> {
        let old_files: Vec<&Path> = old.iter().map(|s| s.path()).collect();
        let old_ids: Vec<u64> = self
            .manifest
            .lock()
            .data
            .segments
            .iter()
            .filter(|e| old_files.iter().any(|p| p.ends_with(&e.file)))
            .map(|e| e.id)
            .collect();
        if old_ids.len() != old.len() {
            self.discard(std::slice::from_ref(&written));
            return Ok(false);
        }
        if let Err(e) = self.commit_segments(std::slice::from_ref(&written), &old_ids, None) {
            self.discard(std::slice::from_ref(&written));
            return Err(e);
        }
        {
            let mut st = table.state.write();
            st.segments
                .retain(|s| !old.iter().any(|o| Arc::ptr_eq(o, s)));
            st.segments.extend(written.segments);
            st.segments.sort_by_key(|s| s.footer().max_seq);
        }
        for path in old_files {
            let _ = std::fs::remove_file(path);
        }
        Ok(true)
    }
}

/// Size-tiered choice inside one partition: starting from the newest
/// segment, take older ones while each is no larger than everything taken so
/// far. Merging only a run of consecutive segments (by `max_seq`) keeps
/// last-write-wins order intact, and each row is rewritten O(log n) times
/// instead of once per flush.
fn pick_tier(mut segments: Vec<Arc<Segment>>, min_segments: usize) -> Vec<Arc<Segment>> {
    segments.sort_by_key(|s| s.footer().max_seq);
    let mut taken = 0u64;
    let mut start = segments.len();
    while start > 0 {
        let rows = segments[start - 1].footer().rows;
        if start < segments.len() && rows > taken {
            break;
        }
        taken += rows;
        start -= 1;
    }
    if segments.len() - start >= min_segments {
        segments.split_off(start)
    } else {
        Vec::new()
    }
}

/// Segments merged at once (each holds one decoded chunk in memory).
const MAX_FAN_IN: usize = 16;

fn maintenance_loop(db: &Weak<Database>, stop: &AtomicBool, tick: Duration) {
    while !stop.load(Ordering::Relaxed) {
        let Some(db) = db.upgrade() else { return };
        if let Err(e) = db.maintain() {
            tracing::error!(error = %e, "background flush/compaction failed; will retry");
        }
        let (lock, cond) = &db.wake;
        let mut woken = lock.lock();
        if !*woken && !stop.load(Ordering::Relaxed) {
            cond.wait_for(&mut woken, tick);
        }
        *woken = false;
    }
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        AsArray, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
    };
    use arrow::datatypes::TimestampMicrosecondType;

    use crate::db::Database;
    use crate::schema::{test_column, ColumnRole, ColumnType, TableDef, TableOptions, UTC};

    fn def() -> TableDef {
        let col = test_column;
        TableDef {
            name: "m".into(),
            columns: vec![
                col("time", ColumnType::TimestampTz, ColumnRole::Time),
                col("host", ColumnType::Text, ColumnRole::Tag),
                col("v", ColumnType::Float64, ColumnRole::Field),
            ],
            options: TableOptions::default(),
        }
    }

    fn write(db: &Database, times: std::ops::RangeInclusive<i64>) {
        let times: Vec<i64> = times.collect();
        let batch = RecordBatch::try_new(
            def().arrow_schema(),
            vec![
                Arc::new(TimestampMicrosecondArray::from(times.clone()).with_timezone(UTC)),
                Arc::new(StringArray::from(vec!["a"; times.len()])),
                Arc::new(Float64Array::from(vec![1.0; times.len()])),
            ],
        )
        .unwrap();
        db.write("m", &batch).unwrap();
        db.flush().unwrap();
    }

    fn times(db: &Database) -> Vec<i64> {
        let mut out: Vec<i64> = db
            .snapshot("m")
            .unwrap()
            .batches()
            .unwrap()
            .iter()
            .flat_map(|b| {
                let t = b.column(0).as_primitive::<TimestampMicrosecondType>();
                t.values().to_vec()
            })
            .collect();
        out.sort();
        out
    }

    /// Compaction merges without the maintenance lock; a delete that
    /// rewrites its sources meanwhile wins: the merge is not committed
    /// (its file is removed) and the deleted rows stay deleted.
    #[test]
    fn a_merge_whose_sources_a_delete_replaced_is_not_committed() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).unwrap();
        db.create_table(def(), false).unwrap();
        write(&db, 1..=3);
        write(&db, 4..=6);
        let table = db.table("m").unwrap();
        let (def, schema, segments) = {
            let st = table.state.read();
            (st.def.clone(), st.schema.clone(), st.segments.clone())
        };
        assert_eq!(segments.len(), 2);
        let merged = db.merge_window(&table, &def, &schema, &segments).unwrap();
        let file = merged.segments[0].path().to_path_buf();
        assert!(file.exists());
        db.delete_time_range("m", 2, 5).unwrap();
        assert!(!db.commit_merge(&table, &segments, merged).unwrap());
        assert!(!file.exists(), "the abandoned merge's file is deleted");
        assert_eq!(times(&db), vec![1, 5, 6]);
        assert_eq!(db.compact_all().unwrap(), 1);
        assert_eq!(db.segment_count(), 1);
        assert_eq!(times(&db), vec![1, 5, 6]);
        drop(db);
        let db = Database::open(dir.path()).unwrap();
        assert_eq!(times(&db), vec![1, 5, 6]);
    }
}
