//! Bulk loads: rows go straight to segment files, bypassing the WAL and
//! the memtable, and become visible all at once.
//!
//! Rows are buffered up to a run size, sorted by (partition, tags, time)
//! and written as segments exactly like a flush writes them (tmp file,
//! fsync, rename), but not named by the manifest. `commit` fsyncs the
//! directory and names every segment of the load in ONE manifest version:
//! a load of any size is atomic, also across a crash (before the commit,
//! its files are unreferenced and deleted on open). A load dropped without
//! commit (an error, a bad row) deletes its files.
//!
//! One run is sorted and written on its own thread while the next fills.
//! Memory stays bounded by about two runs whatever the input size. Used by
//! Parquet imports into tables without a primary key; primary-key tables
//! go through the WAL, whose order decides which duplicate wins.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};

use super::flush::{sort_and_partition, Written};
use super::{Database, Table};
use crate::conform::conform_bulk;
use crate::error::{Result, StorageError};
use crate::memtable::MemBatch;
use crate::schema::TableDef;

/// A bulk load in progress; see the module docs.
pub struct BulkLoad {
    db: Arc<Database>,
    name: String,
    table: Arc<Table>,
    def: Arc<TableDef>,
    pending: Vec<MemBatch>,
    pending_bytes: usize,
    run_bytes: usize,
    written: Vec<Written>,
    /// The run being sorted and encoded on its own thread while the next
    /// one fills (at most one in flight).
    in_flight: Option<std::thread::JoinHandle<Result<Written>>>,
    rows: u64,
}

impl Database {
    /// Starts a bulk load into `table`, or `None` for a primary-key table
    /// (write those through [`Database::write`]).
    pub fn bulk_load(self: &Arc<Self>, table: &str) -> Result<Option<BulkLoad>> {
        let t = self.table(table)?;
        let def = t.state.read().def.clone();
        if def.options.primary_key {
            return Ok(None);
        }
        Ok(Some(BulkLoad {
            db: self.clone(),
            name: table.to_string(),
            table: t,
            def,
            pending: Vec::new(),
            pending_bytes: 0,
            // Sorting copies the run once more; segments are encoded one
            // partition at a time.
            run_bytes: (self.max_memtable_bytes / 4).max(1 << 20),
            written: Vec::new(),
            in_flight: None,
            rows: 0,
        }))
    }
}

impl BulkLoad {
    /// Sorted runs of at most this much Arrow memory (tests use small runs).
    pub fn with_run_bytes(mut self, bytes: usize) -> Self {
        self.run_bytes = bytes.max(1);
        self
    }

    /// Validates `batch` against the table (as [`Database::write`] does)
    /// and buffers it; a full run is written out as segments.
    pub fn push(&mut self, batch: &RecordBatch) -> Result<()> {
        let conformed = conform_bulk(&self.def, batch)?;
        if conformed.num_rows() == 0 {
            return Ok(());
        }
        self.rows += conformed.num_rows() as u64;
        // Sorting writes tag columns out as strings: count them so, or a
        // run of dictionary columns would take more memory than its share.
        self.pending_bytes += expanded_bytes(&conformed);
        self.pending.push(MemBatch::with_table_schema(
            0,
            conformed,
            self.def.arrow_schema(),
        ));
        if self.pending_bytes >= self.run_bytes {
            self.write_run()?;
        }
        Ok(())
    }

    /// Arrow bytes buffered before a run is sorted and written.
    pub fn run_bytes(&self) -> usize {
        self.run_bytes
    }

    /// Rows accepted so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Hands the buffered rows to a thread that sorts them and writes
    /// their segments, after the previous run finished.
    fn write_run(&mut self) -> Result<()> {
        self.join_in_flight()?;
        let pending = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        let (db, table, def) = (self.db.clone(), self.table.clone(), self.def.clone());
        self.in_flight = Some(std::thread::spawn(move || {
            let parts = sort_and_partition(&def, &pending)?;
            drop(pending);
            let max_seq = db.wal.last_seq();
            db.write_segments(&table, &def, parts, max_seq)
        }));
        Ok(())
    }

    fn join_in_flight(&mut self) -> Result<()> {
        let Some(handle) = self.in_flight.take() else {
            return Ok(());
        };
        let written = handle
            .join()
            .map_err(|_| StorageError::Internal("bulk load run panicked".into()))??;
        self.written.push(written);
        Ok(())
    }

    /// Writes what is buffered and makes every row of the load visible and
    /// durable with one manifest commit. Returns the rows loaded.
    pub fn commit(mut self) -> Result<u64> {
        if !self.pending.is_empty() {
            self.write_run()?;
        }
        self.join_in_flight()?;
        let written = std::mem::take(&mut self.written);
        // Flushes, compactions and DROP TABLE hold this lock while they
        // change the segment list, so the list cannot move under us.
        let _maintenance = self.db.maintenance.lock();
        let current = self.db.tables.read().get(&self.name).cloned();
        if !current.is_some_and(|t| Arc::ptr_eq(&t, &self.table)) {
            self.db.discard(&written);
            return Err(StorageError::TableNotFound(self.name.clone()));
        }
        if let Err(e) = self.db.commit_segments(&written, &[], None) {
            self.db.discard(&written);
            return Err(e);
        }
        let mut st = self.table.state.write();
        for w in written {
            st.segments.extend(w.segments);
        }
        drop(st);
        self.db
            .metrics
            .rows_written
            .fetch_add(self.rows, Ordering::Relaxed);
        Ok(self.rows)
    }
}

/// The Arrow bytes of `batch` with its dictionary columns as strings.
fn expanded_bytes(batch: &RecordBatch) -> usize {
    batch
        .columns()
        .iter()
        .map(|c| match c.as_any_dictionary_opt() {
            Some(dict) => {
                let values = dict.values();
                let per_value = values.get_buffer_memory_size() / values.len().max(1);
                c.get_array_memory_size() + c.len() * per_value
            }
            None => c.get_array_memory_size(),
        })
        .sum()
}

impl Drop for BulkLoad {
    fn drop(&mut self) {
        // Not committed: the files were never named by the manifest.
        let _ = self.join_in_flight();
        self.db.discard(&self.written);
    }
}
