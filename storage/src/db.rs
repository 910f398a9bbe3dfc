//! The embedded database: catalog + WAL + memtables behind one handle.
//!
//! `Database::open(dir)` is the entry point for the query layer, the servers
//! and embedding applications. Invariants: a write is visible to readers only
//! after its WAL record is durable; a snapshot shows whole requests only; DDL
//! is persisted in the catalog before it is acknowledged.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use parking_lot::{Mutex, RwLock};

use crate::catalog::{Catalog, TableId};
use crate::conform::{conform_to, conform_write};
use crate::dedup::dedup_last_write_wins;
use crate::error::{Result, StorageError};
use crate::memtable::Memtable;
use crate::schema::{ColumnDef, TableDef};
use crate::wal::{Durability, SyncObserver, Wal};

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
}

impl Default for DatabaseOptions {
    fn default() -> Self {
        DatabaseOptions {
            durability: Durability::Fsync,
            wal_rotate_bytes: 64 << 20,
            on_wal_sync: None,
        }
    }
}

/// Counters exported by the server's `/metrics`.
#[derive(Debug, Default)]
pub struct StorageMetrics {
    pub rows_written: AtomicU64,
    pub write_requests: AtomicU64,
}

struct TableState {
    def: Arc<TableDef>,
    schema: SchemaRef,
    mem: Memtable,
}

struct Table {
    id: TableId,
    state: RwLock<TableState>,
}

/// A consistent, immutable view of one table for a reader.
#[derive(Debug, Clone)]
pub struct TableSnapshot {
    pub def: Arc<TableDef>,
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl TableSnapshot {
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }
}

pub struct Database {
    dir: PathBuf,
    catalog: Mutex<Catalog>,
    tables: RwLock<HashMap<String, Arc<Table>>>,
    wal: Wal,
    metrics: StorageMetrics,
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
        for rec in records {
            replay_record(&by_id, rec.seq, &rec.payload).map_err(|e| match e {
                StorageError::Corrupt { .. } => e,
                other => StorageError::Corrupt {
                    path: dir.join("wal"),
                    message: format!("record {}: {other}", rec.seq),
                },
            })?;
        }
        let tables = by_id
            .into_values()
            .map(|t| {
                let name = t.state.read().def.name.clone();
                (name, t)
            })
            .collect();
        Ok(Database {
            dir,
            catalog: Mutex::new(catalog),
            tables: RwLock::new(tables),
            wal,
            metrics: StorageMetrics::default(),
            _lock: lock,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn metrics(&self) -> &StorageMetrics {
        &self.metrics
    }

    /// Bytes held by all memtables.
    pub fn memtable_bytes(&self) -> usize {
        self.tables
            .read()
            .values()
            .map(|t| t.state.read().mem.bytes())
            .sum()
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

    pub fn drop_table(&self, name: &str, if_exists: bool) -> Result<bool> {
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
        let seq = self.wal.append(&payload)?;
        let mut rows = 0;
        for (t, batch) in prepared {
            rows += batch.num_rows();
            t.push(seq, batch)?;
        }
        self.metrics
            .rows_written
            .fetch_add(rows as u64, Ordering::Relaxed);
        self.metrics.write_requests.fetch_add(1, Ordering::Relaxed);
        Ok(rows)
    }

    pub fn write(&self, table: &str, batch: &RecordBatch) -> Result<usize> {
        let t = self.table(table)?;
        let def = t.state.read().def.clone();
        let conformed = conform_write(&def, batch)?;
        let rows = conformed.num_rows();
        if rows == 0 {
            return Ok(0);
        }
        let payload = encode_insert(t.id, &conformed)?;
        let seq = self.wal.append(&payload)?;
        t.push(seq, conformed)?;
        self.metrics
            .rows_written
            .fetch_add(rows as u64, Ordering::Relaxed);
        self.metrics.write_requests.fetch_add(1, Ordering::Relaxed);
        Ok(rows)
    }

    /// Deletes rows with `lo <= time < hi` (microseconds); returns rows removed.
    pub fn delete_time_range(&self, table: &str, lo: i64, hi: i64) -> Result<usize> {
        let t = self.table(table)?;
        let mut payload = vec![RECORD_DELETE_RANGE];
        payload.extend_from_slice(&t.id.to_le_bytes());
        payload.extend_from_slice(&lo.to_le_bytes());
        payload.extend_from_slice(&hi.to_le_bytes());
        self.wal.append(&payload)?;
        let mut state = t.state.write();
        state.delete_range(lo, hi)
    }

    /// A consistent snapshot of a table (primary-key tables de-duplicated).
    pub fn snapshot(&self, table: &str) -> Result<TableSnapshot> {
        let t = self.table(table)?;
        let state = t.state.read();
        let def = state.def.clone();
        let schema = state.schema.clone();
        if def.options.primary_key {
            let mem = state.mem.batches().to_vec();
            drop(state);
            let batches = dedup_last_write_wins(&def, &mem)?;
            return Ok(TableSnapshot {
                def,
                schema,
                batches,
            });
        }
        let batches = state
            .mem
            .batches()
            .iter()
            .map(|b| b.batch.clone())
            .collect();
        Ok(TableSnapshot {
            def,
            schema,
            batches,
        })
    }

    /// Makes everything written so far durable (relaxed mode) before exit.
    pub fn close(&self) -> Result<()> {
        self.wal.sync()
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
            }),
        }
    }
}

