//! The embedded database: catalog + WAL + memtables + segments behind one
//! handle.
//!
//! `Database::open(dir)` is the entry point for the query layer, the servers
//! and embedding applications. Invariants: a write is visible to readers only
//! after its WAL record is durable; a snapshot shows whole requests only; DDL
//! is persisted in the catalog before it is acknowledged; a WAL record is
//! trimmed only after a committed manifest names segments holding its rows.
//!
//! Layout: `mod.rs` (open, DDL, writes), `snapshot.rs` (reader views and
//! scans), `flush.rs` (memtable -> segments), `maintenance.rs` (deletes on
//! segments, compaction, retention, the background thread), `bulk.rs`
//! (bulk loads straight to segments).

mod bulk;
mod flush;
mod latest;
mod maintenance;
mod merge;
mod snapshot;

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use parking_lot::{Condvar, Mutex, RwLock};

use crate::catalog::{Catalog, TableId};
use crate::conform::{conform_to, conform_write};
use crate::error::{Result, StorageError};
use crate::manifest::Manifest;
use crate::memtable::{split_by_partition, Memtable, PartitionedRows};
use crate::schema::{ColumnDef, TableDef};
use crate::segment::Segment;
use crate::wal::{Durability, SyncObserver, Wal};

pub use bulk::BulkLoad;
pub use maintenance::MaintenanceHandle;
pub use snapshot::{
    ColumnStats, FieldFilter, ScanRequest, ScanStats, ScanUnit, TableSnapshot, TagFilter,
};

const RECORD_INSERT: u8 = 1;
const RECORD_DELETE_RANGE: u8 = 2;
/// Several (table, batch) inserts committed as one record: all or none.
const RECORD_INSERT_MANY: u8 = 3;

/// Engine settings; defaults are the durable, embedded configuration.
pub struct DatabaseOptions {
    pub durability: Durability,
    pub wal_rotate_bytes: u64,
    /// Called with the duration of every WAL group commit.
    pub on_wal_sync: Option<SyncObserver>,
    /// The background thread flushes memtables once they hold this much.
    pub flush_bytes: usize,
    /// ... or once unflushed rows are this old (bounds WAL replay time).
    pub flush_age: Duration,
    /// Back-pressure: a writer that finds memtables above this size flushes
    /// (or waits for the running flush) before writing.
    pub max_memtable_bytes: usize,
    /// Compaction merges a partition once it has this many segments.
    pub compaction_min_segments: usize,
    /// Called after a flush or a compaction has dropped its working memory:
    /// the server hands the freed pages back to the OS through its
    /// allocator, which would otherwise keep them until it next runs short.
    pub release_memory: Option<fn()>,
}

impl Default for DatabaseOptions {
    fn default() -> Self {
        DatabaseOptions {
            durability: Durability::Fsync,
            wal_rotate_bytes: 64 << 20,
            on_wal_sync: None,
            flush_bytes: 64 << 20,
            flush_age: Duration::from_secs(60),
            max_memtable_bytes: 512 << 20,
            compaction_min_segments: 4,
            release_memory: None,
        }
    }
}

/// Counters exported by the server's `/metrics`.
#[derive(Debug, Default)]
pub struct StorageMetrics {
    pub rows_written: AtomicU64,
    pub write_requests: AtomicU64,
    pub flushes: AtomicU64,
    pub compactions: AtomicU64,
    /// Writers that had to wait for a flush (back-pressure).
    pub write_stalls: AtomicU64,
}

struct TableState {
    def: Arc<TableDef>,
    schema: SchemaRef,
    /// Rows written since the last freeze.
    mem: Memtable,
    /// Rows being flushed: still visible until their segments are committed.
    frozen: Memtable,
    /// Committed segments, oldest (lowest `max_seq`) first.
    segments: Vec<Arc<Segment>>,
    /// Segments named by the manifest that failed to open: scans of the
    /// table report them instead of silently returning partial data.
    corrupt: Vec<StorageError>,
}

