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

struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    len: usize,
}

impl BitReader<'_> {
    fn read(&mut self, bits: u8) -> Option<u64> {
        if bits == 0 {
            return Some(0);
        }
        if self.pos + bits as usize > self.len {
            return None;
        }
        let byte = self.pos / 8;
        let end = (byte + 16).min(self.data.len());
        let mut window = [0u8; 16];
        window[..end - byte].copy_from_slice(&self.data[byte..end]);
        let w = u128::from_le_bytes(window) >> (self.pos % 8);
        self.pos += bits as usize;
        Some(w as u64 & mask(bits))
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

fn decode_block(
    r: &ByteReader,
    br: &mut BitReader,
    w: FloatWidth,
    out: &mut [u64],
) -> Result<(), CompressionError> {
    let short = || r.err("XOR stream ends early");
    let Some((first, rest)) = out.split_first_mut() else {
        return Ok(());
    };
    let mut prev = br.read(value_bits(w)).ok_or_else(short)?;
    *first = prev;
    let mut window: Option<(u32, u32)> = None;
    for o in rest.iter_mut() {
        if br.read(1).ok_or_else(short)? == 1 {
            let (lz, len) = if br.read(1).ok_or_else(short)? == 0 {
                window.ok_or_else(|| r.err("XOR window reused before it was set"))?
            } else {
                let lz = br.read(6).ok_or_else(short)? as u32;
                let len = br.read(6).ok_or_else(short)? as u32 + 1;
                if lz + len > 64 {
                    return Err(r.err("XOR window wider than 64 bits"));
                }
                window = Some((lz, len));
                (lz, len)
            };
            let tz = 64 - lz - len;
            prev ^= br.read(len as u8).ok_or_else(short)? << tz;
        }
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
        let mut br = BitReader {
            data,
            pos: 0,
            len: total,
        };
        decode_block(r, &mut br, w, chunk)?;
    }
    Ok(())
}
