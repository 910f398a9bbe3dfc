//! `COPY`: bulk rows between a table (or query) and the client or a file.
//!
//! | statement | result |
//! | --- | --- |
//! | `COPY t [(cols)] FROM STDIN` (text, CSV, binary) | [`Output::CopyIn`]: the protocol layer feeds [`CopyIn`] |
//! | `COPY t / (query) TO STDOUT` (text, CSV, binary) | [`Output::CopyOut`]: one message per row |
//! | `COPY t FROM 'f'` / `TO 'f'` (text, CSV, binary, parquet) | `COPY n`, file confined to `import_dir` |
//!
//! Invariant: COPY FROM is all or nothing against bad input. Rows are
//! parsed and validated into batches while data arrives; nothing is
//! written until the input ended without error (see
//! [`crate::bulk::write_validated`] for inputs beyond one WAL record).

mod column;
mod decode;
mod encode;
pub mod options;
mod rows;

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::sql::sqlparser::ast::Statement;
use futures::stream::BoxStream;
use futures::StreamExt;
use lynx_storage::Database;

use crate::bulk::{files, parquet_in::ParquetSource, parquet_out};
use crate::error::{Result, SqlError, StatusCode};
use crate::session::{Output, Session};
use decode::Decoder;
use encode::Encoder;
use options::{CopyEndpoint, CopyRelation};
pub use options::{CopyFormat, CopyStatement};
use rows::RowSink;

/// A `COPY ... FROM STDIN` waiting for its data.
pub struct CopyIn {
    decoder: Decoder,
    sink: RowSink,
    db: Arc<Database>,
    format: i8,
    error: Option<SqlError>,
}

impl CopyIn {
    /// CopyInResponse format: 1 for binary, 0 for text and CSV.
    pub fn format_code(&self) -> i8 {
        self.format
    }

    pub fn columns(&self) -> usize {
        self.sink.columns().len()
    }

