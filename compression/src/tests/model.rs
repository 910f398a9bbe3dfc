//! Reference model: generators of arrays, and predicate / aggregate
//! semantics computed naively on decoded Arrow arrays.

use std::cmp::Ordering;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::*;
use arrow_schema::{DataType, TimeUnit};
use proptest::prelude::*;

use crate::{ChunkAggregate, Predicate, Scalar};

/// Integer-ish value sets: random, narrow, regular with jitter, runs, constant, extremes.
pub(crate) fn int_values() -> impl Strategy<Value = Vec<i64>> {
    prop_oneof![
        prop::collection::vec(any::<i64>(), 0..200),
        prop::collection::vec(-100i64..100, 0..2500),
        (any::<i64>(), -1000i64..1000, 0usize..2500, any::<u64>()).prop_map(
            |(start, step, n, seed)| {
                let mut x = seed | 1;
                (0..n)
                    .map(|i| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let jitter = if seed % 3 == 0 { (x % 7) as i64 - 3 } else { 0 };
                        start
                            .wrapping_add(step.wrapping_mul(i as i64))
                            .wrapping_add(jitter)
                    })
                    .collect()
            }
        ),
        prop::collection::vec((any::<i64>(), 1usize..300), 0..20).prop_map(|runs| runs
            .into_iter()
            .flat_map(|(v, n)| std::iter::repeat_n(v, n))
            .collect()),
        (any::<i64>(), 0usize..2000).prop_map(|(v, n)| vec![v; n]),
        prop::collection::vec(
            prop::sample::select(vec![i64::MIN, i64::MAX, 0, -1, 1, i64::MIN + 1]),
            0..300
        ),
        // Long runs with isolated spikes (patched runs).
        (
            prop::collection::vec((-5i64..5, 3usize..300), 1..20),
            prop::collection::vec((any::<usize>(), any::<i64>()), 0..30)
        )
            .prop_map(|(runs, spikes)| {
                let mut v: Vec<i64> = runs
                    .into_iter()
                    .flat_map(|(x, n)| std::iter::repeat_n(x, n))
                    .collect();
                let len = v.len();
                for (at, x) in spikes {
                    v[at % len] = x;
                }
                v
            }),
        // Mostly narrow with a few outliers (patched exceptions).
        (
            prop::collection::vec(0i64..50, 0..2500),
            prop::collection::vec(any::<i64>(), 0..5)
        )
            .prop_map(|(mut v, o)| {
                let len = v.len();
                for (i, x) in o.into_iter().enumerate() {
                    if len > 0 {
                        v[(i * 997) % len] = x;
                    }
                }
                v
            }),
    ]
}

/// A validity pattern for `n` rows: none, scattered, all NULL, leading half, runs.
pub(crate) fn validity(n: usize, mode: u8, seed: u64) -> Vec<bool> {
    (0..n)
        .map(|i| match mode % 5 {
            0 => true,
            1 => !(i as u64)
                .wrapping_mul(seed | 1)
                .wrapping_add(seed)
                .is_multiple_of(7),
            2 => false,
            3 => i >= n / 2,
            _ => (i / 100) % 2 == 0,
        })
        .collect()
}

pub(crate) fn opt<T: Copy>(values: &[T], valid: &[bool]) -> Vec<Option<T>> {
    values
        .iter()
        .zip(valid)
        .map(|(v, ok)| ok.then_some(*v))
        .collect()
}

