//! Dictionary strings: sorted distinct values + bit-packed codes.
//!
//! Owns codec `DICT` (33): `n_dict u32`, the dictionary's lengths (integer
//! node), its bytes (stream, zstd where it pays), then the row codes
//! (integer node, so sorted tags become RLE / constant runs). NULL rows
//! repeat the previous code.
//! Invariant: dictionary entries are sorted and distinct; every code < n_dict.

use arrow_array::{Array, OffsetSizeTrait, StringArray};
use arrow_buffer::{Buffer, OffsetBuffer};
use hashbrown::HashMap;

use super::{checked_total, DecodedStrings, StringRows};
use crate::cursor::ByteReader;
use crate::error::CompressionError;
use crate::int::{self, Rows};
use crate::zstd_stage::{read_stream, write_stream, ZstdPolicy};

/// A chunk's distinct values (in order of first appearance) and the code of
/// each row. Sorting waits for `encode`: a chunk stored plain only needs
/// the count and the bounds.
pub(crate) struct Dictionary<'a> {
    first_seen: Vec<&'a [u8]>,
    /// Per row, the value's index in `first_seen` (NULL rows repeat the
    /// previous row's; leading NULLs take the first valid row's).
    raw_codes: Vec<u32>,
}

impl<'a> Dictionary<'a> {
    pub(crate) fn build(rows: &StringRows<'a>) -> Self {
        let mut ids: HashMap<&'a [u8], u32> = HashMap::new();
        let mut first_seen: Vec<&'a [u8]> = Vec::new();
        let mut raw_codes = Vec::with_capacity(rows.values.len());
        let mut prev = None;
        let mut prev_value: Option<&[u8]> = None;
        for (i, &v) in rows.values.iter().enumerate() {
            if !rows.is_valid(i) {
                raw_codes.push(prev);
                continue;
            }
            // Sorted tags come in runs: a repeat of the last value needs no hash.
            if prev_value == Some(v) {
                raw_codes.push(prev);
                continue;
            }
            prev_value = Some(v);
            let next = first_seen.len() as u32;
            let code = *ids.entry(v).or_insert_with(|| {
                first_seen.push(v);
                next
            });
            raw_codes.push(Some(code));
            prev = Some(code);
        }
        Self::finish(first_seen, raw_codes)
    }

    /// [`Dictionary::build`] for rows that are `entries[keys[row]]`: the
    /// same dictionary, found by looking each key up once instead of
    /// comparing rows (entries with equal strings share a code).
    pub(crate) fn from_keys(
        rows: &StringRows<'a>,
        keys: &[usize],
        entries: &'a StringArray,
    ) -> Self {
        let mut ids: HashMap<&'a [u8], u32> = HashMap::new();
        let mut first_seen: Vec<&'a [u8]> = Vec::new();
        let mut code_of: Vec<Option<u32>> = vec![None; entries.len()];
        let mut raw_codes = Vec::with_capacity(keys.len());
        let mut prev = None;
        for (i, &k) in keys.iter().enumerate() {
            if !rows.is_valid(i) {
                raw_codes.push(prev);
                continue;
            }
            let code = *code_of[k].get_or_insert_with(|| {
                let v = entries.value(k).as_bytes();
                let next = first_seen.len() as u32;
                *ids.entry(v).or_insert_with(|| {
                    first_seen.push(v);
                    next
                })
            });
            raw_codes.push(Some(code));
            prev = Some(code);
        }
        Self::finish(first_seen, raw_codes)
    }

