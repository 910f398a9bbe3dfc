//! End-to-end tests: the real `lynxstore` binary driven by real clients
//! (tokio-postgres, psql, HTTP).

mod bi_clients;
mod copy;
mod explain;
mod harness;
mod http;
mod parquet;
mod persistence;
mod pg_errors;
mod pg_protocol;
mod pg_types;
mod prom;
mod prom_real;
mod psql;
mod security;
