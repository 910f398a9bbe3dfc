//! Bit-packing of unsigned integers, 0..=64 bits per value.
//!
//! Owns two layouts that take the same number of bytes (`packed_len`):
//! full 1024-value blocks of width <= 32 use the `bitpacking` crate's
//! BitPacker8x layout (four 256-value sub-blocks, SIMD when available);
//! everything else (wider values, partial blocks) uses our own LSB-first
//! layout written by branch-free 64-bit pack/unpack loops.
//! Invariant: callers pass values already reduced below `2^width`.

use bitpacking::{BitPacker, BitPacker8x};

use super::BLOCK;

/// Bytes taken by `n` values of `width` bits, in either layout.
pub(crate) fn packed_len(n: usize, width: u8) -> usize {
    (n * width as usize).div_ceil(8)
}

/// Mask of the low `width` bits (`width` in 0..=64).
#[inline]
pub(crate) fn mask(width: u8) -> u64 {
    if width >= 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    }
}

/// Number of bits needed to represent `v`.
#[inline]
pub(crate) fn bit_width(v: u64) -> u8 {
    (64 - v.leading_zeros()) as u8
}

fn uses_simd_layout(n: usize, width: u8) -> bool {
    n == BLOCK && width <= 32
}

/// Appends `values` (each `< 2^width`) packed with `width` bits each.
pub(crate) fn pack(values: &[u64], width: u8, out: &mut Vec<u8>) {
    if width == 0 {
        return;
    }
    if uses_simd_layout(values.len(), width) {
        pack_simd_block(values, width, out);
    } else {
        pack64(values, width, out);
    }
}

/// Unpacks `out.len()` values of `width` bits from `packed` and adds `base`
/// (wrapping) to each. `packed.len()` must equal `packed_len(out.len(), width)`.
/// Hot path: no allocation, branch-free inner loops.
pub(crate) fn unpack_add(packed: &[u8], width: u8, base: u64, out: &mut [u64]) {
    debug_assert_eq!(packed.len(), packed_len(out.len(), width));
    if width == 0 {
        out.fill(base);
        return;
    }
    if uses_simd_layout(out.len(), width) {
        unpack_simd_block(packed, width, base, out);
    } else {
        unpack64(packed, width, base, out);
    }
}

fn pack_simd_block(values: &[u64], width: u8, out: &mut Vec<u8>) {
    let packer = BitPacker8x::new();
    let sub_len = BitPacker8x::BLOCK_LEN;
    let sub_bytes = sub_len * width as usize / 8;
    let mut lane = [0u32; BitPacker8x::BLOCK_LEN];
    for chunk in values.chunks_exact(sub_len) {
        for (d, &s) in lane.iter_mut().zip(chunk) {
            *d = s as u32;
        }
        let start = out.len();
        out.resize(start + sub_bytes, 0);
        packer.compress(&lane, &mut out[start..], width);
    }
}

fn unpack_simd_block(packed: &[u8], width: u8, base: u64, out: &mut [u64]) {
    let packer = BitPacker8x::new();
    let sub_len = BitPacker8x::BLOCK_LEN;
    let sub_bytes = sub_len * width as usize / 8;
    let mut lane = [0u32; BitPacker8x::BLOCK_LEN];
    for (src, dst) in packed
        .chunks_exact(sub_bytes)
        .zip(out.chunks_exact_mut(sub_len))
    {
        packer.decompress(src, &mut lane, width);
        for (d, &s) in dst.iter_mut().zip(lane.iter()) {
            *d = base.wrapping_add(s as u64);
        }
    }
}

