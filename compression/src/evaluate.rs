//! Predicate evaluation on encoded chunks.
//!
//! Owns `evaluate`: a predicate becomes key ranges once (see `predicate`).
//! When the chunk has a block index, blocks whose bounds lie entirely inside
//! or outside the ranges are decided without decoding and only the other
//! blocks are decoded. Otherwise integer-like columns are scanned through the codec fast paths
//! (constant, RLE, FOR blocks), dictionary strings evaluate the predicate
//! once per dictionary entry and then scan the codes, and floats, plain
//! strings and wide decimals decode and compare. NULL rows are false.
//! Invariant: the result equals the predicate applied to `decode_array`'s output.

use std::ops::Range;

use arrow_buffer::{BooleanBuffer, BooleanBufferBuilder};

use crate::column::{
    decode::{block_rows, decode_decimals},
    open, read_validity, OpenChunk,
};
use crate::cursor::ByteReader;
use crate::error::CompressionError;
use crate::format::Kind;
use crate::int::{self, scan, Rows, DECODE_DEPTH};
use crate::predicate::{
    bytes_match, check_bytes_predicate, float_key, int_ranges, key_ranges, Domain, KeyRanges,
    Predicate,
};
use crate::string::{self, dict};

/// Evaluate a comparison predicate on encoded data; one bit per row, NULL rows are false.
pub fn evaluate(bytes: &[u8], predicate: &Predicate) -> Result<BooleanBuffer, CompressionError> {
    evaluate_open(&open(bytes)?, predicate, None)
}

/// Evaluate a predicate on an Arrow array of integers, dates, timestamps or
/// floats (values not encoded, such as memtable rows) with the semantics of
/// [`evaluate`]: the same key ranges on the same keys, so a row gets the
/// same bit whether it is still in memory or already in a chunk.
pub fn evaluate_array(
    array: &dyn arrow_array::Array,
    predicate: &Predicate,
) -> Result<BooleanBuffer, CompressionError> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float32Type, Float64Type};
    use arrow_schema::DataType;
    let column = format!("{}", array.data_type());
    let (keys, domain) = match array.data_type() {
        DataType::Float64 => {
            let v = array.as_primitive::<Float64Type>().values();
            (
                v.iter().map(|f| float_key(f.to_bits())).collect(),
                Domain::Float,
            )
        }
        DataType::Float32 => {
            let v = array.as_primitive::<Float32Type>().values();
            let widened = v.iter().map(|f| float_key(f64::from(*f).to_bits()));
            (widened.collect(), Domain::Float)
        }
        _ => match crate::column::encode::int_keys(array) {
            Some((keys, true)) => (keys, Domain::Signed),
            Some((keys, false)) => (keys, Domain::Unsigned),
            None => return Err(CompressionError::UnsupportedType(array.data_type().clone())),
        },
    };
    let ranges = key_ranges(predicate, domain, &column)?;
    let mut bits = BooleanBufferBuilder::new(keys.len());
    crate::int::for_::append_matches(&ranges, &keys, &mut bits);
    let bits = bits.finish();
    Ok(match array.logical_nulls() {
        Some(nulls) => &bits & nulls.inner(),
        None => bits,
    })
}

/// Like [`evaluate`] for the 1024-row blocks `blocks` only (rows
/// `blocks.start * 1024 .. min(blocks.end * 1024, row_count)`): equals
/// `evaluate(..).slice(..)`, deciding or decoding only those blocks.
pub fn evaluate_blocks(
    bytes: &[u8],
    predicate: &Predicate,
    blocks: Range<usize>,
) -> Result<BooleanBuffer, CompressionError> {
    evaluate_open(&open(bytes)?, predicate, Some(blocks))
}

pub(crate) fn evaluate_open(
    chunk: &OpenChunk<'_>,
    predicate: &Predicate,
    blocks: Option<Range<usize>>,
) -> Result<BooleanBuffer, CompressionError> {
    evaluate_prepared(chunk, &prepare(chunk, predicate)?, blocks)
}

/// A predicate prepared for one chunk: its key ranges and the decision of
/// every block from the block index, computed once for many
/// [`crate::OpenedChunk::evaluate_prepared`] calls on parts of that chunk.
#[derive(Debug, Clone)]
pub struct PreparedPredicate {
    predicate: Predicate,
    column: String,
    ranges: KeyRanges,
    decisions: Vec<Decision>,
    /// Rows of the chunk it was prepared for (checked on use).
    rows: usize,
}

impl PreparedPredicate {
    /// False when the block index shows that no row of 1024-row block
    /// `block` matches (true when it cannot tell).
    pub fn may_match_block(&self, block: usize) -> bool {
        self.decisions.get(block) != Some(&Decision::None)
    }
}

