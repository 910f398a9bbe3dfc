//! Crate-level tests: round trips of every type and codec through the public
//! API, `evaluate` / `aggregate` against a reference model on decoded values,
//! byte-size properties of typical time-series columns, and a replay of
//! damaged blobs through every decoder.

mod blocks;
mod corpus;
mod model;
mod roundtrip;
mod scan;
mod sizes;
