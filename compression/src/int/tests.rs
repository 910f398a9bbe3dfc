//! Integer node round trips per scheme, and the scan fast paths against
//! decode-then-compare.

use arrow_buffer::BooleanBufferBuilder;
use proptest::prelude::*;

use super::*;
use crate::predicate::{key_ranges, Domain, Predicate, Scalar};

const SCHEMES: [IntScheme; 7] = [
    IntScheme::Constant,
    IntScheme::ForBitpack,
    IntScheme::Rle,
    IntScheme::Delta,
    IntScheme::DeltaOfDelta,
    IntScheme::Linear,
    IntScheme::Plain,
];

fn keys() -> impl Strategy<Value = Vec<u64>> {
    prop_oneof![
        prop::collection::vec(any::<u64>(), 0..300),
        prop::collection::vec(0u64..16, 0..3000),
        (any::<u64>(), any::<u64>(), 0usize..3000).prop_map(|(s, d, n)| (0..n as u64)
            .map(|i| s.wrapping_add(d.wrapping_mul(i)))
            .collect()),
        prop::collection::vec((any::<u64>(), 1usize..500), 0..10).prop_map(|r| r
            .into_iter()
            .flat_map(|(v, n)| std::iter::repeat_n(v, n))
            .collect()),
        (
            prop::collection::vec(1000u64..1100, 0..3000),
            prop::collection::vec(any::<u64>(), 0..8)
        )
            .prop_map(|(mut v, o)| {
                let len = v.len();
                for (i, x) in o.into_iter().enumerate() {
                    if len > 0 {
                        v[(i * 331) % len] = x;
                    }
                }
                v
            }),
    ]
}

