//! Round trips of every type and every codec, plus edge cases.

use std::sync::Arc;

use arrow_array::*;
use arrow_schema::{DataType, TimeUnit};
use proptest::prelude::*;

use super::model::*;
use crate::{chunk_stats, decode_array, encode_array, Codec, CompressionError, EncodeOptions};

const INT_CODECS: [Option<Codec>; 10] = [
    None,
    Some(Codec::Plain),
    Some(Codec::Constant),
    Some(Codec::ForBitpack),
    Some(Codec::Delta),
    Some(Codec::DeltaOfDelta),
    Some(Codec::Linear),
    Some(Codec::Rle),
    Some(Codec::Patched),
    Some(Codec::Flips),
];
const FLOAT_CODECS: [Option<Codec>; 7] = [
    None,
    Some(Codec::Plain),
    Some(Codec::Alp),
    Some(Codec::AlpUlp),
    Some(Codec::Xor),
    Some(Codec::FloatBits),
    Some(Codec::Constant),
];
const STRING_CODECS: [Option<Codec>; 4] = [
    None,
    Some(Codec::Dictionary),
    Some(Codec::PlainBytes),
    Some(Codec::Pattern),
];

fn options(codec: Option<Codec>, zstd: u8) -> EncodeOptions {
    EncodeOptions {
        codec,
        zstd_level: (zstd == 1).then_some(1),
        disable_zstd: zstd == 2,
    }
}

/// Encodes, decodes, compares; checks header stats. Returns the blob (None if the codec does not apply).
pub(crate) fn round_trip(a: &dyn Array, opts: &EncodeOptions) -> Option<Vec<u8>> {
    let blob = match encode_array(a, opts) {
        Ok(b) => b,
        Err(CompressionError::CodecNotApplicable { .. }) => return None,
        Err(e) => panic!("encode failed: {e}"),
    };
    let back = decode_array(&blob, a.data_type()).unwrap();
    assert_same(a, back.as_ref());
    let stats = chunk_stats(&blob).unwrap();
    let reference = reference_aggregate(a);
    assert_eq!(stats.row_count, a.len());
    assert_eq!(stats.null_count, a.null_count());
    assert!(
        same_scalar(&stats.min, &reference.min),
        "{:?} vs {:?}",
        stats.min,
        reference.min
    );
    assert!(
        same_scalar(&stats.max, &reference.max),
        "{:?} vs {:?}",
        stats.max,
        reference.max
    );
    Some(blob)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn integers_round_trip(values in int_values(), mode in 0u8..5, seed in any::<u64>(), codec in 0usize..INT_CODECS.len(), zstd in 0u8..3) {
        let valid = validity(values.len(), mode, seed);
        for a in int_arrays(&values, &valid) {
            round_trip(a.as_ref(), &options(INT_CODECS[codec], zstd));
        }
    }

    #[test]
    fn booleans_round_trip(runs in prop::collection::vec((any::<bool>(), prop_oneof![1usize..3, 3usize..200]), 0..40), mode in 0u8..5, seed in any::<u64>(), codec in 0usize..INT_CODECS.len()) {
        let values: Vec<bool> = runs.iter().flat_map(|&(b, n)| std::iter::repeat_n(b, n)).collect();
        let valid = validity(values.len(), mode, seed);
        let a = BooleanArray::from(opt(&values, &valid));
        round_trip(&a, &options(INT_CODECS[codec], 0));
    }

    #[test]
    fn floats_round_trip(values in f64_values(), mode in 0u8..5, seed in any::<u64>(), codec in 0usize..FLOAT_CODECS.len(), zstd in 0u8..3) {
        let valid = validity(values.len(), mode, seed);
        let opts = options(FLOAT_CODECS[codec], zstd);
        round_trip(&Float64Array::from(opt(&values, &valid)), &opts);
        let narrow: Vec<f32> = values.iter().map(|&v| if v.is_nan() { f32::from_bits(0x7fc0_0000 | (v.to_bits() as u32 & 0x3f_ffff)) } else { v as f32 }).collect();
        round_trip(&Float32Array::from(opt(&narrow, &valid)), &opts);
    }

    #[test]
    fn f32_bit_patterns_round_trip(bits in prop::collection::vec(any::<u32>(), 0..300), codec in 0usize..FLOAT_CODECS.len()) {
        let a = Float32Array::from(bits.iter().map(|&b| f32::from_bits(b)).collect::<Vec<_>>());
        round_trip(&a, &options(FLOAT_CODECS[codec], 0));
    }

    #[test]
    fn strings_round_trip(values in string_values(), mode in 0u8..5, seed in any::<u64>(), codec in 0usize..4, zstd in 0u8..3) {
        let valid = validity(values.len(), mode, seed);
        for a in string_arrays(&values, &valid) {
            round_trip(a.as_ref(), &options(STRING_CODECS[codec], zstd));
        }
        // The same rows as a dictionary (entries repeated, out of order,
        // one unused) encode to exactly the same bytes.
        let texts: Option<Vec<&str>> = values.iter().map(|v| std::str::from_utf8(v).ok()).collect();
        if let Some(texts) = texts {
            let plain: StringArray = texts
                .iter()
                .zip(&valid)
                .map(|(v, ok)| ok.then_some(*v))
                .collect();
            let dict = as_dictionary(&plain);
            let opts = options(STRING_CODECS[codec], zstd);
            // (A codec that does not fit is refused for both.)
            prop_assert_eq!(encode_array(&dict, &opts).ok(), encode_array(&plain, &opts).ok());
        }
    }
}