struct Table {
    id: TableId,
    state: RwLock<TableState>,
}

pub struct Database {
    dir: PathBuf,
    catalog: Mutex<Catalog>,
    manifest: Mutex<Manifest>,
    tables: RwLock<HashMap<String, Arc<Table>>>,
    wal: Wal,
    metrics: StorageMetrics,
    /// Writers hold it shared from WAL append to memtable insert; a flush
    /// takes it exclusively for the instant of freezing, so every record at
    /// or below the flush watermark is in the frozen memtables.
    write_gate: RwLock<()>,
    /// Serializes whatever rewrites the manifest: flush, compaction,
    /// deletes on segments, retention, DROP TABLE.
    maintenance: Mutex<()>,
    /// Serializes compactions, which merge without holding `maintenance`
    /// and take it only to commit.
    compaction: Mutex<()>,
    /// Bytes in all memtables (active and frozen), for flush triggers.
    mem_bytes: AtomicUsize,
    last_flush: Mutex<Instant>,
    /// Wakes the background thread when memtables grow past `flush_bytes`.
    wake: (Mutex<bool>, Condvar),
    flush_bytes: usize,
    flush_age: Duration,
    max_memtable_bytes: usize,
    compaction_min_segments: usize,
    release_memory: Option<fn()>,
    _lock: File,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Opens (creating if needed) the database in `dir` with default options.
    pub fn open(dir: impl AsRef<Path>) -> Result<Database> {
        Self::open_with(dir, DatabaseOptions::default())
    }