/// Every integer-like type built from i64 values.
pub(crate) fn int_arrays(values: &[i64], valid: &[bool]) -> Vec<ArrayRef> {
    let o = |f: &dyn Fn(i64) -> i64| opt(&values.iter().map(|&v| f(v)).collect::<Vec<_>>(), valid);
    let id = |v: i64| v;
    vec![
        Arc::new(Int8Array::from(
            o(&id)
                .into_iter()
                .map(|v| v.map(|v| v as i8))
                .collect::<Vec<_>>(),
        )),
        Arc::new(Int16Array::from(
            o(&id)
                .into_iter()
                .map(|v| v.map(|v| v as i16))
                .collect::<Vec<_>>(),
        )),
        Arc::new(Int32Array::from(
            o(&id)
                .into_iter()
                .map(|v| v.map(|v| v as i32))
                .collect::<Vec<_>>(),
        )),
        Arc::new(Int64Array::from(o(&id))),
        Arc::new(UInt8Array::from(
            o(&id)
                .into_iter()
                .map(|v| v.map(|v| v as u8))
                .collect::<Vec<_>>(),
        )),
        Arc::new(UInt16Array::from(
            o(&id)
                .into_iter()
                .map(|v| v.map(|v| v as u16))
                .collect::<Vec<_>>(),
        )),
        Arc::new(UInt32Array::from(
            o(&id)
                .into_iter()
                .map(|v| v.map(|v| v as u32))
                .collect::<Vec<_>>(),
        )),
        Arc::new(UInt64Array::from(
            o(&id)
                .into_iter()
                .map(|v| v.map(|v| v as u64))
                .collect::<Vec<_>>(),
        )),
        Arc::new(TimestampMillisecondArray::from(o(&id)).with_timezone("+01:00")),
        Arc::new(TimestampNanosecondArray::from(o(&id))),
        Arc::new(TimestampSecondArray::from(o(&id))),
        Arc::new(TimestampMicrosecondArray::from(o(&id)).with_timezone("UTC")),
        Arc::new(Date32Array::from(
            o(&id)
                .into_iter()
                .map(|v| v.map(|v| v as i32))
                .collect::<Vec<_>>(),
        )),
        Arc::new(Date64Array::from(o(&id))),
        Arc::new(
            Decimal128Array::from(
                o(&id)
                    .into_iter()
                    .map(|v| v.map(|v| v as i128))
                    .collect::<Vec<_>>(),
            )
            .with_precision_and_scale(38, 2)
            .unwrap(),
        ),
        Arc::new(
            Decimal128Array::from(
                o(&id)
                    .into_iter()
                    .map(|v| v.map(|v| (v as i128) * 1_000_000_000_000 + 7))
                    .collect::<Vec<_>>(),
            )
            .with_precision_and_scale(38, 10)
            .unwrap(),
        ),
    ]
}

/// Float bit patterns: arbitrary, decimal random walks, counters, specials, constants.
pub(crate) fn f64_values() -> impl Strategy<Value = Vec<f64>> {
    let specials = vec![
        f64::NAN,
        -f64::NAN,
        f64::from_bits(0x7ff0_0000_0000_0002),
        f64::from_bits(0x7ff8_dead_beef_0001),
        f64::from_bits(0xfff0_0000_0000_0001),
        -0.0,
        0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MIN_POSITIVE,
        f64::from_bits(1),
        f64::from_bits(0x8000_0000_0000_0003),
        f64::MAX,
        f64::MIN,
        1.5,
        0.1,
    ];
    prop_oneof![
        prop::collection::vec(any::<u64>().prop_map(f64::from_bits), 0..200),
        (
            0i64..10_000,
            1u32..3,
            prop::collection::vec(-50i64..50, 0..2500)
        )
            .prop_map(|(start, d, steps)| {
                let scale = 10f64.powi(d as i32);
                let mut acc = start;
                steps
                    .iter()
                    .map(|s| {
                        acc += s;
                        acc as f64 / scale
                    })
                    .collect()
            }),
        prop::collection::vec(0u64..1000, 0..2500).prop_map(|incs| {
            let mut acc = 1e6;
            incs.iter()
                .map(|&i| {
                    acc += i as f64;
                    acc
                })
                .collect()
        }),
        prop::collection::vec(prop::sample::select(specials.clone()), 0..300),
        (prop::sample::select(specials), 0usize..1500).prop_map(|(v, n)| vec![v; n]),
        // Decimals with a few specials mixed in (ALP exceptions).
        (
            prop::collection::vec(-100_000i64..100_000, 0..2500),
            any::<u64>()
        )
            .prop_map(|(v, seed)| {
                v.iter()
                    .enumerate()
                    .map(|(i, &x)| {
                        if (i as u64 ^ seed).is_multiple_of(97) {
                            f64::from_bits(0x7ff0_0000_0000_0002)
                        } else {
                            x as f64 / 100.0
                        }
                    })
                    .collect()
            }),
    ]
}

