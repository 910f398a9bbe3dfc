//! DataFusion over the LynxStore engine.
//!
//! Owns the bridge from storage snapshots to DataFusion: a `TableProvider`
//! per table ([`LynxTable`]) and a `SchemaProvider` ([`LynxSchema`]) that
//! lists the engine's tables live, so catalog queries always see current DDL.
//! Knows nothing about statements or protocols.
//!
//! Invariant: one scan reads one snapshot; a query never sees half a write.

mod date_bin;
pub mod functions;
pub mod kernels;
mod latest;
mod provider;
mod run_aggregate;
mod scan;
mod schema_provider;
mod sink;
#[cfg(test)]
mod test_support;

pub use date_bin::FastDateBin;
pub use latest::LatestPerSeries;
pub use provider::LynxTable;
pub use run_aggregate::{RunAggregateExec, RunAggregation};
pub use scan::LynxScanExec;
pub use schema_provider::LynxSchema;
