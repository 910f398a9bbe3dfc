//! lynx-compression: column chunk codecs for LynxStore.
//!
//! Owns bytes <-> values for one column chunk (up to 65,536 rows): pure
//! functions over slices and Arrow arrays, no I/O, no checksums (the segment
//! file checksums chunks). Knows nothing about files, tables or SQL.
//!
//! Invariant: every blob is self-describing and versioned (magic, format
//! version, type tag, u8 codec ids that are never reused), and every decoder
//! returns an error (`CompressionError::Corrupt` for damaged bytes) instead of
//! panicking, reading out of bounds or allocating from an unchecked length
//! (row counts are capped at `MAX_CHUNK_ROWS`, decoded sections at
//! `MAX_DECODED_BYTES`, zstd expansion at `MAX_ZSTD_RATIO`).
//!
//! # By task
//!
//! | task | function |
//! | --- | --- |
//! | store a column chunk | [`encode_array`] with [`EncodeOptions`] |
//! | read it back | [`decode_array`], only some 1024-row blocks [`decode_blocks`]; several parts of one chunk: [`open_chunk`] once, then [`OpenedChunk::decode_blocks`] per part (a zstd-staged chunk is decompressed once) |
//! | prune without decoding | [`chunk_stats`], per 1024-row block [`block_stats`] |
//! | filter on encoded data | [`evaluate`] with [`Predicate`] / [`Scalar`] |
//! | count / sum / min / max | [`aggregate`] |
//!
//! ```
//! use arrow_array::{Array, Int64Array};
//! use lynx_compression::{decode_array, encode_array, evaluate, EncodeOptions, Predicate, Scalar};
//!
//! let times = Int64Array::from_iter_values((0..65_536).map(|i| 1_700_000_000_000 + i * 10_000));
//! let blob = encode_array(&times, &EncodeOptions::default()).unwrap();
//! assert!(blob.len() < 200); // regular timestamps cost ~0 bits per value
//! let back = decode_array(&blob, times.data_type()).unwrap();
//! assert_eq!(back.as_ref(), &times as &dyn Array);
//! let hits = evaluate(&blob, &Predicate::Lt(Scalar::Int(1_700_000_000_000 + 50_000))).unwrap();
//! assert_eq!(hits.count_set_bits(), 5);
//! ```
//!
//! # Layout of the crate
//!
//! `format` (header), `column` (Arrow <-> kinds), `int` (integer codecs:
//! plain, constant, FOR + bit-packing with patched exceptions, delta and
//! delta-of-delta, RLE, i128 split), `float` (ALP, XOR, raw bits), `string`
//! (dictionary, plain), `select` (sampling-based scheme choice),
//! `zstd_stage` (optional last stage), `predicate` / `evaluate` /
//! `aggregate` (work on encoded data), `stats` (header statistics),
//! `block_index` (per-block min/max).

mod aggregate;
mod block_index;
mod column;
mod cursor;
mod error;
mod evaluate;
mod float;
mod format;
#[doc(hidden)]
pub mod fuzz_support;
mod int;
mod predicate;
mod select;
pub mod simd;
mod stats;
mod string;
mod zstd_stage;

#[cfg(test)]
mod tests;

pub use aggregate::{aggregate, ChunkAggregate};
pub use block_index::{block_stats, BlockStats};
pub use column::{decode_array, decode_blocks, encode_array, open_chunk, OpenedChunk};
pub use error::CompressionError;
pub use evaluate::{evaluate, evaluate_array, evaluate_blocks, PreparedPredicate};
pub use format::MAX_CHUNK_ROWS;
pub use predicate::{Predicate, Scalar};
pub use stats::{chunk_stats, ChunkStats};
pub use zstd_stage::{MAX_DECODED_BYTES, MAX_ZSTD_RATIO};

/// A codec to force at the root of a chunk (children are still chosen by sampling).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// Integers: raw little-endian values; floats: raw bits; strings: same as `PlainBytes`.
    Plain,
    /// Every value equal (integers, booleans, floats by bits).
    Constant,
    /// Frame-of-reference + bit-packing with patched exceptions.
    ForBitpack,
    Delta,
    DeltaOfDelta,
    /// Integers: values minus a constant step per position (jittered grids).
    Linear,
    Rle,
    /// Integers and booleans: a run-length base plus sparse exceptions.
    Patched,
    /// Booleans and integers that are all 0 or 1: a run-length base plus
    /// the positions where the value flips.
    Flips,
    /// Floats: decimal exponent + integer cascade.
    Alp,
    /// Floats: decimal keys plus the residual in ulps of each value from
    /// its decimal (decimals drifted by rounding).
    AlpUlp,
    /// Floats: Gorilla-style XOR.
    Xor,
    /// Floats: raw bits through the integer cascade.
    FloatBits,
    /// Strings: sorted dictionary + codes.
    Dictionary,
    /// Strings: lengths + bytes.
    PlainBytes,
    /// Strings: one template of literals with typed (decimal, hex, text) fields.
    Pattern,
}

/// Options for `encode_array`.
#[derive(Default, Clone, Debug)]
pub struct EncodeOptions {
    /// zstd level of the last stage. None = automatic: level 3, kept only
    /// where it saves at least 1/8 of the bytes. Some(level) = that level,
    /// kept whenever it is smaller.
    pub zstd_level: Option<i32>,
    /// Never use zstd (fastest decode, `evaluate` fast paths always apply).
    pub disable_zstd: bool,
    /// Force the root codec instead of choosing by sampling (tests, benchmarks).
    pub codec: Option<Codec>,
}
