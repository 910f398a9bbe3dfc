//! `block_stats` against per-block min/max computed on the original array.

use std::cmp::Ordering;

use arrow_array::*;
use proptest::prelude::*;

use super::model::*;
use crate::{block_stats, encode_array, EncodeOptions, Scalar};

fn check_blocks(a: &dyn Array) {
    let blob = encode_array(a, &EncodeOptions::default()).unwrap();
    let blocks = block_stats(&blob).unwrap();
    let Some(blocks) = blocks else {
        assert!(
            matches!(
                a.data_type(),
                arrow_schema::DataType::Utf8
                    | arrow_schema::DataType::LargeUtf8
                    | arrow_schema::DataType::Binary
                    | arrow_schema::DataType::LargeBinary
                    | arrow_schema::DataType::Decimal128(_, _)
            ) || a.null_count() == a.len()
        );
        return;
    };
    if a.null_count() == a.len() && a.len() > 1024 {
        panic!("all-NULL chunks have no index");
    }
    assert_eq!(blocks.len(), a.len().div_ceil(1024));
    let order = |x: &Scalar, y: &Scalar| match (x, y) {
        (Scalar::Float(p), Scalar::Float(q)) => p.total_cmp(q),
        _ => compare(x, y).unwrap_or(Ordering::Equal),
    };
    for (b, s) in blocks.iter().enumerate() {
        assert_eq!(s.first_row, b * 1024);
        let rows = s.first_row..s.first_row + s.row_count;
        let vals: Vec<Scalar> = rows.filter_map(|i| scalar_at(a, i)).collect();
        let min = vals.iter().min_by(|x, y| order(x, y)).cloned();
        let max = vals.iter().max_by(|x, y| order(x, y)).cloned();
        assert!(
            same_scalar(&s.min, &min),
            "block {b}: {:?} vs {min:?}",
            s.min
        );
        assert!(
            same_scalar(&s.max, &max),
            "block {b}: {:?} vs {max:?}",
            s.max
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn integer_block_bounds_are_exact(values in int_values(), mode in 0u8..5, seed in any::<u64>()) {
        let valid = validity(values.len(), mode, seed);
        for a in int_arrays(&values, &valid) {
            check_blocks(a.as_ref());
        }
    }

    #[test]
    fn float_block_bounds_are_exact(values in f64_values(), mode in 0u8..5, seed in any::<u64>()) {
        let valid = validity(values.len(), mode, seed);
        check_blocks(&Float64Array::from(opt(&values, &valid)));
        let narrow: Vec<f32> = values.iter().map(|&v| v as f32).collect();
        check_blocks(&Float32Array::from(opt(&narrow, &valid)));
    }
}

#[test]
fn regular_time_columns_index_for_free() {
    let a = TimestampMillisecondArray::from_iter_values(
        (0..65_536i64).map(|i| 1_700_000_000_000 + i * 10_000),
    );
    let blob = encode_array(&a, &EncodeOptions::default()).unwrap();
    assert!(blob.len() < 160, "{} bytes", blob.len());
    let blocks = block_stats(&blob).unwrap().unwrap();
    assert_eq!(blocks.len(), 64);
    assert_eq!(
        blocks[3].min,
        Some(Scalar::Int(1_700_000_000_000 + 3 * 1024 * 10_000))
    );
    assert_eq!(
        blocks[3].max,
        Some(Scalar::Int(1_700_000_000_000 + (4 * 1024 - 1) * 10_000))
    );
}

#[test]
fn all_null_blocks_have_no_bounds() {
    let a = Int64Array::from(
        (0..3000)
            .map(|i| {
                if (1024..2048).contains(&i) {
                    None
                } else {
                    Some(i)
                }
            })
            .collect::<Vec<_>>(),
    );
    let blob = encode_array(&a, &EncodeOptions::default()).unwrap();
    let blocks = block_stats(&blob).unwrap().unwrap();
    assert_eq!(blocks[1].min, None);
    assert_eq!(blocks[2].min, Some(Scalar::Int(2048)));
}

fn check_decode_blocks(a: &dyn Array, opts: &EncodeOptions, from: usize, len: usize) {
    let Ok(blob) = encode_array(a, opts) else {
        return;
    };
    let n_blocks = a.len().div_ceil(1024);
    let start = from % (n_blocks + 1);
    let end = (start + len).min(n_blocks);
    let got = crate::decode_blocks(&blob, a.data_type(), start..end).unwrap();
    let first = (start * 1024).min(a.len());
    let last = (end * 1024).min(a.len());
    assert_same(&a.slice(first, last - first), got.as_ref());
    assert!(crate::decode_blocks(&blob, a.data_type(), 0..n_blocks + 1).is_err());
}

const CODECS: [Option<crate::Codec>; 14] = [
    None,
    Some(crate::Codec::Plain),
    Some(crate::Codec::ForBitpack),
    Some(crate::Codec::Delta),
    Some(crate::Codec::DeltaOfDelta),
    Some(crate::Codec::Linear),
    Some(crate::Codec::Rle),
    Some(crate::Codec::Patched),
    Some(crate::Codec::Flips),
    Some(crate::Codec::Alp),
    Some(crate::Codec::AlpUlp),
    Some(crate::Codec::Xor),
    Some(crate::Codec::FloatBits),
    Some(crate::Codec::Dictionary),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn decode_blocks_equals_a_slice(ints in int_values(), floats in f64_values(), strings in string_values(), mode in 0u8..5, seed in any::<u64>(), codec in 0usize..CODECS.len(), from in 0usize..4, len in 0usize..4, zstd in any::<bool>()) {
        let opts = EncodeOptions { codec: CODECS[codec], disable_zstd: !zstd, zstd_level: None };
        let valid = validity(ints.len(), mode, seed);
        for a in int_arrays(&ints, &valid) {
            check_decode_blocks(a.as_ref(), &opts, from, len);
        }
        check_decode_blocks(&BooleanArray::from(ints.iter().map(|v| Some(v % 3 == 0)).collect::<Vec<_>>()), &opts, from, len);
        let valid = validity(floats.len(), mode, seed);
        check_decode_blocks(&Float64Array::from(opt(&floats, &valid)), &opts, from, len);
        let narrow: Vec<f32> = floats.iter().map(|&v| v as f32).collect();
        check_decode_blocks(&Float32Array::from(opt(&narrow, &valid)), &opts, from, len);
        let valid = validity(strings.len(), mode, seed);
        for a in string_arrays(&strings, &valid) {
            check_decode_blocks(a.as_ref(), &opts, from, len);
            for codec in [crate::Codec::PlainBytes, crate::Codec::Pattern] {
                let forced = EncodeOptions { codec: Some(codec), ..opts.clone() };
                check_decode_blocks(a.as_ref(), &forced, from, len);
            }
        }
    }
}

#[test]
fn time_range_predicates_use_the_block_index() {
    let start = 1_700_000_000_000i64;
    let a = TimestampMillisecondArray::from_iter_values((0..65_536i64).map(|i| start + i * 10_000));
    let blob = encode_array(&a, &EncodeOptions::default()).unwrap();
    for (lo, hi) in [
        (5000, 9000),
        (0, 65_535),
        (70_000, 80_000),
        (1023, 1024),
        (-5, 3),
    ] {
        let p = crate::Predicate::Between(
            Scalar::Int((start + lo * 10_000) as i128),
            Scalar::Int((start + hi * 10_000) as i128),
        );
        let got: Vec<bool> = crate::evaluate(&blob, &p).unwrap().iter().collect();
        assert_eq!(got, reference_evaluate(&a, &p), "{lo}..={hi}");
    }
    let g = Float64Array::from_iter_values((0..10_000).map(|i| (i / 7) as f64 * 0.5));
    let blob = encode_array(&g, &EncodeOptions::default()).unwrap();
    for p in [
        crate::Predicate::Lt(Scalar::Float(100.25)),
        crate::Predicate::GtEq(Scalar::Float(300.0)),
        crate::Predicate::Eq(Scalar::Float(2.5)),
    ] {
        let got: Vec<bool> = crate::evaluate(&blob, &p).unwrap().iter().collect();
        assert_eq!(got, reference_evaluate(&g, &p), "{p:?}");
    }
}
