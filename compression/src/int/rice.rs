//! Golomb-Rice coding of values above a base.
//!
//! Each value `v` becomes the quotient `q = (v - base) >> k` in unary (`q`
//! one-bits and a zero-bit) and the `k` low bits of `v - base`; a quotient
//! of `ESCAPE` or more is escaped and its residual stored whole. Geometric
//! data (gaps between rare events) costs close to its entropy, where
//! bit-packing pays for the largest gap in every value.
//!
//! Owns two codecs with the same bits in different places:
//! - `RICE_SPLIT` (written): `base u64`, `k u8`, `n_esc u32` and the escaped
//!   residuals (u64 each), `unary_len u32` and the unary quotients, LSB
//!   first and padded with one-bits (an escape is `ESCAPE` ones and a
//!   zero), then the `n` remainders of `k` bits each, packed. Decoding
//!   walks the zero-bits of the unary words (find-first-set and clear), so
//!   consecutive values do not wait on each other's length.
//! - `RICE` (read only, for chunks written before): `base u64`, `k u8`,
//!   `len u32`, then `len` bytes of interleaved codes, an escape being
//!   `ESCAPE` ones followed by the 64-bit residual. Bit-serial to decode.
//!
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
                        ESCAPE + 65 + u64::from(k)
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
    fn new() -> Self {
        BitWriter {
            bytes: Vec::new(),
            acc: 0,
            used: 0,
        }
    }

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

    /// The bytes, the last one padded with one-bits or zero-bits.
    fn finish(mut self, ones: bool) -> Vec<u8> {
        if self.used > 0 {
            let pad = if ones { !0u64 << self.used } else { 0 };
            self.bytes.push((self.acc | pad) as u8);
        }
        self.bytes
    }
}

/// The base (minimum), residuals and best `k` of `values`.
fn parameters(values: &[u64]) -> (u64, Vec<u64>, u8) {
    let base = values.iter().copied().min().unwrap_or(0);
    let residuals: Vec<u64> = values.iter().map(|&v| v - base).collect();
    let k = best_k(&residuals);
    (base, residuals, k)
}

/// Writes a `RICE_SPLIT` payload (after the codec id).
pub(crate) fn encode(values: &[u64], out: &mut Vec<u8>) {
    let (base, residuals, k) = parameters(values);
    let mut unary = BitWriter::new();
    let mut rems = BitWriter::new();
    let mut escapes = Vec::new();
    for &r in &residuals {
        let q = r >> k;
        if q >= ESCAPE {
            unary.put((1u64 << ESCAPE) - 1, ESCAPE as u32 + 1);
            rems.put_wide(0, u32::from(k));
            escapes.push(r);
        } else {
            // q ones, then the zero at bit q.
            unary.put((1u64 << q) - 1, q as u32 + 1);
            rems.put_wide(r, u32::from(k));
        }
    }
    out.extend_from_slice(&base.to_le_bytes());
    out.push(k);
    out.extend_from_slice(&(escapes.len() as u32).to_le_bytes());
    for e in &escapes {
        out.extend_from_slice(&e.to_le_bytes());
    }
    let unary = unary.finish(true);
    out.extend_from_slice(&(unary.len() as u32).to_le_bytes());
    out.extend_from_slice(&unary);
    out.extend_from_slice(&rems.finish(false));
}