    pub fn open_with(dir: impl AsRef<Path>, options: DatabaseOptions) -> Result<Database> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| StorageError::io(&dir, e))?;
        let lock_path = dir.join("LOCK");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| StorageError::io(&lock_path, e))?;
        lock.try_lock()
            .map_err(|_| StorageError::Locked { path: dir.clone() })?;
        let catalog = Catalog::open(&dir)?;
        let mut manifest = Manifest::open(&dir)?;
        let segments_dir = dir.join("segments");
        std::fs::create_dir_all(&segments_dir).map_err(|e| StorageError::io(&segments_dir, e))?;
        let (wal, records) = Wal::open(
            &dir.join("wal"),
            options.durability,
            options.wal_rotate_bytes,
            options.on_wal_sync,
        )?;
        let mut by_id: HashMap<TableId, Arc<Table>> = HashMap::new();
        for (id, def) in catalog.tables() {
            by_id.insert(id, Arc::new(Table::new(id, def.clone())));
        }
        maintenance::load_segments(&segments_dir, &mut manifest, &by_id)?;
        let flushed = manifest.data.flushed_seq;
        let mut pending_deletes = Vec::new();
        for rec in records.into_iter().filter(|r| r.seq > flushed) {
            let deletes = replay_record(&by_id, rec.seq, &rec.payload).map_err(|e| match e {
                StorageError::Corrupt { .. } => e,
                other => StorageError::Corrupt {
                    path: dir.join("wal"),
                    message: format!("record {}: {other}", rec.seq),
                },
            })?;
            pending_deletes.extend(deletes);
        }
        let tables = by_id
            .into_values()
            .map(|t| {
                let name = t.state.read().def.name.clone();
                (name, t)
            })
            .collect();
        let db = Database {
            dir,
            catalog: Mutex::new(catalog),
            manifest: Mutex::new(manifest),
            tables: RwLock::new(tables),
            wal,
            metrics: StorageMetrics::default(),
            write_gate: RwLock::new(()),
            maintenance: Mutex::new(()),
            compaction: Mutex::new(()),
            mem_bytes: AtomicUsize::new(0),
            last_flush: Mutex::new(Instant::now()),
            wake: (Mutex::new(false), Condvar::new()),
            flush_bytes: options.flush_bytes,
            flush_age: options.flush_age,
            max_memtable_bytes: options.max_memtable_bytes,
            compaction_min_segments: options.compaction_min_segments.max(2),
            release_memory: options.release_memory,
            _lock: lock,
        };
        // Deletes logged after the last flush may not have reached the
        // segments before the crash; applying them again is idempotent.
        for (table, lo, hi) in pending_deletes {
            let _guard = db.maintenance.lock();
            db.delete_in_segments(&table, lo, hi)?;
        }
        db.recount_mem_bytes();
        Ok(db)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn metrics(&self) -> &StorageMetrics {
        &self.metrics
    }

    /// Bytes held by all memtables (active and being flushed).
    pub fn memtable_bytes(&self) -> usize {
        self.mem_bytes.load(Ordering::Relaxed)
    }

    /// Runs the `release_memory` hook, if any.
    fn release_memory(&self) {
        if let Some(release) = self.release_memory {
            release();
        }
    }

    fn recount_mem_bytes(&self) {
        let total = self
            .tables
            .read()
            .values()
            .map(|t| {
                let st = t.state.read();
                st.mem.bytes() + st.frozen.bytes()
            })
            .sum();
        self.mem_bytes.store(total, Ordering::Relaxed);
    }

    /// Segment files currently live, over all tables.
    pub fn segment_count(&self) -> usize {
        self.manifest.lock().data.segments.len()
    }

    pub fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.tables.read().keys().cloned().collect();
        names.sort();
        names
    }

    pub fn table_def(&self, name: &str) -> Option<Arc<TableDef>> {
        self.tables
            .read()
            .get(name)
            .map(|t| t.state.read().def.clone())
    }

    fn table(&self, name: &str) -> Result<Arc<Table>> {
        self.tables
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| StorageError::TableNotFound(name.to_string()))
    }

    pub fn create_table(&self, def: TableDef, if_not_exists: bool) -> Result<bool> {
        let mut catalog = self.catalog.lock();
        if catalog.find(&def.name).is_some() {
            return if if_not_exists {
                Ok(false)
            } else {
                Err(StorageError::TableExists(def.name))
            };
        }
        let name = def.name.clone();
        let id = catalog.create(def.clone())?;
        self.tables
            .write()
            .insert(name, Arc::new(Table::new(id, def)));
        Ok(true)
    }

    /// DROP TABLE: the catalog forgets the table first (that is the
    /// commit point), then its segments leave the manifest and the disk.
    pub fn drop_table(&self, name: &str, if_exists: bool) -> Result<bool> {
        let _maintenance = self.maintenance.lock();
        let mut catalog = self.catalog.lock();
        let Some((id, _)) = catalog.find(name) else {
            return if if_exists {
                Ok(false)
            } else {
                Err(StorageError::TableNotFound(name.to_string()))
            };
        };
        catalog.drop_table(id)?;
        self.tables.write().remove(name);
        drop(catalog);
        // A crash here leaves manifest entries of an unknown table, which
        // the next open removes.
        self.remove_table_segments(id)?;
        self.recount_mem_bytes();
        Ok(true)
    }

    /// ADD COLUMN: existing rows read the new column as NULL.
    pub fn add_column(&self, table: &str, column: ColumnDef, if_not_exists: bool) -> Result<bool> {
        let mut catalog = self.catalog.lock();
        let t = self.table(table)?;
        let mut state = t.state.write();
        if state.def.column(&column.name).is_some() {
            return if if_not_exists {
                Ok(false)
            } else {
                Err(StorageError::ColumnExists {
                    table: table.to_string(),
                    column: column.name,
                })
            };
        }
        if !column.nullable {
            return Err(StorageError::InvalidDefinition {
                table: table.to_string(),
                message: format!(
                    "column \"{}\" contains null values: a column added to existing rows must be nullable",
                    column.name
                ),
            });
        }
        let mut def = (*state.def).clone();
        def.columns.push(column);
        catalog.replace(t.id, def.clone())?;
        state.set_def(def)?;
        Ok(true)
    }

    /// Writes all rows of `batch` atomically; returns the row count once the
    /// write is durable. Blocking: call from a blocking-capable thread.
    ///
    /// Hot path: one conversion, one IPC encoding, one WAL append per request.
    /// Writes batches into several tables atomically: one WAL record, so
    /// after a crash either every batch is there or none is. Every batch is
    /// validated before anything is logged.
    pub fn write_many(&self, writes: &[(&str, RecordBatch)]) -> Result<usize> {
        self.apply_back_pressure()?;
        let mut prepared = Vec::with_capacity(writes.len());
        for (table, batch) in writes {
            let t = self.table(table)?;
            let def = t.state.read().def.clone();
            let conformed = conform_write(&def, batch)?;
            if conformed.num_rows() > 0 {
                prepared.push((t, conformed));
            }
        }
        if prepared.is_empty() {
            return Ok(0);
        }
        let mut payload = vec![RECORD_INSERT_MANY];
        payload.extend_from_slice(&(prepared.len() as u32).to_le_bytes());
        for (t, batch) in &prepared {
            let part = encode_insert(t.id, batch)?;
            payload.extend_from_slice(&(part.len() as u64).to_le_bytes());
            payload.extend_from_slice(&part);
        }
        let mut rows = 0;
        {
            let _gate = self.write_gate.read();
            let seq = self.wal.append(&payload)?;
            for (t, batch) in prepared {
                rows += batch.num_rows();
                self.push(&t, seq, batch)?;
            }
        }
        self.metrics
            .rows_written
            .fetch_add(rows as u64, Ordering::Relaxed);
        self.metrics.write_requests.fetch_add(1, Ordering::Relaxed);
        Ok(rows)
    }

    /// Validates `batch` for `table` and converts it to the table's schema
    /// exactly as [`Database::write`] would, without writing anything. Bulk
    /// loaders use it to check a whole input before the first write.
    pub fn conform(&self, table: &str, batch: &RecordBatch) -> Result<RecordBatch> {
        let t = self.table(table)?;
        let def = t.state.read().def.clone();
        conform_write(&def, batch)
    }

    pub fn write(&self, table: &str, batch: &RecordBatch) -> Result<usize> {
        self.apply_back_pressure()?;
        let t = self.table(table)?;
        let def = t.state.read().def.clone();
        let conformed = conform_write(&def, batch)?;
        let rows = conformed.num_rows();
        if rows == 0 {
            return Ok(0);
        }
        let payload = encode_insert(t.id, &conformed)?;
        {
            let _gate = self.write_gate.read();
            let seq = self.wal.append(&payload)?;
            self.push(&t, seq, conformed)?;
        }
        self.metrics
            .rows_written
            .fetch_add(rows as u64, Ordering::Relaxed);
        self.metrics.write_requests.fetch_add(1, Ordering::Relaxed);
        Ok(rows)
    }

    /// Deletes rows with `lo <= time < hi` (microseconds) from memtables
    /// and segments; returns the number of stored rows removed.
    pub fn delete_time_range(&self, table: &str, lo: i64, hi: i64) -> Result<usize> {
        let t = self.table(table)?;
        let _maintenance = self.maintenance.lock();
        let mut payload = vec![RECORD_DELETE_RANGE];
        payload.extend_from_slice(&t.id.to_le_bytes());
        payload.extend_from_slice(&lo.to_le_bytes());
        payload.extend_from_slice(&hi.to_le_bytes());
        let removed = {
            let _gate = self.write_gate.read();
            self.wal.append(&payload)?;
            t.state.write().delete_range(lo, hi)?
        };
        let removed = removed + self.delete_in_segments(&t, lo, hi)?;
        self.recount_mem_bytes();
        Ok(removed)
    }

    /// A consistent view of a table: its segments and memtables as of now.
    pub fn snapshot(&self, table: &str) -> Result<TableSnapshot> {
        let t = self.table(table)?;
        let state = t.state.read();
        if let Some(e) = state.corrupt.first() {
            return Err(StorageError::Corrupt {
                path: self.dir.join("segments"),
                message: e.to_string(),
            });
        }
        // Per partition: the frozen rows, then the newer active ones.
        let mut mem = state.frozen.partitions().clone();
        for (partition, part) in state.mem.partitions() {
            mem.entry(*partition).or_default().absorb(part.clone());
        }
        Ok(TableSnapshot::new(
            state.def.clone(),
            state.schema.clone(),
            state.segments.clone(),
            mem,
        ))
    }

    /// Makes everything written so far durable before exit: syncs the WAL
    /// (relaxed mode) and flushes memtables so the next open replays little.
    pub fn close(&self) -> Result<()> {
        self.wal.sync()?;
        self.flush()
    }

    /// Adds a logged batch to its table's memtable and wakes the background
    /// flusher when memtables outgrow `flush_bytes`.
    fn push(&self, table: &Table, seq: u64, batch: RecordBatch) -> Result<()> {
        let (added, freed) = table.push(seq, batch)?;
        // One update of the net change, never below zero (a concurrent
        // recount may already include it).
        let net = |v: usize| (v + added).saturating_sub(freed);
        let before = self
            .mem_bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| Some(net(v)))
            .unwrap_or_default();
        if net(before) >= self.flush_bytes && before < self.flush_bytes {
            let (lock, cond) = &self.wake;
            *lock.lock() = true;
            cond.notify_all();
        }
        Ok(())
    }

    /// Writers never get dropped: above `max_memtable_bytes` a writer
    /// flushes itself (or waits for the flush in progress) first.
    fn apply_back_pressure(&self) -> Result<()> {
        if self.memtable_bytes() < self.max_memtable_bytes {
            return Ok(());
        }
        self.metrics.write_stalls.fetch_add(1, Ordering::Relaxed);
        let _maintenance = self.maintenance.lock();
        if self.memtable_bytes() >= self.max_memtable_bytes {
            let flushed = self.flush_locked();
            self.release_memory();
            flushed?;
        }
        Ok(())
    }
}