pub(crate) fn string_values() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop_oneof![
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..20), 0..300),
        prop::collection::vec(
            prop::sample::select(vec!["host_1", "host_22", "", "ü-ñ", "host_3"]),
            0..2500
        )
        .prop_map(|v| v.into_iter().map(|s| s.as_bytes().to_vec()).collect()),
        (1usize..50, 1usize..60).prop_map(|(hosts, per)| {
            (0..hosts)
                .flat_map(|h| {
                    // Odd hosts have names longer than one 16-byte move.
                    let prefix = if h % 2 == 1 {
                        "a-longer-host-name-"
                    } else {
                        ""
                    };
                    std::iter::repeat_n(format!("{prefix}host_{h:04}").into_bytes(), per)
                })
                .collect()
        }),
        prop::collection::vec("[a-z0-9_]{0,12}", 0..500)
            .prop_map(|v| v.into_iter().map(String::into_bytes).collect()),
        patterned_values(),
    ]
}

/// Strings that share a template of literals and fields (ids, addresses,
/// padded and hex numbers, short words), sometimes with one row that breaks
/// the template, so both the pattern codec and its fallback are exercised.
pub(crate) fn patterned_values() -> impl Strategy<Value = Vec<Vec<u8>>> {
    (
        prop::collection::vec((0u8..8, 0usize..7, 1usize..17), 1..5),
        0usize..3,
        0usize..3,
        0usize..400,
        any::<u64>(),
        0u8..8,
    )
        .prop_map(|(fields, first, last, n, seed, breaks)| {
            const SEPARATORS: [&str; 7] = ["-", ".", "::", "/", "\u{fc}-", "_", " "];
            const ENDS: [&str; 3] = ["", "x-", "["];
            let mut state = seed | 1;
            let mut next = move || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            };
            let mut rows: Vec<Vec<u8>> = (0..n)
                .map(|i| {
                    let mut s = String::from(ENDS[first]);
                    for (f, &(kind, sep, w)) in fields.iter().enumerate() {
                        let r = next();
                        match kind {
                            0 => s += &(r % 1000).to_string(),
                            1 => s += &(1_000 + i).to_string(),
                            2 => s += &(r >> (r % 64)).to_string(),
                            3 => {
                                s +=
                                    &format!("{:0w$}", r % 10u64.pow(w.min(6) as u32), w = w.min(6))
                            }
                            4 => s += &format!("{:016x}", r)[16 - w..],
                            5 => s += &format!("{:016X}", r)[16 - w..],
                            6 => s += ["ab", "c", "xyz", "Q9"][(r % 4) as usize],
                            _ => s += "const",
                        }
                        if f + 1 < fields.len() {
                            s += SEPARATORS[sep];
                        }
                    }
                    s += ["", "]", "-"][last];
                    s.into_bytes()
                })
                .collect();
            if n > 0 {
                match breaks {
                    1 => rows[n / 2] = b"zz".to_vec(),
                    2 => rows[n - 1] = Vec::new(),
                    _ => {}
                }
            }
            rows
        })
}

/// Utf8 / LargeUtf8 arrays (only when every value is UTF-8) and Binary / LargeBinary.
pub(crate) fn string_arrays(values: &[Vec<u8>], valid: &[bool]) -> Vec<ArrayRef> {
    let bytes: Vec<Option<&[u8]>> = values
        .iter()
        .zip(valid)
        .map(|(v, ok)| ok.then_some(v.as_slice()))
        .collect();
    let mut out: Vec<ArrayRef> = vec![
        Arc::new(BinaryArray::from(bytes.clone())),
        Arc::new(LargeBinaryArray::from(bytes.clone())),
    ];
    if values.iter().all(|v| std::str::from_utf8(v).is_ok()) {
        let strs: Vec<Option<&str>> = bytes
            .iter()
            .map(|b| b.map(|b| std::str::from_utf8(b).unwrap()))
            .collect();
        out.push(Arc::new(StringArray::from(strs.clone())));
        out.push(Arc::new(LargeStringArray::from(strs)));
    }
    out
}

