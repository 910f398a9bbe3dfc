//! XOR (Gorilla-family) float coding, the fallback for floats ALP misses.
//!
//! Owns codec `XOR`. Each 1024-value block is one LSB-first bit stream,
//! prefixed by its length in bits (u32) and padded to a byte: the first
//! value raw (32 or 64 bits), then per value the XOR with its predecessor:
//! `0` (same value), `10` + meaningful bits (fits the previous
//! leading/trailing-zero window), or `11` + 6-bit leading zeros + 6-bit
//! (length - 1) + meaningful bits.
//! Invariant: every block decodes from its own stream only.

use super::FloatWidth;
use crate::cursor::ByteReader;
use crate::error::CompressionError;
use crate::int::bitpack::mask;
use crate::int::{Rows, BLOCK};

struct BitWriter {
    out: Vec<u8>,
    acc: u128,
    n: u32,
    total: u64,
}

impl BitWriter {
    fn new() -> Self {
        BitWriter {
            out: Vec::new(),
            acc: 0,
            n: 0,
            total: 0,
        }
    }

    fn write(&mut self, v: u64, bits: u8) {
        self.acc |= ((v & mask(bits)) as u128) << self.n;
        self.n += bits as u32;
        self.total += bits as u64;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    fn finish(mut self) -> (Vec<u8>, u64) {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        (self.out, self.total)
    }
}

fn value_bits(w: FloatWidth) -> u8 {
    (w.bytes() * 8) as u8
}

fn encode_block(block: &[u64], w: FloatWidth) -> (Vec<u8>, u64) {
    let mut bw = BitWriter::new();
    let Some((&first, rest)) = block.split_first() else {
        return bw.finish();
    };
    bw.write(first, value_bits(w));
    let mut prev = first;
    let mut window: Option<(u32, u32)> = None;
    for &v in rest {
        let x = v ^ prev;
        prev = v;
        if x == 0 {
            bw.write(0, 1);
            continue;
        }
        let lz = x.leading_zeros().min(63);
        let tz = x.trailing_zeros();
        match window {
            Some((plz, ptz)) if lz >= plz && tz >= ptz => {
                bw.write(0b01, 2);
                let len = 64 - plz - ptz;
                bw.write(x >> ptz, len as u8);
            }
            _ => {
                let len = 64 - lz - tz;
                bw.write(0b11, 2);
                bw.write(lz as u64, 6);
                bw.write((len - 1) as u64, 6);
                bw.write(x >> tz, len as u8);
                window = Some((lz, tz));
            }
        }
    }
    bw.finish()
}

pub(crate) fn encode(bits: &[u64], w: FloatWidth, out: &mut Vec<u8>) {
    for block in bits.chunks(BLOCK) {
        let (bytes, total) = encode_block(block, w);
        out.extend_from_slice(&(total as u32).to_le_bytes());
        out.extend_from_slice(&bytes);
    }
}

/// Up to 16 stream bytes from bit `pos` on, shifted so bit `pos` is bit 0
/// (at least 121 valid bits; bytes past the end of `data` read as zero).
#[inline(always)]
fn window(data: &[u8], pos: usize) -> u128 {
    let byte = pos >> 3;
    let raw = match data.get(byte..byte + 16) {
        Some(b) => u128::from_le_bytes(b.try_into().unwrap()),
        None => {
            let mut b = [0u8; 16];
            let tail = data.get(byte..).unwrap_or(&[]);
            b[..tail.len()].copy_from_slice(tail);
            u128::from_le_bytes(b)
        }
    };
    raw >> (pos & 7)
}

/// Decodes one block. Hot path: one 16-byte window per value covers the
/// control bits (at most 14) and the meaningful bits (at most 64); bounds are
/// checked against the stream's bit length before each value is committed.
fn decode_block(
    r: &ByteReader,
    data: &[u8],
    total: usize,
    w: FloatWidth,
    out: &mut [u64],
) -> Result<(), CompressionError> {
    let short = || r.err("XOR stream ends early");
    let Some((first, rest)) = out.split_first_mut() else {
        return Ok(());
    };
    let first_bits = value_bits(w) as usize;
    if first_bits > total {
        return Err(short());
    }
    let mut prev = window(data, 0) as u64 & mask(value_bits(w));
    *first = prev;
    let mut pos = first_bits;
    // (leading zeros, meaningful length); length 0 = not set yet.
    let (mut lz, mut len) = (0u32, 0u32);
    for o in rest.iter_mut() {
        let bits = window(data, pos);
        let ctrl = bits as u32;
        if ctrl & 1 == 0 {
            pos += 1;
            if pos > total {
                return Err(short());
            }
            *o = prev;
            continue;
        }
        let skip = if ctrl & 2 == 0 {
            if len == 0 {
                return Err(r.err("XOR window reused before it was set"));
            }
            2
        } else {
            lz = (ctrl >> 2) & 63;
            len = ((ctrl >> 8) & 63) + 1;
            if lz + len > 64 {
                return Err(r.err("XOR window wider than 64 bits"));
            }
            14
        };
        pos += skip + len as usize;
        if pos > total {
            return Err(short());
        }
        let meaningful = (bits >> skip) as u64 & (u64::MAX >> (64 - len));
        prev ^= meaningful << (64 - lz - len);
        *o = prev;
    }
    if w == FloatWidth::F32 && out.iter().any(|&b| b > u32::MAX as u64) {
        return Err(r.err("XOR f32 value wider than 32 bits"));
    }
    Ok(())
}

pub(crate) fn decode(
    r: &mut ByteReader,
    w: FloatWidth,
    rows: Rows,
    out: &mut [u64],
) -> Result<(), CompressionError> {
    let mut out_chunks = out.chunks_mut(BLOCK);
    for b in 0..rows.n.div_ceil(BLOCK) {
        let total = r.u32("XOR block bit length")? as usize;
        let data = r.bytes(total.div_ceil(8), "XOR block stream")?;
        if b < rows.first_block || b >= rows.end_block {
            continue;
        }
        let Some(chunk) = out_chunks.next() else {
            break;
        };
        decode_block(r, data, total, w, chunk)?;
    }
    Ok(())
}
