//! Rows decoded from COPY input, collected into validated Arrow batches.
//!
//! Decoders hand over one row at a time as field slices; [`RowSink`] parses
//! each field as the target column's type (text or binary PostgreSQL input),
//! builds batches of [`CHUNK_ROWS`] and validates every batch against the
//! table (casts, NOT NULL) as soon as it is full. Nothing becomes visible
//! here: tables without a primary key load the batches straight into
//! segments ([`lynx_storage::BulkLoad`], committed at CopyDone, atomic for
//! any input size); primary-key tables stage them ([`Staged`]) and the
//! caller writes them through the WAL once the whole input is good. Memory
//! stays bounded either way.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use lynx_pgtypes::{PgFormatSettings, PgTypeError};
use lynx_storage::{BulkLoad, Database};

use super::column::{ColumnBuilder, Texts};
pub use super::column::{Span, SpanKind, MAX_RECORD_BYTES};
use crate::bulk::staged::Staged;
use crate::error::{Result, SqlError, StatusCode};

/// Rows per Arrow batch built from COPY input.
pub const CHUNK_ROWS: usize = 8192;

/// Records split into fields before their columns are parsed: the spans of
/// 512 records of 20 columns (240 KiB) stay in a core's L2 cache, where
/// those of a whole batch did not (a store miss per field).
pub const SPLIT_ROWS: usize = 512;

/// `22P04 bad_copy_file_format`.
pub fn bad_format(message: impl Into<String>) -> SqlError {
    SqlError::new(StatusCode::InvalidInput, message).with_sqlstate("22P04")
}

/// The text fields of up to [`SPLIT_ROWS`] records cut from one input
/// block, column by column, to be parsed one column at a time.
#[derive(Default)]
pub struct Chunk {
    /// Per column, one span per record.
    pub columns: Vec<Vec<Span>>,
    /// Values with their quotes or escapes removed.
    pub decoded: Vec<u8>,
    /// Per record, its line in the input (for error context).
    pub lines: Vec<u64>,
    /// Where the delimiters and quotes of the input block are (CSV).
    pub specials: Vec<u64>,
}

impl Chunk {
    /// Empties the chunk for records of `columns` fields, keeping its
    /// memory (a chunk is reused from block to block).
    pub fn reset(&mut self, columns: usize) {
        self.clear();
        self.columns
            .resize_with(columns, || Vec::with_capacity(SPLIT_ROWS));
    }

    pub fn rows(&self) -> usize {
        self.lines.len()
    }

    /// Empties the records; `specials` describes the whole block and
    /// stays until the next one.
    pub fn clear(&mut self) {
        self.columns.iter_mut().for_each(Vec::clear);
        self.decoded.clear();
        self.lines.clear();
    }
}

/// What every row of one COPY is parsed into: the table's name and the
/// target columns (for error context), their types and the session's
/// input settings. Shared by the parsing threads.
struct Shape {
    table: String,
    columns: Vec<String>,
    schema: SchemaRef,
    settings: PgFormatSettings,
}

/// Parses rows into column builders and cuts them into batches of
/// [`CHUNK_ROWS`]. One per parsing thread.
pub struct RowBuilder {
    shape: Arc<Shape>,
    builders: Vec<ColumnBuilder>,
    pending: usize,
}

/// Validated batches go to a [`Pending`] target.
pub struct RowSink {
    db: Arc<Database>,
    rows: RowBuilder,
    target: Pending,
    /// Text value bytes per [`CHUNK_ROWS`] rows seen so far, per column:
    /// what the builders of later parsing threads reserve.
    text_bytes: Vec<usize>,
}

/// Where validated COPY rows wait for CopyDone.
pub enum Pending {
    /// Sorted into segments, made visible by one commit.
    Bulk(BulkLoad),
    /// Kept (in memory or a spill file), then written through the WAL.
    Staged(Box<Staged>),
}

