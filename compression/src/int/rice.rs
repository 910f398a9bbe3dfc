//! Golomb-Rice coding of values above a base.
//!
//! Owns codec `RICE`: `base u64` (the minimum), `k u8`, `len u32`, then
//! `len` bytes of bits, least significant first. Each value `v` becomes
//! `q = (v - base) >> k` one-bits, a zero-bit, and the `k` low bits of
//! `v - base`; a quotient of `ESCAPE` or more is written as `ESCAPE`
//! one-bits followed by the 64-bit residual. Geometric data (gaps between
//! rare events) costs close to its entropy, where bit-packing pays for the
//! largest gap in every value. Decoding is bit-serial: the encoder uses it
//! only for short nodes (the positions of patches).
//! Invariant: the bits hold exactly `n` values.

use super::Rows;
use crate::cursor::ByteReader;
use crate::error::CompressionError;

/// Quotients from here on are written as raw residuals.
const ESCAPE: u64 = 32;

/// The parameter that minimises the coded size of `residuals`.
fn best_k(residuals: &[u64]) -> u8 {
    (0..64u8)
        .min_by_key(|&k| {
            residuals
                .iter()
                .map(|&r| {
                    let q = r >> k;
                    if q >= ESCAPE {
                        ESCAPE + 64
                    } else {
                        q + 1 + u64::from(k)
                    }
                })
                .sum::<u64>()
        })
        .unwrap_or(0)
}

struct BitWriter {
    bytes: Vec<u8>,
    acc: u64,
    used: u32,
}

impl BitWriter {
    /// Appends the low `n` (at most 57) bits of `bits`.
    fn put(&mut self, bits: u64, n: u32) {
        debug_assert!(n <= 57);
        let bits = bits & ((1u64 << n) - 1);
        self.acc |= bits << self.used;
        self.used += n;
        while self.used >= 8 {
            self.bytes.push(self.acc as u8);
            self.acc >>= 8;
            self.used -= 8;
        }
    }

    /// Appends the low `n` (at most 64) bits of `v`.
    fn put_wide(&mut self, v: u64, n: u32) {
        if n <= 32 {
            self.put(v, n);
        } else {
            self.put(v & 0xFFFF_FFFF, 32);
            self.put(v >> 32, n - 32);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.used > 0 {
            self.bytes.push(self.acc as u8);
        }
        self.bytes
    }
}

pub(crate) fn encode(values: &[u64], out: &mut Vec<u8>) {
    let base = values.iter().copied().min().unwrap_or(0);
    let residuals: Vec<u64> = values.iter().map(|&v| v - base).collect();
    let k = best_k(&residuals);
    let mut w = BitWriter {
        bytes: Vec::new(),
        acc: 0,
        used: 0,
    };
    for &r in &residuals {
        let q = r >> k;
        if q >= ESCAPE {
            w.put(u64::MAX, ESCAPE as u32);
            w.put_wide(r, 64);
        } else {
            w.put((1u64 << q) - 1, q as u32 + 1);
            w.put_wide(r, u32::from(k));
        }
    }
    let bytes = w.finish();
    out.extend_from_slice(&base.to_le_bytes());
    out.push(k);
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(&bytes);
}

struct BitReader {
    /// The bits and 8 zero bytes, so every peek is one unaligned load.
    padded: Vec<u8>,
    /// Next bit to read; may run past the end (those bits read as zero and
    /// the caller checks the final position).
    at: usize,
}

impl BitReader {
    fn new(bytes: &[u8]) -> Self {
        let mut padded = Vec::with_capacity(bytes.len() + 8);
        padded.extend_from_slice(bytes);
        padded.resize(bytes.len() + 8, 0);
        BitReader { padded, at: 0 }
    }

    /// At least the next 56 bits, least significant first (zeros past the
    /// end; a position more than 8 bytes past the end reads as all zeros).
    #[inline]
    fn peek(&self) -> u64 {
        let byte = self.at / 8;
        match self.padded.get(byte..byte + 8) {
            Some(w) => u64::from_le_bytes(w.try_into().expect("eight bytes")) >> (self.at % 8),
            None => 0,
        }
    }

    /// The next `n` (at most 32) bits.
    #[inline]
    fn take(&mut self, n: u32) -> u64 {
        let v = self.peek() & ((1u64 << n) - 1);
        self.at += n as usize;
        v
    }