    /// NULL rows before the first valid one take its code.
    fn finish(first_seen: Vec<&'a [u8]>, raw_codes: Vec<Option<u32>>) -> Self {
        let first_code = raw_codes.iter().flatten().next().copied().unwrap_or(0);
        let raw_codes = raw_codes.iter().map(|c| c.unwrap_or(first_code)).collect();
        Dictionary {
            first_seen,
            raw_codes,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.first_seen.len()
    }

    /// The smallest and largest valid value (None when every row is NULL).
    pub(crate) fn bounds(&self) -> Option<(&'a [u8], &'a [u8])> {
        let first = *self.first_seen.first()?;
        Some(
            self.first_seen
                .iter()
                .fold((first, first), |(lo, hi), &v| (lo.min(v), hi.max(v))),
        )
    }

    /// Writes the node (after its codec id): the dictionary sorted so code
    /// order is byte order, then the remapped codes.
    pub(crate) fn encode(
        &self,
        zstd: ZstdPolicy,
        out: &mut Vec<u8>,
    ) -> Result<(), CompressionError> {
        let mut order: Vec<u32> = (0..self.first_seen.len() as u32).collect();
        order.sort_unstable_by_key(|&c| self.first_seen[c as usize]);
        let mut remap = vec![0u64; self.first_seen.len()];
        for (sorted, &c) in order.iter().enumerate() {
            remap[c as usize] = sorted as u64;
        }
        let entries: Vec<&[u8]> = order.iter().map(|&c| self.first_seen[c as usize]).collect();
        let codes: Vec<u64> = self.raw_codes.iter().map(|&c| remap[c as usize]).collect();
        out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        let lengths: Vec<u64> = entries.iter().map(|e| e.len() as u64).collect();
        int::encode_node(&lengths, None, int::ENCODE_DEPTH, out);
        let bytes: Vec<u8> = entries.concat();
        write_stream(&bytes, zstd, out)?;
        int::encode_node(&codes, None, int::ENCODE_DEPTH, out);
        Ok(())
    }
}

/// The parts of a stored dictionary node, validated.
pub(crate) struct StoredDictionary {
    /// Byte range of each entry within `bytes`.
    pub(crate) spans: Vec<(usize, usize)>,
    pub(crate) bytes: Vec<u8>,
}

impl StoredDictionary {
    /// Every entry is valid UTF-8 on its own, so any concatenation of
    /// entries is too, with every entry boundary a char boundary.
    pub(crate) fn is_utf8(&self) -> bool {
        std::str::from_utf8(&self.bytes).is_ok_and(|text| {
            self.spans
                .iter()
                .all(|&(s, e)| text.is_char_boundary(s) && text.is_char_boundary(e))
        })
    }

    pub(crate) fn entry(&self, code: usize) -> &[u8] {
        let (s, e) = self.spans[code];
        &self.bytes[s..e]
    }
}

/// Reads the dictionary part of a node that holds `n` rows.
pub(crate) fn read_dictionary(
    r: &mut ByteReader,
    n: usize,
) -> Result<StoredDictionary, CompressionError> {
    let n_dict = r.count(n, "dictionary size")?;
    let lengths = int::decode_vec(r, n_dict)?;
    let bytes = read_stream(r)?.into_owned();
    let mut spans = Vec::with_capacity(n_dict);
    let mut at = 0usize;
    for &l in &lengths {
        let end = usize::try_from(l)
            .ok()
            .and_then(|l| at.checked_add(l))
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| r.err("dictionary lengths exceed its bytes"))?;
        spans.push((at, end));
        at = end;
    }
    if at != bytes.len() {
        return Err(r.err("dictionary lengths do not match its bytes"));
    }
    Ok(StoredDictionary { spans, bytes })
}

/// Reads the codes of the blocks `rows` and checks them against the dictionary size.
pub(crate) fn read_codes(
    r: &mut ByteReader,
    rows: Rows,
    n_dict: usize,
) -> Result<Vec<u64>, CompressionError> {
    let mut codes = vec![0u64; rows.len()];
    int::decode_rows(r, rows, &mut codes, int::DECODE_DEPTH)?;
    if codes.iter().any(|&c| c >= n_dict as u64) {
        return Err(r.err("dictionary code out of range"));
    }
    Ok(codes)
}

/// Entries up to this long are copied as one fixed-size move (no memcpy call).
const SHORT: usize = 16;

/// Runs of at least this many equal codes are written by doubling copies.
const LONG_RUN: usize = 16;

