//! Deterministic replay of damaged blobs through every decoder entry point.
//!
//! Valid blobs of every type and codec are truncated at many lengths, have
//! single bits flipped and bytes overwritten; `decode_array`, `chunk_stats`,
//! `evaluate` and `aggregate` must return an error or a well-formed result,
//! never panic. (The same blobs seed the cargo-fuzz corpus.)

use std::sync::Arc;

use arrow_array::*;
use arrow_schema::DataType;

use crate::{
    aggregate, chunk_stats, decode_array, encode_array, evaluate, Codec, EncodeOptions, Predicate,
    Scalar,
};

fn opts(codec: Option<Codec>, zstd: bool) -> EncodeOptions {
    EncodeOptions {
        codec,
        disable_zstd: !zstd,
        zstd_level: None,
    }
}

/// (name, type, blob) for a spread of types, codecs and NULL patterns.
pub(crate) fn sample_blobs() -> Vec<(String, DataType, Vec<u8>)> {
    let n = 1500usize;
    let ints: Vec<Option<i64>> = (0..n as i64)
        .map(|i| {
            if i % 37 == 5 {
                None
            } else {
                Some(1_700_000_000_000 + i * 10_000 + (i * 7919) % 13)
            }
        })
        .collect();
    let runs: Vec<i64> = (0..n as i64).map(|i| (i / 100) * 3 - 20).collect();
    let outliers: Vec<i64> = (0..n as i64)
        .map(|i| if i % 300 == 0 { i64::MIN + i } else { i % 50 })
        .collect();
    let floats: Vec<Option<f64>> = (0..n)
        .map(|i| match i % 50 {
            0 => None,
            1 => Some(f64::from_bits(0x7ff0_0000_0000_0002)),
            2 => Some(-0.0),
            _ => Some((i as f64 * 0.37).sin() * 100.0),
        })
        .collect();
    let decimals: Vec<f64> = (0..n).map(|i| ((i * 7) % 1000) as f64 / 100.0).collect();
    let tags: Vec<Option<String>> = (0..n)
        .map(|i| {
            if i % 41 == 0 {
                None
            } else {
                Some(format!("host_{}", i / 64))
            }
        })
        .collect();
    let unique: Vec<String> = (0..n)
        .map(|i| format!("id-{}-{}", i * 7919 % 1013, i))
        .collect();
    let bools: Vec<Option<bool>> = (0..n)
        .map(|i| {
            if i % 29 == 0 {
                None
            } else {
                Some((i / 90) % 2 == 0)
            }
        })
        .collect();

    let mut cases: Vec<(String, ArrayRef, Option<Codec>, bool)> = Vec::new();
    let int_array: ArrayRef = Arc::new(Int64Array::from(ints));
    for codec in [
        None,
        Some(Codec::Plain),
        Some(Codec::ForBitpack),
        Some(Codec::Delta),
        Some(Codec::DeltaOfDelta),
        Some(Codec::Linear),
        Some(Codec::Rle),
    ] {
        cases.push((format!("int64_{codec:?}"), int_array.clone(), codec, false));
    }
    cases.push((
        "int64_zstd".into(),
        int_array.clone(),
        Some(Codec::Plain),
        true,
    ));
    cases.push((
        "int32_runs".into(),
        Arc::new(Int32Array::from(
            runs.iter().map(|&v| v as i32).collect::<Vec<_>>(),
        )),
        None,
        false,
    ));
    cases.push((
        "uint64_outliers".into(),
        Arc::new(UInt64Array::from(
            outliers.iter().map(|&v| v as u64).collect::<Vec<_>>(),
        )),
        None,
        false,
    ));
    cases.push((
        "int64_outliers".into(),
        Arc::new(Int64Array::from(outliers)),
        Some(Codec::ForBitpack),
        false,
    ));
    cases.push((
        "int64_constant".into(),
        Arc::new(Int64Array::from(vec![42i64; n])),
        Some(Codec::Constant),
        false,
    ));
    let f: ArrayRef = Arc::new(Float64Array::from(floats));
    for codec in [
        None,
        Some(Codec::Plain),
        Some(Codec::Alp),
        Some(Codec::AlpUlp),
        Some(Codec::Xor),
        Some(Codec::FloatBits),
    ] {
        cases.push((format!("float64_{codec:?}"), f.clone(), codec, false));
    }
    cases.push((
        "float32_alp".into(),
        Arc::new(Float32Array::from(
            decimals.iter().map(|&v| v as f32).collect::<Vec<_>>(),
        )),
        Some(Codec::Alp),
        false,
    ));
    cases.push((
        "float32_alp_ulp".into(),
        Arc::new(Float32Array::from(
            decimals
                .iter()
                .map(|&v| (v * 1.1) as f32)
                .collect::<Vec<_>>(),
        )),
        Some(Codec::AlpUlp),
        false,
    ));
    cases.push((
        "float32_xor".into(),
        Arc::new(Float32Array::from(
            decimals.iter().map(|&v| v as f32).collect::<Vec<_>>(),
        )),
        Some(Codec::Xor),
        false,
    ));
    let s: ArrayRef = Arc::new(StringArray::from(tags));
    cases.push((
        "utf8_dict".into(),
        s.clone(),
        Some(Codec::Dictionary),
        false,
    ));
    cases.push((
        "utf8_dict_zstd".into(),
        s.clone(),
        Some(Codec::Dictionary),
        true,
    ));
    cases.push((
        "utf8_plain".into(),
        Arc::new(StringArray::from(unique.clone())),
        Some(Codec::PlainBytes),
        false,
    ));
    cases.push((
        "utf8_pattern".into(),
        Arc::new(StringArray::from(unique.clone())),
        Some(Codec::Pattern),
        true,
    ));
    cases.push((
        "utf8_plain_zstd".into(),
        Arc::new(LargeStringArray::from(unique)),
        Some(Codec::PlainBytes),
        true,
    ));
    cases.push((
        "bool".into(),
        Arc::new(BooleanArray::from(bools.clone())),
        None,
        false,
    ));
    // Runs with isolated flips, as both codecs for them.
    let flipped: Vec<Option<bool>> = bools
        .iter()
        .enumerate()
        .map(|(i, b)| b.map(|b| b ^ (i % 53 == 7)))
        .collect();
    for (name, codec) in [
        ("bool_patched", Codec::Patched),
        ("bool_flips", Codec::Flips),
    ] {
        cases.push((
            name.into(),
            Arc::new(BooleanArray::from(flipped.clone())),
            Some(codec),
            false,
        ));
    }
    cases.push((
        "decimal_wide".into(),
        Arc::new(
            Decimal128Array::from(
                (0..n as i128)
                    .map(|i| i * 10i128.pow(30) + 1)
                    .collect::<Vec<_>>(),
            )
            .with_precision_and_scale(38, 5)
            .unwrap(),
        ),
        None,
        false,
    ));
    cases.push((
        "timestamp_tz".into(),
        Arc::new(TimestampMillisecondArray::from(vec![1i64, 2, 3]).with_timezone("UTC")),
        None,
        false,
    ));
    cases.push((
        "all_null".into(),
        Arc::new(Int64Array::from(vec![None::<i64>; 10])),
        None,
        false,
    ));
    cases
        .into_iter()
        .map(|(name, a, codec, zstd)| {
            let blob = encode_array(a.as_ref(), &opts(codec, zstd)).unwrap();
            (name, a.data_type().clone(), blob)
        })
        .collect()
}

