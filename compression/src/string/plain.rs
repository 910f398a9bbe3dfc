//! Plain strings: lengths as an integer node, bytes as a (maybe zstd) stream.
//!
//! Owns codec `PLAIN` (32), the general path for high-cardinality strings.
//! NULL rows are stored as empty strings.
//! Invariant: the lengths sum to exactly the stream's byte count.

use arrow_array::OffsetSizeTrait;
use arrow_buffer::Buffer;

use super::{offsets_from_lengths, DecodedStrings, StringRows};
use crate::cursor::ByteReader;
use crate::error::CompressionError;
use crate::int::{self, Rows};
use crate::zstd_stage::{read_stream, write_stream, ZstdPolicy};

pub(crate) fn encode(
    rows: &StringRows,
    zstd: ZstdPolicy,
    out: &mut Vec<u8>,
) -> Result<(), CompressionError> {
    let mut lengths = Vec::with_capacity(rows.values.len());
    let mut bytes = Vec::new();
    for (i, v) in rows.values.iter().enumerate() {
        if rows.is_valid(i) {
            lengths.push(v.len() as u64);
            bytes.extend_from_slice(v);
        } else {
            lengths.push(0);
        }
    }
    int::encode_node(&lengths, None, int::ENCODE_DEPTH, out);
    write_stream(&bytes, zstd, out)
}

/// Decodes the blocks `rows` (the lengths and bytes of all rows are read and checked).
pub(crate) fn decode<O: OffsetSizeTrait>(
    r: &mut ByteReader,
    rows: Rows,
) -> Result<DecodedStrings<O>, CompressionError> {
    let lengths = int::decode_vec(r, rows.n)?;
    let bytes = read_stream(r)?;
    let all = lengths.iter().try_fold(0u64, |s, &l| s.checked_add(l));
    if all != Some(bytes.len() as u64) {
        return Err(r.err("string lengths do not match the byte stream"));
    }
    let skip: u64 = lengths[..rows.start()].iter().sum();
    let wanted = &lengths[rows.start()..rows.end()];
    let (offsets, total) = offsets_from_lengths::<O>(r, wanted.iter().copied(), wanted.len())?;
    let values = if rows.is_all() {
        bytes.into_owned()
    } else {
        bytes[skip as usize..skip as usize + total].to_vec()
    };
    Ok(DecodedStrings {
        offsets,
        values: Buffer::from_vec(values),
        utf8: false,
    })
}
