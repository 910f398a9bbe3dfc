//! Vectorized reductions over `f64` slices for run aggregation: sum, min,
//! max and the number of valid values, with and without a validity mask.
//!
//! One portable source is compiled once per instruction set (`#[target_feature]`
//! copies of the same `#[inline(always)]` body: eight independent lanes that
//! LLVM turns into SSE2, AVX2 or AVX-512 vector code), and [`Kernels`]
//! picks the widest the CPU has at run time. A `Kernels` value can only be
//! made for an instruction set the CPU supports, which is what makes the
//! calls into the `target_feature` copies sound. Tests run every kernel on
//! every available instruction set against a scalar model.
//!
//! Semantics, shared by every instruction set:
//! - `sum` adds in eight interleaved lanes, so the last bits of a float sum
//!   can differ from a left-to-right sum (as in any parallel aggregate).
//! - `min`/`max` order values as PostgreSQL does: NaN (any payload) is
//!   greater than every number, so `max` is NaN when any value is NaN and
//!   `min` ignores NaN unless all values are NaN. -0.0 orders before 0.0.

use arrow::buffer::BooleanBuffer;

const LANES: usize = 8;

/// An instruction set the kernels are compiled for (detected by the
/// compression crate, whose predicate kernels use the same sets).
pub use lynx_compression::simd::Isa;

/// Calls `$f` compiled for `$isa`.
macro_rules! dispatch {
    ($isa:expr, $f:ident($($arg:expr),*)) => {{
        match $isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a `Kernels` holding `Isa::Avx512` is only built after
            // `is_x86_feature_detected!("avx512f")` returned true.
            Isa::Avx512 => unsafe { x86::avx512::$f($($arg),*) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above, for "avx2".
            Isa::Avx2 => unsafe { x86::avx2::$f($($arg),*) },
            _ => generic::$f($($arg),*),
        }
    }};
}

/// Reductions bound to an instruction set the running CPU supports.
#[derive(Debug, Clone, Copy)]
pub struct Kernels {
    isa: Isa,
}

impl Kernels {
    /// The widest instruction set this CPU supports (detected once).
    pub fn detect() -> Kernels {
        Kernels {
            isa: lynx_compression::simd::best(),
        }
    }

    /// Every instruction set this CPU supports, narrowest first.
    pub fn supported() -> Vec<Isa> {
        lynx_compression::simd::supported()
    }

    /// Kernels for `isa`, or `None` when this CPU lacks it.
    pub fn for_isa(isa: Isa) -> Option<Kernels> {
        Kernels::supported()
            .contains(&isa)
            .then_some(Kernels { isa })
    }

    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// The sum of `values`.
    pub fn sum(&self, values: &[f64]) -> f64 {
        dispatch!(self.isa, sum(values))
    }

    /// The sum of the values whose bit is set in `valid` (one bit per value).
    pub fn sum_valid(&self, values: &[f64], valid: &BooleanBuffer) -> f64 {
        assert_eq!(values.len(), valid.len(), "one validity bit per value");
        dispatch!(self.isa, sum_valid(values, valid))
    }

    /// The minimum and maximum of `values`, `None` when empty.
    pub fn min_max(&self, values: &[f64]) -> Option<(f64, f64)> {
        dispatch!(self.isa, min_max(values))
    }

    /// The minimum and maximum of the values whose bit is set in `valid`,
    /// `None` when there are none.
    pub fn min_max_valid(&self, values: &[f64], valid: &BooleanBuffer) -> Option<(f64, f64)> {
        assert_eq!(values.len(), valid.len(), "one validity bit per value");
        dispatch!(self.isa, min_max_valid(values, valid))
    }
}

/// Maps a float to an integer whose order is PostgreSQL's float order:
/// every NaN becomes the canonical NaN, above +Inf; otherwise IEEE
/// totalOrder (-0.0 just below 0.0).
#[inline(always)]
fn order_key(v: f64) -> i64 {
    let v = if v.is_nan() { f64::NAN } else { v };
    let bits = v.to_bits() as i64;
    bits ^ (((bits >> 63) as u64) >> 1) as i64
}

