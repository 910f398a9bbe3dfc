//! Comparison predicates and their translation to key ranges.
//!
//! Owns the public `Predicate` / `Scalar` types and their meaning on each
//! column kind. Semantics follow Arrow's comparison kernels: integers compare
//! exactly (a `Float` scalar on an integer column compares mathematically);
//! floats compare by IEEE-754 total order (`f64::total_cmp`: -0.0 < +0.0,
//! NaN equals a NaN of the same bits and sorts above +inf; f32 values are
//! widened to f64 first, an `Int` scalar is converted to the nearest f64);
//! bytes compare lexicographically; `false < true`. NULL rows never match.
//! Invariant: a predicate becomes sorted, disjoint, inclusive ranges of
//! order-preserving keys, so codecs evaluate it without knowing its shape.

use crate::error::CompressionError;
use crate::int::SIGN;

/// A literal compared against column values.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    /// Every integer width, dates, timestamps (i64) and Decimal128 (unscaled).
    Int(i128),
    /// Float32 / Float64.
    Float(f64),
    /// Utf8 / LargeUtf8 / Binary / LargeBinary.
    Bytes(Vec<u8>),
    /// Boolean.
    Bool(bool),
}

/// A comparison of each row with literals; `Between` is inclusive on both ends.
#[derive(Clone, Debug, PartialEq)]
pub enum Predicate {
    Eq(Scalar),
    NotEq(Scalar),
    Lt(Scalar),
    LtEq(Scalar),
    Gt(Scalar),
    GtEq(Scalar),
    Between(Scalar, Scalar),
    In(Vec<Scalar>),
}

/// Order-preserving key of an f64 under total order.
#[inline]
pub(crate) fn float_key(bits: u64) -> u64 {
    if bits & SIGN != 0 {
        !bits
    } else {
        bits | SIGN
    }
}

/// Sorted, disjoint, inclusive ranges.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Ranges<T> {
    ranges: Vec<(T, T)>,
}

/// Ranges over u64 keys.
pub(crate) type KeyRanges = Ranges<u64>;

impl<T: Ord + Copy> Ranges<T> {
    fn normalized(mut ranges: Vec<(T, T)>) -> Self {
        ranges.retain(|r| r.0 <= r.1);
        ranges.sort_unstable();
        let mut merged: Vec<(T, T)> = Vec::with_capacity(ranges.len());
        for r in ranges {
            match merged.last_mut() {
                Some(last) if r.0 <= last.1 => last.1 = last.1.max(r.1),
                _ => merged.push(r),
            }
        }
        Ranges { ranges: merged }
    }

    pub(crate) fn single(&self) -> Option<(T, T)> {
        match self.ranges.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    #[inline]
    pub(crate) fn contains(&self, v: T) -> bool {
        let idx = self.ranges.partition_point(|r| r.0 <= v);
        idx > 0 && v <= self.ranges[idx - 1].1
    }

    /// True when every value in `lo..=hi` is inside one range.
    pub(crate) fn covers(&self, lo: T, hi: T) -> bool {
        self.ranges.iter().any(|r| r.0 <= lo && hi <= r.1)
    }

    /// True when some value in `lo..=hi` is inside a range.
    pub(crate) fn intersects(&self, lo: T, hi: T) -> bool {
        self.ranges.iter().any(|r| r.0 <= hi && lo <= r.1)
    }
}

impl KeyRanges {
    /// The ranges seen from `base`: key `k >= base` matches iff `k - base` matches the result.
    pub(crate) fn shifted_down(&self, base: u64) -> KeyRanges {
        let ranges = self
            .ranges
            .iter()
            .filter(|r| r.1 >= base)
            .map(|r| (r.0.saturating_sub(base), r.1 - base))
            .collect();
        Ranges { ranges }
    }