impl Table {
    fn new(id: TableId, def: TableDef) -> Table {
        let schema = def.arrow_schema();
        Table {
            id,
            state: RwLock::new(TableState {
                def: Arc::new(def),
                schema,
                mem: Memtable::default(),
                frozen: Memtable::default(),
                segments: Vec::new(),
                corrupt: Vec::new(),
            }),
        }
    }
}

impl Table {
    /// Adds a logged batch to the memtable, reshaped if a concurrent
    /// ADD COLUMN changed the schema after validation; returns its size
    /// and the bytes coalescing freed.
    fn push(&self, seq: u64, batch: RecordBatch) -> Result<(usize, usize)> {
        // Cut by partition before taking the write lock (ADD COLUMN does
        // not move the time column or change the partition length).
        let (time_index, len) = {
            let st = self.state.read();
            (st.def.time_index(), st.def.options.partition_micros)
        };
        let rows = split_by_partition(&batch, time_index, len)?;
        let mut state = self.state.write();
        state.push(seq, rows)
    }
}

impl TableState {
    /// Adds a request's rows (cut by partition) to the active memtable,
    /// reshaped if a concurrent ADD COLUMN changed the schema after
    /// validation; returns their size and the bytes coalescing freed.
    fn push(&mut self, seq: u64, mut rows: PartitionedRows) -> Result<(usize, usize)> {
        for (_, batch, _) in &mut rows {
            if batch.schema() != self.schema {
                *batch = conform_to(&self.schema, batch, false)?;
            } else if !Arc::ptr_eq(&batch.schema(), &self.schema) {
                // Equal but separately allocated (one per request): share
                // the table's.
                *batch = batch.clone().with_schema(self.schema.clone())?;
            }
        }
        self.mem.push(seq, rows)
    }