/// Runs `f`, which may block on CPU or I/O, without stalling the other
/// tasks of a multi-threaded runtime.
pub(super) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

impl Pending {
    fn push(&mut self, db: &Database, table: &str, batch: RecordBatch) -> Result<()> {
        match self {
            Pending::Bulk(load) => Ok(blocking(|| load.push(&batch))?),
            Pending::Staged(staged) => staged.push(db.conform(table, &batch)?),
        }
    }

    /// Makes every row visible: the bulk commit, or the staged writes.
    /// Blocking.
    pub fn write_to(self, db: &Database, table: &str) -> Result<u64> {
        match self {
            Pending::Bulk(load) => Ok(load.commit()?),
            Pending::Staged(staged) => staged.write_to(db, table),
        }
    }
}

/// Quotes a COPY line or value for an error context, as PostgreSQL does.
pub fn context_text(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    if s.chars().count() > 100 {
        let cut: String = s.chars().take(100).collect();
        format!("\"{cut}...\"")
    } else {
        format!("\"{s}\"")
    }
}

impl RowBuilder {
    /// `text_bytes`: the value bytes to reserve for each text column (a
    /// builder that outgrows its buffer copies it).
    fn new(shape: Arc<Shape>, text_bytes: &[usize]) -> RowBuilder {
        let builders = shape
            .schema
            .fields()
            .iter()
            .enumerate()
            .map(|(c, f)| {
                let bytes = text_bytes.get(c).copied().unwrap_or(0);
                ColumnBuilder::new(f.data_type(), CHUNK_ROWS, bytes.max(CHUNK_ROWS * 8))
            })
            .collect();
        RowBuilder {
            shape,
            builders,
            pending: 0,
        }
    }

    pub fn table(&self) -> &str {
        &self.shape.table
    }

    pub fn columns(&self) -> &[String] {
        &self.shape.columns
    }

    fn value_error(&self, e: &PgTypeError, line: u64, col: usize, raw: &[u8]) -> SqlError {
        SqlError::from_pgtype(e).with_context(format!(
            "COPY {}, line {line}, column {}: {}",
            self.shape.table,
            self.shape.columns[col],
            context_text(raw)
        ))
    }

    /// Appends the records of `chunk`, whose raw spans point into `input`
    /// (`text` when all of it is UTF-8); a batch when [`CHUNK_ROWS`] rows
    /// are complete. A bad value fails with the first one in input order
    /// (by line, then column), as row by row.
    pub fn push_chunk(
        &mut self,
        chunk: &Chunk,
        input: &[u8],
        text: Option<&str>,
    ) -> Result<Option<RecordBatch>> {
        let rows = chunk.rows();
        let texts = Texts {
            input,
            text,
            decoded: &chunk.decoded,
        };
        let mut first: Option<(usize, usize, PgTypeError)> = None;
        for (col, spans) in chunk.columns.iter().enumerate() {
            // A later column only matters in rows before the first error.
            let limit = first.as_ref().map_or(rows, |f| f.0);
            let spans = spans.get(..limit).unwrap_or_default();
            if let Err((row, e)) =
                self.builders[col].append_texts(spans, &texts, &self.shape.settings)
            {
                first = Some((row, col, e));
            }
        }
        if let Some((row, col, e)) = first {
            let raw = texts.raw(chunk.columns[col][row]);
            return Err(self.value_error(&e, chunk.lines[row], col, raw));
        }
        self.pending += rows;
        if self.pending >= CHUNK_ROWS {
            return self.take_batch();
        }
        Ok(None)
    }

