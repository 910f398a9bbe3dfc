//! Prometheus' XOR chunk encoding (Gorilla-style) and the framing of
//! streamed remote-read responses.
//!
//! The byte layout must match `tsdb/chunkenc/xor.go` bit for bit, because
//! Prometheus decodes these chunks itself: a 2-byte big-endian sample count;
//! the first timestamp as a zigzag varint and the first value as 64 raw
//! bits; the second timestamp as a uvarint delta; then delta-of-deltas in
//! buckets of 14/17/20/64 bits behind the prefixes `0`, `10`, `110`, `1110`,
//! `1111`, and every value after the first as an XOR against the previous
//! one (`0` = same; `10` = reuse the previous leading/trailing zero window;
//! `11` + 5 bits leading zeros (at most 31) + 6 bits significant length
//! (64 written as 0) + the significant bits).
//!
//! A frame of a streamed response is `uvarint(len) | CRC32-Castagnoli(data)
//! as u32 big-endian | data`, as `storage/remote/chunked.go` writes it.

/// Samples per chunk, as Prometheus cuts them for remote read.
pub const MAX_SAMPLES_PER_CHUNK: usize = 120;

/// Bits written most significant first, like Prometheus' `bstream`.
struct BitWriter {
    bytes: Vec<u8>,
    /// Unused low bits in the last byte.
    free: u32,
}

impl BitWriter {
    fn write_bit(&mut self, bit: bool) {
        self.write_bits(u64::from(bit), 1);
    }

    /// Writes the `n` (<= 64) low bits of `value`.
    fn write_bits(&mut self, value: u64, mut n: u32) {
        while n > 0 {
            if self.free == 0 {
                self.bytes.push(0);
                self.free = 8;
            }
            let take = n.min(self.free);
            let chunk = ((value >> (n - take)) & ((1u64 << take) - 1)) as u8;
            if let Some(last) = self.bytes.last_mut() {
                *last |= chunk << (self.free - take);
            }
            self.free -= take;
            n -= take;
        }
    }

    fn write_uvarint(&mut self, mut x: u64) {
        while x >= 0x80 {
            self.write_bits((x as u8 | 0x80).into(), 8);
            x >>= 7;
        }
        self.write_bits(x, 8);
    }
}

/// Appends samples to one XOR chunk.
pub struct XorChunk {
    w: BitWriter,
    count: u16,
    t: i64,
    v: f64,
    t_delta: u64,
    leading: u8,
    trailing: u8,
}

impl Default for XorChunk {
    fn default() -> Self {
        XorChunk {
            w: BitWriter {
                bytes: vec![0, 0],
                free: 0,
            },
            count: 0,
            t: 0,
            v: 0.0,
            t_delta: 0,
            leading: 0xff,
            trailing: 0,
        }
    }
}

/// `-(2^(n-1) - 1) <= x <= 2^(n-1)`, as in xor.go.
fn bit_range(x: i64, n: u32) -> bool {
    -((1i64 << (n - 1)) - 1) <= x && x <= 1i64 << (n - 1)
}

impl XorChunk {
    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Appends a sample; a chunk holds at most `u16::MAX - 1` samples, and
    /// callers cut at [`MAX_SAMPLES_PER_CHUNK`].
    pub fn append(&mut self, t: i64, v: f64) {
        let mut t_delta = 0;
        match self.count {
            0 => {
                self.w.write_uvarint(((t << 1) ^ (t >> 63)) as u64);
                self.w.write_bits(v.to_bits(), 64);
            }
            1 => {
                t_delta = t.wrapping_sub(self.t) as u64;
                self.w.write_uvarint(t_delta);
                self.write_value(v);
            }
            _ => {
                t_delta = t.wrapping_sub(self.t) as u64;
                let dod = t_delta.wrapping_sub(self.t_delta) as i64;
                if dod == 0 {
                    self.w.write_bit(false);
                } else if bit_range(dod, 14) {
                    self.w.write_bits(0b10, 2);
                    self.w.write_bits(dod as u64, 14);
                } else if bit_range(dod, 17) {
                    self.w.write_bits(0b110, 3);
                    self.w.write_bits(dod as u64, 17);
                } else if bit_range(dod, 20) {
                    self.w.write_bits(0b1110, 4);
                    self.w.write_bits(dod as u64, 20);
                } else {
                    self.w.write_bits(0b1111, 4);
                    self.w.write_bits(dod as u64, 64);
                }
                self.write_value(v);
            }
        }
        self.t = t;
        self.v = v;
        self.t_delta = t_delta;
        self.count += 1;
        self.w.bytes[..2].copy_from_slice(&self.count.to_be_bytes());
    }