    fn set_def(&mut self, def: TableDef) -> Result<()> {
        let schema = def.arrow_schema();
        self.mem.reshape(&schema)?;
        self.frozen.reshape(&schema)?;
        self.schema = schema;
        self.def = Arc::new(def);
        Ok(())
    }

    /// Deletes a time range from the memtables (segments are separate).
    fn delete_range(&mut self, lo: i64, hi: i64) -> Result<usize> {
        let time_idx = self.def.time_index();
        let mut removed = 0;
        for mem in [&mut self.mem, &mut self.frozen] {
            removed += mem.retain_rows(
                |batch| {
                    let keep = crate::time_filter::outside_range(batch.column(time_idx), lo, hi)?;
                    Ok(Some(arrow::compute::filter_record_batch(batch, &keep)?))
                },
                time_idx,
            )?;
        }
        Ok(removed)
    }
}

fn encode_insert(id: TableId, batch: &RecordBatch) -> Result<Vec<u8>> {
    let mut payload = vec![RECORD_INSERT];
    payload.extend_from_slice(&id.to_le_bytes());
    let mut writer = StreamWriter::try_new(&mut payload, &batch.schema())?;
    writer.write(batch)?;
    writer.finish()?;
    drop(writer);
    Ok(payload)
}

/// A time-range delete found during replay, to re-apply to segments.
type PendingDelete = (Arc<Table>, i64, i64);

