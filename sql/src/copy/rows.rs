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

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use lynx_pgtypes::{PgFormatSettings, PgTypeError};
use lynx_storage::{BulkLoad, Database};

use super::column::ColumnBuilder;
use crate::bulk::staged::Staged;
use crate::error::{Result, SqlError, StatusCode};

/// Rows per Arrow batch built from COPY input.
pub const CHUNK_ROWS: usize = 8192;

/// `22P04 bad_copy_file_format`.
pub fn bad_format(message: impl Into<String>) -> SqlError {
    SqlError::new(StatusCode::InvalidInput, message).with_sqlstate("22P04")
}

pub struct RowSink {
    db: Arc<Database>,
    table: String,
    columns: Vec<String>,
    schema: SchemaRef,
    settings: PgFormatSettings,
    builders: Vec<ColumnBuilder>,
    pending: usize,
    target: Pending,
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
fn blocking<T>(f: impl FnOnce() -> T) -> T {
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
        let builders = columns
            .iter()
            .map(|(_, t)| ColumnBuilder::new(t, CHUNK_ROWS))
            .collect();
        let target = match db.bulk_load(&table)? {
            Some(load) => Pending::Bulk(load),
            None => Pending::Staged(Box::new(Staged::new(&db))),
        };
        Ok(RowSink {
            table,
            columns: columns.into_iter().map(|(n, _)| n).collect(),
            schema,
            settings,
            builders,
            pending: 0,
            target,
            db,
        })
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    fn value_error(&self, e: &PgTypeError, line: u64, col: usize, raw: &[u8]) -> SqlError {
        SqlError::from_pgtype(e).with_context(format!(
            "COPY {}, line {line}, column {}: {}",
            self.table,
            self.columns[col],
            context_text(raw)
        ))
    }

    /// One row of text fields (`None` = NULL); `line` is for error context.
    pub fn push_text(&mut self, fields: &[Option<&[u8]>], line: u64) -> Result<()> {
        debug_assert_eq!(fields.len(), self.columns.len());
        for (col, field) in fields.iter().enumerate() {
            match field {
                None => self.builders[col].append_null()?,
                Some(raw) => {
                    let s = std::str::from_utf8(raw).map_err(|e| {
                        let byte = raw.get(e.valid_up_to()).copied().unwrap_or(0);
                        self.value_error(&PgTypeError::InvalidUtf8 { byte }, line, col, raw)
                    })?;
                    if let Err(e) = self.builders[col].append_text(s, &self.settings) {
                        return Err(self.value_error(&e, line, col, raw));
                    }
                }
            }
        }
        self.row_done()
    }

    /// One row of binary fields (`None` = NULL); `row` is for error context.
    pub fn push_binary(&mut self, fields: &[Option<&[u8]>], row: u64) -> Result<()> {
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
                    self.table, self.columns[col]
                ))
            })?;
            self.builders[col].append_scalar(v)?;
        }
        self.row_done()
    }

    fn row_done(&mut self) -> Result<()> {
        self.pending += 1;
        if self.pending >= CHUNK_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    /// Builds a batch from the pending rows and validates it for the table.
    fn flush(&mut self) -> Result<()> {
        if self.pending == 0 {
            return Ok(());
        }
        self.pending = 0;
        let arrays = self
            .builders
            .iter_mut()
            .map(ColumnBuilder::finish)
            .collect::<Result<Vec<ArrayRef>>>()?;
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)?;
        self.target.push(&self.db, &self.table, batch)
    }

    /// All rows pushed and validated, waiting for [`Pending::write_to`].
    pub fn finish(mut self) -> Result<Pending> {
        self.flush()?;
        Ok(self.target)
    }
}