fn predicates(dt: &DataType) -> Vec<Predicate> {
    let s = match dt {
        DataType::Float32 | DataType::Float64 => Scalar::Float(1.5),
        DataType::Boolean => Scalar::Bool(true),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Binary | DataType::LargeBinary => {
            Scalar::Bytes(b"host_3".to_vec())
        }
        _ => Scalar::Int(1_700_000_000_000 + 50_000),
    };
    vec![Predicate::Lt(s.clone()), Predicate::In(vec![s])]
}

/// Runs every entry point on `bytes`; panics only if one of them panics or
/// returns a malformed array.
fn exercise(bytes: &[u8], dt: &DataType) {
    if let Ok(a) = decode_array(bytes, dt) {
        a.to_data()
            .validate_full()
            .expect("decoded array is well formed");
        assert_eq!(a.data_type(), dt);
    }
    for blocks in [0..1, 1..2, 0..2] {
        if let Ok(a) = crate::decode_blocks(bytes, dt, blocks) {
            a.to_data()
                .validate_full()
                .expect("decoded blocks are well formed");
        }
    }
    let stats = chunk_stats(bytes);
    let _ = crate::block_stats(bytes);
    for p in predicates(dt) {
        if let Ok(bits) = evaluate(bytes, &p) {
            assert_eq!(
                bits.len(),
                stats.as_ref().map(|s| s.row_count).unwrap_or(bits.len())
            );
        }
        for blocks in [0..1, 1..2, 0..2] {
            let _ = crate::evaluate_blocks(bytes, &p, blocks);
        }
    }
    let _ = aggregate(bytes);
}

