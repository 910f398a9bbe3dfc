//! The `lynxstore` binary: command line, configuration and startup.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use lynxstore::config::{Config, UserConfig};
use lynxstore::serve;

/// mimalloc instead of glibc's malloc: a scan allocates and frees decode
/// buffers of hundreds of kilobytes per column and chunk, which glibc keeps
/// returning to the kernel and faulting back in (a ten-column scan of the
/// TSBS table spent more time in page faults than in decoding; see
/// docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "lynxstore",
    version,
    about = "LynxStore: a time-series columnar database speaking the PostgreSQL protocol"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (PostgreSQL protocol and HTTP).
    Serve(Box<ServeArgs>),
    /// Import Parquet files into a table of a stopped data directory.
    Import(lynxstore::bulk::ImportArgs),
    /// Export a table (optionally filtered) to a Parquet file.
    Export(lynxstore::bulk::ExportArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// TOML configuration file; flags override its values.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Directory holding the catalog, WAL and segments [default: lynx-data]
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// PostgreSQL wire protocol listen address [default: 127.0.0.1:5433]
    #[arg(long)]
    pg_addr: Option<std::net::SocketAddr>,
    /// HTTP listen address (health, SQL, metrics, remote write) [default: 127.0.0.1:9201]
    #[arg(long)]
    http_addr: Option<std::net::SocketAddr>,
    /// WAL durability: fsync (default) or relaxed
    #[arg(long, value_parser = ["fsync", "relaxed"])]
    durability: Option<String>,
    /// Flush memtables to segment files at this many bytes [default: 67108864]
    #[arg(long)]
    flush_bytes: Option<usize>,
    /// ... or when unflushed rows are this many seconds old [default: 60]
    #[arg(long)]
    flush_age_secs: Option<u64>,
    /// Rows held in memory before writers wait for a flush [default: 536870912]
    #[arg(long)]
    memory_limit_bytes: Option<usize>,
    /// Require this user (with --password) instead of trusting loopback clients
    #[arg(long, requires = "password")]
    user: Option<String>,
    /// Password for --user (SCRAM-SHA-256); also LYNX_PASSWORD
    #[arg(long, env = "LYNX_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// PEM certificate enabling TLS on the PostgreSQL listener
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Maximum concurrent PostgreSQL connections (0 = unlimited)
    #[arg(long)]
    max_connections: Option<usize>,
    /// Maximum HTTP request body in bytes [default: 67108864]
    #[arg(long)]
    max_body_bytes: Option<usize>,
    /// Require HTTP credentials (Basic with --user/--password, or a Bearer token) on all endpoints but /health
    #[arg(long)]
    http_auth: bool,
    /// Accept this Bearer token when --http-auth is on; also LYNX_HTTP_TOKEN
    #[arg(long, env = "LYNX_HTTP_TOKEN", hide_env_values = true)]
    http_bearer_token: Option<String>,
    /// Serve HTTP over TLS with --tls-cert/--tls-key (remote write, SQL, metrics)
    #[arg(long, requires = "tls_cert")]
    http_tls: bool,
    /// Log filter, e.g. info, debug, lynxstore=debug [default: info]
    #[arg(long)]
    log: Option<String>,
    /// Directory that COPY ... FROM/TO 'file' may read and write (server-side files are off without it)
    #[arg(long)]
    import_dir: Option<PathBuf>,
}

impl ServeArgs {
    fn into_config(self) -> Result<Config, String> {
        let mut c = match &self.config {
            Some(p) => Config::load(p)?,
            None => Config::default(),
        };
        if let Some(v) = self.data_dir {
            c.data_dir = v;
        }
        if let Some(v) = self.pg_addr {
            c.pg_addr = v;
        }
        if let Some(v) = self.http_addr {
            c.http_addr = v;
        }
        if let Some(v) = self.durability {
            c.durability = if v == "relaxed" {
                lynx_storage::Durability::Relaxed
            } else {
                lynx_storage::Durability::Fsync
            };
        }
        if let Some(v) = self.flush_bytes {
            c.flush_bytes = v;
        }
        if let Some(v) = self.flush_age_secs {
            c.flush_age_secs = v;
        }
        if let Some(v) = self.memory_limit_bytes {
            c.memory_limit_bytes = v;
        }
        if let (Some(name), Some(password)) = (self.user, self.password) {
            c.users = vec![UserConfig { name, password }];
        }
        if let Some(v) = self.tls_cert {
            c.tls_cert = Some(v);
        }
        if let Some(v) = self.tls_key {
            c.tls_key = Some(v);
        }
        if let Some(v) = self.max_connections {
            c.max_connections = v;
        }
        if let Some(v) = self.max_body_bytes {
            c.max_body_bytes = v;
        }
        if self.http_auth {
            c.http_auth = true;
        }
        if let Some(v) = self.http_bearer_token {
            c.http_bearer_tokens = vec![v];
        }
        if self.http_tls {
            c.http_tls = true;
        }
        if let Some(v) = self.log {
            c.log = v;
        }
        if let Some(v) = self.import_dir {
            c.import_dir = Some(v);
        }
        Ok(c)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Import(args) => {
            lynxstore::alloc::no_transparent_huge_pages();
            lynxstore::alloc::purge_freed_memory_after(lynxstore::alloc::IMPORT_PURGE_DELAY_MS);
            exit(lynxstore::bulk::import(args))
        }
        Command::Export(args) => exit(lynxstore::bulk::export(args)),
        Command::Serve(args) => {
            lynxstore::alloc::no_transparent_huge_pages();
            lynxstore::alloc::purge_freed_memory_after(lynxstore::alloc::SERVE_PURGE_DELAY_MS);
            let config = match args.into_config() {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("lynxstore: {e}");
                    return ExitCode::from(2);
                }
            };
            match serve::run(config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("lynxstore: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn exit(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lynxstore: {e}");
            ExitCode::FAILURE
        }
    }
}