fn replay_record(
    tables: &HashMap<TableId, Arc<Table>>,
    seq: u64,
    payload: &[u8],
) -> Result<Option<PendingDelete>> {
    let corrupt = |m: &str| StorageError::Internal(m.to_string());
    if payload.first() != Some(&RECORD_INSERT_MANY) {
        return replay_single(tables, seq, payload);
    }
    let count = payload
        .get(1..5)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| corrupt("short multi-insert record"))?;
    let mut rest = &payload[5..];
    for _ in 0..count {
        let len = rest
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .ok_or_else(|| corrupt("short multi-insert part"))?;
        let part = usize::try_from(len)
            .ok()
            .and_then(|len| rest.get(8..8 + len))
            .ok_or_else(|| corrupt("multi-insert part past the record end"))?;
        if part.first() != Some(&RECORD_INSERT) {
            return Err(corrupt("multi-insert part is not an insert"));
        }
        replay_single(tables, seq, part)?;
        rest = &rest[8 + part.len()..];
    }
    Ok(None)
}

fn replay_single(
    tables: &HashMap<TableId, Arc<Table>>,
    seq: u64,
    payload: &[u8],
) -> Result<Option<PendingDelete>> {
    let corrupt = |m: &str| StorageError::Internal(m.to_string());
    let (&kind, rest) = payload
        .split_first()
        .ok_or_else(|| corrupt("empty record"))?;
    let id_bytes: [u8; 8] = rest
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| corrupt("short record"))?;
    let Some(table) = tables.get(&u64::from_le_bytes(id_bytes)) else {
        return Ok(None); // the table was dropped later
    };
    let body = &rest[8..];
    let mut state = table.state.write();
    match kind {
        RECORD_INSERT => {
            let reader = StreamReader::try_new(Cursor::new(body), None)?;
            let (time_index, len) = (state.def.time_index(), state.def.options.partition_micros);
            for batch in reader {
                let rows = split_by_partition(&batch?, time_index, len)?;
                state.push(seq, rows)?;
            }
        }
        RECORD_DELETE_RANGE => {
            let read = |i: usize| -> Result<i64> {
                body.get(i * 8..i * 8 + 8)
                    .and_then(|b| b.try_into().ok())
                    .map(i64::from_le_bytes)
                    .ok_or_else(|| corrupt("short delete record"))
            };
            let (lo, hi) = (read(0)?, read(1)?);
            state.delete_range(lo, hi)?;
            return Ok(Some((table.clone(), lo, hi)));
        }
        other => return Err(corrupt(&format!("unknown record kind {other}"))),
    }
    Ok(None)
}