#[inline(always)]
fn from_key(k: i64) -> f64 {
    f64::from_bits((k ^ (((k >> 63) as u64) >> 1) as i64) as u64)
}

macro_rules! kernels {
    ($($attr:meta)?) => {
        use crate::kernels::{from_key, order_key, LANES};
        use arrow::buffer::BooleanBuffer;

        $(#[$attr])?
        pub(crate) fn sum(values: &[f64]) -> f64 {
            // Four independent accumulators: an add's latency is four
            // cycles, so one vector of lanes would leave the adder idle.
            let mut acc = [[0.0f64; LANES]; 4];
            let wide = values.chunks_exact(4 * LANES);
            let narrow = wide.remainder().chunks_exact(LANES);
            for (i, &v) in narrow.remainder().iter().enumerate() {
                acc[0][i] += v;
            }
            for c in narrow {
                for i in 0..LANES {
                    acc[1][i] += c[i];
                }
            }
            for c in wide {
                for (a, part) in acc.iter_mut().zip(c.chunks_exact(LANES)) {
                    for i in 0..LANES {
                        a[i] += part[i];
                    }
                }
            }
            let mut total = [0.0f64; LANES];
            for i in 0..LANES {
                total[i] = (acc[0][i] + acc[1][i]) + (acc[2][i] + acc[3][i]);
            }
            fold(total)
        }

        $(#[$attr])?
        pub(crate) fn sum_valid(values: &[f64], valid: &BooleanBuffer) -> f64 {
            let mut acc = [0.0f64; LANES];
            let chunks = valid.bit_chunks();
            let mut at = 0;
            for bits in chunks.iter() {
                sum_word(&values[at..at + 64], bits, &mut acc);
                at += 64;
            }
            sum_word(&values[at..], chunks.remainder_bits(), &mut acc);
            fold(acc)
        }

        $(#[$attr])?
        pub(crate) fn min_max(values: &[f64]) -> Option<(f64, f64)> {
            let mut lo = [i64::MAX; LANES];
            let mut hi = [i64::MIN; LANES];
            let chunks = values.chunks_exact(LANES);
            for (i, &v) in chunks.remainder().iter().enumerate() {
                let k = order_key(v);
                lo[i] = lo[i].min(k);
                hi[i] = hi[i].max(k);
            }
            for c in chunks {
                for i in 0..LANES {
                    let k = order_key(c[i]);
                    lo[i] = lo[i].min(k);
                    hi[i] = hi[i].max(k);
                }
            }
            (!values.is_empty()).then(|| extremes(lo, hi))
        }

        $(#[$attr])?
        pub(crate) fn min_max_valid(values: &[f64], valid: &BooleanBuffer) -> Option<(f64, f64)> {
            let mut lo = [i64::MAX; LANES];
            let mut hi = [i64::MIN; LANES];
            let chunks = valid.bit_chunks();
            let mut at = 0;
            for bits in chunks.iter() {
                min_max_word(&values[at..at + 64], bits, &mut lo, &mut hi);
                at += 64;
            }
            min_max_word(&values[at..], chunks.remainder_bits(), &mut lo, &mut hi);
            (valid.count_set_bits() > 0).then(|| extremes(lo, hi))
        }

        /// Up to 64 values with their validity bits.
        #[inline(always)]
        fn sum_word(values: &[f64], bits: u64, acc: &mut [f64; LANES]) {
            for (j, &x) in values.iter().enumerate() {
                acc[j % LANES] += if (bits >> j) & 1 == 1 { x } else { 0.0 };
            }
        }

        /// Up to 64 values with their validity bits.
        #[inline(always)]
        fn min_max_word(values: &[f64], bits: u64, lo: &mut [i64; LANES], hi: &mut [i64; LANES]) {
            for (j, &x) in values.iter().enumerate() {
                let on = (bits >> j) & 1 == 1;
                let k = order_key(x);
                lo[j % LANES] = lo[j % LANES].min(if on { k } else { i64::MAX });
                hi[j % LANES] = hi[j % LANES].max(if on { k } else { i64::MIN });
            }
        }

        #[inline(always)]
        fn fold(acc: [f64; LANES]) -> f64 {
            ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
        }

        #[inline(always)]
        fn extremes(lo: [i64; LANES], hi: [i64; LANES]) -> (f64, f64) {
            let lo = lo.iter().copied().min().expect("lanes");
            let hi = hi.iter().copied().max().expect("lanes");
            (from_key(lo), from_key(hi))
        }
    };
}

mod generic {
    kernels!();
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    pub(crate) mod avx2 {
        kernels!(target_feature(enable = "avx2"));
    }
    pub(crate) mod avx512 {
        kernels!(target_feature(enable = "avx512f"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The model: PostgreSQL's float order over the valid values.
    fn model(values: &[f64], valid: &[bool]) -> Option<(u64, u64)> {
        let mut picked: Vec<f64> = values
            .iter()
            .zip(valid)
            .filter(|(_, on)| **on)
            .map(|(v, _)| if v.is_nan() { f64::NAN } else { *v })
            .collect();
        picked.sort_by(|a, b| a.total_cmp(b));
        Some((picked.first()?.to_bits(), picked.last()?.to_bits()))
    }

    fn bits(v: Option<(f64, f64)>) -> Option<(u64, u64)> {
        v.map(|(lo, hi)| (lo.to_bits(), hi.to_bits()))
    }

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            8 => (-400i32..400).prop_map(|q| f64::from(q) / 4.0),
            1 => prop::sample::select(vec![
                0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN,
                f64::from_bits(0x7ff0_0000_0000_0002), // Prometheus staleness marker
                f64::from_bits(0xfff8_0000_0000_0001), // negative NaN
                f64::MIN_POSITIVE / 2.0, f64::MAX, f64::MIN,
            ]),
        ]
    }

    proptest! {
        /// Every instruction set agrees with the model: exact min/max bits;
        /// sums of quarter values are exact in any order.
        #[test]
        fn kernels_agree_with_the_model_on_every_instruction_set(
            rows in prop::collection::vec((value(), prop::bool::weighted(0.8)), 0..300),
            offset in 0usize..70,
        ) {
            let values: Vec<f64> = rows.iter().map(|r| r.0).collect();
            let valid: Vec<bool> = rows.iter().map(|r| r.1).collect();
            // A validity buffer that starts mid-word, as slices of arrays do.
            let mut padded = vec![true; offset];
            padded.extend(&valid);
            let mask = BooleanBuffer::from(padded).slice(offset, valid.len());
            let all = vec![true; values.len()];
            let exact = values.iter().all(|v| (v * 4.0).fract() == 0.0 && v.abs() < 1e6);
            let valid_sum: f64 = values.iter().zip(&valid).filter(|(_, on)| **on).map(|(v, _)| v).sum();
            for isa in Kernels::supported() {
                let k = Kernels::for_isa(isa).expect("supported");
                prop_assert_eq!(bits(k.min_max_valid(&values, &mask)), model(&values, &valid), "{:?}", isa);
                prop_assert_eq!(bits(k.min_max(&values)), model(&values, &all), "{:?}", isa);
                if exact {
                    prop_assert_eq!(k.sum_valid(&values, &mask), valid_sum, "{:?}", isa);
                    prop_assert_eq!(k.sum(&values), values.iter().sum::<f64>(), "{:?}", isa);
                }
            }
        }
    }

    #[test]
    fn detection_picks_a_supported_instruction_set() {
        let k = Kernels::detect();
        assert!(Kernels::supported().contains(&k.isa()));
        assert!(Kernels::for_isa(Isa::Portable).is_some());
    }
}
