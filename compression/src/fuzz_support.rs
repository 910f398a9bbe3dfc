//! Entry points for the cargo-fuzz targets in `fuzz/` (not a stable API).
//!
//! Owns how fuzz input bytes become calls: the first byte selects the Arrow
//! type (and the literal of a predicate), the rest is the blob. Shared with
//! the corpus replay test so seeds and targets agree.

use arrow_array::Array;
use arrow_schema::{DataType, TimeUnit};

use crate::{aggregate, chunk_stats, decode_array, evaluate, Predicate, Scalar};

/// Types a fuzz input can ask for.
pub fn types() -> Vec<DataType> {
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
        DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        DataType::Timestamp(TimeUnit::Nanosecond, None),
        DataType::Date32,
        DataType::Boolean,
        DataType::Utf8,
        DataType::LargeUtf8,
        DataType::Binary,
        DataType::Decimal128(38, 5),
    ]
}

/// The type selected by a fuzz input's first byte.
pub fn selected_type(selector: u8) -> DataType {
    let t = types();
    t[selector as usize % t.len()].clone()
}

/// The selector byte for `dt` (0 if `dt` is not in `types()`).
pub fn type_selector(dt: &DataType) -> u8 {
    types().iter().position(|t| t == dt).unwrap_or(0) as u8
}

/// A predicate with a literal of the kind `dt` compares with; `op` picks the operator.
pub fn predicate(op: u8, dt: &DataType) -> Predicate {
    let s = match dt {
        DataType::Float32 | DataType::Float64 => Scalar::Float(op as f64 / 3.0),
        DataType::Boolean => Scalar::Bool(op.is_multiple_of(2)),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Binary => Scalar::Bytes(vec![b'h', op]),
        _ => Scalar::Int(op as i128 * 1000 - 5),
    };
    match op % 8 {
        0 => Predicate::Eq(s),
        1 => Predicate::NotEq(s),
        2 => Predicate::Lt(s),
        3 => Predicate::LtEq(s),
        4 => Predicate::Gt(s),
        5 => Predicate::GtEq(s),
        6 => Predicate::Between(s.clone(), s),
        _ => Predicate::In(vec![s]),
    }
}

/// decode_array and decode_blocks on `[selector, blob..]`; decoded arrays must be well formed.
pub fn fuzz_decode_array(data: &[u8]) {
    let Some((&sel, blob)) = data.split_first() else {
        return;
    };
    let dt = selected_type(sel);
    if let Ok(a) = decode_array(blob, &dt) {
        a.to_data()
            .validate_full()
            .expect("decoded array is well formed");
        assert_eq!(a.data_type(), &dt);
    }
    let first = sel as usize % 3;
    let blocks = first..first + 1 + sel as usize / 64;
    if let Ok(a) = crate::decode_blocks(blob, &dt, blocks) {
        a.to_data()
            .validate_full()
            .expect("decoded blocks are well formed");
    }
}

/// chunk_stats and block_stats on the whole input.
pub fn fuzz_chunk_stats(data: &[u8]) {
    if let Ok(s) = chunk_stats(data) {
        assert!(s.null_count <= s.row_count);
    }
    if let Ok(Some(blocks)) = crate::block_stats(data) {
        assert!(blocks.len() <= crate::MAX_CHUNK_ROWS.div_ceil(1024));
    }
}

/// evaluate (whole chunk and a block range) on `[selector, blob..]`; the
/// bitmap has one bit per row.
pub fn fuzz_evaluate(data: &[u8]) {
    let Some((&sel, blob)) = data.split_first() else {
        return;
    };
    let dt = selected_type(sel);
    if let Ok(bits) = evaluate(blob, &predicate(sel, &dt)) {
        let rows = chunk_stats(blob)
            .expect("evaluate accepted the header")
            .row_count;
        assert_eq!(bits.len(), rows);
    }
    // A block range picked by the selector: bits for those rows only.
    let blocks = usize::from((sel >> 4) & 3)..usize::from(sel >> 6) + 1;
    if let Ok(bits) = crate::evaluate_blocks(blob, &predicate(sel, &dt), blocks.clone()) {
        let rows = chunk_stats(blob)
            .expect("evaluate accepted the header")
            .row_count;
        let start = (blocks.start * 1024).min(rows);
        assert_eq!(bits.len(), (blocks.end * 1024).min(rows) - start);
    }
}

/// aggregate on the whole input.
pub fn fuzz_aggregate(data: &[u8]) {
    if let Ok(a) = aggregate(data) {
        assert!(a.count <= a.row_count);
    }
}