#[test]
fn damaged_blobs_never_panic() {
    for (name, dt, blob) in sample_blobs() {
        // The valid blob itself decodes.
        decode_array(&blob, &dt).unwrap_or_else(|e| panic!("{name}: {e}"));
        let len = blob.len();
        let step = (len / 150).max(1);
        for cut in (0..len).step_by(step).chain(len.saturating_sub(16)..len) {
            exercise(&blob[..cut], &dt);
        }
        let mut damaged = blob.clone();
        for pos in (0..len).step_by(step) {
            let bit = 1u8 << (pos % 8);
            damaged[pos] ^= bit;
            exercise(&damaged, &dt);
            damaged[pos] ^= 0xff;
            exercise(&damaged, &dt);
            damaged[pos] = blob[pos];
        }
        // Garbage after a valid header.
        let mut tail = blob[..len.min(40)].to_vec();
        tail.extend((0..200u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
        exercise(&tail, &dt);
    }
}

#[test]
fn blobs_read_as_every_other_type_never_panic() {
    let types = [
        DataType::Int8,
        DataType::UInt64,
        DataType::Float32,
        DataType::Float64,
        DataType::Boolean,
        DataType::Utf8,
        DataType::Binary,
        DataType::Decimal128(38, 5),
    ];
    for (_, _, blob) in sample_blobs() {
        for dt in &types {
            exercise(&blob, dt);
        }
    }
}

/// Writes the sample blobs as fuzz seeds (run by hand, see README).
#[test]
#[ignore]
fn write_fuzz_seeds() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for target in ["decode_array", "chunk_stats", "evaluate", "aggregate"] {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        for (i, (name, dt, blob)) in sample_blobs().into_iter().enumerate() {
            let mut bytes = Vec::new();
            if target == "decode_array" || target == "evaluate" {
                bytes.push(crate::fuzz_support::type_selector(&dt));
            }
            bytes.extend_from_slice(&blob);
            std::fs::write(dir.join(format!("{i:02}_{name}")), bytes).unwrap();
        }
    }
}

/// Random multi-point mutations of every sample blob (a poor man's fuzzer
/// for machines without cargo-fuzz). Run by hand:
/// `LYNX_SOAK_ITERS=20000 cargo test --release -p lynx-compression random_mutation_soak -- --ignored`
#[test]
#[ignore]
fn random_mutation_soak() {
    let iters: usize = std::env::var("LYNX_SOAK_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for (_, dt, blob) in sample_blobs() {
        for _ in 0..iters {
            let mut m = blob.clone();
            for _ in 0..1 + next() % 8 {
                if m.is_empty() {
                    break;
                }
                let pos = (next() % m.len() as u64) as usize;
                match next() % 6 {
                    0 => m[pos] ^= 1 << (next() % 8),
                    1 => m[pos] = next() as u8,
                    2 => m.insert(pos, next() as u8),
                    3 => {
                        m.remove(pos);
                    }
                    4 => m.truncate(pos),
                    _ => {
                        let end = (pos + 1 + (next() % 16) as usize).min(m.len());
                        let seg = m[pos..end].to_vec();
                        m.splice(pos..pos, seg);
                    }
                }
            }
            exercise(&m, &dt);
        }
    }
}

#[test]
fn header_damage_is_reported_precisely() {
    use crate::CompressionError as E;
    let blob = encode_array(&Int64Array::from(vec![1, 2, 3]), &EncodeOptions::default()).unwrap();
    let dt = DataType::Int64;
    let mut bad_magic = blob.clone();
    bad_magic[0] = b'Q';
    assert!(matches!(
        decode_array(&bad_magic, &dt),
        Err(E::Corrupt { .. })
    ));
    let mut future = blob.clone();
    future[2] = 99;
    assert!(matches!(
        decode_array(&future, &dt),
        Err(E::UnsupportedVersion { version: 99, .. })
    ));
    let mut bad_tag = blob.clone();
    bad_tag[3] = 250;
    assert!(matches!(chunk_stats(&bad_tag), Err(E::Corrupt { .. })));
    let mut bad_flags = blob.clone();
    bad_flags[4] |= 0x80;
    assert!(matches!(chunk_stats(&bad_flags), Err(E::Corrupt { .. })));
    let mut trailing = blob.clone();
    trailing.push(0);
    assert!(matches!(
        decode_array(&trailing, &dt),
        Err(E::Corrupt { .. })
    ));
    assert!(matches!(decode_array(&[], &dt), Err(E::Corrupt { .. })));
    // Row counts above the chunk limit are rejected before any allocation.
    let mut huge = blob;
    huge[5..9].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(chunk_stats(&huge), Err(E::Corrupt { .. })));
}
