//! LynxStore storage engine.
//!
//! Owns durability and the physical layout of data: the catalog of tables,
//! the write-ahead log, memtables, immutable memory-mapped segments, the
//! manifest, compaction and retention. It knows
//! nothing about SQL or protocols; callers hand it Arrow record batches and
//! read consistent snapshots back.
//!
//! ```no_run
//! use lynx_storage::Database;
//! let db = Database::open("/tmp/lynx-data").unwrap();
//! for name in db.table_names() { println!("{name}"); }
//! ```
//!
//! Invariant: nothing is visible to readers or acknowledged to writers before
//! its WAL record is durable.

mod atomic_file;
pub mod catalog;
mod conform;
mod db;
mod dedup;
mod dict;
pub mod error;
mod manifest;
mod memtable;
mod parallel;
pub mod schema;
pub mod segment;
mod series_order;
mod time_filter;
pub mod wal;

pub use db::{
    BulkLoad, ColumnStats, Database, DatabaseOptions, FieldFilter, MaintenanceHandle, ScanRequest,
    ScanStats, ScanUnit, StorageMetrics, TableSnapshot, TagFilter,
};
pub use error::{Result, StatusCode, StorageError};
pub use lynx_compression::{Predicate, Scalar};
pub use schema::{ColumnDef, ColumnRole, ColumnType, TableDef, TableOptions};
pub use wal::Durability;
