//! `evaluate` and `aggregate` against the reference model on decoded values.

use arrow_array::*;
use proptest::prelude::*;

use super::model::*;
use crate::{
    aggregate, decode_array, encode_array, evaluate, evaluate_blocks, open_chunk, Codec,
    EncodeOptions, Scalar,
};

fn check(a: &dyn Array, opts: &EncodeOptions, op: u8, picks: (usize, usize), extra: Scalar) {
    let blob = match encode_array(a, opts) {
        Ok(b) => b,
        Err(_) => return,
    };
    let decoded = decode_array(&blob, a.data_type()).unwrap();
    let p = predicate_for(decoded.as_ref(), op, picks, extra);
    let got = evaluate(&blob, &p).unwrap();
    let want = reference_evaluate(decoded.as_ref(), &p);
    assert_eq!(got.len(), want.len());
    let got: Vec<bool> = got.iter().collect();
    assert_eq!(got, want, "{p:?} on {:?}", a.data_type());
    // The same predicate on the decoded array (rows not yet encoded).
    let dt = a.data_type();
    let on_array = crate::evaluate_array(decoded.as_ref(), &p);
    if dt.is_integer() || dt.is_floating() || dt.is_temporal() {
        let bits: Vec<bool> = on_array.unwrap().iter().collect();
        assert_eq!(bits, want, "{p:?} on a decoded {dt:?} array");
    } else {
        assert!(on_array.is_err(), "{dt:?} has no array evaluation");
    }
    // Any block range equals the same slice of the whole result.
    let n_blocks = a.len().div_ceil(1024);
    let start = picks.0 % (n_blocks + 1);
    let end = start + picks.1 % (n_blocks - start + 1);
    let rows = (start * 1024).min(a.len())..(end * 1024).min(a.len());
    let part: Vec<bool> = evaluate_blocks(&blob, &p, start..end)
        .unwrap()
        .iter()
        .collect();
    assert_eq!(part, want[rows.clone()], "{p:?} blocks {start}..{end}");
    let opened = open_chunk(&blob).unwrap();
    let part: Vec<bool> = opened
        .evaluate_blocks(&p, start..end)
        .unwrap()
        .iter()
        .collect();
    assert_eq!(part, want[rows], "{p:?} opened, blocks {start}..{end}");
    let prepared = opened.prepare(&p).unwrap();
    for (s, e) in [(start, end), (0, n_blocks), (end.saturating_sub(1), end)] {
        let rows = (s * 1024).min(a.len())..(e * 1024).min(a.len());
        let part: Vec<bool> = opened
            .evaluate_prepared(&prepared, s..e)
            .unwrap()
            .iter()
            .collect();
        assert_eq!(part, want[rows], "{p:?} prepared, blocks {s}..{e}");
    }
    // A block ruled out by the block index holds no matching row.
    for b in (0..n_blocks).filter(|b| !prepared.may_match_block(*b)) {
        let rows = b * 1024..((b + 1) * 1024).min(a.len());
        assert!(want[rows].iter().all(|m| !m), "{p:?} block {b} ruled out");
    }
    assert!(evaluate_blocks(&blob, &p, 0..n_blocks + 1).is_err());
    let agg = aggregate(&blob).unwrap();
    let reference = reference_aggregate(decoded.as_ref());
    assert!(same_aggregate(&agg, &reference), "{agg:?} vs {reference:?}");
}

const CODECS: [Option<Codec>; 8] = [
    None,
    Some(Codec::ForBitpack),
    Some(Codec::Rle),
    Some(Codec::Constant),
    Some(Codec::Delta),
    Some(Codec::Patched),
    Some(Codec::Flips),
    Some(Codec::Dictionary),
];

