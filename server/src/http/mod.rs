//! HTTP front end (axum): health, SQL over HTTP, Parquet import,
//! Prometheus metrics.

mod import;
mod sql;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;

use lynx_sql::Engine;

use crate::metrics::Metrics;

#[derive(Clone)]
pub struct HttpState {
    pub engine: Arc<Engine>,
    pub metrics: Arc<Metrics>,
}

pub fn router(state: HttpState, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/v1/sql", post(sql::post_sql))
        .route("/v1/import/parquet", post(import::post_parquet))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

async fn health(State(s): State<HttpState>) -> impl IntoResponse {
    s.metrics
        .http_requests_total
        .fetch_add(1, Ordering::Relaxed);
    axum::Json(serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

async fn metrics(State(s): State<HttpState>) -> impl IntoResponse {
    s.metrics
        .http_requests_total
        .fetch_add(1, Ordering::Relaxed);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics.render(s.engine.db()),
    )
}

pub async fn serve(
    listener: TcpListener,
    router: Router,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let _ = axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            let _ = shutdown.changed().await;
        })
        .await;
}
