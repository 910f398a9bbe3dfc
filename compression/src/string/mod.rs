//! Codecs for variable-length byte strings (Utf8, LargeUtf8, Binary, LargeBinary).
//!
//! Owns the string node format: codec id 32 (plain: lengths + bytes), 33
//! (dictionary: sorted distinct values + codes) or 34 (pattern: a template
//! of literals with typed fields, see `pattern`). Rows are given as byte
//! slices with a validity mask; each codec fills NULL rows as it likes
//! (plain: empty; dictionary: the previous code, which keeps runs long).
//! Decoding produces Arrow offsets and a value buffer; UTF-8 validity is
//! checked by the column layer when it builds a string array.
//! Invariant: the dictionary is sorted, so code order is byte order.

pub(crate) mod dict;
pub(crate) mod pattern;
pub(crate) mod plain;

use arrow_array::OffsetSizeTrait;
use arrow_buffer::{Buffer, OffsetBuffer, ScalarBuffer};

use crate::cursor::ByteReader;
use crate::error::{corrupt, CompressionError};
use crate::int::Rows;
use crate::zstd_stage::{ZstdPolicy, MAX_DECODED_BYTES};

/// Codec ids of string nodes. Never reuse a retired id.
pub(crate) mod id {
    pub(crate) const PLAIN: u8 = 32;
    pub(crate) const DICT: u8 = 33;
    pub(crate) const PATTERN: u8 = 34;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StringScheme {
    Plain,
    Dictionary,
    Pattern,
}

/// Rows of a string column: values plus validity (None = all valid).
pub(crate) struct StringRows<'a> {
    pub(crate) values: Vec<&'a [u8]>,
    pub(crate) valid: Option<Vec<bool>>,
}

impl StringRows<'_> {
    pub(crate) fn is_valid(&self, i: usize) -> bool {
        self.valid.as_ref().is_none_or(|v| v[i])
    }
}

/// Encodes a string node. Without a forced scheme: a dictionary when at most
/// half the rows are distinct; otherwise the smaller of plain and pattern
/// (tried only when every row follows one template). Returns false, writing
/// nothing, when a forced pattern does not fit the rows.
pub(crate) fn encode_node(
    rows: &StringRows,
    dictionary: &dict::Dictionary,
    forced: Option<StringScheme>,
    zstd: ZstdPolicy,
    out: &mut Vec<u8>,
) -> Result<bool, CompressionError> {
    let at = out.len();
    if forced == Some(StringScheme::Pattern) {
        out.push(id::PATTERN);
        let fits = pattern::encode(rows, zstd, out)?;
        if !fits {
            out.truncate(at);
        }
        return Ok(fits);
    }
    if encode_basic(rows, dictionary, forced, zstd, out)? == StringScheme::Plain && forced.is_none()
    {
        let mut patterned = vec![id::PATTERN];
        if pattern::encode(rows, zstd, &mut patterned)? && patterned.len() < out.len() - at {
            out.truncate(at);
            out.extend_from_slice(&patterned);
        }
    }
    Ok(true)
}

/// Plain or dictionary (forced, or by the number of distinct values in
/// `dictionary`, built from `rows`); the nested string nodes of a pattern
/// are always one of these.
pub(crate) fn encode_basic(
    rows: &StringRows,
    dictionary: &dict::Dictionary,
    forced: Option<StringScheme>,
    zstd: ZstdPolicy,
    out: &mut Vec<u8>,
) -> Result<StringScheme, CompressionError> {
    let scheme = forced.unwrap_or(if dictionary.len() * 2 <= rows.values.len() {
        StringScheme::Dictionary
    } else {
        StringScheme::Plain
    });
    if scheme == StringScheme::Dictionary {
        out.push(id::DICT);
        dictionary.encode(zstd, out)?;
    } else {
        out.push(id::PLAIN);
        plain::encode(rows, zstd, out)?;
    }
    Ok(scheme)
}

/// Decoded strings: Arrow offsets and value bytes.
pub(crate) struct DecodedStrings<O: OffsetSizeTrait> {
    pub(crate) offsets: OffsetBuffer<O>,
    pub(crate) values: Buffer,
    /// Known to be valid UTF-8 split at char boundaries (no need to validate).
    pub(crate) utf8: bool,
}