    fn write_value(&mut self, v: f64) {
        let delta = v.to_bits() ^ self.v.to_bits();
        if delta == 0 {
            self.w.write_bit(false);
            return;
        }
        self.w.write_bit(true);
        let leading = (delta.leading_zeros() as u8).min(31);
        let trailing = delta.trailing_zeros() as u8;
        if self.leading != 0xff && leading >= self.leading && trailing >= self.trailing {
            self.w.write_bit(false);
            let sig = 64 - u32::from(self.leading) - u32::from(self.trailing);
            self.w.write_bits(delta >> self.trailing, sig);
            return;
        }
        self.leading = leading;
        self.trailing = trailing;
        self.w.write_bit(true);
        self.w.write_bits(leading.into(), 5);
        let sig = 64 - u32::from(leading) - u32::from(trailing);
        self.w.write_bits(sig.into(), 6); // 64 is written as 0
        self.w.write_bits(delta >> trailing, sig);
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.w.bytes
    }
}

/// Reads bits most significant first; running out is an error.
struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl BitReader<'_> {
    fn bit(&mut self) -> Result<bool, String> {
        let byte = self
            .data
            .get(self.pos / 8)
            .ok_or_else(|| "chunk ends early".to_string())?;
        let b = byte >> (7 - self.pos % 8) & 1;
        self.pos += 1;
        Ok(b == 1)
    }

    fn bits(&mut self, n: u32) -> Result<u64, String> {
        (0..n).try_fold(0, |acc, _| Ok(acc << 1 | u64::from(self.bit()?)))
    }

    fn uvarint(&mut self) -> Result<u64, String> {
        let mut x = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.bits(8)?;
            x |= (b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(x);
            }
        }
        Err("varint overflows 64 bits".into())
    }
}

/// Decodes an XOR chunk (the inverse of [`XorChunk`], written from
/// `xorIterator` in xor.go). Used by tests and to check our own output;
/// corrupt input is an error, never a panic.
pub fn decode_xor(chunk: &[u8]) -> Result<Vec<(i64, f64)>, String> {
    let (Some(&hi), Some(&lo)) = (chunk.first(), chunk.get(1)) else {
        return Err("chunk shorter than its header".into());
    };
    let n = u16::from_be_bytes([hi, lo]) as usize;
    let mut r = BitReader {
        data: &chunk[2..],
        pos: 0,
    };
    let mut out = Vec::with_capacity(n);
    let (mut t, mut v, mut t_delta) = (0i64, 0f64, 0u64);
    let (mut leading, mut trailing) = (0u32, 0u32);
    for i in 0..n {
        if i == 0 {
            let u = r.uvarint()?;
            t = (u >> 1) as i64 ^ -((u & 1) as i64);
            v = f64::from_bits(r.bits(64)?);
            out.push((t, v));
            continue;
        }
        if i == 1 {
            t_delta = r.uvarint()?;
        } else {
            let mut d = 0u8;
            for _ in 0..4 {
                d <<= 1;
                if !r.bit()? {
                    break;
                }
                d |= 1;
            }
            let dod: i64 = match d {
                0b0 => 0,
                0b1111 => r.bits(64)? as i64,
                _ => {
                    let sz = match d {
                        0b10 => 14,
                        0b110 => 17,
                        _ => 20,
                    };
                    let mut b = r.bits(sz)?;
                    if b > 1 << (sz - 1) {
                        b = b.wrapping_sub(1 << sz);
                    }
                    b as i64
                }
            };
            t_delta = (t_delta as i64).wrapping_add(dod) as u64;
        }
        t = t.wrapping_add(t_delta as i64);
        if r.bit()? {
            if r.bit()? {
                leading = r.bits(5)? as u32;
                let mut sig = r.bits(6)? as u32;
                if sig == 0 {
                    sig = 64;
                }
                trailing = (64 - leading)
                    .checked_sub(sig)
                    .ok_or_else(|| "leading + significant bits exceed 64".to_string())?;
            }
            let sig = 64 - leading - trailing;
            let bits = r.bits(sig)?;
            v = f64::from_bits(v.to_bits() ^ bits.checked_shl(trailing).unwrap_or(0));
        }
        out.push((t, v));
    }
    Ok(out)
}

const fn crc32c_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0x82F6_3B78 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

static CRC32C: [u32; 256] = crc32c_table();

/// CRC-32C (Castagnoli), as Go's `crc32.MakeTable(crc32.Castagnoli)`.
pub fn crc32c(data: &[u8]) -> u32 {
    !data.iter().fold(!0u32, |c, b| {
        CRC32C[((c ^ u32::from(*b)) & 0xff) as usize] ^ (c >> 8)
    })
}

/// Appends one frame of a streamed remote-read response to `out`.
pub fn write_frame(out: &mut Vec<u8>, data: &[u8]) {
    let mut len = data.len() as u64;
    while len >= 0x80 {
        out.push(len as u8 | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
    out.extend_from_slice(&crc32c(data).to_be_bytes());
    out.extend_from_slice(data);
}

#[cfg(test)]
#[path = "chunk_tests.rs"]
mod tests;
