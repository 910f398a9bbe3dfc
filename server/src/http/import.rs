//! `POST /v1/import/parquet?table=T[&create=true&time_column=C&tags=a,b]`:
//! a Parquet file in the request body, imported into a table of the
//! running server.
//!
//! Same rules as `lynxstore import` (validated completely before the first
//! write, so a bad file stores nothing); the body size is bounded by
//! `max_body_bytes`. Answers `{"table": T, "rows": n}`.

use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use lynx_sql::bulk::parquet_in::ParquetSource;
use lynx_sql::bulk::schema_map;
use lynx_sql::{SqlError, StatusCode};

use super::sql::error_response;
use super::HttpState;

#[derive(Deserialize)]
pub struct ImportParams {
    table: String,
    #[serde(default)]
    create: bool,
    time_column: Option<String>,
    tags: Option<String>,
}

pub async fn post_parquet(
    State(state): State<HttpState>,
    Query(params): Query<ImportParams>,
    body: Bytes,
) -> Response {
    state
        .metrics
        .http_requests_total
        .fetch_add(1, Ordering::Relaxed);
    let db = state.engine.db().clone();
    let table = params.table.clone();
    let result = tokio::task::spawn_blocking(move || -> Result<u64, SqlError> {
        let source = ParquetSource::from_bytes("request body", body)?;
        if db.table_def(&params.table).is_none() {
            if !params.create {
                return Err(SqlError::new(
                    StatusCode::TableNotFound,
                    format!(
                        "relation \"{}\" does not exist (add create=true to create it from the file's schema)",
                        params.table
                    ),
                ));
            }
            let tags: Option<Vec<String>> = params
                .tags
                .as_ref()
                .map(|t| t.split(',').map(|s| s.trim().to_string()).collect());
            let def = schema_map::table_from_schema(
                &params.table,
                source.schema(),
                params.time_column.as_deref(),
                tags.as_deref(),
            )?;
            db.create_table(def, true)?;
        }
        source.import(&db, &params.table, &mut |_| {})
    })
    .await
    .map_err(|e| SqlError::new(StatusCode::Internal, e.to_string()))
    .and_then(|r| r);
    match result {
        Ok(rows) => axum::Json(json!({ "table": table, "rows": rows })).into_response(),
        Err(e) => error_response(&state, &e),
    }
}
