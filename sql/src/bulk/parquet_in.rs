//! Parquet import: one file into one table, streamed by row group.
//!
//! Every row group is decoded and validated against the table (types,
//! casts, NOT NULL) and nothing becomes visible until all of them passed,
//! so a bad file (not Parquet, truncated, corrupt page, a value that does
//! not fit) stores nothing.
//!
//! - Tables without a primary key (the common case) load through
//!   [`lynx_storage::BulkLoad`]: one pass, rows sorted into segment files
//!   in bounded runs, all committed by one manifest version. Atomic for
//!   any file size, also across a crash; no WAL write.
//! - Primary-key tables go through the WAL, whose order decides which
//!   duplicate wins: a file whose validated rows fit [`ATOMIC_WRITE_BYTES`]
//!   is written from memory in one atomic request; a larger file is
//!   validated in a first pass that keeps nothing, then read again and
//!   written row group by row group, so only a crash during that second
//!   pass can leave part of it stored.
//!
//! Files found under Hive-style `key=value` directories get those keys as
//! text columns ([`ParquetSource::with_partitions`]).
//!
//! Hot path: batch-at-a-time; no per-row work beyond the engine's casts.

use std::fs::File;
use std::path::Path;

use bytes::Bytes;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, DictionaryArray, Int32Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use lynx_storage::Database;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};
use parquet::errors::ParquetError;
use parquet::file::reader::ChunkReader;

use super::{batch_bytes, write_validated_in, ATOMIC_WRITE_BYTES};
use crate::error::{Result, SqlError, StatusCode};

/// Rows per decoded batch.
const BATCH_ROWS: usize = 64 * 1024;

/// Decoded batches the decoding thread may be ahead of the load.
const DECODE_AHEAD: usize = 2;

/// Where an import stands, reported after every row group.
#[derive(Debug, Clone, Default)]
pub struct ImportProgress {
    /// `"loading"` (bulk path), or `"validating"` then `"writing"` (WAL
    /// path; the second pass only for large files).
    pub phase: &'static str,
    pub rows: u64,
    pub bytes: u64,
    pub total_rows: u64,
    pub total_bytes: u64,
}

/// An opened Parquet file: its Arrow schema and row-group sizes.
pub struct ParquetSource {
    path: String,
    input: Input,
    meta: ArrowReaderMetadata,
    /// The file's columns plus Hive-style partition columns.
    schema: SchemaRef,
    /// `key=value` directories above the file: constant text columns.
    partitions: Vec<(String, Option<String>)>,
}

/// Where the Parquet bytes are: a file, or a request body in memory.
enum Input {
    File(File),
    Bytes(Bytes),
}

fn group_reader<T: ChunkReader + 'static>(
    input: T,
    meta: &ArrowReaderMetadata,
    group: usize,
    batch_rows: usize,
) -> Result<ParquetRecordBatchReader, ParquetError> {
    ParquetRecordBatchReaderBuilder::new_with_metadata(input, meta.clone())
        .with_row_groups(vec![group])
        .with_batch_size(batch_rows)
        .build()
}

fn bad_file(path: &str, message: impl std::fmt::Display) -> SqlError {
    SqlError::new(
        StatusCode::InvalidInput,
        format!("{path} is not a valid Parquet file: {message}"),
    )
    .with_sqlstate("22P04")
}