/// Decodes the blocks `rows` of one node, consuming the whole node. Hot path.
pub(crate) fn decode_node<O: OffsetSizeTrait>(
    r: &mut ByteReader,
    rows: Rows,
) -> Result<DecodedStrings<O>, CompressionError> {
    if r.peek_u8() == Some(id::PATTERN) {
        r.u8("string codec id")?;
        return pattern::decode(r, rows);
    }
    decode_basic(r, rows)
}

/// Decodes a plain or dictionary node (a pattern's nested nodes).
pub(crate) fn decode_basic<O: OffsetSizeTrait>(
    r: &mut ByteReader,
    rows: Rows,
) -> Result<DecodedStrings<O>, CompressionError> {
    let at = r.pos();
    match r.u8("string codec id")? {
        id::PLAIN => plain::decode(r, rows),
        id::DICT => dict::decode(r, rows),
        _ => Err(corrupt(at, "unknown string codec id")),
    }
}

/// Arrow offsets for strings of the given lengths, and their total length.
/// The total is checked once (against `MAX_DECODED_BYTES` and the offset
/// type) so the prefix-sum loop needs no per-value checks.
pub(crate) fn offsets_from_lengths<O: OffsetSizeTrait>(
    r: &ByteReader,
    lengths: impl Iterator<Item = u64> + Clone,
    n: usize,
) -> Result<(OffsetBuffer<O>, usize), CompressionError> {
    let total = checked_total::<O>(r, lengths.clone())?;
    let mut offsets = Vec::with_capacity(n + 1);
    offsets.push(O::usize_as(0));
    let mut at = 0usize;
    offsets.extend(lengths.map(|l| {
        at += l as usize;
        O::usize_as(at)
    }));
    Ok((monotone_offsets(offsets), total))
}

/// A zeroed output of `total` bytes plus `pad` bytes that fixed-size moves
/// may spill into (the caller truncates to `total`).
pub(crate) fn padded_output(
    total: usize,
    pad: usize,
    what: &'static str,
) -> Result<Vec<u8>, CompressionError> {
    let mut out = output_space(total, pad, what)?;
    out.resize(total + pad, 0);
    Ok(out)
}

/// Room for `total` bytes and `pad` more, for writers that write every byte
/// they keep (nothing is zeroed first).
pub(crate) fn output_space(
    total: usize,
    pad: usize,
    what: &'static str,
) -> Result<Vec<u8>, CompressionError> {
    let mut out = Vec::new();
    out.try_reserve_exact(total + pad)
        .map_err(|_| CompressionError::TooLarge {
            what,
            bytes: total,
            limit: MAX_DECODED_BYTES,
        })?;
    Ok(out)
}

/// Offsets built by adding lengths to a running position from 0, without
/// the validation pass of `OffsetBuffer::new` (a quarter of decoding a
/// column of short strings).
pub(crate) fn monotone_offsets<O: OffsetSizeTrait>(offsets: Vec<O>) -> OffsetBuffer<O> {
    debug_assert!(offsets.first().is_some_and(|o| o.as_usize() == 0));
    debug_assert!(offsets.windows(2).all(|w| w[0] <= w[1]));
    // SAFETY: every caller pushes 0 and then a running position that only
    // grows (a sum of lengths checked against the offset type beforehand),
    // so the offsets are non-empty, non-negative and non-decreasing.
    unsafe { OffsetBuffer::new_unchecked(ScalarBuffer::from(offsets)) }
}

/// The sum of `lengths`, checked against `MAX_DECODED_BYTES` and the offset type.
pub(crate) fn checked_total<O: OffsetSizeTrait>(
    r: &ByteReader,
    lengths: impl Iterator<Item = u64>,
) -> Result<usize, CompressionError> {
    let total = lengths.fold(0u64, u64::saturating_add);
    if total > MAX_DECODED_BYTES as u64 {
        return Err(CompressionError::TooLarge {
            what: "string bytes",
            bytes: total as usize,
            limit: MAX_DECODED_BYTES,
        });
    }
    O::from_usize(total as usize)
        .ok_or_else(|| r.err("string offsets overflow the offset type"))?;
    Ok(total as usize)
}