fn opts(codec: usize, zstd: bool) -> EncodeOptions {
    EncodeOptions {
        codec: CODECS[codec],
        disable_zstd: !zstd,
        zstd_level: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn integer_predicates_and_aggregates(values in int_values(), mode in 0u8..5, seed in any::<u64>(), op in 0u8..8, picks in (0usize..5000, 0usize..5000), extra in prop_oneof![any::<i64>().prop_map(|v| Scalar::Int(v as i128)), any::<i128>().prop_map(Scalar::Int), (-1e20f64..1e20).prop_map(Scalar::Float), Just(Scalar::Float(f64::NAN)), Just(Scalar::Float(2.5))], codec in 0usize..6, zstd in any::<bool>()) {
        let valid = validity(values.len(), mode, seed);
        for a in int_arrays(&values, &valid) {
            check(a.as_ref(), &opts(codec, zstd), op, picks, extra.clone());
        }
    }

    #[test]
    fn boolean_predicates_and_aggregates(runs in prop::collection::vec((any::<bool>(), prop_oneof![1usize..3, 3usize..200]), 0..30), mode in 0u8..5, seed in any::<u64>(), op in 0u8..8, picks in (0usize..5000, 0usize..5000), extra in any::<bool>(), codec in 0usize..6) {
        let values: Vec<bool> = runs.iter().flat_map(|&(b, n)| std::iter::repeat_n(b, n)).collect();
        let valid = validity(values.len(), mode, seed);
        check(&BooleanArray::from(opt(&values, &valid)), &opts([0, 1, 2, 3, 5, 6][codec], false), op, picks, Scalar::Bool(extra));
    }

    #[test]
    fn float_predicates_and_aggregates(values in f64_values(), mode in 0u8..5, seed in any::<u64>(), op in 0u8..8, picks in (0usize..5000, 0usize..5000), extra in prop_oneof![any::<f64>().prop_map(Scalar::Float), any::<i64>().prop_map(|v| Scalar::Int(v as i128)), Just(Scalar::Float(-0.0)), Just(Scalar::Float(f64::NAN))]) {
        let valid = validity(values.len(), mode, seed);
        check(&Float64Array::from(opt(&values, &valid)), &EncodeOptions::default(), op, picks, extra.clone());
        let narrow: Vec<f32> = values.iter().map(|&v| v as f32).collect();
        check(&Float32Array::from(opt(&narrow, &valid)), &EncodeOptions::default(), op, picks, extra);
    }

    #[test]
    fn string_predicates_and_aggregates(values in string_values(), mode in 0u8..5, seed in any::<u64>(), op in 0u8..8, picks in (0usize..5000, 0usize..5000), extra in prop::collection::vec(any::<u8>(), 0..8), dict in any::<bool>()) {
        let valid = validity(values.len(), mode, seed);
        let o = EncodeOptions { codec: Some(if dict { Codec::Dictionary } else { Codec::PlainBytes }), ..Default::default() };
        for a in string_arrays(&values, &valid) {
            check(a.as_ref(), &o, op, picks, Scalar::Bytes(extra.clone()));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Probes near stored values (cut short, one byte moved up or down,
    /// extended) decide orderings inside fixed-width fields and literals.
    #[test]
    fn patterned_string_predicates(values in patterned_values(), mode in 0u8..5, seed in any::<u64>(), op in 0u8..8, picks in (0usize..5000, 0usize..5000), cut in 0usize..24, bump in 0usize..24, up in any::<bool>(), tail in prop::collection::vec(any::<u8>(), 0..3), codec in 0usize..2) {
        let valid = validity(values.len(), mode, seed);
        let mut probe = values.get(picks.0 % values.len().max(1)).cloned().unwrap_or_default();
        probe.truncate(cut);
        if let Some(b) = probe.get_mut(bump) {
            *b = if up { b.wrapping_add(1) } else { b.wrapping_sub(1) };
        }
        probe.extend_from_slice(&tail);
        let o = EncodeOptions { codec: [None, Some(Codec::Pattern)][codec], ..Default::default() };
        for a in string_arrays(&values, &valid) {
            check(a.as_ref(), &o, op, picks, Scalar::Bytes(probe.clone()));
        }
    }
}

#[test]
fn patterned_strings_are_stored_as_fields() {
    let values: Vec<String> = (0..5000u64)
        .map(|i| format!("req-{:08x}-{i}", i.wrapping_mul(0x9e37_79b9) as u32))
        .collect();
    let a = StringArray::from(values.clone());
    let blob = encode_array(&a, &EncodeOptions::default()).unwrap();
    // 32 bits of hex and a counter per row: far below the 19 bytes of text.
    assert!(blob.len() < 5000 * 5, "{} bytes", blob.len());
    let back = decode_array(&blob, &arrow_schema::DataType::Utf8).unwrap();
    assert_eq!(back.as_ref(), &a as &dyn Array);
    let p = crate::Predicate::Lt(Scalar::Bytes(b"req-1".to_vec()));
    let got: Vec<bool> = evaluate(&blob, &p).unwrap().iter().collect();
    let want: Vec<bool> = values.iter().map(|v| v.as_str() < "req-1").collect();
    assert_eq!(got, want);
    assert!(got.iter().any(|&m| m) && !got.iter().all(|&m| m));
}

#[test]
fn predicates_of_the_wrong_kind_are_errors() {
    let blob = encode_array(&Int64Array::from(vec![1, 2]), &EncodeOptions::default()).unwrap();
    assert!(evaluate(&blob, &crate::Predicate::Eq(Scalar::Bytes(b"x".to_vec()))).is_err());
    let blob = encode_array(&StringArray::from(vec!["a"]), &EncodeOptions::default()).unwrap();
    assert!(evaluate(&blob, &crate::Predicate::Eq(Scalar::Int(1))).is_err());
}

#[test]
fn float_semantics_follow_total_order() {
    let a = Float64Array::from(vec![-0.0, 0.0, f64::NAN, 1.0, f64::NEG_INFINITY]);
    let blob = encode_array(&a, &EncodeOptions::default()).unwrap();
    let eq_zero: Vec<bool> = evaluate(&blob, &crate::Predicate::Eq(Scalar::Float(0.0)))
        .unwrap()
        .iter()
        .collect();
    assert_eq!(eq_zero, [false, true, false, false, false]);
    let gt_one: Vec<bool> = evaluate(&blob, &crate::Predicate::Gt(Scalar::Float(1.0)))
        .unwrap()
        .iter()
        .collect();
    assert_eq!(gt_one, [false, false, true, false, false]);
}
