//! Plain and constant integer codecs.
//!
//! Owns codecs `PLAIN` (byte width u8 in {1,2,4,8}, then `n` little-endian
//! values of that width) and `CONSTANT` (one u64 repeated `n` times).
//! Invariant: plain values are stored unshifted, so the width must hold the
//! largest value.

use super::Rows;
use crate::cursor::ByteReader;
use crate::error::CompressionError;

/// Smallest byte width in {1,2,4,8} that holds every value.
fn byte_width(values: &[u64]) -> u8 {
    let max = values.iter().copied().max().unwrap_or(0);
    match max {
        0..=0xff => 1,
        0x100..=0xffff => 2,
        0x1_0000..=0xffff_ffff => 4,
        _ => 8,
    }
}

pub(crate) fn encode_plain(values: &[u64], out: &mut Vec<u8>) {
    let w = byte_width(values);
    out.push(w);
    out.reserve(values.len() * w as usize);
    for v in values {
        out.extend_from_slice(&v.to_le_bytes()[..w as usize]);
    }
}

pub(crate) fn decode_plain(
    r: &mut ByteReader,
    rows: Rows,
    out: &mut [u64],
) -> Result<(), CompressionError> {
    let w = r.u8("plain byte width")? as usize;
    if !matches!(w, 1 | 2 | 4 | 8) {
        return Err(r.err("plain byte width not 1, 2, 4 or 8"));
    }
    let bytes = r.bytes(rows.n * w, "plain values")?;
    let bytes = &bytes[rows.start() * w..rows.end() * w];
    for (o, b) in out.iter_mut().zip(bytes.chunks_exact(w)) {
        let mut a = [0u8; 8];
        a[..w].copy_from_slice(b);
        *o = u64::from_le_bytes(a);
    }
    Ok(())
}

pub(crate) fn encode_constant(value: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(&value.to_le_bytes());
}

pub(crate) fn read_constant(r: &mut ByteReader) -> Result<u64, CompressionError> {
    r.u64("constant value")
}
