//! End-to-end tests: the real `lynxstore` binary driven by real clients
//! (tokio-postgres, psql, HTTP).

mod harness;
mod pg_errors;
mod pg_protocol;
mod pg_types;
mod persistence;
mod psql;
mod http;
mod security;
