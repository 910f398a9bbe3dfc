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
            axum::serve(TlsListener::new(listener, acceptor), router)
                .with_graceful_shutdown(stop)
                .await
        }
    };
}

/// HTTPS: a TCP listener whose connections finish a TLS handshake (bounded
/// by a timeout) before axum sees them. Handshakes run as their own tasks,
/// so a slow or silent client never delays anyone else's; failed ones are
/// logged and dropped.
struct TlsListener {
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    handshakes: tokio::task::JoinSet<Option<(TlsIo, std::net::SocketAddr)>>,
}

type TlsIo = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;

impl TlsListener {
    fn new(listener: TcpListener, acceptor: tokio_rustls::TlsAcceptor) -> TlsListener {
        TlsListener {
            listener,
            acceptor,
            handshakes: tokio::task::JoinSet::new(),
        }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsIo;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((tcp, addr)) => {
                        let acceptor = self.acceptor.clone();
                        self.handshakes.spawn(async move {
                            let handshake = acceptor.accept(tcp);
                            match tokio::time::timeout(std::time::Duration::from_secs(10), handshake).await {
                                Ok(Ok(stream)) => Some((stream, addr)),
                                Ok(Err(e)) => {
                                    tracing::debug!(%addr, error = %e, "TLS handshake failed");
                                    None
                                }
                                Err(_) => {
                                    tracing::debug!(%addr, "TLS handshake timed out");
                                    None
                                }
                            }
                        });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "HTTP accept failed");
                        tokio::task::yield_now().await;
                    }
                },
                Some(done) = self.handshakes.join_next(), if !self.handshakes.is_empty() => {
                    if let Ok(Some(ready)) = done {
                        return ready;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}
