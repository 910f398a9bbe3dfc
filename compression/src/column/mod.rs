//! Arrow arrays <-> chunk blobs: the entry points `encode_array` / `decode_array`.
//!
//! Owns the mapping of each Arrow type onto a value kind (integer keys,
//! float bits, booleans, byte strings, decimals), NULL handling (a validity
//! node when some rows are NULL; NULL slots are filled with a neighbouring
//! value so they cost nothing) and the statistics written to the header.
//! Invariant: `decode_array(encode_array(a)?, a.data_type())` equals `a` in
//! values and validity (NULL slots may differ).

pub(crate) mod decode;
pub(crate) mod encode;

use std::borrow::Cow;

use arrow_buffer::{BooleanBuffer, NullBuffer};

pub use decode::{decode_array, decode_blocks, open_chunk, OpenedChunk};
pub use encode::encode_array;

use crate::cursor::ByteReader;
use crate::error::CompressionError;
use crate::format::Header;
use crate::int::{self, Rows};
use crate::zstd_stage::read_stream;

/// A chunk with its header parsed and its body (if any) decompressed.
pub(crate) struct OpenChunk<'a> {
    /// The whole blob (the header's block index range points into it).
    pub(crate) bytes: &'a [u8],
    pub(crate) header: Header,
    pub(crate) body: Cow<'a, [u8]>,
}

pub(crate) fn open(bytes: &[u8]) -> Result<OpenChunk<'_>, CompressionError> {
    let mut r = ByteReader::new(bytes);
    let header = Header::read(&mut r)?;
    let body = if header.has_body() {
        read_stream(&mut r)?
    } else {
        Cow::Borrowed(&[][..])
    };
    r.expect_end("trailing bytes after the chunk")?;
    Ok(OpenChunk {
        bytes,
        header,
        body,
    })
}

/// Reads the validity node (if the header announces one) for the blocks `rows`.
pub(crate) fn read_validity(
    r: &mut ByteReader,
    h: &Header,
    rows: Rows,
) -> Result<Option<NullBuffer>, CompressionError> {
    if !h.has_validity() {
        return Ok(None);
    }
    let at = r.pos();
    let mut keys = vec![0u64; rows.len()];
    int::decode_rows(r, rows, &mut keys, int::DECODE_DEPTH)?;
    if keys.iter().any(|&k| k > 1) {
        return Err(crate::error::corrupt(at, "validity value not 0 or 1"));
    }
    let nulls = NullBuffer::new(BooleanBuffer::collect_bool(keys.len(), |i| keys[i] == 1));
    if !rows.is_all() {
        return Ok(Some(nulls).filter(|n| n.null_count() > 0));
    }
    if nulls.null_count() != h.nulls {
        return Err(crate::error::corrupt(
            at,
            "validity disagrees with the null count",
        ));
    }
    Ok(Some(nulls))
}
