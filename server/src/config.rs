//! Server configuration: one serde struct with defaults in one place.
//!
//! The TOML file (`--config`) and the command-line flags are two views of
//! [`Config`]; flags override the file. `lynxstore serve --help` lists every
//! option under the same names as the file keys.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use lynx_storage::Durability;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Directory holding the catalog, WAL and segments.
    pub data_dir: PathBuf,
    /// Address of the PostgreSQL wire protocol listener.
    pub pg_addr: SocketAddr,
    /// Address of the HTTP listener (health, SQL, metrics, remote write).
    pub http_addr: SocketAddr,
    /// `fsync` (default: acknowledged writes survive power loss) or
    /// `relaxed` (acknowledged writes survive a process crash only).
    pub durability: Durability,
    /// Memtables are flushed to segment files once they hold this many bytes.
    pub flush_bytes: usize,
    /// ... or once their oldest unflushed row is this many seconds old.
    pub flush_age_secs: u64,
    /// Rows in memory (memtables, runs of bulk loads) beyond which writers
    /// wait for a flush; bulk loads sort runs of a quarter of it.
    pub memory_limit_bytes: usize,
    /// Users and passwords; when empty, loopback connections are trusted.
    pub users: Vec<UserConfig>,
    /// PEM certificate and key enabling TLS on the PostgreSQL listener.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Maximum concurrent PostgreSQL connections (0 = unlimited).
    pub max_connections: usize,
    /// Maximum HTTP request body in bytes.
    pub max_body_bytes: usize,
    /// Require credentials on every HTTP endpoint but `/health`: Basic with
    /// one of `users`, or Bearer with one of `http_bearer_tokens`.
    pub http_auth: bool,
    /// Tokens accepted as `Authorization: Bearer <token>` when `http_auth` is on.
    pub http_bearer_tokens: Vec<String>,
    /// Serve HTTP over TLS (HTTPS) with `tls_cert` / `tls_key`.
    pub http_tls: bool,
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `lynxstore=debug`.
    pub log: String,
    /// Prometheus remote write / remote read (`[prometheus]` in the file).
    pub prometheus: PrometheusConfig,
    /// The only directory `COPY ... FROM/TO 'file'` may read or write
    /// (server-side files). Unset: server-side files are disabled.
    pub import_dir: Option<PathBuf>,
}

/// Limits and options of `POST /api/v1/write` and `POST /api/v1/read`.
/// Every violation is answered with 400 (413 for the decoded size) and
/// nothing of the request is stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrometheusConfig {
    /// Series per remote-write request.
    pub max_series_per_request: usize,
    /// Labels per series, `__name__` included.
    pub max_labels_per_series: usize,
    /// Bytes per label name.
    pub max_label_name_length: usize,
    /// Bytes per label value.
    pub max_label_value_length: usize,
    /// Samples older than now minus this are refused (default 10 years).
    pub max_sample_age_secs: u64,
    /// Samples newer than now plus this are refused (default 10 minutes).
    pub max_sample_ahead_secs: u64,
    /// Bytes of a request body after snappy decompression.
    pub max_decoded_bytes: usize,
    /// Samples one remote-read request may return.
    pub max_read_samples: usize,
    /// HA pairs: the label naming the cluster (e.g. `cluster`); with
    /// `ha_replica_label`, only the elected replica's samples are stored.
    pub ha_cluster_label: Option<String>,
    /// HA pairs: the label naming the replica (e.g. `__replica__`); it is
    /// removed from stored series.
    pub ha_replica_label: Option<String>,
    /// HA pairs: elect another replica after the elected one has sent
    /// nothing for this long.
    pub ha_failover_timeout_secs: u64,
}

impl Default for PrometheusConfig {
    fn default() -> Self {
        PrometheusConfig {
            max_series_per_request: 100_000,
            max_labels_per_series: 64,
            max_label_name_length: 1024,
            max_label_value_length: 2048,
            max_sample_age_secs: 10 * 365 * 86_400,
            max_sample_ahead_secs: 600,
            max_decoded_bytes: 256 << 20,
            max_read_samples: 50_000_000,
            ha_cluster_label: None,
            ha_replica_label: None,
            ha_failover_timeout_secs: 30,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub name: String,
    pub password: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("lynx-data"),
            pg_addr: "127.0.0.1:5433".parse().expect("valid default address"),
            http_addr: "127.0.0.1:9201".parse().expect("valid default address"),
            durability: Durability::Fsync,
            flush_bytes: 64 << 20,
            flush_age_secs: 60,
            memory_limit_bytes: 512 << 20,
            users: Vec::new(),
            tls_cert: None,
            tls_key: None,
            max_connections: 0,
            max_body_bytes: 64 << 20,
            http_auth: false,
            http_bearer_tokens: Vec::new(),
            http_tls: false,
            log: "info".into(),
            prometheus: PrometheusConfig::default(),
            import_dir: None,
        }
    }
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}