/// `strings` as a dictionary whose entries are its distinct values in
/// reverse order, each twice, after an unused entry.
fn as_dictionary(strings: &StringArray) -> DictionaryArray<types::UInt16Type> {
    let mut distinct: Vec<&str> = strings.iter().flatten().collect();
    distinct.sort_unstable();
    distinct.dedup();
    distinct.reverse();
    let mut entries = vec!["unused"];
    entries.extend(distinct.iter().flat_map(|v| [*v, *v]));
    let keys: UInt16Array = strings
        .iter()
        .enumerate()
        .map(|(row, v)| {
            v.map(|v| (1 + 2 * distinct.iter().position(|d| *d == v).unwrap() + row % 2) as u16)
        })
        .collect();
    DictionaryArray::try_new(keys, Arc::new(StringArray::from(entries))).unwrap()
}

#[test]
fn dictionaries_with_null_or_non_string_entries_are_refused() {
    let keys = UInt16Array::from(vec![0, 1, 0]);
    let with_null = DictionaryArray::try_new(
        keys.clone(),
        Arc::new(StringArray::from(vec![Some("a"), None])),
    )
    .unwrap();
    let ints = DictionaryArray::try_new(keys, Arc::new(Int32Array::from(vec![1, 2]))).unwrap();
    for dict in [&with_null as &dyn Array, &ints] {
        let err = encode_array(dict, &EncodeOptions::default()).unwrap_err();
        assert!(matches!(err, CompressionError::UnsupportedType(_)), "{err}");
    }
}

fn all_types() -> Vec<DataType> {
    vec![
        DataType::Int8,
        DataType::Int16,
        DataType::Int32,
        DataType::Int64,
        DataType::UInt8,
        DataType::UInt16,
        DataType::UInt32,
        DataType::UInt64,
        DataType::Float32,
        DataType::Float64,
        DataType::Timestamp(TimeUnit::Second, None),
        DataType::Timestamp(TimeUnit::Millisecond, Some("+02:00".into())),
        DataType::Timestamp(TimeUnit::Microsecond, None),
        DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
        DataType::Date32,
        DataType::Date64,
        DataType::Boolean,
        DataType::Utf8,
        DataType::LargeUtf8,
        DataType::Binary,
        DataType::LargeBinary,
        DataType::Decimal128(20, 3),
    ]
}

#[test]
fn empty_and_all_null_chunks_round_trip() {
    for dt in all_types() {
        for a in [
            new_empty_array(&dt),
            new_null_array(&dt, 1),
            new_null_array(&dt, 3000),
        ] {
            let blob = round_trip(a.as_ref(), &EncodeOptions::default()).unwrap();
            assert!(blob.len() < 32, "{dt}: {} bytes", blob.len());
            let back = decode_array(&blob, &dt).unwrap();
            assert_eq!(back.data_type(), &dt);
        }
    }
}

#[test]
fn single_values_and_extremes_round_trip() {
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![i64::MIN])),
        Arc::new(Int64Array::from(vec![
            i64::MIN,
            i64::MAX,
            i64::MIN,
            0,
            i64::MAX,
        ])),
        Arc::new(UInt64Array::from(vec![u64::MAX, 0, u64::MAX, 1])),
        Arc::new(Int8Array::from(vec![i8::MIN, i8::MAX])),
        Arc::new(Float64Array::from(vec![
            f64::from_bits(0x7ff0_0000_0000_0002),
            -0.0,
            0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::from_bits(1),
            f64::NAN,
        ])),
        Arc::new(Float32Array::from(vec![
            f32::from_bits(0x7f80_0001),
            -0.0,
            f32::from_bits(1),
            f32::NEG_INFINITY,
        ])),
        Arc::new(
            Decimal128Array::from(vec![i128::MIN, i128::MAX, 0])
                .with_precision_and_scale(38, 0)
                .unwrap(),
        ),
        Arc::new(StringArray::from(vec![""])),
        Arc::new(BooleanArray::from(vec![true])),
    ];
    for a in arrays {
        for codec in INT_CODECS.iter().chain(&FLOAT_CODECS).chain(&STRING_CODECS) {
            round_trip(a.as_ref(), &options(*codec, 0));
        }
    }
}

