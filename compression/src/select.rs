//! Scheme selection by sampling, in the spirit of BtrBlocks.
//!
//! Owns the choice of codec for each node. A sample of ~10 runs of 64
//! consecutive values (the whole input when it is small) is encoded with
//! every applicable scheme (children chosen the same way, one cascade level
//! less) and the smallest output wins; candidates are tried fastest-to-decode
//! first and only a strictly smaller size displaces an earlier one, so decode
//! speed breaks ties.
//! Invariant: selection only picks; any choice must round trip.

use std::borrow::Cow;

use crate::float::{self, FloatScheme, FloatWidth};
use crate::int::{self, all_equal, rle, IntScheme};

const SAMPLE_RUNS: usize = 10;
const RUN_LEN: usize = 64;

/// About `SAMPLE_RUNS` runs of `RUN_LEN` consecutive values, evenly spread.
pub(crate) fn sample<T: Copy>(values: &[T]) -> Cow<'_, [T]> {
    if values.len() <= 2 * SAMPLE_RUNS * RUN_LEN {
        return Cow::Borrowed(values);
    }
    let stride = values.len() / SAMPLE_RUNS;
    let mut s = Vec::with_capacity(SAMPLE_RUNS * RUN_LEN);
    for i in 0..SAMPLE_RUNS {
        let start = i * stride;
        s.extend_from_slice(&values[start..start + RUN_LEN]);
    }
    Cow::Owned(s)
}

fn int_size(values: &[u64], scheme: IntScheme, depth: u8) -> usize {
    let mut out = Vec::new();
    int::encode_node(values, Some(scheme), depth, &mut out);
    out.len()
}

/// The integer scheme for `values` with `depth` cascade levels allowed.
pub(crate) fn choose_int_scheme(values: &[u64], depth: u8) -> IntScheme {
    if all_equal(values) {
        return IntScheme::Constant;
    }
    if depth <= 1 {
        return IntScheme::ForBitpack;
    }
    let s = sample(values);
    let mut best = (
        int_size(&s, IntScheme::ForBitpack, depth),
        IntScheme::ForBitpack,
    );
    // RLE only when runs average at least two values in the sample.
    let rle_worth_trying = rle::run_count(&s) * 2 <= s.len();
    for scheme in [IntScheme::Rle, IntScheme::Delta] {
        if scheme == IntScheme::Rle && !rle_worth_trying {
            continue;
        }
        let size = int_size(&s, scheme, depth);
        if size < best.0 {
            best = (size, scheme);
        }
    }
    // Linear residuals depend on each value's position in the whole node,
    // so they are computed on all values and then sampled.
    if values.len() > 2 * RUN_LEN {
        let (_, residuals) = int::linear::residuals(values);
        let mut out = vec![0u8; 9];
        int::encode_node(&sample(&residuals), None, depth - 1, &mut out);
        if out.len() < best.0 {
            best = (out.len(), IntScheme::Linear);
        }
    }
    best.1
}

/// The float scheme for raw `bits` of width `w`.
pub(crate) fn choose_float_scheme(bits: &[u64], w: FloatWidth) -> FloatScheme {
    if all_equal(bits) {
        return FloatScheme::Bits;
    }
    let s = sample(bits);
    let mut best: Option<(usize, FloatScheme)> = None;
    for scheme in [
        FloatScheme::Plain,
        FloatScheme::Bits,
        FloatScheme::Alp,
        FloatScheme::Xor,
    ] {
        let mut out = Vec::new();
        float::encode_node(&s, w, Some(scheme), &mut out);
        if best.is_none_or(|b| out.len() < b.0) {
            best = Some((out.len(), scheme));
        }
    }
    best.map_or(FloatScheme::Plain, |b| b.1)
}