pub(crate) fn prepare(
    chunk: &OpenChunk<'_>,
    predicate: &Predicate,
) -> Result<PreparedPredicate, CompressionError> {
    let h = &chunk.header;
    let column = format!("{:?}", h.tag);
    let kind = h.tag.kind();
    let domain = match kind {
        Kind::Signed | Kind::Decimal => Some(Domain::Signed),
        Kind::Unsigned => Some(Domain::Unsigned),
        Kind::Float(_) => Some(Domain::Float),
        Kind::Bool => Some(Domain::Bool),
        Kind::Bytes => None,
    };
    let ranges = match domain {
        Some(d) => key_ranges(predicate, d, &column)?,
        None => {
            check_bytes_predicate(predicate, &column)?;
            KeyRanges::from_flags(&[])
        }
    };
    let decisions = match &h.block_index {
        Some(index) if h.has_body() && kind != Kind::Bytes && kind != Kind::Bool => {
            block_decisions(&chunk.bytes[index.clone()], h.rows, &ranges)?
        }
        _ => Vec::new(),
    };
    Ok(PreparedPredicate {
        predicate: predicate.clone(),
        column,
        ranges,
        decisions,
        rows: h.rows,
    })
}

pub(crate) fn evaluate_prepared(
    chunk: &OpenChunk<'_>,
    prepared: &PreparedPredicate,
    blocks: Option<Range<usize>>,
) -> Result<BooleanBuffer, CompressionError> {
    let h = &chunk.header;
    if prepared.rows != h.rows {
        return Err(CompressionError::InvalidPredicate {
            column: prepared.column.clone(),
            reason: "prepared for another chunk",
        });
    }
    let (ranges, decisions) = (&prepared.ranges, &prepared.decisions);
    let kind = h.tag.kind();
    let n = h.rows;
    let rows = block_rows(h, blocks)?;
    if !h.has_body() || rows.len() == 0 {
        return Ok(BooleanBuffer::new_unset(rows.len()));
    }
    let partial = !rows.is_all();
    let wanted = decisions
        .get(rows.first_block..rows.end_block)
        .unwrap_or_default();
    if wanted.iter().all(|d| *d == Decision::None) && !wanted.is_empty() {
        // Nothing to read: no row of these blocks matches.
        return Ok(BooleanBuffer::new_unset(rows.len()));
    }
    let by_blocks = decisions.iter().any(|d| *d != Decision::Scan);
    if partial && !by_blocks && !matches!(kind, Kind::Signed | Kind::Unsigned | Kind::Float(_)) {
        // Strings, booleans and wide decimals have no cheaper partial path.
        let all = evaluate_prepared(chunk, prepared, None)?;
        return Ok(all.slice(rows.start(), rows.len()));
    }
    let mut r = ByteReader::new(&chunk.body);
    let nulls = read_validity(&mut r, h, rows)?;
    let mut bits = BooleanBufferBuilder::new(rows.len());
    if kind == Kind::Bool {
        // The bitmap decode is faster than any per-block decision.
        let values = int::decode_bool_rows(&mut r, rows)?;
        match (ranges.contains(1), ranges.contains(0)) {
            (true, true) => bits.append_n(rows.len(), true),
            (true, false) => bits.append_buffer(&values),
            (false, true) => bits.append_buffer(&!&values),
            (false, false) => bits.append_n(rows.len(), false),
        }
    } else if by_blocks {
        evaluate_by_blocks(&mut r, rows, kind, ranges, decisions, &mut bits)?;
    } else if partial {
        scan_rows(&mut r, rows, kind, ranges, &mut bits)?;
    } else {
        let (predicate, column) = (&prepared.predicate, &prepared.column);
        evaluate_all(&mut r, n, kind, predicate, ranges, column, &mut bits)?;
    }
    r.expect_end("trailing bytes after the values")?;
    let result = bits.finish();
    if result.len() != rows.len() {
        return Err(r.err("values node holds the wrong number of rows"));
    }
    Ok(match nulls {
        Some(nb) => &result & nb.inner(),
        None => result,
    })
}

/// What the block index says about one block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Decision {
    /// Every non-NULL value matches.
    All,
    /// No value matches (or the block is all NULL).
    None,
    /// The block must be decoded and compared.
    Scan,
}

fn block_decisions(
    index: &[u8],
    n: usize,
    ranges: &KeyRanges,
) -> Result<Vec<Decision>, CompressionError> {
    let mut r = ByteReader::new(index);
    let n_blocks = n.div_ceil(int::BLOCK);
    let mins = int::decode_vec(&mut r, n_blocks)?;
    let maxs = int::decode_vec(&mut r, n_blocks)?;
    r.expect_end("trailing bytes in the block index")?;
    Ok(mins
        .iter()
        .zip(&maxs)
        .map(|(&lo, &hi)| {
            if lo > hi || !ranges.intersects(lo, hi) {
                Decision::None
            } else if ranges.covers(lo, hi) {
                Decision::All
            } else {
                Decision::Scan
            }
        })
        .collect())
}

/// Decodes the values node for `rows` (or only skips it when `rows` is empty)
/// and appends one bit per decoded row.
fn scan_rows(
    r: &mut ByteReader,
    rows: Rows,
    kind: Kind,
    ranges: &KeyRanges,
    bits: &mut BooleanBufferBuilder,
) -> Result<(), CompressionError> {
    let mut values = vec![0u64; rows.len()];
    match kind {
        Kind::Float(w) => {
            crate::float::decode_rows(r, w, rows, &mut values)?;
            float_matches(w, ranges, &mut values, bits);
        }
        _ => {
            int::decode_rows(r, rows, &mut values, DECODE_DEPTH)?;
            crate::int::for_::append_matches(ranges, &values, bits);
        }
    }
    Ok(())
}