/// Writes a `RICE` payload, as chunks written before `RICE_SPLIT` hold.
#[cfg(test)]
pub(crate) fn encode_serial(values: &[u64], out: &mut Vec<u8>) {
    let (base, residuals, k) = parameters(values);
    let mut w = BitWriter::new();
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
    let bytes = w.finish(false);
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

    /// The `n` (at most 63) bits from bit `at` on, without moving.
    #[inline(always)]
    fn bits_at(&self, at: usize, n: u32) -> u64 {
        let word = |at: usize| {
            let byte = at / 8;
            match self.padded.get(byte..byte + 8) {
                Some(w) => u64::from_le_bytes(w.try_into().expect("eight bytes")) >> (at % 8),
                None => 0,
            }
        };
        if n <= 56 {
            word(at) & ((1u64 << n) - 1)
        } else {
            (word(at) & 0xFFFF_FFFF) | ((word(at + 32) & ((1u64 << (n - 32)) - 1)) << 32)
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

/// Decodes the blocks `rows` of a `RICE` node into `out` (every value is
/// read and checked).
pub(crate) fn decode_serial(
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

/// Decodes the blocks `rows` of a `RICE_SPLIT` node into `out` (every
/// value is read and checked).
pub(crate) fn decode(
    r: &mut ByteReader,
    rows: Rows,
    out: &mut [u64],
) -> Result<(), CompressionError> {
    let mut whole = (!rows.is_all()).then(|| vec![0u64; rows.n]);
    let dst: &mut [u64] = whole.as_deref_mut().unwrap_or(out);
    walk(r, rows.n, |i, v| {
        dst[i] = v;
        Ok(())
    })?;
    if let Some(whole) = whole {
        out.copy_from_slice(&whole[rows.start()..rows.end()]);
    }
    Ok(())
}

/// Reads the `n` values of a `RICE_SPLIT` payload and passes each to `f`
/// with its index, in order; `f` refusing a value (`Err(why)`) makes the
/// node corrupt. Hot loop: one find-first-set per value.
#[inline(always)]
pub(crate) fn walk(
    r: &mut ByteReader,
    n: usize,
    mut f: impl FnMut(usize, u64) -> Result<(), &'static str>,
) -> Result<(), CompressionError> {
    let base = r.u64("rice base")?;
    let k = r.u8("rice parameter")?;
    if k > 63 {
        return Err(r.err("rice parameter above 63"));
    }
    let n_esc = r.count(n, "rice escape count")?;
    let escapes = r.bytes(n_esc * 8, "rice escapes")?;
    let unary_len = r.u32("rice unary length")? as usize;
    let unary = r.bytes(unary_len, "rice unary bits")?;
    let k32 = u32::from(k);
    let rems = BitReader::new(r.bytes((n * k as usize).div_ceil(8), "rice remainders")?);
    let mut escapes = escapes.chunks_exact(8);
    let mut i = 0usize;
    // The remainder of value i starts at bit i * k.
    let mut rem_at = 0usize;
    // One-bits since the last zero-bit.
    let mut ones = 0u64;
    for chunk in unary.chunks(8) {
        // A short last word is filled with one-bits: they add no values.
        let mut word = [0xFFu8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        let mut zeros = !u64::from_le_bytes(word);
        let mut after = 0u64;
        while zeros != 0 {
            let p = u64::from(zeros.trailing_zeros());
            let q = ones + p - after;
            ones = 0;
            after = p + 1;
            zeros &= zeros - 1;
            let residual = if q < ESCAPE {
                (q << k) | rems.bits_at(rem_at, k32)
            } else if q == ESCAPE {
                let e = escapes
                    .next()
                    .ok_or_else(|| r.err("rice escapes missing"))?;
                u64::from_le_bytes(e.try_into().expect("eight bytes"))
            } else {
                return Err(r.err("rice quotient above the escape"));
            };
            if i == n {
                return Err(r.err("rice bits hold more values than the node"));
            }
            f(i, base.wrapping_add(residual)).map_err(|why| r.err(why))?;
            i += 1;
            rem_at += k as usize;
        }
        ones += 64 - after;
    }
    let filler = 8 * (unary_len.next_multiple_of(8) - unary_len) as u64;
    if i != n || escapes.len() != 0 || ones - filler >= 8 {
        return Err(r.err("rice bits do not hold the node's values"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Encode = fn(&[u64], &mut Vec<u8>);
    type Decode = fn(&mut ByteReader, Rows, &mut [u64]) -> Result<(), CompressionError>;
    /// The written layout and the one chunks written before still hold.
    const LAYOUTS: [(Encode, Decode); 2] = [(encode, decode), (encode_serial, decode_serial)];

    proptest! {
        #[test]
        fn rice_round_trips(
            values in prop::collection::vec(prop_oneof![0u64..100, 0u64..1 << 40, any::<u64>()], 0..3000),
            first in 0usize..3,
        ) {
            for (encode, decode) in LAYOUTS {
                let mut out = Vec::new();
                encode(&values, &mut out);
                let mut back = vec![0u64; values.len()];
                let mut r = ByteReader::new(&out);
                decode(&mut r, Rows::all(values.len()), &mut back).unwrap();
                prop_assert_eq!(&back, &values);
                prop_assert_eq!(r.remaining(), 0);
                // One block of the node.
                let rows = Rows { n: values.len(), first_block: first, end_block: first + 1 };
                let mut part = vec![0u64; rows.len()];
                let mut r = ByteReader::new(&out);
                decode(&mut r, rows, &mut part).unwrap();
                prop_assert_eq!(&part[..], &values[rows.start()..rows.end()]);
                prop_assert_eq!(r.remaining(), 0);
            }
        }
    }

    #[test]
    fn damaged_rice_nodes_are_errors_or_values() {
        let values: Vec<u64> = (0..200u64)
            .map(|i| (i * 7919) % 97 + (i % 50) * 1000)
            .collect();
        for (encode, decode) in LAYOUTS {
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
