//! PostgreSQL wire protocol front end (pgwire).
//!
//! `auth` authenticates, `handlers` runs simple and extended queries on a
//! per-connection `lynx_sql::Session`, `copy` runs the COPY sub-protocol,
//! `conn` holds the session, its cancel flag and a pending COPY FROM STDIN,
//! `format` maps session settings to value formatting.

pub mod auth;
pub mod conn;
pub mod copy;
pub mod format;
pub mod handlers;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use async_trait::async_trait;
use pgwire::api::auth::sasl::scram::ScramAuth;
use pgwire::api::auth::sasl::SASLAuthStartupHandler;
use pgwire::api::auth::StartupHandler;
use pgwire::api::cancel::CancelHandler;
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::{ClientInfo, ConnectionManager, ErrorHandler, PgWireServerHandlers};
use pgwire::error::{ErrorInfo, PgWireError};
use pgwire::messages::cancel::CancelRequest;
use tokio::net::TcpListener;
use tracing::{info, warn, Instrument};

use crate::metrics::Metrics;
use auth::{LynxParameters, TrustStartup, UserPasswords};
use conn::CancelRegistry;
use handlers::{PgExtended, PgHandler, PgParser};

pub struct PgFrontend {
    handler: Arc<PgHandler>,
    extended: Arc<PgExtended>,
    manager: Arc<ConnectionManager>,
    passwords: Option<Arc<UserPasswords>>,
}

impl PgFrontend {
    pub fn new(handler: PgHandler, passwords: Option<UserPasswords>) -> PgFrontend {
        let handler = Arc::new(handler);
        let parser = Arc::new(PgParser {
            handler: handler.clone(),
        });
        PgFrontend {
            extended: Arc::new(PgExtended {
                handler: handler.clone(),
                parser,
            }),
            handler,
            manager: Arc::new(ConnectionManager::new()),
            passwords: passwords.map(Arc::new),
        }
    }
}

/// Startup handling chosen by configuration.
pub enum Startup {
    Trust(TrustStartup),
    Scram(Box<SASLAuthStartupHandler<LynxParameters>>),
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: pgwire::messages::PgWireFrontendMessage,
    ) -> pgwire::error::PgWireResult<()>
    where
        C: pgwire::api::ClientInfo
            + futures::Sink<pgwire::messages::PgWireBackendMessage>
            + Unpin
            + Send
            + Sync,
        C::Error: std::fmt::Debug,
        pgwire::error::PgWireError:
            From<<C as futures::Sink<pgwire::messages::PgWireBackendMessage>>::Error>,
    {
        match self {
            Startup::Trust(t) => t.on_startup(client, message).await,
            Startup::Scram(s) => s.on_startup(client, message).await,
        }
    }
}

pub struct Cancel {
    manager: Arc<ConnectionManager>,
    registry: Arc<CancelRegistry>,
}

#[async_trait]
impl CancelHandler for Cancel {
    async fn on_cancel_request(&self, req: CancelRequest) {
        // The secret key is checked by the manager; only then set our flag.
        if self.manager.cancel(req.pid, &req.secret_key).await {
            self.registry.cancel(req.pid);
        }
    }
}

impl PgWireServerHandlers for PgFrontend {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.handler.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.extended.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        // A new handler per connection: the SASL handler keeps per-client state.
        Arc::new(match &self.passwords {
            None => Startup::Trust(TrustStartup {
                manager: self.manager.clone(),
            }),
            Some(p) => Startup::Scram(Box::new(
                SASLAuthStartupHandler::new(Arc::new(LynxParameters))
                    .with_scram(ScramAuth::new(p.clone()))
                    .with_connection_manager(self.manager.clone()),
            )),
        })
    }

    fn error_handler(&self) -> Arc<impl ErrorHandler> {
        Arc::new(PgErrors)
    }

    fn copy_handler(&self) -> Arc<impl pgwire::api::copy::CopyHandler> {
        Arc::new(copy::PgCopy {
            handler: self.handler.clone(),
        })
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        Arc::new(Cancel {
            manager: self.manager.clone(),
            registry: self.handler.registry.clone(),
        })
    }
}

/// Rewrites pgwire's own errors into PostgreSQL's wording.
pub struct PgErrors;

impl ErrorHandler for PgErrors {
    fn on_error<C: ClientInfo>(&self, client: &C, error: &mut PgWireError) {
        if let PgWireError::InvalidPassword(_) = error {
            let user = client.metadata().get("user").cloned().unwrap_or_default();
            *error = PgWireError::UserError(Box::new(ErrorInfo::new(
                "FATAL".into(),
                "28P01".into(),
                format!("password authentication failed for user \"{user}\""),
            )));
        }
        tracing::debug!(error = %error, "sending error");
    }
}

/// Accepts PostgreSQL connections until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    frontend: Arc<PgFrontend>,
    tls: Option<pgwire::tokio::TlsAcceptor>,
    max_connections: usize,
    metrics: Arc<Metrics>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let limiter =
        (max_connections > 0).then(|| Arc::new(tokio::sync::Semaphore::new(max_connections)));
    let mut conn_id: u64 = 0;
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => break,
        };
        let (socket, addr) = match accepted {
            Ok(a) => a,
            Err(e) => {
                warn!(error = %e, "accept failed");
                continue;
            }
        };
        let permit = match &limiter {
            Some(l) => match l.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    warn!(%addr, "connection refused: max_connections reached");
                    continue;
                }
            },
            None => None,
        };
        conn_id += 1;
        let frontend = frontend.clone();
        let tls = tls.clone();
        let metrics = metrics.clone();
        let span = tracing::info_span!("pg_conn", conn = conn_id, %addr);
        tokio::spawn(
            async move {
                let _permit = permit;
                metrics.connections_total.fetch_add(1, Ordering::Relaxed);
                metrics.connections_active.fetch_add(1, Ordering::Relaxed);
                info!("connection opened");
                if let Err(e) = pgwire::tokio::process_socket(socket, tls, frontend).await {
                    warn!(error = %e, "connection error");
                }
                metrics.connections_active.fetch_sub(1, Ordering::Relaxed);
                info!("connection closed");
            }
            .instrument(span),
        );
    }
}