/// Row `i` of a supported array as a Scalar (None when NULL).
pub(crate) fn scalar_at(a: &dyn Array, i: usize) -> Option<Scalar> {
    if a.is_null(i) {
        return None;
    }
    Some(match a.data_type() {
        DataType::Int8 => Scalar::Int(a.as_primitive::<Int8Type>().value(i) as i128),
        DataType::Int16 => Scalar::Int(a.as_primitive::<Int16Type>().value(i) as i128),
        DataType::Int32 => Scalar::Int(a.as_primitive::<Int32Type>().value(i) as i128),
        DataType::Int64 => Scalar::Int(a.as_primitive::<Int64Type>().value(i) as i128),
        DataType::UInt8 => Scalar::Int(a.as_primitive::<UInt8Type>().value(i) as i128),
        DataType::UInt16 => Scalar::Int(a.as_primitive::<UInt16Type>().value(i) as i128),
        DataType::UInt32 => Scalar::Int(a.as_primitive::<UInt32Type>().value(i) as i128),
        DataType::UInt64 => Scalar::Int(a.as_primitive::<UInt64Type>().value(i) as i128),
        DataType::Date32 => Scalar::Int(a.as_primitive::<Date32Type>().value(i) as i128),
        DataType::Date64 => Scalar::Int(a.as_primitive::<Date64Type>().value(i) as i128),
        DataType::Timestamp(TimeUnit::Second, _) => {
            Scalar::Int(a.as_primitive::<TimestampSecondType>().value(i) as i128)
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            Scalar::Int(a.as_primitive::<TimestampMillisecondType>().value(i) as i128)
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            Scalar::Int(a.as_primitive::<TimestampMicrosecondType>().value(i) as i128)
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            Scalar::Int(a.as_primitive::<TimestampNanosecondType>().value(i) as i128)
        }
        DataType::Decimal128(_, _) => Scalar::Int(a.as_primitive::<Decimal128Type>().value(i)),
        DataType::Float32 => Scalar::Float(a.as_primitive::<Float32Type>().value(i) as f64),
        DataType::Float64 => Scalar::Float(a.as_primitive::<Float64Type>().value(i)),
        DataType::Boolean => Scalar::Bool(a.as_boolean().value(i)),
        DataType::Utf8 => Scalar::Bytes(a.as_string::<i32>().value(i).as_bytes().to_vec()),
        DataType::LargeUtf8 => Scalar::Bytes(a.as_string::<i64>().value(i).as_bytes().to_vec()),
        DataType::Binary => Scalar::Bytes(a.as_binary::<i32>().value(i).to_vec()),
        DataType::LargeBinary => Scalar::Bytes(a.as_binary::<i64>().value(i).to_vec()),
        other => panic!("unsupported {other}"),
    })
}

fn cmp_int_float(a: i128, f: f64) -> Ordering {
    if f.is_nan() {
        return if f.is_sign_negative() {
            Ordering::Greater
        } else {
            Ordering::Less
        };
    }
    if f >= 1e38 {
        return Ordering::Less;
    }
    if f <= -1e38 {
        return Ordering::Greater;
    }
    let fl = f.floor();
    match a.cmp(&(fl as i128)) {
        Ordering::Equal if f > fl => Ordering::Less,
        o => o,
    }
}

