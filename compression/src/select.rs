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
    Cow::Owned(
        sample_runs(values.len())
            .flat_map(|run| values[run].iter().copied())
            .collect(),
    )
}

/// The position ranges `sample` takes from `len` values (when it samples).
fn sample_runs(len: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let stride = len / SAMPLE_RUNS;
    (0..SAMPLE_RUNS).map(move |i| i * stride..i * stride + RUN_LEN)
}

/// The sampled residuals of the linear scheme, computed at the sampled
/// positions only (the step is the median delta inside the sampled runs),
/// so that trying the scheme costs the sample, not the whole node.
fn linear_sample(values: &[u64]) -> Vec<u64> {
    if values.len() <= 2 * SAMPLE_RUNS * RUN_LEN {
        return int::linear::residuals(values).1;
    }
    let mut deltas: Vec<i64> = sample_runs(values.len())
        .flat_map(|run| {
            values[run]
                .windows(2)
                .map(|w| w[1].wrapping_sub(w[0]) as i64)
        })
        .collect();
    let mid = deltas.len() / 2;
    let step = *deltas.select_nth_unstable(mid).1 as u64;
    sample_runs(values.len())
        .flat_map(|run| run.map(|i| values[i].wrapping_sub((i as u64).wrapping_mul(step))))
        .collect()
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
    // RLE only when runs average at least four values in the sample:
    // shorter runs decode at a mispredicted branch each, slower than
    // bit-packing the values (a drifting gauge's ulp residuals decoded
    // 1.4x faster once their deltas were bit-packed, for 7 % more bytes).
    let rle_worth_trying = rle::run_count(&s) * 4 <= s.len();
    for scheme in [IntScheme::Rle, IntScheme::Delta] {
        if scheme == IntScheme::Rle && !rle_worth_trying {
            continue;
        }
        let size = int_size(&s, scheme, depth);
        if size < best.0 {
            best = (size, scheme);
        }
    }
    // Linear residuals depend on each value's position in the whole node:
    // they are computed at the sampled positions.
    if values.len() > 2 * RUN_LEN {
        let mut out = vec![0u8; 9];
        int::encode_node(&linear_sample(values), None, depth - 1, &mut out);
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
    let mut alp_exceptions = 0;
    for scheme in [
        FloatScheme::Plain,
        FloatScheme::Bits,
        FloatScheme::Alp,
        FloatScheme::AlpUlp,
        FloatScheme::Xor,
    ] {
        let mut out = Vec::new();
        match scheme {
            FloatScheme::Alp => {
                out.push(float::id::ALP);
                alp_exceptions = float::alp::encode(&s, w, &mut out);
            }
            // Exact decimals: ALP_ULP would store the same keys plus zero
            // residuals.
            FloatScheme::AlpUlp if alp_exceptions == 0 => continue,
            _ => float::encode_node(&s, w, Some(scheme), &mut out),
        }
        if best.is_none_or(|b| out.len() < b.0) {
            best = Some((out.len(), scheme));
        }
    }
    best.map_or(FloatScheme::Plain, |b| b.1)
}
