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
    /// Users and passwords; when empty, loopback connections are trusted.
    pub users: Vec<UserConfig>,
    /// PEM certificate and key enabling TLS on the PostgreSQL listener.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Maximum concurrent PostgreSQL connections (0 = unlimited).
    pub max_connections: usize,
    /// Maximum HTTP request body in bytes.
    pub max_body_bytes: usize,
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `lynxstore=debug`.
    pub log: String,
    /// The only directory `COPY ... FROM/TO 'file'` may read or write
    /// (server-side files). Unset: server-side files are disabled.
    pub import_dir: Option<PathBuf>,
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
            users: Vec::new(),
            tls_cert: None,
            tls_key: None,
            max_connections: 0,
            max_body_bytes: 64 << 20,
            log: "info".into(),
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