/// How a column value compares with a literal, or None when they do not compare.
pub(crate) fn compare(v: &Scalar, s: &Scalar) -> Option<Ordering> {
    match (v, s) {
        (Scalar::Int(a), Scalar::Int(b)) => Some(a.cmp(b)),
        (Scalar::Int(a), Scalar::Float(f)) => Some(cmp_int_float(*a, *f)),
        (Scalar::Float(a), Scalar::Float(b)) => Some(a.total_cmp(b)),
        (Scalar::Float(a), Scalar::Int(b)) => Some(a.total_cmp(&(*b as f64))),
        (Scalar::Bytes(a), Scalar::Bytes(b)) => Some(a.cmp(b)),
        (Scalar::Bool(a), Scalar::Bool(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

pub(crate) fn matches(p: &Predicate, v: &Scalar) -> bool {
    let c = |s: &Scalar| compare(v, s).unwrap();
    match p {
        Predicate::Eq(s) => c(s) == Ordering::Equal,
        Predicate::NotEq(s) => c(s) != Ordering::Equal,
        Predicate::Lt(s) => c(s) == Ordering::Less,
        Predicate::LtEq(s) => c(s) != Ordering::Greater,
        Predicate::Gt(s) => c(s) == Ordering::Greater,
        Predicate::GtEq(s) => c(s) != Ordering::Less,
        Predicate::Between(a, b) => c(a) != Ordering::Less && c(b) != Ordering::Greater,
        Predicate::In(list) => list.iter().any(|s| c(s) == Ordering::Equal),
    }
}

pub(crate) fn reference_evaluate(a: &dyn Array, p: &Predicate) -> Vec<bool> {
    (0..a.len())
        .map(|i| scalar_at(a, i).is_some_and(|v| matches(p, &v)))
        .collect()
}

fn total(a: &Scalar, b: &Scalar) -> Ordering {
    match (a, b) {
        (Scalar::Float(x), Scalar::Float(y)) => x.total_cmp(y),
        _ => compare(a, b).unwrap(),
    }
}

pub(crate) fn reference_aggregate(a: &dyn Array) -> ChunkAggregate {
    let vals: Vec<Scalar> = (0..a.len()).filter_map(|i| scalar_at(a, i)).collect();
    let min = vals.iter().min_by(|x, y| total(x, y)).cloned();
    let max = vals.iter().max_by(|x, y| total(x, y)).cloned();
    let sum = if vals.is_empty() {
        None
    } else {
        match &vals[0] {
            Scalar::Int(_) => vals
                .iter()
                .try_fold(0i128, |s, v| match v {
                    Scalar::Int(i) => s.checked_add(*i),
                    _ => None,
                })
                .map(Scalar::Int),
            Scalar::Float(_) => Some(Scalar::Float(vals.iter().fold(0.0, |s, v| match v {
                Scalar::Float(f) => s + f,
                _ => s,
            }))),
            Scalar::Bool(_) => Some(Scalar::Int(
                vals.iter().filter(|v| **v == Scalar::Bool(true)).count() as i128,
            )),
            Scalar::Bytes(_) => None,
        }
    };
    ChunkAggregate {
        row_count: a.len(),
        count: vals.len(),
        sum,
        min,
        max,
    }
}

/// Scalar equality with floats compared by bits.
pub(crate) fn same_scalar(a: &Option<Scalar>, b: &Option<Scalar>) -> bool {
    match (a, b) {
        (Some(Scalar::Float(x)), Some(Scalar::Float(y))) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

pub(crate) fn same_aggregate(a: &ChunkAggregate, b: &ChunkAggregate) -> bool {
    a.row_count == b.row_count
        && a.count == b.count
        && same_scalar(&a.sum, &b.sum)
        && same_scalar(&a.min, &b.min)
        && same_scalar(&a.max, &b.max)
}

/// Asserts two arrays hold the same type, validity and (bit-exact) valid values.
pub(crate) fn assert_same(a: &dyn Array, b: &dyn Array) {
    assert_eq!(a.data_type(), b.data_type());
    assert_eq!(a.len(), b.len());
    for i in 0..a.len() {
        assert_eq!(a.is_null(i), b.is_null(i), "validity of row {i}");
        let (x, y) = (scalar_at(a, i), scalar_at(b, i));
        match (a.data_type(), &x, &y) {
            (DataType::Float32, Some(Scalar::Float(_)), Some(Scalar::Float(_))) => assert_eq!(
                a.as_primitive::<Float32Type>().value(i).to_bits(),
                b.as_primitive::<Float32Type>().value(i).to_bits(),
                "row {i}"
            ),
            _ => assert!(same_scalar(&x, &y), "row {i}: {x:?} != {y:?}"),
        }
    }
}

/// A predicate whose literals come from the array (to hit equalities) or `extra`.
pub(crate) fn predicate_for(
    a: &dyn Array,
    op: u8,
    picks: (usize, usize),
    extra: Scalar,
) -> Predicate {
    let pick = |k: usize| {
        if a.is_empty() || k % 5 == 4 {
            extra.clone()
        } else {
            scalar_at(a, k % a.len()).unwrap_or_else(|| extra.clone())
        }
    };
    let (s1, s2) = (pick(picks.0), pick(picks.1));
    match op % 8 {
        0 => Predicate::Eq(s1),
        1 => Predicate::NotEq(s1),
        2 => Predicate::Lt(s1),
        3 => Predicate::LtEq(s1),
        4 => Predicate::Gt(s1),
        5 => Predicate::GtEq(s1),
        6 => {
            if compare(&s1, &s2) == Some(Ordering::Greater) {
                Predicate::Between(s2, s1)
            } else {
                Predicate::Between(s1, s2)
            }
        }
        _ => Predicate::In(vec![s1, s2, extra]),
    }
}
