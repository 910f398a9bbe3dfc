//! Instruction-set dispatch and the range-match kernels of predicate
//! evaluation.
//!
//! Owns run-time CPU feature detection for the workspace ([`Isa`],
//! [`supported`], [`best`]; the query crate's kernels use it too) and the
//! inner loop of `evaluate` on decoded blocks: one bit per value for
//! `key - lo <= span` (wrapping), on integer keys or on raw float bits
//! turned into order-preserving keys. One portable source is compiled once
//! per instruction set (`#[target_feature]` copies of the same
//! `#[inline(always)]` body, 64 comparisons per output word, which LLVM
//! turns into vector compares and mask moves), and the widest the CPU has
//! is picked at run time. Tests run every kernel on every instruction set
//! the machine has against a scalar model.

use arrow_buffer::{BooleanBuffer, BooleanBufferBuilder, Buffer};

/// An instruction set the kernels are compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// Baseline x86-64 (SSE2) or any other architecture.
    Portable,
    Avx2,
    Avx512,
}

/// Every instruction set this CPU supports, narrowest first.
pub fn supported() -> Vec<Isa> {
    #[allow(unused_mut)]
    let mut out = vec![Isa::Portable];
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            out.push(Isa::Avx2);
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            out.push(Isa::Avx512);
        }
    }
    out
}

/// The widest instruction set this CPU supports (detected once).
pub fn best() -> Isa {
    static BEST: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
    *BEST.get_or_init(|| *supported().last().expect("portable is always supported"))
}

/// What the compared values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keys {
    /// Order-preserving integer keys.
    Int,
    /// Raw f64 bits, compared by their total-order key.
    F64Bits,
}

/// Appends one bit per value: whether `key(v) - lo <= span` (wrapping),
/// computed with `isa`, which must be one of [`supported`].
pub(crate) fn append_in_range(
    isa: Isa,
    keys: Keys,
    values: &[u64],
    lo: u64,
    span: u64,
    out: &mut BooleanBufferBuilder,
) {
    let mut words = Vec::with_capacity(values.len().div_ceil(64));
    let floats = keys == Keys::F64Bits;
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa` is one of `supported()`, so the CPU has AVX-512F.
        Isa::Avx512 => unsafe { x86::avx512::in_range(values, lo, span, floats, &mut words) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above, for AVX2.
        Isa::Avx2 => unsafe { x86::avx2::in_range(values, lo, span, floats, &mut words) },
        _ => generic::in_range(values, lo, span, floats, &mut words),
    }
    out.append_buffer(&BooleanBuffer::new(
        Buffer::from_vec(words),
        0,
        values.len(),
    ));
}

/// Order-preserving key of raw f64 bits under total order, branch-free.
#[inline(always)]
pub(crate) fn float_key(bits: u64) -> u64 {
    let mask = ((bits as i64) >> 63) as u64;
    bits ^ (mask | crate::int::SIGN)
}

macro_rules! kernels {
    ($($attr:meta)?) => {
        use crate::simd::float_key;

        /// One output word per 64 values (the last one partly filled).
        $(#[$attr])?
        pub(crate) fn in_range(
            values: &[u64],
            lo: u64,
            span: u64,
            floats: bool,
            words: &mut Vec<u64>,
        ) {
            let word = |c: &[u64]| {
                let mut w = 0u64;
                for (j, &v) in c.iter().enumerate() {
                    let k = if floats { float_key(v) } else { v };
                    w |= u64::from(k.wrapping_sub(lo) <= span) << j;
                }
                w
            };
            let chunks = values.chunks_exact(64);
            let rest = chunks.remainder();
            for c in chunks {
                words.push(word(c));
            }
            if !rest.is_empty() {
                words.push(word(rest));
            }
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

    fn model(keys: Keys, values: &[u64], lo: u64, span: u64) -> Vec<bool> {
        values
            .iter()
            .map(|&v| {
                let k = match keys {
                    Keys::Int => v,
                    Keys::F64Bits => crate::predicate::float_key(v),
                };
                k.wrapping_sub(lo) <= span
            })
            .collect()
    }

    proptest! {
        /// Every instruction set agrees with the scalar model, for any
        /// length (partial last words) and appended after other bits.
        #[test]
        fn range_kernels_agree_with_the_model_on_every_instruction_set(
            values in prop::collection::vec(prop_oneof![any::<u64>(), 0u64..100, Just(u64::MAX), Just(crate::int::SIGN)], 0..300),
            lo in prop_oneof![any::<u64>(), 0u64..100],
            span in prop_oneof![any::<u64>(), 0u64..50, Just(0u64)],
            before in 0usize..70,
        ) {
            for keys in [Keys::Int, Keys::F64Bits] {
                let want = model(keys, &values, lo, span);
                for isa in supported() {
                    let mut b = BooleanBufferBuilder::new(before + values.len());
                    b.append_n(before, true);
                    append_in_range(isa, keys, &values, lo, span, &mut b);
                    let got: Vec<bool> = b.finish().iter().skip(before).collect();
                    prop_assert_eq!(&got, &want, "{:?} {:?}", isa, keys);
                }
            }
        }
    }

    #[test]
    fn float_keys_match_the_reference_order() {
        for v in [
            0.0,
            -0.0,
            1.5,
            -1.5,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
        ] {
            let bits = f64::to_bits(v);
            assert_eq!(float_key(bits), crate::predicate::float_key(bits), "{v}");
        }
        assert!(supported().contains(&best()));
    }
}