    /// Ranges over codes from one bool per code (dictionary evaluation).
    pub(crate) fn from_flags(flags: &[bool]) -> KeyRanges {
        let mut ranges = Vec::new();
        let mut start = None;
        for (i, &f) in flags.iter().enumerate() {
            match (f, start) {
                (true, None) => start = Some(i as u64),
                (false, Some(s)) => {
                    ranges.push((s, i as u64 - 1));
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            ranges.push((s, flags.len() as u64 - 1));
        }
        Ranges { ranges }
    }
}

/// How scalars compare against a column kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Domain {
    /// Signed integers mapped to keys by `^ SIGN`, with their value bounds.
    Signed,
    /// Unsigned integers, keys are values.
    Unsigned,
    /// Full-width i128 (decimals that do not fit i64).
    Wide,
    /// Floats, keys by `float_key`.
    Float,
    Bool,
}

/// A scalar as a point on the integer line: exact when floor == ceil.
#[derive(Clone, Copy)]
struct Point {
    floor: i128,
    ceil: i128,
}

fn invalid(column: &str, reason: &'static str) -> CompressionError {
    CompressionError::InvalidPredicate {
        column: column.to_string(),
        reason,
    }
}

fn point(domain: Domain, s: &Scalar, column: &str) -> Result<Point, CompressionError> {
    let exact = |x: i128| Point { floor: x, ceil: x };
    match (domain, s) {
        (Domain::Signed | Domain::Unsigned | Domain::Wide, Scalar::Int(i)) => Ok(exact(*i)),
        (Domain::Signed | Domain::Unsigned | Domain::Wide, Scalar::Float(f)) => {
            let f = if f.is_nan() {
                if f.is_sign_negative() {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                }
            } else {
                *f
            };
            // `as` saturates, so infinities land beyond every column value.
            Ok(Point {
                floor: f.floor() as i128,
                ceil: f.ceil() as i128,
            })
        }
        (Domain::Float, Scalar::Float(f)) => Ok(exact(float_key(f.to_bits()) as i128)),
        (Domain::Float, Scalar::Int(i)) => Ok(exact(float_key((*i as f64).to_bits()) as i128)),
        (Domain::Bool, Scalar::Bool(b)) => Ok(exact(*b as i128)),
        (_, Scalar::Bytes(_)) => Err(invalid(
            column,
            "byte-string literal on a non-string column",
        )),
        (Domain::Bool, _) => Err(invalid(
            column,
            "only boolean literals compare with booleans",
        )),
        (_, Scalar::Bool(_)) => Err(invalid(column, "boolean literal on a numeric column")),
    }
}

fn lt(p: Point) -> Option<(i128, i128)> {
    p.ceil.checked_sub(1).map(|hi| (i128::MIN, hi))
}
fn gt(p: Point) -> Option<(i128, i128)> {
    p.floor.checked_add(1).map(|lo| (lo, i128::MAX))
}
fn eq(p: Point) -> Option<(i128, i128)> {
    (p.floor == p.ceil).then_some((p.floor, p.floor))
}

/// The predicate as ranges on the i128 line of the domain's values (or float keys).
pub(crate) fn int_ranges(
    pred: &Predicate,
    domain: Domain,
    column: &str,
) -> Result<Ranges<i128>, CompressionError> {
    let pt = |s: &Scalar| point(domain, s, column);
    let ranges: Vec<(i128, i128)> = match pred {
        Predicate::Eq(s) => eq(pt(s)?).into_iter().collect(),
        Predicate::NotEq(s) => {
            let p = pt(s)?;
            match eq(p) {
                Some(_) => lt(p).into_iter().chain(gt(p)).collect(),
                None => vec![(i128::MIN, i128::MAX)],
            }
        }
        Predicate::Lt(s) => lt(pt(s)?).into_iter().collect(),
        Predicate::LtEq(s) => vec![(i128::MIN, pt(s)?.floor)],
        Predicate::Gt(s) => gt(pt(s)?).into_iter().collect(),
        Predicate::GtEq(s) => vec![(pt(s)?.ceil, i128::MAX)],
        Predicate::Between(a, b) => vec![(pt(a)?.ceil, pt(b)?.floor)],
        Predicate::In(list) => {
            let mut v = Vec::with_capacity(list.len());
            for s in list {
                v.extend(eq(pt(s)?));
            }
            v
        }
    };
    Ok(Ranges::normalized(ranges))
}

/// The predicate as ranges of u64 keys of the domain.
pub(crate) fn key_ranges(
    pred: &Predicate,
    domain: Domain,
    column: &str,
) -> Result<KeyRanges, CompressionError> {
    let r = int_ranges(pred, domain, column)?;
    let (lo, hi, to_key): (i128, i128, fn(i128) -> u64) = match domain {
        Domain::Signed => (i64::MIN as i128, i64::MAX as i128, |x| {
            (x as i64 as u64) ^ SIGN
        }),
        Domain::Unsigned | Domain::Float => (0, u64::MAX as i128, |x| x as u64),
        Domain::Bool => (0, 1, |x| x as u64),
        Domain::Wide => (0, -1, |x| x as u64),
    };
    let ranges = r
        .ranges
        .iter()
        .filter(|x| x.0 <= hi && x.1 >= lo)
        .map(|x| (to_key(x.0.max(lo)), to_key(x.1.min(hi))))
        .collect();
    Ok(Ranges { ranges })
}

/// Evaluates a predicate on one byte string.
pub(crate) fn bytes_match(pred: &Predicate, v: &[u8]) -> bool {
    fn b(s: &Scalar) -> &[u8] {
        match s {
            Scalar::Bytes(b) => b,
            _ => &[],
        }
    }
    match pred {
        Predicate::Eq(s) => v == b(s),
        Predicate::NotEq(s) => v != b(s),
        Predicate::Lt(s) => v < b(s),
        Predicate::LtEq(s) => v <= b(s),
        Predicate::Gt(s) => v > b(s),
        Predicate::GtEq(s) => v >= b(s),
        Predicate::Between(lo, hi) => b(lo) <= v && v <= b(hi),
        Predicate::In(list) => list.iter().any(|s| v == b(s)),
    }
}

/// Checks that every literal of the predicate is a byte string.
pub(crate) fn check_bytes_predicate(
    pred: &Predicate,
    column: &str,
) -> Result<(), CompressionError> {
    let scalars: Vec<&Scalar> = match pred {
        Predicate::Eq(s)
        | Predicate::NotEq(s)
        | Predicate::Lt(s)
        | Predicate::LtEq(s)
        | Predicate::Gt(s)
        | Predicate::GtEq(s) => vec![s],
        Predicate::Between(a, b) => vec![a, b],
        Predicate::In(list) => list.iter().collect(),
    };
    if scalars.iter().all(|s| matches!(s, Scalar::Bytes(_))) {
        Ok(())
    } else {
        Err(invalid(
            column,
            "string columns compare only with byte-string literals",
        ))
    }
}
