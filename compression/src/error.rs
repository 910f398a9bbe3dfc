//! The crate's one error type.
//!
//! Owns every way encoding or decoding can fail. Decoders of untrusted bytes
//! report `Corrupt` with the byte offset (relative to the blob or to the body
//! section named in `what`) instead of panicking.

use arrow_schema::DataType;

/// Errors of `lynx-compression`.
#[derive(Debug, thiserror::Error)]
pub enum CompressionError {
    /// The bytes are not a valid chunk: truncated, garbage or inconsistent.
    #[error("corrupt chunk at byte {offset}: {what}")]
    Corrupt { offset: usize, what: &'static str },
    /// The blob was written by a newer format version.
    #[error("unsupported chunk format version {version} (this build reads up to {supported})")]
    UnsupportedVersion { version: u8, supported: u8 },
    /// The Arrow type has no codec in this crate.
    #[error("unsupported data type {0}")]
    UnsupportedType(DataType),
    /// The caller expected another type than the one the blob holds.
    #[error("type mismatch: blob holds {stored}, caller expects {expected}")]
    TypeMismatch { stored: String, expected: DataType },
    /// `decode_blocks` was asked for blocks the chunk does not have.
    #[error("block range {start}..{end} outside the chunk's {blocks} blocks")]
    BlockRange {
        start: usize,
        end: usize,
        blocks: usize,
    },
    /// A chunk holds more rows than the format allows.
    #[error("chunk has {rows} rows; the limit is {limit}")]
    TooManyRows { rows: usize, limit: usize },
    /// `EncodeOptions::codec` forced a codec that cannot encode this data.
    #[error("codec {codec:?} cannot encode this {data_type} chunk: {reason}")]
    CodecNotApplicable {
        codec: crate::Codec,
        data_type: DataType,
        reason: &'static str,
    },
    /// The predicate does not apply to the column's type.
    #[error("predicate not applicable to a {column} column: {reason}")]
    InvalidPredicate {
        column: String,
        reason: &'static str,
    },
    /// Decoding would need more memory than the documented limits allow.
    #[error("decoded {what} would need {bytes} bytes, above the limit of {limit}")]
    TooLarge {
        what: &'static str,
        bytes: usize,
        limit: usize,
    },
    /// The zstd library failed (while compressing; decompression failures are `Corrupt`).
    #[error("zstd: {0}")]
    Zstd(#[from] std::io::Error),
}

impl CompressionError {
    /// True when the error means the input bytes are damaged (as opposed to a caller mistake).
    pub fn is_corrupt(&self) -> bool {
        matches!(self, CompressionError::Corrupt { .. })
    }
}

pub(crate) fn corrupt(offset: usize, what: &'static str) -> CompressionError {
    CompressionError::Corrupt { offset, what }
}
