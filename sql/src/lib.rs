//! The SQL statement layer of LynxStore.
//!
//! Owns everything between a query string and a stream of record batches:
//! parsing (PostgreSQL dialect), DDL translation into engine table
//! definitions, session settings (SET/SHOW/current_setting), the pg_catalog
//! emulation for clients, and planning/execution through DataFusion.
//! It does not know about sockets or wire formats: protocols call
//! [`Session::prepare`] / [`Session::execute`] and encode the [`Output`].

pub mod bulk;
mod client_queries;
mod column_names;
pub mod copy;
mod ddl;
mod engine;
pub mod error;
mod functions;
mod gapfill;
mod information_schema;
mod names;
mod pg_attribute;
mod rewrite;
mod session;
pub mod settings;
mod utility;

pub use copy::{CopyChunk, CopyIn, CopyOut};
pub use ddl::column_type;
pub use engine::{Engine, EngineOptions};
pub use error::{SqlError, StatusCode};
pub use functions::version_string;
pub use names::{DATABASE, SCHEMA};
pub use session::{Notice, Output, Prepared, Session};
