//! Float codecs over raw IEEE-754 bit patterns.
//!
//! Owns the float node format: one codec id byte (16..=31, never reused)
//! then the payload. Values travel as raw bits (`f32` bits zero-extended to
//! u64), never as arithmetic floats, so every NaN payload, -0.0, infinities
//! and subnormals round trip bit-exactly. Lossy-looking tricks (ALP) verify
//! each value at encode time and store the ones that do not decode to the
//! same bits as exceptions.
//! Invariant: `decode_node` reproduces the exact input bits.

pub(crate) mod alp;
pub(crate) mod ulp;
pub(crate) mod xor;

#[cfg(test)]
mod tests;

use crate::cursor::ByteReader;
use crate::error::{corrupt, CompressionError};
use crate::int::{self, Rows};

/// Codec ids of float nodes. Never reuse a retired id.
pub(crate) mod id {
    pub(crate) const PLAIN: u8 = 16;
    pub(crate) const ALP: u8 = 17;
    pub(crate) const XOR: u8 = 18;
    /// Raw bits as an integer node (constants, runs, NaN-only chunks).
    pub(crate) const BITS: u8 = 19;
    /// Decimal keys plus ulp residuals (see `ulp`).
    pub(crate) const ALP_ULP: u8 = 20;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FloatWidth {
    F32,
    F64,
}

impl FloatWidth {
    pub(crate) fn bytes(self) -> usize {
        match self {
            FloatWidth::F32 => 4,
            FloatWidth::F64 => 8,
        }
    }

    /// The value as f64 (f32 widened), for arithmetic and comparisons.
    #[inline]
    pub(crate) fn to_f64(self, bits: u64) -> f64 {
        match self {
            FloatWidth::F32 => f32::from_bits(bits as u32) as f64,
            FloatWidth::F64 => f64::from_bits(bits),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FloatScheme {
    Plain,
    Bits,
    Alp,
    AlpUlp,
    Xor,
}

pub(crate) fn encode_node(
    bits: &[u64],
    w: FloatWidth,
    forced: Option<FloatScheme>,
    out: &mut Vec<u8>,
) {
    let scheme = forced.unwrap_or_else(|| crate::select::choose_float_scheme(bits, w));
    match scheme {
        FloatScheme::Plain => {
            out.push(id::PLAIN);
            out.reserve(bits.len() * w.bytes());
            for b in bits {
                out.extend_from_slice(&b.to_le_bytes()[..w.bytes()]);
            }
        }
        FloatScheme::Bits => {
            out.push(id::BITS);
            int::encode_node(bits, None, int::ENCODE_DEPTH, out);
        }
        FloatScheme::Alp => {
            out.push(id::ALP);
            alp::encode(bits, w, out);
        }
        FloatScheme::AlpUlp => {
            out.push(id::ALP_ULP);
            ulp::encode(bits, w, out);
        }
        FloatScheme::Xor => {
            out.push(id::XOR);
            xor::encode(bits, w, out);
        }
    }
}

/// Decodes one node into `out` (raw bits). Hot path.
pub(crate) fn decode_node(
    r: &mut ByteReader,
    w: FloatWidth,
    out: &mut [u64],
) -> Result<(), CompressionError> {
    decode_rows(r, w, Rows::all(out.len()), out)
}

/// Decodes the blocks `rows` of one node into `out`, consuming the whole node. Hot path.
pub(crate) fn decode_rows(
    r: &mut ByteReader,
    w: FloatWidth,
    rows: Rows,
    out: &mut [u64],
) -> Result<(), CompressionError> {
    let at = r.pos();
    match r.u8("float codec id")? {
        id::PLAIN => {
            let wb = w.bytes();
            let bytes = r.bytes(rows.n * wb, "plain floats")?;
            let bytes = &bytes[rows.start() * wb..rows.end() * wb];
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(wb)) {
                let mut a = [0u8; 8];
                a[..wb].copy_from_slice(b);
                *o = u64::from_le_bytes(a);
            }
            Ok(())
        }
        id::BITS => {
            int::decode_rows(r, rows, out, int::DECODE_DEPTH)?;
            if w == FloatWidth::F32 && out.iter().any(|&b| b > u32::MAX as u64) {
                return Err(corrupt(at, "f32 bits wider than 32 bits"));
            }
            Ok(())
        }
        id::ALP => alp::decode(r, w, rows, out),
        id::ALP_ULP => ulp::decode(r, w, rows, out),
        id::XOR => xor::decode(r, w, rows, out),
        _ => Err(corrupt(at, "unknown float codec id")),
    }
}