/// Appends one bit per decoded float (raw bits of width `w`); a single
/// range is matched by the SIMD kernel on the f64 bits' total-order keys.
fn float_matches(
    w: crate::float::FloatWidth,
    ranges: &KeyRanges,
    values: &mut [u64],
    bits: &mut BooleanBufferBuilder,
) {
    if w != crate::float::FloatWidth::F64 {
        for v in values.iter_mut() {
            *v = w.to_f64(*v).to_bits();
        }
    }
    match ranges.single() {
        Some((lo, hi)) => {
            let (isa, keys) = (crate::simd::best(), crate::simd::Keys::F64Bits);
            crate::simd::append_in_range(isa, keys, values, lo, hi - lo, bits);
        }
        None => bits.append_buffer(&BooleanBuffer::collect_bool(values.len(), |i| {
            ranges.contains(float_key(values[i]))
        })),
    }
}

/// Uses the block index: whole blocks are decided from their bounds, runs of
/// undecided blocks are decoded alone (time-range predicates on a time
/// column decode at most the two boundary blocks).
fn evaluate_by_blocks(
    r: &mut ByteReader,
    rows: Rows,
    kind: Kind,
    ranges: &KeyRanges,
    decisions: &[Decision],
    bits: &mut BooleanBufferBuilder,
) -> Result<(), CompressionError> {
    let n = rows.n;
    let node = r.clone();
    let none = Rows {
        n,
        first_block: 0,
        end_block: 0,
    };
    scan_rows(r, none, kind, ranges, bits)?;
    let end_block = rows.end_block.min(decisions.len());
    let mut b = rows.first_block;
    while b < end_block {
        let len = (n - b * int::BLOCK).min(int::BLOCK);
        match decisions[b] {
            Decision::All => bits.append_n(len, true),
            Decision::None => bits.append_n(len, false),
            Decision::Scan => {
                let end = (b..end_block)
                    .find(|&e| decisions[e] != Decision::Scan)
                    .unwrap_or(end_block);
                let rows = Rows {
                    n,
                    first_block: b,
                    end_block: end,
                };
                scan_rows(&mut node.clone(), rows, kind, ranges, bits)?;
                b = end;
                continue;
            }
        }
        b += 1;
    }
    Ok(())
}

/// Evaluates every row through the codec fast paths.
fn evaluate_all(
    r: &mut ByteReader,
    n: usize,
    kind: Kind,
    predicate: &Predicate,
    ranges: &KeyRanges,
    column: &str,
    bits: &mut BooleanBufferBuilder,
) -> Result<(), CompressionError> {
    match kind {
        Kind::Signed | Kind::Unsigned | Kind::Bool => {
            scan::evaluate_node(r, n, ranges, DECODE_DEPTH, bits)?
        }
        Kind::Float(w) => {
            let mut values = vec![0u64; n];
            crate::float::decode_node(r, w, &mut values)?;
            float_matches(w, ranges, &mut values, bits);
        }
        Kind::Decimal => {
            let at = r.pos();
            if r.u8("decimal codec id")? == int::id::I128_SPLIT {
                r.rewind(at);
                let wide = int_ranges(predicate, Domain::Wide, column)?;
                let values = decode_decimals(r, Rows::all(n))?;
                bits.append_buffer(&BooleanBuffer::collect_bool(n, |i| {
                    wide.contains(values[i])
                }));
            } else {
                r.rewind(at);
                scan::evaluate_node(r, n, ranges, DECODE_DEPTH, bits)?;
            }
        }
        Kind::Bytes => evaluate_strings(r, n, predicate, bits)?,
    }
    Ok(())
}

fn evaluate_strings(
    r: &mut ByteReader,
    n: usize,
    predicate: &Predicate,
    bits: &mut BooleanBufferBuilder,
) -> Result<(), CompressionError> {
    let at = r.pos();
    let codec = r.u8("string codec id")?;
    if codec == string::id::PATTERN {
        return string::pattern::evaluate(r, n, predicate, bits);
    }
    if codec == string::id::DICT {
        let d = dict::read_dictionary(r, n)?;
        let flags: Vec<bool> = (0..d.spans.len())
            .map(|c| bytes_match(predicate, d.entry(c)))
            .collect();
        let code_ranges = KeyRanges::from_flags(&flags);
        return scan::evaluate_node(r, n, &code_ranges, DECODE_DEPTH, bits);
    }
    r.rewind(at);
    let s = string::decode_node::<i64>(r, Rows::all(n))?;
    let offs = s.offsets.inner();
    let vals = s.values.as_slice();
    bits.append_buffer(&BooleanBuffer::collect_bool(n, |i| {
        bytes_match(predicate, &vals[offs[i] as usize..offs[i + 1] as usize])
    }));
    Ok(())
}
