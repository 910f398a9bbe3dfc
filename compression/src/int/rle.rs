//! Run-length coding.
//!
//! Owns codec `RLE`: a u32 run count, a child node with the run values and a
//! child node with the run lengths. Runs are not cut at block boundaries (a
//! reader wanting one block finds it by a prefix sum over the lengths).
//! Invariant: every length is >= 1 and the lengths sum to exactly `n`.

use super::{decode_node, encode_node, Rows};
use crate::cursor::ByteReader;
use crate::error::CompressionError;

/// (run values, run lengths) of `values`.
pub(crate) fn runs(values: &[u64]) -> (Vec<u64>, Vec<u64>) {
    let mut vals = Vec::new();
    let mut lens = Vec::new();
    let mut iter = values.iter().copied();
    if let Some(first) = iter.next() {
        let mut cur = first;
        let mut len = 1u64;
        for v in iter {
            if v == cur {
                len += 1;
            } else {
                vals.push(cur);
                lens.push(len);
                cur = v;
                len = 1;
            }
        }
        vals.push(cur);
        lens.push(len);
    }
    (vals, lens)
}

/// Number of runs, for cost estimates.
pub(crate) fn run_count(values: &[u64]) -> usize {
    if values.is_empty() {
        return 0;
    }
    1 + values.windows(2).filter(|w| w[0] != w[1]).count()
}

pub(crate) fn encode(values: &[u64], depth: u8, out: &mut Vec<u8>) {
    let (vals, lens) = runs(values);
    out.extend_from_slice(&(vals.len() as u32).to_le_bytes());
    encode_node(&vals, None, depth.saturating_sub(1), out);
    encode_node(&lens, None, depth.saturating_sub(1), out);
}

/// Reads and validates the runs of a node holding `n` values.
pub(crate) fn read_runs(
    r: &mut ByteReader,
    n: usize,
    depth: u8,
) -> Result<(Vec<u64>, Vec<u64>), CompressionError> {
    let n_runs = r.count(n, "RLE run count")?;
    if n_runs == 0 && n > 0 {
        return Err(r.err("RLE without runs"));
    }
    let mut vals = vec![0u64; n_runs];
    decode_node(r, &mut vals, depth)?;
    let mut lens = vec![0u64; n_runs];
    decode_node(r, &mut lens, depth)?;
    let mut total: u64 = 0;
    for &l in &lens {
        if l == 0 {
            return Err(r.err("RLE run of length 0"));
        }
        total = total.saturating_add(l);
    }
    if total != n as u64 {
        return Err(r.err("RLE run lengths do not sum to the value count"));
    }
    Ok((vals, lens))
}

/// The pieces of the runs that fall in rows `start..end`: (value, rows
/// relative to `start`), in order.
pub(crate) fn pieces<'a>(
    vals: &'a [u64],
    lens: &'a [u64],
    start: usize,
    end: usize,
) -> impl Iterator<Item = (u64, std::ops::Range<usize>)> + 'a {
    let mut at = 0usize;
    vals.iter()
        .zip(lens)
        .map_while(move |(&v, &l)| {
            if at >= end {
                return None;
            }
            let run = at..at + l as usize;
            at = run.end;
            Some((v, run))
        })
        .filter_map(move |(v, run)| {
            let (lo, hi) = (run.start.max(start), run.end.min(end));
            (lo < hi).then(|| (v, lo - start..hi - start))
        })
}

/// Decodes the blocks `rows` into `out`. Hot path: one `fill` per run piece.
pub(crate) fn decode(
    r: &mut ByteReader,
    rows: Rows,
    out: &mut [u64],
    depth: u8,
) -> Result<(), CompressionError> {
    let (vals, lens) = read_runs(r, rows.n, depth)?;
    if rows.is_all() {
        fill_runs(&vals, &lens, out);
        return Ok(());
    }
    for (v, piece) in pieces(&vals, &lens, rows.start(), rows.end()) {
        out[piece].fill(v);
    }
    Ok(())
}

/// Writes every run into `out`, whose length is the sum of `lens`
/// (`read_runs` checked it). Short runs are the common case of delta-coded
/// residuals: each run first stores `SHORT` copies unconditionally (the
/// next run overwrites the excess), so most runs cost one vector store
/// instead of a `memset` call.
fn fill_runs(vals: &[u64], lens: &[u64], out: &mut [u64]) {
    const SHORT: usize = 4;
    let mut at = 0usize;
    for (&v, &l) in vals.iter().zip(lens) {
        let end = at + l as usize;
        if let Some(head) = out.get_mut(at..at + SHORT) {
            head.fill(v);
            if end > at + SHORT {
                out[at + SHORT..end].fill(v);
            }
        } else {
            out[at..end].fill(v);
        }
        at = end;
    }
}

/// Decodes the blocks `rows` of a boolean RLE node straight into a bitmap
/// (value != 0 is true). Hot path: one word-level `append_n` per run piece.
pub(crate) fn decode_bools(
    r: &mut ByteReader,
    rows: Rows,
    out: &mut arrow_buffer::BooleanBufferBuilder,
    depth: u8,
) -> Result<(), CompressionError> {
    let (vals, lens) = read_runs(r, rows.n, depth)?;
    for (v, piece) in pieces(&vals, &lens, rows.start(), rows.end()) {
        out.append_n(piece.len(), v != 0);
    }
    Ok(())
}