    /// Decodes one chunk of input (a CopyData message). The first error is
    /// kept and reported by [`CopyIn::finish`]; later data is ignored, as
    /// PostgreSQL discards CopyData after an error.
    pub fn feed(&mut self, data: &[u8]) {
        if self.error.is_none() {
            if let Err(e) = self.decoder.feed(data, &mut self.sink) {
                self.error = Some(e);
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn set_block_bytes(&mut self, bytes: usize) {
        self.decoder.set_block_bytes(bytes);
    }

    #[cfg(test)]
    pub(crate) fn set_max_record_bytes(&mut self, bytes: usize) {
        self.decoder.set_max_record_bytes(bytes);
    }

    /// Aborts the copy with `e` (e.g. a CancelRequest); reported by
    /// [`CopyIn::finish`] unless an earlier error is.
    pub fn fail(&mut self, e: SqlError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// The input is complete (CopyDone): validates the rest and writes all
    /// rows. Returns the row count for the `COPY n` tag.
    pub async fn finish(mut self) -> Result<u64> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.decoder.finish(&mut self.sink)?;
        let table = self.sink.table().to_string();
        let staged = self.sink.finish()?;
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || staged.write_to(&db, &table))
            .await
            .map_err(|e| SqlError::new(StatusCode::Internal, e.to_string()))?
    }
}

/// Output messages of a `COPY ... TO STDOUT` for some rows.
pub struct CopyChunk {
    /// CopyData payloads; the binary header rides with the first row.
    pub messages: Vec<Bytes>,
    /// Rows in these messages (for the `COPY n` tag).
    pub rows: u64,
}

/// A `COPY ... TO STDOUT` ready to stream.
pub struct CopyOut {
    pub format: i8,
    pub columns: usize,
    pub chunks: BoxStream<'static, Result<CopyChunk>>,
}

pub async fn execute(stmt: &CopyStatement, session: &mut Session) -> Result<Output> {
    if session.in_transaction && !stmt.to {
        session.wrote_in_transaction = true;
    }
    let file_dir = session.engine().file_dir().map(Path::to_path_buf);
    let file_dir = file_dir.as_deref();
    match (&stmt.endpoint, stmt.to) {
        (CopyEndpoint::Stdio, false) => Ok(Output::CopyIn(Box::new(copy_in(stmt, session)?))),
        (CopyEndpoint::Stdio, true) => {
            let (schema, stream) = source_rows(stmt, session).await?;
            let encoder = Encoder::new(&stmt.options, &schema, session.settings.format_settings())?;
            Ok(Output::CopyOut(copy_out(encoder, stream)))
        }
        (CopyEndpoint::File(name), false) => {
            let path = files::resolve_read(file_dir, name)?;
            let rows = if stmt.options.format == CopyFormat::Parquet {
                let CopyRelation::Table {
                    name: table,
                    columns,
                } = &stmt.relation
                else {
                    return Err(SqlError::syntax("COPY FROM needs a table"));
                };
                if !columns.is_empty() {
                    return Err(SqlError::unsupported(
                        "a column list with FORMAT parquet (columns are matched by name)",
                    ));
                }
                let db = session.engine().db().clone();
                let table = table.clone();
                blocking(move || ParquetSource::open(&path)?.import(&db, &table, &mut |_| {}))
                    .await??
            } else {
                use tokio::io::AsyncReadExt;
                let mut copy = copy_in(stmt, session)?;
                let io = |e: std::io::Error| {
                    SqlError::new(
                        StatusCode::Unavailable,
                        format!("could not read file \"{name}\": {e}"),
                    )
                };
                let mut file = tokio::fs::File::open(&path).await.map_err(io)?;
                let mut buf = vec![0u8; 256 * 1024];
                loop {
                    let n = file.read(&mut buf).await.map_err(io)?;
                    if n == 0 {
                        break;
                    }
                    copy.feed(&buf[..n]);
                }
                copy.finish().await?
            };
            Ok(Output::Command {
                tag: "COPY",
                rows: Some(rows),
            })
        }
        (CopyEndpoint::File(name), true) => {
            let path = files::resolve_write(file_dir, name)?;
            let (schema, stream) = source_rows(stmt, session).await?;
            let rows = if stmt.options.format == CopyFormat::Parquet {
                parquet_out::write_parquet(&path, stream).await?
            } else {
                let encoder =
                    Encoder::new(&stmt.options, &schema, session.settings.format_settings())?;
                write_encoded(&path, copy_out(encoder, stream)).await?
            };
            Ok(Output::Command {
                tag: "COPY",
                rows: Some(rows),
            })
        }
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SqlError::new(StatusCode::Internal, e.to_string()))
}

/// Checks that the table and the listed columns exist (at Parse time).
pub fn check_relation(stmt: &CopyStatement, session: &Session) -> Result<()> {
    if let CopyRelation::Table { .. } = &stmt.relation {
        columns_of(stmt, session)?;
    }
    Ok(())
}

/// The table and the (name, type) of each column the COPY names.
fn columns_of(
    stmt: &CopyStatement,
    session: &Session,
) -> Result<(
    String,
    Vec<(String, datafusion::arrow::datatypes::DataType)>,
)> {
    let CopyRelation::Table { name, columns } = &stmt.relation else {
        return Err(SqlError::syntax("COPY FROM needs a table"));
    };
    let def =
        session.engine().db().table_def(name).ok_or_else(|| {
            SqlError::from(lynx_storage::StorageError::TableNotFound(name.clone()))
        })?;
    let names: Vec<String> = if columns.is_empty() {
        def.columns.iter().map(|c| c.name.clone()).collect()
    } else {
        columns.clone()
    };
    let mut typed = Vec::with_capacity(names.len());
    for (i, n) in names.iter().enumerate() {
        let Some(col) = def.column(n) else {
            return Err(SqlError::new(
                StatusCode::ColumnNotFound,
                format!("column \"{n}\" of relation \"{name}\" does not exist"),
            ));
        };
        if names[..i].contains(n) {
            return Err(SqlError::new(
                StatusCode::AlreadyExists,
                format!("column \"{n}\" specified more than once"),
            )
            .with_sqlstate("42701"));
        }
        typed.push((n.clone(), col.column_type.to_arrow()));
    }
    Ok((name.clone(), typed))
}

fn copy_in(stmt: &CopyStatement, session: &Session) -> Result<CopyIn> {
    let (name, typed) = columns_of(stmt, session)?;
    let names: Vec<String> = typed.iter().map(|(n, _)| n.clone()).collect();
    let db = session.engine().db().clone();
    let decoder = Decoder::new(&stmt.options, &names);
    let sink = RowSink::new(
        db.clone(),
        name.clone(),
        typed,
        session.settings.format_settings(),
    )?;
    Ok(CopyIn {
        decoder,
        sink,
        db,
        format: i8::from(stmt.options.format == CopyFormat::Binary),
        error: None,
    })
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The rows a COPY TO sends: the table's (columns) or the query's.
async fn source_rows(
    stmt: &CopyStatement,
    session: &mut Session,
) -> Result<(SchemaRef, SendableRecordBatchStream)> {
    let statement = match &stmt.relation {
        CopyRelation::Table { name, columns } => {
            let def = session.engine().db().table_def(name).ok_or_else(|| {
                SqlError::from(lynx_storage::StorageError::TableNotFound(name.clone()))
            })?;
            let list: Vec<String> = if columns.is_empty() {
                def.columns.iter().map(|c| quote_ident(&c.name)).collect()
            } else {
                for c in columns {
                    if def.column(c).is_none() {
                        return Err(SqlError::new(
                            StatusCode::ColumnNotFound,
                            format!("column \"{c}\" of relation \"{name}\" does not exist"),
                        ));
                    }
                }
                columns.iter().map(|c| quote_ident(c)).collect()
            };
            let sql = format!("SELECT {} FROM {}", list.join(", "), quote_ident(name));
            session
                .parse(&sql)?
                .pop()
                .ok_or_else(|| SqlError::new(StatusCode::Internal, "empty COPY query"))?
        }
        CopyRelation::Query(q) => Statement::Query(q.clone()),
    };
    let prepared = session.prepare(statement, &[]).await?;
    session.query_stream(&prepared).await
}

fn copy_out(mut encoder: Encoder, stream: SendableRecordBatchStream) -> CopyOut {
    let format = encoder.format_code();
    let columns = encoder.columns();
    let mut stream = stream.fuse();
    let mut done = false;
    let chunks = futures::stream::poll_fn(move |cx| {
        use std::task::Poll;
        if done {
            return Poll::Ready(None);
        }
        match futures::ready!(stream.poll_next_unpin(cx)) {
            Some(Ok(batch)) => {
                Poll::Ready(Some(encoder.encode(&batch).map(|messages| CopyChunk {
                    messages,
                    rows: batch.num_rows() as u64,
                })))
            }
            Some(Err(e)) => {
                done = true;
                Poll::Ready(Some(Err(SqlError::from(e))))
            }
            None => {
                done = true;
                Poll::Ready(Some(Ok(CopyChunk {
                    messages: encoder.finish(),
                    rows: 0,
                })))
            }
        }
    });
    CopyOut {
        format,
        columns,
        chunks: chunks.boxed(),
    }
}

/// COPY TO a server file in text/CSV/binary: temp file, then rename.
async fn write_encoded(path: &Path, mut out: CopyOut) -> Result<u64> {
    use tokio::io::AsyncWriteExt;
    let io = |e: std::io::Error| {
        SqlError::new(
            StatusCode::Unavailable,
            format!("could not write file \"{}\": {e}", path.display()),
        )
    };
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    let mut file = tokio::fs::File::create(&tmp).await.map_err(io)?;
    let mut rows = 0;
    let result = async {
        while let Some(chunk) = out.chunks.next().await {
            let chunk = chunk?;
            rows += chunk.rows;
            for m in chunk.messages {
                file.write_all(&m).await.map_err(io)?;
            }
        }
        file.sync_all().await.map_err(io)?;
        tokio::fs::rename(&tmp, path).await.map_err(io)?;
        Ok(rows)
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    result
}

#[cfg(test)]
mod tests;
