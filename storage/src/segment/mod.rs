//! Immutable, memory-mapped column segment files.
//!
//! Owns the on-disk layout of flushed data. A segment holds the rows of one
//! table and one time partition, sorted by (tags, time), cut into chunks of
//! up to [`CHUNK_ROWS`] rows; every column of every chunk is one blob encoded
//! by `lynx-compression` (self-describing: codec ids, validity, min/max, null
//! count) and checksummed here with CRC-32 (crc32fast).
//!
//! ```text
//! offset 0   "LYNXSEG1" | format version u32 LE | reserved u32
//!            chunk 0: column 0 blob, column 1 blob, ...
//!            chunk 1: ...
//!            footer (JSON, see `Footer`)
//! end - 20   footer length u64 LE | footer CRC-32 u32 LE | "LYNXSEGF"
//! ```
//!
//! Invariants: a segment file is written to a temporary name, fsynced and
//! renamed before any manifest names it, and never modified afterwards.
//! Readers check the trailer, the footer checksum and every offset before
//! use, and each chunk's checksum before decoding it, so a damaged file is
//! reported by name and never read out of bounds.

mod read;
pub(crate) mod write;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::schema::ColumnDef;

pub use read::Segment;
pub use write::{write_segment, SegmentWriter};

pub const HEAD_MAGIC: &[u8; 8] = b"LYNXSEG1";
pub const TAIL_MAGIC: &[u8; 8] = b"LYNXSEGF";
pub const FORMAT_VERSION: u32 = 1;
pub const HEAD_LEN: usize = 16;
pub const TAIL_LEN: usize = 20;
/// Rows per chunk (the codec layer's maximum, 64 blocks of 1024 values).
pub const CHUNK_ROWS: usize = lynx_compression::MAX_CHUNK_ROWS;

/// The self-description of a segment, stored at its end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Footer {
    pub version: u32,
    /// Columns in the table's schema at flush time (later ADD COLUMNs are
    /// read as NULL).
    pub columns: Vec<ColumnDef>,
    pub rows: u64,
    /// Start of the time partition (microseconds).
    pub partition: i64,
    pub min_time: i64,
    pub max_time: i64,
    /// Highest WAL sequence number of any row in the segment; orders
    /// segments for last-write-wins.
    pub max_seq: u64,
    pub chunks: Vec<ChunkMeta>,
    /// One entry per series (distinct tag values), in file order.
    pub series: Vec<SeriesEntry>,
}

/// One chunk: a row range and one blob per column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkMeta {
    pub rows: u32,
    pub min_time: i64,
    pub max_time: i64,
    pub columns: Vec<BlobRef>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobRef {
    pub offset: u64,
    pub len: u64,
    pub crc: u32,
    pub nulls: u32,
}

/// A series: its tag values (in the order of the table's tag columns), its
/// row range in the file and its time bounds. The last row of the series is
/// its latest point.
///
/// Every open segment keeps its directory in memory, so a series costs
/// memory per segment: tag values are shared `Arc<str>`s, one per distinct
/// value of the segment (interned when the footer is read), in a boxed
/// slice. For node_exporter-like series (four tags) that is about 110
/// bytes per series instead of about 300 with a `String` per value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesEntry {
    pub tags: Box<[Option<Arc<str>>]>,
    pub start: u64,
    pub end: u64,
    pub first_time: i64,
    pub last_time: i64,
}
