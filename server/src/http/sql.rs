//! `POST /v1/sql`: run SQL, answer JSON (default), CSV or Arrow IPC.
//!
//! The body is the SQL text (or JSON `{"query": "..."}`); with several
//! statements the last one's result is returned. Errors are JSON
//! `{"error": {"code": SQLSTATE, "message": ...}}` with a matching status.

use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode as Http};
use axum::response::{IntoResponse, Response};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use futures::TryStreamExt;
use serde_json::{json, Value};

use lynx_pgtypes::PgFormatSettings;
use lynx_sql::{Output, SqlError, StatusCode};

use super::HttpState;
use crate::sqlstate::{error_code, http_status};

enum Format {
    Json,
    Csv,
    Arrow,
}

fn wanted(headers: &HeaderMap) -> Format {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accept.contains("text/csv") {
        Format::Csv
    } else if accept.contains("application/vnd.apache.arrow.stream") {
        Format::Arrow
    } else {
        Format::Json
    }
}

pub(super) fn error_response(state: &HttpState, e: &SqlError) -> Response {
    let code = error_code(e);
    state.metrics.error(code);
    (
        http_status(e.status),
        axum::Json(json!({ "error": { "code": code, "message": e.message } })),
    )
        .into_response()
}

pub async fn post_sql(State(state): State<HttpState>, headers: HeaderMap, body: Bytes) -> Response {
    state
        .metrics
        .http_requests_total
        .fetch_add(1, Ordering::Relaxed);
    let text = match std::str::from_utf8(&body) {
        Ok(t) => t,
        Err(_) => {
            return error_response(
                &state,
                &SqlError::new(StatusCode::InvalidInput, "request body is not UTF-8")
                    .with_sqlstate("22021"),
            )
        }
    };
    let sql = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(o)) => match o.get("query").and_then(Value::as_str) {
            Some(q) => q.to_string(),
            None => {
                return error_response(
                    &state,
                    &SqlError::new(
                        StatusCode::InvalidInput,
                        "JSON body needs a \"query\" string",
                    ),
                )
            }
        },
        _ => text.to_string(),
    };
    match run(&state, &sql).await {
        Ok((Some((schema, batches)), _)) => render(&state, wanted(&headers), schema, batches),
        Ok((None, tag)) => axum::Json(json!({ "command": tag })).into_response(),
        Err(e) => error_response(&state, &e),
    }
}

type Rows = (SchemaRef, Vec<RecordBatch>);

async fn run(state: &HttpState, sql: &str) -> Result<(Option<Rows>, String), SqlError> {
    let mut session = state.engine.session("lynx", None);
    let stmts = session.parse(sql)?;
    let mut last = (None, String::new());
    for stmt in stmts {
        state.metrics.queries_total.fetch_add(1, Ordering::Relaxed);
        let prepared = session.prepare(stmt, &[]).await?;
        last = match session.execute(&prepared, vec![]).await? {
            Output::Rows { schema, stream } => {
                let batches: Vec<RecordBatch> = stream.try_collect().await?;
                (Some((schema, batches)), String::new())
            }
            Output::Command {
                tag: "INSERT",
                rows: Some(n),
            } => (None, format!("INSERT 0 {n}")),
            Output::Command { tag, rows: Some(n) } => (None, format!("{tag} {n}")),
            Output::Command { tag, rows: None } => (None, tag.to_string()),
            Output::Empty => (None, String::new()),
            Output::CopyIn(_) | Output::CopyOut(_) => return Err(SqlError::unsupported(
                "COPY FROM STDIN / TO STDOUT over HTTP; use the PostgreSQL protocol (psql \\copy)",
            )),
        };
    }
    Ok(last)
}

fn render(
    state: &HttpState,
    format: Format,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
) -> Response {
    let settings = PgFormatSettings::default();
    let internal = |e: String| error_response(state, &SqlError::new(StatusCode::Internal, e));
    match format {
        Format::Arrow => {
            let mut buf = Vec::new();
            let written = (|| {
                let mut w =
                    datafusion::arrow::ipc::writer::StreamWriter::try_new(&mut buf, &schema)?;
                for b in &batches {
                    w.write(b)?;
                }
                w.finish()
            })();
            match written {
                Ok(()) => (
                    [(header::CONTENT_TYPE, "application/vnd.apache.arrow.stream")],
                    buf,
                )
                    .into_response(),
                Err(e) => internal(e.to_string()),
            }
        }
        Format::Csv => {
            let mut out = String::new();
            let names: Vec<String> = schema
                .fields()
                .iter()
                .map(|f| csv_field(f.name()))
                .collect();
            out.push_str(&names.join(","));
            out.push('\n');
            let mut cell = String::new();
            for b in &batches {
                for row in 0..b.num_rows() {
                    for (i, col) in b.columns().iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        cell.clear();
                        match lynx_pgtypes::format_text(col.as_ref(), row, &settings, &mut cell) {
                            Ok(true) => {}
                            Ok(false) => out.push_str(&csv_field(&cell)),
                            Err(e) => return internal(e.to_string()),
                        }
                    }
                    out.push('\n');
                }
            }
            ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response()
        }
        Format::Json => {
            let columns: Vec<Value> = schema
                .fields()
                .iter()
                .map(|f| {
                    let ty = lynx_pgtypes::pg_type_of(f.data_type())
                        .map(|t| t.name().to_string())
                        .unwrap_or_default();
                    json!({ "name": f.name(), "type": ty })
                })
                .collect();
            let mut rows = Vec::new();
            for b in &batches {
                for row in 0..b.num_rows() {
                    let mut values = Vec::with_capacity(b.num_columns());
                    for col in b.columns() {
                        match json_value(col.as_ref(), row, &settings) {
                            Ok(v) => values.push(v),
                            Err(e) => return internal(e),
                        }
                    }
                    rows.push(Value::Array(values));
                }
            }
            (
                Http::OK,
                axum::Json(json!({ "columns": columns, "rows": rows })),
            )
                .into_response()
        }
    }
}

fn csv_field(s: &str) -> String {
    if s.is_empty() || s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn json_value(col: &dyn Array, row: usize, settings: &PgFormatSettings) -> Result<Value, String> {
    if col.is_null(row) {
        return Ok(Value::Null);
    }
    use datafusion::arrow::datatypes::*;
    Ok(match col.data_type() {
        DataType::Int16 => json!(col.as_primitive::<Int16Type>().value(row)),
        DataType::Int32 => json!(col.as_primitive::<Int32Type>().value(row)),
        DataType::Int64 => json!(col.as_primitive::<Int64Type>().value(row)),
        DataType::UInt32 => json!(col.as_primitive::<UInt32Type>().value(row)),
        DataType::UInt64 => json!(col.as_primitive::<UInt64Type>().value(row)),
        DataType::Boolean => json!(col.as_boolean().value(row)),
        DataType::Float64 | DataType::Float32 => {
            let v = if *col.data_type() == DataType::Float64 {
                col.as_primitive::<Float64Type>().value(row)
            } else {
                col.as_primitive::<Float32Type>().value(row) as f64
            };
            serde_json::Number::from_f64(v)
                .map(Value::Number)
                .unwrap_or_else(|| {
                    let mut s = String::new();
                    let _ = lynx_pgtypes::format_text(col, row, settings, &mut s);
                    Value::String(s)
                })
        }
        _ => {
            let mut s = String::new();
            lynx_pgtypes::format_text(col, row, settings, &mut s).map_err(|e| e.to_string())?;
            Value::String(s)
        }
    })
}
