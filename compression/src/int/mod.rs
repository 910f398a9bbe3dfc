//! Integer codecs over order-preserving u64 keys.
//!
//! Owns the integer node format: one codec id byte (ids are never reused)
//! followed by the codec's payload; the value count is known from context and
//! never stored in the node. Every integer Arrow type is mapped to keys first
//! (`key = value ^ SIGN` for signed types, `key = value` for unsigned), so
//! that key order is value order and FOR/delta/RLE work on one type.
//! Cascades (delta -> FOR, linear -> FOR, RLE -> {values, lengths}) nest nodes; the decoder
//! bounds the nesting depth.
//! Invariant: `decode_node` consumes exactly the bytes `encode_node` wrote.

pub(crate) mod bitpack;
pub(crate) mod blocks;
pub(crate) mod delta;
pub(crate) mod for_;
pub(crate) mod linear;
pub(crate) mod patched;
pub(crate) mod plain;
pub(crate) mod rice;
pub(crate) mod rle;
pub(crate) mod scan;
pub(crate) mod wide;

#[cfg(test)]
mod tests;

use crate::cursor::ByteReader;
use crate::error::CompressionError;

/// Values per independently decodable block.
pub(crate) const BLOCK: usize = 1024;
/// The sign bit: XOR with it maps i64 to order-preserving u64 keys.
pub(crate) const SIGN: u64 = 1 << 63;
/// Cascade levels the encoder may build below a node.
pub(crate) const ENCODE_DEPTH: u8 = 3;
/// Nesting the decoder accepts before calling the input corrupt.
pub(crate) const DECODE_DEPTH: u8 = 6;

/// Codec ids of integer nodes. Never reuse a retired id.
pub(crate) mod id {
    pub(crate) const PLAIN: u8 = 1;
    pub(crate) const CONSTANT: u8 = 2;
    pub(crate) const FOR_BITPACK: u8 = 3;
    pub(crate) const DELTA: u8 = 4;
    pub(crate) const RLE: u8 = 5;
    /// i128 split into two integer nodes (see `wide`); only at a decimal root.
    pub(crate) const I128_SPLIT: u8 = 6;
    /// Values minus `i * step` (see `linear`).
    pub(crate) const LINEAR: u8 = 7;
    /// A base node plus sparse exceptions (see `patched`).
    pub(crate) const PATCHED: u8 = 8;
    /// Golomb-Rice codes above a base, interleaved (see `rice`); read only.
    pub(crate) const RICE: u8 = 9;
    /// Golomb-Rice codes above a base, quotients apart from remainders
    /// (see `rice`); only below PATCHED.
    pub(crate) const RICE_SPLIT: u8 = 10;
    /// A base node of 0s and 1s plus the positions where the value flips
    /// (see `patched`).
    pub(crate) const FLIPS: u8 = 11;
}

/// The integer schemes the encoder can pick (delta-of-delta is DELTA nested).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IntScheme {
    Constant,
    ForBitpack,
    Rle,
    Delta,
    DeltaOfDelta,
    Linear,
    Patched,
    /// Patched for values that are all 0 or 1 (else `Patched`).
    Flips,
    Rice,
    Plain,
}

pub(crate) fn all_equal(values: &[u64]) -> bool {
    values.windows(2).all(|w| w[0] == w[1])
}

/// Appends one node for `values`: `forced` or the scheme chosen by sampling.
pub(crate) fn encode_node(values: &[u64], forced: Option<IntScheme>, depth: u8, out: &mut Vec<u8>) {
    let scheme = forced.unwrap_or_else(|| crate::select::choose_int_scheme(values, depth));
    match scheme {
        IntScheme::Constant if all_equal(values) => {
            out.push(id::CONSTANT);
            plain::encode_constant(values.first().copied().unwrap_or(0), out);
        }
        IntScheme::Constant | IntScheme::ForBitpack => {
            out.push(id::FOR_BITPACK);
            for_::encode(values, out);
        }
        IntScheme::Plain => {
            out.push(id::PLAIN);
            plain::encode_plain(values, out);
        }
        IntScheme::Delta => {
            out.push(id::DELTA);
            delta::encode(values, None, depth, out);
        }
        IntScheme::DeltaOfDelta => {
            out.push(id::DELTA);
            delta::encode(values, Some(IntScheme::Delta), depth.max(2), out);
        }
        IntScheme::Rle => {
            out.push(id::RLE);
            rle::encode(values, depth, out);
        }
        IntScheme::Linear => {
            out.push(id::LINEAR);
            linear::encode(values, depth, out);
        }
        IntScheme::Flips if values.iter().all(|&v| v <= 1) => {
            out.push(id::FLIPS);
            patched::encode_flips(values, depth, out);
        }
        IntScheme::Patched | IntScheme::Flips => {
            out.push(id::PATCHED);
            patched::encode(values, depth, out);
        }
        IntScheme::Rice => {
            out.push(id::RICE_SPLIT);
            rice::encode(values, out);
        }
    }
}