impl Table {
    /// Adds a logged batch to the memtable, reshaped if a concurrent
    /// ADD COLUMN changed the schema after validation.
    fn push(&self, seq: u64, batch: RecordBatch) -> Result<()> {
        let mut state = self.state.write();
        let batch = if state.schema == batch.schema() {
            batch
        } else {
            conform_to(&state.schema, &batch, false)?
        };
        state.mem.push(seq, batch);
        Ok(())
    }
}

impl TableState {
    fn set_def(&mut self, def: TableDef) -> Result<()> {
        let schema = def.arrow_schema();
        self.mem.reshape(&schema)?;
        self.schema = schema;
        self.def = Arc::new(def);
        Ok(())
    }

    fn delete_range(&mut self, lo: i64, hi: i64) -> Result<usize> {
        let time_idx = self.def.time_index();
        self.mem.retain_rows(|batch| {
            let keep = crate::time_filter::outside_range(batch.column(time_idx), lo, hi)?;
            Ok(Some(arrow::compute::filter_record_batch(batch, &keep)?))
        })
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

fn replay_record(tables: &HashMap<TableId, Arc<Table>>, seq: u64, payload: &[u8]) -> Result<()> {
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
    Ok(())
}

fn replay_single(tables: &HashMap<TableId, Arc<Table>>, seq: u64, payload: &[u8]) -> Result<()> {
    let corrupt = |m: &str| StorageError::Internal(m.to_string());
    let (&kind, rest) = payload
        .split_first()
        .ok_or_else(|| corrupt("empty record"))?;
    let id_bytes: [u8; 8] = rest
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| corrupt("short record"))?;
    let Some(table) = tables.get(&u64::from_le_bytes(id_bytes)) else {
        return Ok(()); // the table was dropped later
    };
    let body = &rest[8..];
    let mut state = table.state.write();
    match kind {
        RECORD_INSERT => {
            let reader = StreamReader::try_new(Cursor::new(body), None)?;
            for batch in reader {
                let batch = conform_to(&state.schema, &batch?, false)?;
                state.mem.push(seq, batch);
            }
        }
        RECORD_DELETE_RANGE => {
            let read = |i: usize| -> Result<i64> {
                body.get(i * 8..i * 8 + 8)
                    .and_then(|b| b.try_into().ok())
                    .map(i64::from_le_bytes)
                    .ok_or_else(|| corrupt("short delete record"))
            };
            state.delete_range(read(0)?, read(1)?)?;
        }
        other => return Err(corrupt(&format!("unknown record kind {other}"))),
    }
    Ok(())
}
