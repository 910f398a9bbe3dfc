//! HTTP front end (axum): health, SQL over HTTP, Parquet import,
//! Prometheus metrics, Prometheus remote write and read (handlers in
//! `crate::prom`).

pub mod auth;
mod import;
mod sql;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::header;
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;

use lynx_sql::Engine;

use crate::metrics::Metrics;
use crate::prom::{self, PromState};

#[derive(Clone)]
pub struct HttpState {
    pub engine: Arc<Engine>,
    pub metrics: Arc<Metrics>,
    pub prom: Arc<PromState>,
}

/// All endpoints; with `auth`, everything but `/health` needs credentials.
pub fn router(
    state: HttpState,
    max_body_bytes: usize,
    auth: Option<Arc<auth::HttpAuth>>,
) -> Router {
    let mut api = Router::new()
        .route("/metrics", get(metrics))
        .route("/v1/sql", post(sql::post_sql))
        .route("/v1/import/parquet", post(import::post_parquet))
        .route("/api/v1/write", post(prom::write::post_write))
        .route("/api/v1/read", post(prom::read::post_read));
    if let Some(auth) = auth {
        api = api.layer(middleware::from_fn_with_state(auth, auth::require));
    }
    Router::new()
        .route("/health", get(health))
        .merge(api)
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
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let stop = async move {
        let _ = shutdown.changed().await;
    };
    let _ = match tls {
        None => {
            axum::serve(listener, router)
                .with_graceful_shutdown(stop)
                .await
        }
        Some(acceptor) => {
            axum::serve(TlsListener { listener, acceptor }, router)
                .with_graceful_shutdown(stop)
                .await
        }
    };
}

/// HTTPS: a TCP listener whose connections finish a TLS handshake (bounded
/// by a timeout) before axum sees them; failed handshakes are logged and
/// dropped without affecting other clients.
struct TlsListener {
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (tcp, addr) = match self.listener.accept().await {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "HTTP accept failed");
                    tokio::task::yield_now().await;
                    continue;
                }
            };
            let handshake = self.acceptor.accept(tcp);
            match tokio::time::timeout(std::time::Duration::from_secs(10), handshake).await {
                Ok(Ok(stream)) => return (stream, addr),
                Ok(Err(e)) => tracing::debug!(%addr, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}