/// A run of whole 1024-value blocks of a node holding `n` values.
///
/// Decoders take one so the read path can decode only the blocks it needs;
/// they still consume the whole node from the reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rows {
    pub(crate) n: usize,
    pub(crate) first_block: usize,
    pub(crate) end_block: usize,
}

impl Rows {
    pub(crate) fn all(n: usize) -> Rows {
        Rows {
            n,
            first_block: 0,
            end_block: n.div_ceil(BLOCK),
        }
    }

    pub(crate) fn start(&self) -> usize {
        (self.first_block * BLOCK).min(self.n)
    }

    pub(crate) fn end(&self) -> usize {
        (self.end_block * BLOCK).min(self.n)
    }

    pub(crate) fn len(&self) -> usize {
        self.end() - self.start()
    }

    pub(crate) fn is_all(&self) -> bool {
        self.first_block == 0 && self.end() == self.n
    }
}

/// Decodes one node into `out` (whose length is the node's value count). Hot path.
pub(crate) fn decode_node(
    r: &mut ByteReader,
    out: &mut [u64],
    depth: u8,
) -> Result<(), CompressionError> {
    decode_rows(r, Rows::all(out.len()), out, depth)
}

/// Decodes the blocks `rows` of one node into `out` (`out.len() == rows.len()`),
/// consuming the whole node. Hot path.
pub(crate) fn decode_rows(
    r: &mut ByteReader,
    rows: Rows,
    out: &mut [u64],
    depth: u8,
) -> Result<(), CompressionError> {
    debug_assert_eq!(out.len(), rows.len());
    if depth == 0 {
        return Err(r.err("integer codecs nested too deep"));
    }
    let at = r.pos();
    match r.u8("integer codec id")? {
        id::PLAIN => plain::decode_plain(r, rows, out),
        id::CONSTANT => {
            let v = plain::read_constant(r)?;
            out.fill(v);
            Ok(())
        }
        id::FOR_BITPACK => for_::decode(r, rows, out),
        id::DELTA => delta::decode(r, rows, out, depth - 1),
        id::RLE => rle::decode(r, rows, out, depth - 1),
        id::LINEAR => linear::decode(r, rows, out, depth - 1),
        id::PATCHED => patched::decode(r, rows, out, depth - 1),
        id::FLIPS => patched::decode_flips(r, rows, out, depth - 1),
        id::RICE => rice::decode_serial(r, rows, out),
        id::RICE_SPLIT => rice::decode(r, rows, out),
        _ => Err(crate::error::corrupt(at, "unknown integer codec id")),
    }
}

/// Decodes the blocks `rows` of a boolean column's node into a bitmap
/// (value != 0 is true). Run-length nodes fill whole runs at once, patched
/// nodes set their exceptions over the base; other codecs decode to
/// integers first.
pub(crate) fn decode_bool_rows(
    r: &mut ByteReader,
    rows: Rows,
) -> Result<arrow_buffer::BooleanBuffer, CompressionError> {
    decode_bool_node(r, rows, DECODE_DEPTH)
}

pub(crate) fn decode_bool_node(
    r: &mut ByteReader,
    rows: Rows,
    depth: u8,
) -> Result<arrow_buffer::BooleanBuffer, CompressionError> {
    if depth == 0 {
        return Err(r.err("integer codecs nested too deep"));
    }
    match r.peek_u8() {
        Some(id::RLE) => {
            r.u8("integer codec id")?;
            let mut bits = arrow_buffer::BooleanBufferBuilder::new(rows.len());
            rle::decode_bools(r, rows, &mut bits, depth - 1)?;
            if bits.len() != rows.len() {
                return Err(r.err("boolean node holds the wrong number of rows"));
            }
            Ok(bits.finish())
        }
        Some(id::PATCHED) => {
            r.u8("integer codec id")?;
            patched::decode_bools(r, rows, depth - 1)
        }
        Some(id::FLIPS) => {
            r.u8("integer codec id")?;
            patched::decode_flip_bools(r, rows, depth - 1)
        }
        _ => {
            let mut keys = vec![0u64; rows.len()];
            decode_rows(r, rows, &mut keys, depth)?;
            Ok(arrow_buffer::BooleanBuffer::collect_bool(keys.len(), |i| {
                keys[i] != 0
            }))
        }
    }
}

/// Decodes a node of `n` values into a new vector (`n` must be bounded by the caller).
pub(crate) fn decode_vec(r: &mut ByteReader, n: usize) -> Result<Vec<u64>, CompressionError> {
    let mut out = vec![0u64; n];
    decode_node(r, &mut out, DECODE_DEPTH)?;
    Ok(out)
}