impl ParquetSource {
    pub fn open(path: &Path) -> Result<ParquetSource> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|e| {
            SqlError::new(
                StatusCode::Unavailable,
                format!("could not open file \"{name}\" for reading: {e}"),
            )
            .with_sqlstate(if e.kind() == std::io::ErrorKind::NotFound {
                "58P01"
            } else {
                "58030"
            })
        })?;
        let meta =
            ArrowReaderMetadata::load(&file, Default::default()).map_err(|e| bad_file(&name, e))?;
        Ok(ParquetSource {
            path: name,
            input: Input::File(file),
            schema: meta.schema().clone(),
            meta,
            partitions: Vec::new(),
        })
    }

    /// A Parquet file held in memory (an HTTP request body); `name` is
    /// used in messages.
    pub fn from_bytes(name: &str, data: Bytes) -> Result<ParquetSource> {
        let meta =
            ArrowReaderMetadata::load(&data, Default::default()).map_err(|e| bad_file(name, e))?;
        Ok(ParquetSource {
            path: name.to_string(),
            input: Input::Bytes(data),
            schema: meta.schema().clone(),
            meta,
            partitions: Vec::new(),
        })
    }

    /// Adds Hive-style partition columns (`key=value` directories): each
    /// becomes a text column with that value in every row (NULL for
    /// `__HIVE_DEFAULT_PARTITION__`), unless the file has the column itself.
    pub fn with_partitions(mut self, partitions: Vec<(String, String)>) -> Self {
        let mut fields: Vec<Field> = self
            .schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        for (k, v) in partitions {
            if fields.iter().any(|f| f.name() == &k) {
                continue;
            }
            fields.push(Field::new(&k, DataType::Utf8, true));
            let v = (v != "__HIVE_DEFAULT_PARTITION__").then_some(v);
            self.partitions.push((k, v));
        }
        self.schema = Arc::new(Schema::new_with_metadata(
            fields,
            self.schema.metadata().clone(),
        ));
        self
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// A decoded batch with the partition columns appended.
    fn with_partition_columns(&self, batch: RecordBatch) -> Result<RecordBatch> {
        if self.partitions.is_empty() {
            return Ok(batch);
        }
        let n = batch.num_rows();
        let mut columns = batch.columns().to_vec();
        let mut fields: Vec<Field> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        for (k, v) in &self.partitions {
            // One value for every row: a dictionary of that value.
            let keys = Int32Array::from(vec![v.as_ref().map(|_| 0); n]);
            let values = StringArray::from_iter_values(v.iter());
            let array = DictionaryArray::try_new(keys, Arc::new(values))?;
            fields.push(Field::new(k, array.data_type().clone(), true));
            columns.push(Arc::new(array) as ArrayRef);
        }
        let schema = Schema::new_with_metadata(fields, batch.schema().metadata().clone());
        Ok(RecordBatch::try_new(Arc::new(schema), columns)?)
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn num_row_groups(&self) -> usize {
        self.meta.metadata().num_row_groups()
    }

    pub fn total_rows(&self) -> u64 {
        let m = self.meta.metadata();
        (0..m.num_row_groups())
            .map(|i| m.row_group(i).num_rows().max(0) as u64)
            .sum()
    }

    fn group_bytes(&self, i: usize) -> u64 {
        self.meta.metadata().row_group(i).compressed_size().max(0) as u64
    }

    pub fn total_bytes(&self) -> u64 {
        (0..self.num_row_groups())
            .map(|i| self.group_bytes(i))
            .sum()
    }

    /// An engine error about row group `i`, with the file and group named.
    fn group_error(&self, i: usize, e: lynx_storage::StorageError) -> SqlError {
        let e = SqlError::from(e);
        SqlError {
            message: format!("{}, row group {i}: {}", self.path, e.message),
            ..e
        }
    }

    /// The reader metadata that decodes the text columns named in `tags`
    /// as dictionaries (keys into the column chunk's dictionary page),
    /// instead of copying every row's string; the file's own otherwise.
    fn with_dictionary_tags(&self, tags: &[&str]) -> ArrowReaderMetadata {
        let file_schema = self.meta.schema();
        let mut changed = false;
        let fields: Vec<Field> = file_schema
            .fields()
            .iter()
            .map(|f| {
                if f.data_type() == &DataType::Utf8 && tags.contains(&f.name().as_str()) {
                    changed = true;
                    let ty =
                        DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
                    f.as_ref().clone().with_data_type(ty)
                } else {
                    f.as_ref().clone()
                }
            })
            .collect();
        if !changed {
            return self.meta.clone();
        }
        let hint = Arc::new(Schema::new_with_metadata(
            fields,
            file_schema.metadata().clone(),
        ));
        let options = ArrowReaderOptions::new().with_schema(hint);
        ArrowReaderMetadata::try_new(self.meta.metadata().clone(), options)
            .unwrap_or_else(|_| self.meta.clone())
    }

    /// Decodes row group `i`, passing each batch (with the partition
    /// columns) to `each`.
    fn decode_group(
        &self,
        i: usize,
        batch_rows: usize,
        each: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Result<()> {
        self.decode_group_with(&self.meta, i, batch_rows, each)
    }

    /// [`ParquetSource::decode_group`] with other reader metadata (see
    /// [`ParquetSource::with_dictionary_tags`]).
    fn decode_group_with(
        &self,
        meta: &ArrowReaderMetadata,
        i: usize,
        batch_rows: usize,
        each: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Result<()> {
        let in_group = |e: &dyn std::fmt::Display| {
            SqlError::new(
                StatusCode::InvalidInput,
                format!("{}, row group {i}: {e}", self.path),
            )
            .with_sqlstate("22P04")
        };
        let reader = match &self.input {
            Input::File(f) => {
                let file = f.try_clone().map_err(|e| in_group(&e))?;
                group_reader(file, meta, i, batch_rows)
            }
            Input::Bytes(b) => group_reader(b.clone(), meta, i, batch_rows),
        }
        .map_err(|e| in_group(&e))?;
        for batch in reader {
            each(self.with_partition_columns(batch.map_err(|e| in_group(&e))?)?)?;
        }
        Ok(())
    }

    /// Decodes row group `i` and conforms it to `table`.
    fn read_group(&self, db: &Database, table: &str, i: usize) -> Result<Vec<RecordBatch>> {
        let mut out = Vec::new();
        self.decode_group(i, BATCH_ROWS, &mut |batch| {
            out.push(
                db.conform(table, &batch)
                    .map_err(|e| self.group_error(i, e))?,
            );
            Ok(())
        })?;
        Ok(out)
    }

    /// The file's columns fit `table` (names and types), before any decode.
    fn check_fits(&self, db: &Database, table: &str) -> Result<()> {
        let def = db.table_def(table).ok_or_else(|| {
            SqlError::from(lynx_storage::StorageError::TableNotFound(table.into()))
        })?;
        super::schema_map::check_fits(&def, self.schema(), &self.path)
    }

    fn progress(&self, phase: &'static str) -> ImportProgress {
        ImportProgress {
            phase,
            total_rows: self.total_rows(),
            total_bytes: self.total_bytes(),
            ..Default::default()
        }
    }

    /// Imports the whole file into `table`, atomically: straight to
    /// segments committed at once ([`lynx_storage::BulkLoad`]), or for
    /// primary-key tables through the WAL (see the module docs). Returns
    /// the rows written. Blocking.
    pub fn import(
        &self,
        db: &Arc<Database>,
        table: &str,
        progress: &mut dyn FnMut(&ImportProgress),
    ) -> Result<u64> {
        match db.bulk_load(table)? {
            Some(load) => self.import_bulk(db, table, load, progress),
            None => self.import_in(db, table, ATOMIC_WRITE_BYTES, progress),
        }
    }

    /// The bulk-load path of [`ParquetSource::import`]: one pass, memory
    /// bounded by the load's run size, visible only when every row group
    /// decoded and validated.
    pub fn import_bulk(
        &self,
        db: &Database,
        table: &str,
        mut load: lynx_storage::BulkLoad,
        progress: &mut dyn FnMut(&ImportProgress),
    ) -> Result<u64> {
        self.check_fits(db, table)?;
        let def = db.table_def(table).ok_or_else(|| {
            SqlError::from(lynx_storage::StorageError::TableNotFound(table.into()))
        })?;
        let tags: Vec<&str> = def
            .tag_indices()
            .into_iter()
            .map(|i| def.columns[i].name.as_str())
            .collect();
        let meta = self.with_dictionary_tags(&tags);
        let mut p = self.progress("loading");
        // Decoding runs on its own thread, ahead by a few batches, while
        // this one validates, sorts and encodes runs: two cores busy.
        enum Decoded {
            Batch(RecordBatch),
            GroupDone(usize),
        }
        std::thread::scope(|scope| -> Result<()> {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Decoded>>(DECODE_AHEAD);
            // Batches of about a quarter of a run, so that memory follows
            // the limit: sized from the Arrow bytes per row seen so far.
            let target_bytes = (load.run_bytes() / 4).max(1);
            scope.spawn(move || {
                let mut bytes_per_row = 64;
                for i in 0..self.num_row_groups() {
                    let batch_rows = (target_bytes / bytes_per_row).clamp(1024, BATCH_ROWS);
                    let decoded = self.decode_group_with(&meta, i, batch_rows, &mut |batch| {
                        if batch.num_rows() > 0 {
                            bytes_per_row =
                                (batch.get_array_memory_size() / batch.num_rows()).max(1);
                        }
                        // The receiver is gone when the load failed: stop.
                        tx.send(Ok(Decoded::Batch(batch)))
                            .map_err(|_| SqlError::new(StatusCode::Cancelled, "import stopped"))
                    });
                    let message = decoded.map(|()| Decoded::GroupDone(i));
                    let failed = message.is_err();
                    if tx.send(message).is_err() || failed {
                        return;
                    }
                }
            });
            let mut group = 0;
            for message in rx {
                match message? {
                    Decoded::Batch(batch) => {
                        load.push(&batch).map_err(|e| self.group_error(group, e))?
                    }
                    Decoded::GroupDone(i) => {
                        group = i + 1;
                        p.rows = load.rows();
                        p.bytes += self.group_bytes(i);
                        progress(&p);
                    }
                }
            }
            Ok(())
        })?;
        Ok(load.commit()?)
    }

    /// The WAL path of [`ParquetSource::import`] with another single-write
    /// limit (tests).
    pub fn import_in(
        &self,
        db: &Database,
        table: &str,
        atomic_bytes: usize,
        progress: &mut dyn FnMut(&ImportProgress),
    ) -> Result<u64> {
        self.check_fits(db, table)?;
        let mut p = self.progress("validating");
        let mut kept: Vec<RecordBatch> = Vec::new();
        let mut kept_bytes = 0usize;
        let mut in_memory = true;
        for i in 0..self.num_row_groups() {
            let batches = self.read_group(db, table, i)?;
            p.rows += batches.iter().map(|b| b.num_rows() as u64).sum::<u64>();
            p.bytes += self.group_bytes(i);
            if in_memory {
                kept_bytes += batches.iter().map(batch_bytes).sum::<usize>();
                kept.extend(batches);
                if kept_bytes > atomic_bytes {
                    in_memory = false;
                    kept.clear();
                }
            }
            progress(&p);
        }
        if in_memory {
            return write_validated_in(db, table, &kept, atomic_bytes);
        }
        p.phase = "writing";
        p.rows = 0;
        p.bytes = 0;
        let mut written = 0;
        for i in 0..self.num_row_groups() {
            let batches = self.read_group(db, table, i)?;
            written += write_validated_in(db, table, &batches, atomic_bytes)?;
            p.rows = written;
            p.bytes += self.group_bytes(i);
            progress(&p);
        }
        Ok(written)
    }
}