    /// The next `n` (at most 64) bits.
    #[inline]
    fn take_wide(&mut self, n: u32) -> u64 {
        if n <= 32 {
            self.take(n)
        } else {
            let low = self.take(32);
            low | (self.take(n - 32) << 32)
        }
    }

    /// The unary quotient: the number of one-bits before a zero, capped at
    /// `ESCAPE` (the escape has no zero after it).
    #[inline]
    fn quotient(&mut self) -> u64 {
        let ones = u64::from((!self.peek()).trailing_zeros());
        if ones >= ESCAPE {
            self.at += ESCAPE as usize;
            ESCAPE
        } else {
            self.at += ones as usize + 1;
            ones
        }
    }
}

/// Decodes the blocks `rows` into `out` (every value is read and checked).
pub(crate) fn decode(
    r: &mut ByteReader,
    rows: Rows,
    out: &mut [u64],
) -> Result<(), CompressionError> {
    let base = r.u64("rice base")?;
    let k = r.u8("rice parameter")?;
    if k > 63 {
        return Err(r.err("rice parameter above 63"));
    }
    let len = r.u32("rice length")? as usize;
    let bytes = r.bytes(len, "rice bits")?;
    let mut bits = BitReader::new(bytes);
    let (start, end) = (rows.start(), rows.end());
    let k32 = u32::from(k);
    for i in 0..rows.n {
        // Fast path: quotient, stop bit and remainder in one peek.
        let w = bits.peek();
        let ones = (!w).trailing_zeros();
        let residual = if u64::from(ones) < ESCAPE && ones + 1 + k32 <= 56 {
            bits.at += (ones + 1 + k32) as usize;
            (u64::from(ones) << k) | ((w >> (ones + 1)) & ((1u64 << k) - 1))
        } else {
            let q = bits.quotient();
            if q == ESCAPE {
                bits.take_wide(64)
            } else {
                (q << k) | bits.take_wide(k32)
            }
        };
        if bits.at > len * 8 {
            return Err(r.err("rice bits end early"));
        }
        if (start..end).contains(&i) {
            out[i - start] = base.wrapping_add(residual);
        }
    }
    if bits.at.div_ceil(8) != len {
        return Err(r.err("rice bits longer than their values"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn rice_round_trips(values in prop::collection::vec(prop_oneof![0u64..100, any::<u64>()], 0..300)) {
            let mut out = Vec::new();
            encode(&values, &mut out);
            let mut back = vec![0u64; values.len()];
            decode(&mut ByteReader::new(&out), Rows::all(values.len()), &mut back).unwrap();
            prop_assert_eq!(back, values);
        }
    }

    #[test]
    fn damaged_rice_nodes_are_errors_or_values() {
        let values: Vec<u64> = (0..200u64)
            .map(|i| (i * 7919) % 97 + (i % 50) * 1000)
            .collect();
        let mut good = Vec::new();
        encode(&values, &mut good);
        let mut damaged = vec![];
        for cut in 0..good.len() {
            damaged.push(good[..cut].to_vec());
        }
        for bit in 0..good.len() * 8 {
            let mut b = good.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            damaged.push(b);
        }
        for blob in damaged {
            let mut out = vec![0u64; values.len()];
            let rows = Rows::all(values.len());
            // Must not panic; an Ok means every value was read from the bits.
            let _ = decode(&mut ByteReader::new(&blob), rows, &mut out);
        }
        let mut truncated = good.clone();
        truncated.truncate(good.len() - 1);
        let mut out = vec![0u64; values.len()];
        assert!(decode(
            &mut ByteReader::new(&truncated),
            Rows::all(values.len()),
            &mut out
        )
        .is_err());
    }

    #[test]
    fn geometric_gaps_cost_near_their_entropy() {
        let mut s = 7u64;
        let gaps: Vec<u64> = (0..2000)
            .map(|_| {
                let mut g = 1;
                loop {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    if s.is_multiple_of(50) {
                        return g;
                    }
                    g += 1;
                }
            })
            .collect();
        let mut out = Vec::new();
        encode(&gaps, &mut out);
        // Entropy of a geometric gap with p = 1/50 is about 7.1 bits.
        let bits = out.len() as f64 * 8.0 / gaps.len() as f64;
        assert!(bits < 7.5, "{bits}");
    }
}