#[test]
fn huge_and_negative_deltas_round_trip() {
    let v: Vec<i64> = (0..5000)
        .map(|i| {
            if i % 2 == 0 {
                i64::MAX - i
            } else {
                i64::MIN + i
            }
        })
        .collect();
    let a = Int64Array::from(v);
    for codec in INT_CODECS {
        round_trip(&a, &options(codec, 0));
    }
    let down: Vec<i64> = (0..5000).map(|i| 1_000_000 - i * 1_000_003).collect();
    let a = Int64Array::from(down);
    for codec in INT_CODECS {
        round_trip(&a, &options(codec, 0));
    }
}

#[test]
fn timezone_comes_from_the_requested_type() {
    let a = TimestampMillisecondArray::from(vec![1, 2, 3]).with_timezone("+01:00");
    let blob = encode_array(&a, &EncodeOptions::default()).unwrap();
    let dt = DataType::Timestamp(TimeUnit::Millisecond, Some("Europe/Paris".into()));
    assert_eq!(decode_array(&blob, &dt).unwrap().data_type(), &dt);
}

#[test]
fn forced_pattern_on_rows_without_one_template_is_refused() {
    // Different punctuation, and a row with no letters or digits at all.
    for rows in [
        vec!["req-1", "req.2"],
        vec!["a-1", "--"],
        vec!["a-1", "a-1-2"],
    ] {
        let a = arrow_array::StringArray::from(rows.clone());
        match encode_array(&a, &options(Some(Codec::Pattern), 0)) {
            Err(CompressionError::CodecNotApplicable {
                codec, data_type, ..
            }) => {
                assert_eq!(codec, Codec::Pattern);
                assert_eq!(data_type, DataType::Utf8);
            }
            other => panic!("{rows:?}: {other:?}"),
        }
        // Left to choose, the same rows encode and round trip.
        round_trip(&a, &options(None, 0)).unwrap();
    }
}

#[test]
fn type_mismatches_are_errors() {
    let blob = encode_array(&Int32Array::from(vec![1, 2]), &EncodeOptions::default()).unwrap();
    assert!(matches!(
        decode_array(&blob, &DataType::Int64),
        Err(CompressionError::TypeMismatch { .. })
    ));
    let d = Decimal128Array::from(vec![1])
        .with_precision_and_scale(10, 2)
        .unwrap();
    let blob = encode_array(&d, &EncodeOptions::default()).unwrap();
    assert!(decode_array(&blob, &DataType::Decimal128(10, 3)).is_err());
    let ts = TimestampSecondArray::from(vec![1]);
    let blob = encode_array(&ts, &EncodeOptions::default()).unwrap();
    assert!(decode_array(&blob, &DataType::Timestamp(TimeUnit::Millisecond, None)).is_err());
}

#[test]
fn unsupported_types_and_oversized_chunks_are_errors() {
    let a = new_null_array(&DataType::Float16, 3);
    assert!(matches!(
        encode_array(a.as_ref(), &EncodeOptions::default()),
        Err(CompressionError::UnsupportedType(_))
    ));
    let big = Int64Array::from(vec![0; crate::MAX_CHUNK_ROWS + 1]);
    assert!(matches!(
        encode_array(&big, &EncodeOptions::default()),
        Err(CompressionError::TooManyRows { .. })
    ));
}

#[test]
fn sliced_arrays_round_trip() {
    let a = Int64Array::from(
        (0..3000)
            .map(|i| if i % 5 == 0 { None } else { Some(i * 3) })
            .collect::<Vec<_>>(),
    );
    round_trip(&a.slice(7, 2000), &EncodeOptions::default());
    let s = StringArray::from(
        (0..3000)
            .map(|i| format!("v{}", i % 17))
            .collect::<Vec<_>>(),
    );
    round_trip(&s.slice(11, 1500), &EncodeOptions::default());
}

/// Dictionary decoding trusts entries it validated, so a damaged chunk that
/// claims Utf8 over binary entries must still be rejected when an entry is not UTF-8 on its own,
/// even if the concatenated rows would form valid UTF-8 ("a\xc3" + "\xa9b").
#[test]
fn binary_dictionaries_that_split_a_character_are_not_utf8() {
    let split: Vec<&[u8]> = [b"a\xc3".as_slice(), b"\xa9b".as_slice()].repeat(50);
    let whole: Vec<&[u8]> = [b"a\xc3\xa9".as_slice(), b"b".as_slice()].repeat(50);
    for (rows, utf8) in [(split, false), (whole, true)] {
        let a = BinaryArray::from(rows);
        let mut blob = encode_array(&a, &options(Some(Codec::Dictionary), 2)).unwrap();
        // Byte 3 of the header is the type tag: relabel the chunk as Utf8.
        let utf8_tag =
            encode_array(&StringArray::from(vec!["x"]), &EncodeOptions::default()).unwrap()[3];
        blob[3] = utf8_tag;
        let back = decode_array(&blob, &DataType::Utf8);
        assert_eq!(back.is_ok(), utf8, "{back:?}");
        if let Ok(back) = back {
            assert_eq!(
                arrow_array::cast::AsArray::as_string::<i32>(&back).value(0),
                "a\u{e9}"
            );
        }
    }
}
