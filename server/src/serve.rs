//! `lynxstore serve`: open the database, start the PostgreSQL and HTTP
//! listeners, stop gracefully on SIGINT/SIGTERM.
//!
//! Shutdown order: stop accepting, let in-flight statements finish (bounded),
//! then sync the WAL and release the data directory. Every acknowledged
//! write is already durable before this point; the final sync matters for
//! the relaxed durability mode.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tracing::info;

use lynx_sql::{Engine, EngineOptions};
use lynx_storage::{Database, DatabaseOptions};

use crate::config::Config;
use crate::http::{self, HttpState};
use crate::metrics::Metrics;
use crate::pg::{self, auth::UserPasswords, conn::CancelRegistry, handlers::PgHandler, PgFrontend};
use crate::prom::PromState;

pub fn run(config: Config) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .map_err(|e| format!("log filter: {e}"))?;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    runtime.block_on(serve(config))
}

fn load_tls(config: &Config) -> Result<Option<pgwire::tokio::TlsAcceptor>, String> {
    let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) else {
        return Ok(None);
    };
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("TLS certificate {}: {e}", cert.display()))?;
    let key =
        PrivateKeyDer::from_pem_file(key).map_err(|e| format!("TLS key {}: {e}", key.display()))?;
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let server = tokio_rustls::rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("TLS configuration: {e}"))?;
    Ok(Some(tokio_rustls::TlsAcceptor::from(Arc::new(server))))
}

async fn serve(config: Config) -> Result<(), String> {
    let metrics = Arc::new(Metrics::default());
    let tls = load_tls(&config)?;
    let http_tls = match (config.http_tls, &tls) {
        (false, _) => None,
        (true, Some(acceptor)) => Some(acceptor.clone()),
        (true, None) => return Err("http_tls needs tls_cert and tls_key".into()),
    };
    let http_auth = http::auth::HttpAuth::from_config(&config)?;
    let db = {
        let m = metrics.clone();
        let options = DatabaseOptions {
            durability: config.durability,
            on_wal_sync: Some(Box::new(move |d| m.wal_fsync_latency.observe(d))),
            flush_bytes: config.flush_bytes,
            flush_age: Duration::from_secs(config.flush_age_secs),
            max_memtable_bytes: config.memory_limit_bytes,
            release_memory: Some(crate::alloc::release_freed_memory),
            ..Default::default()
        };
        let dir = config.data_dir.clone();
        tokio::task::spawn_blocking(move || Database::open_with(dir, options))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?
    };
    let db = Arc::new(db);
    let maintenance = db.start_maintenance(Duration::from_secs(1));
    let engine = Engine::with_options(
        db.clone(),
        EngineOptions {
            file_dir: config.import_dir.clone(),
        },
    )
    .map_err(|e| e.to_string())?;
    let pg_listener = TcpListener::bind(config.pg_addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.pg_addr))?;
    let http_listener = TcpListener::bind(config.http_addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.http_addr))?;
    let passwords = (!config.users.is_empty()).then(|| UserPasswords::new(&config.users));
    let frontend = Arc::new(PgFrontend::new(
        PgHandler {
            engine: engine.clone(),
            metrics: metrics.clone(),
            registry: Arc::new(CancelRegistry::default()),
        },
        passwords,
    ));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let pg_task = tokio::spawn(pg::serve(
        pg_listener,
        frontend,
        tls,
        config.max_connections,
        metrics.clone(),
        stop_rx.clone(),
    ));
    let router = http::router(
        HttpState {
            engine: engine.clone(),
            metrics: metrics.clone(),
            prom: Arc::new(PromState::new(&config.prometheus)),
        },
        config.max_body_bytes,
        http_auth,
    );
    let http_task = tokio::spawn(http::serve(http_listener, router, http_tls, stop_rx));
    info!(
        pg = %config.pg_addr,
        http = %config.http_addr,
        data_dir = %config.data_dir.display(),
        "lynxstore is ready"
    );
    wait_for_signal().await;
    info!("shutting down");
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        let _ = pg_task.await;
        let _ = http_task.await;
    })
    .await;
    drop(maintenance);
    tokio::task::spawn_blocking(move || db.close())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    info!("stopped");
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