/// Our own LSB-first layout: value `i` occupies bits `i*width .. (i+1)*width`.
pub(crate) fn pack64(values: &[u64], width: u8, out: &mut Vec<u8>) {
    if width == 0 {
        return;
    }
    let w = width as usize;
    let m = mask(width);
    let n_words = (values.len() * w).div_ceil(64) + 1;
    let mut words = vec![0u64; n_words];
    for (i, &v) in values.iter().enumerate() {
        let bit = i * w;
        let wi = bit >> 6;
        let sh = (bit & 63) as u32;
        let v = v & m;
        words[wi] |= v << sh;
        // Spill into the next word; `(v >> 1) >> (63 - sh)` is `v >> (64 - sh)`
        // without the undefined shift by 64 when `sh == 0` (then it is 0).
        words[wi + 1] |= (v >> 1) >> (63 - sh);
    }
    let len = packed_len(values.len(), width);
    let start = out.len();
    out.reserve(len);
    for word in &words {
        out.extend_from_slice(&word.to_le_bytes());
    }
    out.truncate(start + len);
}

/// Scratch words for one block: 1024 values * 64 bits, plus one spill word.
const SCRATCH_WORDS: usize = BLOCK + 1;

fn unpack64(packed: &[u8], width: u8, base: u64, out: &mut [u64]) {
    let w = width as usize;
    let m = mask(width);
    for (chunk_i, out_chunk) in out.chunks_mut(BLOCK).enumerate() {
        // Each output chunk of up to BLOCK values needs at most BLOCK words;
        // chunk starts are word aligned because BLOCK * w is a multiple of 64.
        let byte_start = chunk_i * BLOCK * w / 8;
        let byte_end = (byte_start + packed_len(out_chunk.len(), width)).min(packed.len());
        let src = &packed[byte_start.min(byte_end)..byte_end];
        let mut words = [0u64; SCRATCH_WORDS];
        for (word, bytes) in words.iter_mut().zip(src.chunks(8)) {
            let mut b = [0u8; 8];
            b[..bytes.len()].copy_from_slice(bytes);
            *word = u64::from_le_bytes(b);
        }
        for (i, o) in out_chunk.iter_mut().enumerate() {
            let bit = i * w;
            let wi = bit >> 6;
            let sh = (bit & 63) as u32;
            let lo = words[wi] >> sh;
            let hi = (words[wi + 1] << 1) << (63 - sh);
            *o = base.wrapping_add((lo | hi) & m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Bit-by-bit reference for the LSB-first layout.
    fn reference_pack(values: &[u64], width: u8) -> Vec<u8> {
        let mut out = vec![0u8; packed_len(values.len(), width)];
        for (i, &v) in values.iter().enumerate() {
            for b in 0..width as usize {
                if (v >> b) & 1 == 1 {
                    let bit = i * width as usize + b;
                    out[bit / 8] |= 1 << (bit % 8);
                }
            }
        }
        out
    }

    proptest! {
        #[test]
        fn pack64_matches_reference(width in 0u8..=64, raw in prop::collection::vec(any::<u64>(), 0..300)) {
            let values: Vec<u64> = raw.iter().map(|v| v & mask(width)).collect();
            let mut packed = Vec::new();
            pack64(&values, width, &mut packed);
            prop_assert_eq!(&packed, &reference_pack(&values, width));
            let mut back = vec![0u64; values.len()];
            unpack_add(&packed, width, 0, &mut back);
            prop_assert_eq!(back, values);
        }

        #[test]
        fn full_blocks_round_trip(width in 0u8..=64, seed in any::<u64>(), base in any::<u64>()) {
            let mut x = seed | 1;
            let values: Vec<u64> = (0..BLOCK).map(|_| { x ^= x << 13; x ^= x >> 7; x ^= x << 17; x & mask(width) }).collect();
            let mut packed = Vec::new();
            pack(&values, width, &mut packed);
            prop_assert_eq!(packed.len(), packed_len(BLOCK, width));
            let mut back = vec![0u64; BLOCK];
            unpack_add(&packed, width, base, &mut back);
            let expect: Vec<u64> = values.iter().map(|v| v.wrapping_add(base)).collect();
            prop_assert_eq!(back, expect);
        }
    }
}