    /// One row of binary fields (`None` = NULL); `row` is for error context.
    pub fn push_binary(
        &mut self,
        fields: &[Option<&[u8]>],
        row: u64,
    ) -> Result<Option<RecordBatch>> {
        for (col, field) in fields.iter().enumerate() {
            let Some(raw) = field else {
                self.builders[col].append_null()?;
                continue;
            };
            let target = self.builders[col].data_type();
            let v = lynx_pgtypes::parse_binary(raw, &target).map_err(|e| {
                let mut err = SqlError::from_pgtype(&e);
                if let PgTypeError::InvalidBinary { .. } = e {
                    // In COPY, malformed field bytes are 22P03.
                    err = err.with_sqlstate("22P03");
                }
                err.with_context(format!(
                    "COPY {}, line {row}, column {}",
                    self.shape.table, self.shape.columns[col]
                ))
            })?;
            self.builders[col].append_scalar(v)?;
        }
        self.row_done()
    }

    fn row_done(&mut self) -> Result<Option<RecordBatch>> {
        self.pending += 1;
        if self.pending >= CHUNK_ROWS {
            return self.take_batch();
        }
        Ok(None)
    }

    /// The rows pushed since the last batch, as a batch.
    pub fn take_batch(&mut self) -> Result<Option<RecordBatch>> {
        if self.pending == 0 {
            return Ok(None);
        }
        self.pending = 0;
        let arrays = self
            .builders
            .iter_mut()
            .map(ColumnBuilder::finish)
            .collect::<Result<Vec<ArrayRef>>>()?;
        Ok(Some(RecordBatch::try_new(
            self.shape.schema.clone(),
            arrays,
        )?))
    }
}

impl RowSink {
    pub fn new(
        db: Arc<Database>,
        table: String,
        columns: Vec<(String, DataType)>,
        settings: PgFormatSettings,
    ) -> Result<RowSink> {
        let schema = Arc::new(Schema::new(
            columns
                .iter()
                .map(|(n, t)| Field::new(n, t.clone(), true))
                .collect::<Vec<_>>(),
        ));
        let target = match db.bulk_load(&table)? {
            Some(load) => Pending::Bulk(load),
            None => Pending::Staged(Box::new(Staged::new(&db))),
        };
        let shape = Arc::new(Shape {
            table,
            columns: columns.into_iter().map(|(n, _)| n).collect(),
            schema,
            settings,
        });
        Ok(RowSink {
            rows: RowBuilder::new(shape, &[]),
            target,
            db,
            text_bytes: Vec::new(),
        })
    }

    pub fn table(&self) -> &str {
        self.rows.table()
    }

    pub fn columns(&self) -> &[String] {
        self.rows.columns()
    }

    /// A builder for another parsing thread: same columns, no rows.
    pub fn builder(&self) -> RowBuilder {
        RowBuilder::new(self.rows.shape.clone(), &self.text_bytes)
    }

    /// Validates a batch of parsed rows for the table and keeps it.
    pub fn push_batch(&mut self, batch: RecordBatch) -> Result<()> {
        self.text_bytes = batch
            .columns()
            .iter()
            .zip(
                std::mem::take(&mut self.text_bytes)
                    .into_iter()
                    .chain(std::iter::repeat(0)),
            )
            .map(|(c, seen)| match c.as_string_opt::<i32>() {
                // With an eighth to spare, for a longer run of values.
                Some(s) if !s.is_empty() => {
                    let per_chunk = s.value_data().len() * CHUNK_ROWS / s.len();
                    seen.max(per_chunk + per_chunk / 8)
                }
                _ => seen,
            })
            .collect();
        let table = &self.rows.shape.table;
        self.target.push(&self.db, table, batch)
    }

    /// One row of binary fields, parsed on this thread.
    pub fn push_binary(&mut self, fields: &[Option<&[u8]>], row: u64) -> Result<()> {
        match self.rows.push_binary(fields, row)? {
            Some(batch) => self.push_batch(batch),
            None => Ok(()),
        }
    }

    /// All rows pushed and validated, waiting for [`Pending::write_to`].
    pub fn finish(mut self) -> Result<Pending> {
        if let Some(batch) = self.rows.take_batch()? {
            self.push_batch(batch)?;
        }
        Ok(self.target)
    }
}