/// `codes` as runs of one code: (code, rows).
fn code_runs(codes: &[u64]) -> Vec<(u64, usize)> {
    let mut runs = Vec::new();
    let mut rest = codes;
    while let Some(&c) = rest.first() {
        let run = rest.iter().position(|&x| x != c).unwrap_or(rest.len());
        runs.push((c, run));
        rest = &rest[run..];
    }
    runs
}

/// Offsets and bytes of `dict`'s entries for runs of codes.
/// Hot path: a run costs one dictionary lookup; long runs are written by
/// doubling copies, short entries of short runs are moved `SHORT` bytes at
/// a time from a padded copy of the dictionary into a padded output.
fn gather_entries<O: OffsetSizeTrait>(
    r: &ByteReader,
    dict: &StoredDictionary,
    runs: &[(u64, usize)],
    n: usize,
) -> Result<(OffsetBuffer<O>, Vec<u8>), CompressionError> {
    let lens: Vec<u64> = dict.spans.iter().map(|&(s, e)| (e - s) as u64).collect();
    // Checks the total once; the loops below then need no per-value checks.
    let total = checked_total::<O>(
        r,
        runs.iter()
            .map(|&(c, k)| lens[c as usize].saturating_mul(k as u64)),
    )?;
    let mut padded = Vec::with_capacity(dict.bytes.len() + SHORT);
    padded.extend_from_slice(&dict.bytes);
    padded.resize(dict.bytes.len() + SHORT, 0);
    let mut values = super::padded_output(total, SHORT, "dictionary strings")?;
    let mut offsets = Vec::with_capacity(n + 1);
    offsets.push(O::usize_as(0));
    let mut at = 0;
    for &(c, run) in runs {
        let (s, e) = dict.spans[c as usize];
        let len = e - s;
        if run >= LONG_RUN {
            // One copy of the entry, then copies of what is already
            // written, doubling: a few memcpy calls for the whole run.
            values[at..at + len].copy_from_slice(&padded[s..e]);
            let mut done = 1;
            while done < run {
                let more = done.min(run - done);
                values.copy_within(at..at + more * len, at + done * len);
                done += more;
            }
            offsets.extend((1..=run).map(|i| O::usize_as(at + i * len)));
            at += run * len;
        } else if len <= SHORT {
            let src: &[u8; SHORT] = padded[s..s + SHORT].try_into().unwrap();
            for _ in 0..run {
                values[at..at + SHORT].copy_from_slice(src);
                at += len;
                offsets.push(O::usize_as(at));
            }
        } else {
            for _ in 0..run {
                values[at..at + len].copy_from_slice(&padded[s..e]);
                at += len;
                offsets.push(O::usize_as(at));
            }
        }
    }
    debug_assert_eq!(at, total);
    values.truncate(total);
    Ok((super::monotone_offsets(offsets), values))
}

pub(crate) fn decode<O: OffsetSizeTrait>(
    r: &mut ByteReader,
    rows: Rows,
) -> Result<DecodedStrings<O>, CompressionError> {
    let dict = read_dictionary(r, rows.n)?;
    let n_dict = dict.spans.len();
    // Sorted tags store their codes run-length encoded: take the runs as
    // they are instead of expanding a code per row and finding them again.
    let runs = if r.peek_u8() == Some(int::id::RLE) {
        r.u8("integer codec id")?;
        let (vals, lens) = int::rle::read_runs(r, rows.n, int::DECODE_DEPTH - 1)?;
        if vals.iter().any(|&c| c >= n_dict as u64) {
            return Err(r.err("dictionary code out of range"));
        }
        int::rle::pieces(&vals, &lens, rows.start(), rows.end())
            .map(|(c, piece)| (c, piece.len()))
            .collect()
    } else {
        code_runs(&read_codes(r, rows, n_dict)?)
    };
    let (offsets, values) = gather_entries::<O>(r, &dict, &runs, rows.len())?;
    Ok(DecodedStrings {
        offsets,
        values: Buffer::from_vec(values),
        utf8: dict.is_utf8(),
    })
}