fn encode(values: &[u64], scheme: Option<IntScheme>) -> Vec<u8> {
    let mut out = Vec::new();
    encode_node(values, scheme, ENCODE_DEPTH, &mut out);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_scheme_round_trips(values in keys(), scheme in 0usize..7) {
        let scheme = SCHEMES.get(scheme).copied();
        let bytes = encode(&values, scheme);
        let mut r = ByteReader::new(&bytes);
        let back = decode_vec(&mut r, values.len()).unwrap();
        prop_assert_eq!(back, values);
        prop_assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn scans_match_decoded_values(values in keys(), scheme in 0usize..7, a in any::<u64>(), b in any::<u64>(), op in 0u8..8, pick in any::<usize>()) {
        let scheme = SCHEMES.get(scheme).copied();
        let bytes = encode(&values, scheme);
        let lit = |x: u64| Scalar::Int(x as i128);
        let a = if values.is_empty() { a } else { values[pick % values.len()] };
        let p = match op {
            0 => Predicate::Eq(lit(a)),
            1 => Predicate::NotEq(lit(a)),
            2 => Predicate::Lt(lit(a)),
            3 => Predicate::LtEq(lit(a)),
            4 => Predicate::Gt(lit(a)),
            5 => Predicate::GtEq(lit(a)),
            6 => Predicate::Between(lit(a.min(b)), lit(a.max(b))),
            _ => Predicate::In(vec![lit(a), lit(b), lit(a.wrapping_add(1))]),
        };
        let ranges = key_ranges(&p, Domain::Unsigned, "UInt64").unwrap();
        let mut bits = BooleanBufferBuilder::new(values.len());
        scan::evaluate_node(&mut ByteReader::new(&bytes), values.len(), &ranges, DECODE_DEPTH, &mut bits).unwrap();
        let got: Vec<bool> = bits.finish().iter().collect();
        let want: Vec<bool> = values.iter().map(|&v| ranges.contains(v)).collect();
        prop_assert_eq!(got, want);
        let sum = scan::sum_node(&mut ByteReader::new(&bytes), values.len(), DECODE_DEPTH).unwrap();
        prop_assert_eq!(sum, values.iter().fold(0u128, |s, &v| s + v as u128));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Streamed blocks equal `decode_rows` of the same rows, the bound is at
    /// least every value, the reader ends where `decode_rows` leaves it,
    /// and nodes it does not stream (or cannot bound) leave the reader
    /// where it was.
    #[test]
    fn streamed_blocks_match_decoded_rows(values in keys(), scheme in 0usize..7, first in 0usize..4, count in 0usize..4) {
        let scheme = SCHEMES.get(scheme).copied();
        let bytes = encode(&values, scheme);
        let all = Rows::all(values.len());
        let first_block = first.min(all.end_block);
        let rows = Rows {
            n: values.len(),
            first_block,
            end_block: (first_block + count).min(all.end_block),
        };
        let mut want = vec![0u64; rows.len()];
        let mut r = ByteReader::new(&bytes);
        decode_rows(&mut r, rows, &mut want, DECODE_DEPTH).unwrap();
        let mut s = ByteReader::new(&bytes);
        match blocks::Blocks::open(&mut s, rows, DECODE_DEPTH).unwrap() {
            Some((mut blocks, high)) => {
                let mut got = vec![0u64; rows.len()];
                for block in got.chunks_mut(BLOCK) {
                    blocks.next(block).unwrap();
                }
                prop_assert_eq!(&got, &want);
                prop_assert!(got.iter().all(|&v| v <= high), "bound {high}");
                prop_assert_eq!(s.pos(), r.pos());
            }
            None => prop_assert_eq!(s.pos(), 0),
        }
    }
}

/// Constant, FOR and linear nodes stream, with their bounds; a linear step
/// that wraps, and delta nodes, do not.
#[test]
fn streamed_codecs_and_their_bounds() {
    let open = |values: &[u64], scheme| {
        let bytes = encode(values, Some(scheme));
        let mut r = ByteReader::new(&bytes);
        blocks::Blocks::open(&mut r, Rows::all(values.len()), DECODE_DEPTH)
            .unwrap()
            .map(|(_, high)| high)
    };
    assert_eq!(open(&[7; 3000], IntScheme::Constant), Some(7));
    let ramp: Vec<u64> = (0..3000u64).map(|i| 1000 + 3 * i).collect();
    assert_eq!(open(&ramp, IntScheme::Linear), Some(1000 + 3 * 2999));
    // Bit-packed from 1000 in 4 bits: the bound is the top of the width.
    let small: Vec<u64> = (0..3000u64).map(|i| 1000 + i % 16).collect();
    assert_eq!(open(&small, IntScheme::ForBitpack), Some(1015));
    let falling: Vec<u64> = (0..3000u64).map(|i| 1_000_000 - 3 * i).collect();
    assert_eq!(open(&falling, IntScheme::Linear), None);
    assert_eq!(open(&ramp, IntScheme::Delta), None);
}

#[test]
fn regular_series_become_a_step_and_constant_residuals() {
    let values: Vec<u64> = (0..65_536u64)
        .map(|i| SIGN + 1_700_000_000_000 + i * 10_000)
        .collect();
    let bytes = encode(&values, None);
    assert_eq!(bytes[0], id::LINEAR);
    assert_eq!(&bytes[1..9], &10_000u64.to_le_bytes());
    assert_eq!(bytes[9], id::CONSTANT);
    assert!(bytes.len() < 30, "{} bytes", bytes.len());
    // Forced delta coding is as small: a constant delta stream.
    let bytes = encode(&values, Some(IntScheme::Delta));
    assert!(bytes.len() < 80, "{} bytes", bytes.len());
}

#[test]
fn jittered_series_pack_the_jitter_not_twice_its_range() {
    // 10 s steps with jitter in [0, 31] ms: 5 bits against the grid, while
    // deltas span [-31, 31] around the step: 6 bits.
    let mut x = 12345u64;
    let values: Vec<u64> = (0..65_536u64)
        .map(|i| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            SIGN + 1_700_000_000_000 + i * 10_000 + (x >> 59)
        })
        .collect();
    let linear = encode(&values, None);
    assert_eq!(linear[0], id::LINEAR);
    let delta = encode(&values, Some(IntScheme::Delta));
    let bits = |b: &[u8]| b.len() as f64 * 8.0 / values.len() as f64;
    assert!(bits(&linear) < 5.2, "linear {} bits/value", bits(&linear));
    assert!(bits(&delta) > 5.9, "delta {} bits/value", bits(&delta));
    assert_eq!(
        decode_vec(&mut ByteReader::new(&linear), values.len()).unwrap(),
        values
    );
}

#[test]
fn one_outlier_does_not_widen_a_block() {
    let mut values: Vec<u64> = (0..1024u64).map(|i| i % 8).collect();
    values[500] = u64::MAX;
    let bytes = encode(&values, Some(IntScheme::ForBitpack));
    // 3 bits per value + one exception, not 64 bits per value.
    assert!(bytes.len() < 1024 * 3 / 8 + 40, "{} bytes", bytes.len());
    let mut values: Vec<u64> = (0..1024u64).map(|i| 1_000_000 + i % 8).collect();
    values[7] = 0;
    let bytes = encode(&values, Some(IntScheme::ForBitpack));
    assert!(
        bytes.len() < 1024 * 3 / 8 + 40,
        "low outlier: {} bytes",
        bytes.len()
    );
}

#[test]
fn nesting_beyond_the_limit_is_corrupt() {
    // DELTA nodes nested deeper than DECODE_DEPTH.
    let bytes = vec![id::DELTA; 64];
    let err = decode_vec(&mut ByteReader::new(&bytes), 10).unwrap_err();
    assert!(err.is_corrupt());
}
