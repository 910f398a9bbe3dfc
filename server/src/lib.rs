//! The `lynxstore` server: CLI, configuration, the PostgreSQL wire protocol
//! front end (`pg`), the HTTP front end (`http`), Prometheus remote
//! write and read (`prom`), the server's metrics and the offline
//! `import` / `export` commands (`bulk`).
//!
//! This is the only crate that knows about sockets, HTTP or the command
//! line. Status codes become SQLSTATEs and HTTP statuses in `sqlstate`, and
//! nowhere else.

pub mod alloc;
pub mod bulk;
mod bulk_remote;
pub mod config;
pub mod http;
pub mod metrics;
pub mod pg;
pub mod prom;
pub mod serve;
pub mod sqlstate;
