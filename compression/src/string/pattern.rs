//! Patterned strings: one template of literals with typed fields between them.
//!
//! Owns codec `PATTERN` (34). Request ids (`req-0a1b2c3d-1234`), addresses
//! (`10.0.3.17`), UUIDs and pod names share their punctuation: every row of
//! the chunk is cut at the same places into maximal runs of ASCII letters
//! and digits (fields) and the runs between them (literals). A field equal
//! in every row joins the literals; the others are stored column by column:
//! canonical decimals, zero-padded decimals of one width and hex of one
//! width as integer nodes (so counters become linear or delta runs and
//! random ids bit-pack to their entropy), anything else as a nested plain
//! or dictionary string node.
//!
//! Layout: `n_fields u8`, literal 0, then per field `kind u8`, `width u8`
//! and the literal after it; then one node per field. A literal is
//! `len u16` + bytes. NULL rows repeat the previous valid row.
//! Invariant: literal 0, field 1, literal 1, ..., field k, literal k
//! concatenated give back the row; a fixed-width field's value is below
//! base^width; each field's text is a maximal run of letters and digits.

use std::cmp::Ordering;
#[cfg(target_arch = "x86_64")]
use std::mem::MaybeUninit;

use arrow_array::OffsetSizeTrait;
use arrow_buffer::{BooleanBuffer, BooleanBufferBuilder, Buffer};

use super::{DecodedStrings, StringRows};
use crate::cursor::ByteReader;
use crate::error::{corrupt, CompressionError};
use crate::int::{self, Rows};
use crate::predicate::{bytes_match, Predicate, Scalar};
use crate::simd::Isa;
use crate::zstd_stage::ZstdPolicy;

/// Fields stored per chunk at most (after constant fields joined the literals).
const MAX_FIELDS: usize = 32;
/// Rows split into more runs than this are not worth a template.
const MAX_TOKENS: usize = 64;
/// Output is written up to this many bytes past each piece (fixed-size moves).
const PAD: usize = 32;

const DIGITS: &[u8] = b"0123456789";
const HEX_LOWER: &[u8] = b"0123456789abcdef";
const HEX_UPPER: &[u8] = b"0123456789ABCDEF";

/// How one field's text is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Decimal without leading zeros (`0`, `17`, `123456`), up to 19 digits.
    Decimal,
    /// Exactly `w` decimal digits (`0042`).
    ZeroPadded(u8),
    /// Exactly `w` hex digits, lower case.
    HexLower(u8),
    /// Exactly `w` hex digits, upper case.
    HexUpper(u8),
    /// Anything else: a nested plain or dictionary string node.
    Text,
}

impl Kind {
    fn id(self) -> (u8, u8) {
        match self {
            Kind::Decimal => (0, 0),
            Kind::ZeroPadded(w) => (1, w),
            Kind::HexLower(w) => (2, w),
            Kind::HexUpper(w) => (3, w),
            Kind::Text => (4, 0),
        }
    }

    fn from_id(id: u8, w: u8) -> Option<Kind> {
        match (id, w) {
            (0, 0) => Some(Kind::Decimal),
            (1, 1..=19) => Some(Kind::ZeroPadded(w)),
            (2, 1..=16) => Some(Kind::HexLower(w)),
            (3, 1..=16) => Some(Kind::HexUpper(w)),
            (4, 0) => Some(Kind::Text),
            _ => None,
        }
    }

    /// The digits of a fixed-width kind (in byte order, which is value order)
    /// and its width.
    fn fixed(self) -> Option<(&'static [u8], usize)> {
        match self {
            Kind::ZeroPadded(w) => Some((DIGITS, w as usize)),
            Kind::HexLower(w) => Some((HEX_LOWER, w as usize)),
            Kind::HexUpper(w) => Some((HEX_UPPER, w as usize)),
            Kind::Decimal | Kind::Text => None,
        }
    }

    /// The value of `token` under this kind (None when it does not fit).
    fn parse(self, token: &[u8]) -> Option<u64> {
        match self {
            Kind::Decimal => {
                let canonical = (1..=19).contains(&token.len())
                    && (token[0] != b'0' || token.len() == 1)
                    && token.iter().all(u8::is_ascii_digit);
                canonical.then(|| {
                    token
                        .iter()
                        .fold(0u64, |v, &d| v * 10 + u64::from(d - b'0'))
                })
            }
            Kind::Text => None,
            fixed => {
                let (alphabet, w) = fixed.fixed()?;
                if token.len() != w {
                    return None;
                }
                let lower = matches!(fixed, Kind::HexLower(_));
                let upper = matches!(fixed, Kind::HexUpper(_));
                token.iter().try_fold(0u64, |v, &c| {
                    let d = match c {
                        b'0'..=b'9' => c - b'0',
                        b'a'..=b'f' if lower => c - b'a' + 10,
                        b'A'..=b'F' if upper => c - b'A' + 10,
                        _ => return None,
                    };
                    Some(v * alphabet.len() as u64 + u64::from(d))
                })
            }
        }
    }

    /// The first kind (in order of preference) that stores every token.
    fn classify(tokens: &[&[u8]]) -> (Kind, Vec<u64>) {
        let w = tokens[0].len();
        let same_width = u8::try_from(w).is_ok() && tokens.iter().all(|t| t.len() == w);
        let mut kinds = vec![Kind::Decimal];
        if same_width {
            let w = w as u8;
            kinds.extend([Kind::ZeroPadded(w), Kind::HexLower(w), Kind::HexUpper(w)]);
        }
        for kind in kinds {
            if Kind::from_id(kind.id().0, kind.id().1).is_none() {
                continue;
            }
            let values: Option<Vec<u64>> = tokens.iter().map(|t| kind.parse(t)).collect();
            if let Some(values) = values {
                return (kind, values);
            }
        }
        (Kind::Text, Vec::new())
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// The literals and fields of one value: `lits.len() == fields.len() + 1`.
fn split(v: &[u8]) -> (Vec<&[u8]>, Vec<&[u8]>) {
    let mut lits = Vec::new();
    let mut fields = Vec::new();
    let mut at = 0;
    loop {
        let lit_end = at
            + v[at..]
                .iter()
                .position(|&b| is_word(b))
                .unwrap_or(v.len() - at);
        lits.push(&v[at..lit_end]);
        if lit_end == v.len() {
            return (lits, fields);
        }
        let end = lit_end
            + v[lit_end..]
                .iter()
                .position(|&b| !is_word(b))
                .unwrap_or(v.len() - lit_end);
        fields.push(&v[lit_end..end]);
        at = end;
    }
}

/// The field texts of `v` when it follows `lits`, appended to `fields`.
fn split_as<'a>(v: &'a [u8], lits: &[&[u8]], fields: &mut [Vec<&'a [u8]>]) -> bool {
    let mut at = 0;
    for (lit, field) in lits.iter().zip(fields.iter_mut()) {
        if !v[at..].starts_with(lit) {
            return false;
        }
        at += lit.len();
        let end = at
            + v[at..]
                .iter()
                .position(|&b| !is_word(b))
                .unwrap_or(v.len() - at);
        if end == at {
            return false;
        }
        field.push(&v[at..end]);
        at = end;
    }
    &v[at..] == *lits.last().expect("a template has a last literal")
}

fn write_literal(lit: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(lit.len() as u16).to_le_bytes());
    out.extend_from_slice(lit);
}

/// Encodes `rows` as a template and typed fields (without the codec id), or
/// returns false, leaving `out` alone, when the rows do not share one template.
pub(crate) fn encode(
    rows: &StringRows,
    zstd: ZstdPolicy,
    out: &mut Vec<u8>,
) -> Result<bool, CompressionError> {
    let n = rows.values.len();
    let Some(first) = (0..n).find(|&i| rows.is_valid(i)) else {
        return Ok(false);
    };
    let (lits, first_fields) = split(rows.values[first]);
    if first_fields.is_empty() || first_fields.len() > MAX_TOKENS {
        return Ok(false);
    }
    let mut fields: Vec<Vec<&[u8]>> = vec![Vec::with_capacity(n); first_fields.len()];
    for i in 0..n {
        if !rows.is_valid(i) {
            for (j, f) in fields.iter_mut().enumerate() {
                let repeat = if i == 0 { first_fields[j] } else { f[i - 1] };
                f.push(repeat);
            }
        } else if !split_as(rows.values[i], &lits, &mut fields) {
            return Ok(false);
        }
    }
    // Fields equal in every row join the literals around them.
    let mut literals: Vec<Vec<u8>> = vec![lits[0].to_vec()];
    let mut kept = Vec::new();
    for (j, f) in fields.iter().enumerate() {
        if f.iter().all(|t| *t == f[0]) {
            let last = literals.last_mut().expect("literal 0 exists");
            last.extend_from_slice(f[0]);
            last.extend_from_slice(lits[j + 1]);
        } else {
            kept.push(f);
            literals.push(lits[j + 1].to_vec());
        }
    }
    if kept.is_empty()
        || kept.len() > MAX_FIELDS
        || literals.iter().any(|l| l.len() > u16::MAX as usize)
    {
        return Ok(false);
    }
    out.push(kept.len() as u8);
    write_literal(&literals[0], out);
    let classified: Vec<(Kind, Vec<u64>)> = kept.iter().map(|f| Kind::classify(f)).collect();
    for ((kind, _), lit) in classified.iter().zip(&literals[1..]) {
        let (id, w) = kind.id();
        out.extend_from_slice(&[id, w]);
        write_literal(lit, out);
    }
    for ((kind, values), tokens) in classified.iter().zip(kept) {
        if *kind == Kind::Text {
            let text = StringRows {
                values: tokens.clone(),
                valid: None,
            };
            let dictionary = super::dict::Dictionary::build(&text);
            super::encode_basic(&text, &dictionary, None, zstd, out)?;
        } else {
            int::encode_node(values, None, int::ENCODE_DEPTH, out);
        }
    }
    Ok(true)
}

/// A chunk's template: literals around `kinds.len()` fields.
struct Template {
    lits: Vec<Vec<u8>>,
    kinds: Vec<Kind>,
}

fn read_literal(r: &mut ByteReader) -> Result<Vec<u8>, CompressionError> {
    let len = r.u16("pattern literal length")? as usize;
    Ok(r.bytes(len, "pattern literal")?.to_vec())
}

fn read_template(r: &mut ByteReader) -> Result<Template, CompressionError> {
    let at = r.pos();
    let k = r.u8("pattern field count")? as usize;
    if k == 0 || k > MAX_FIELDS {
        return Err(corrupt(at, "pattern field count"));
    }
    let mut lits = vec![read_literal(r)?];
    let mut kinds = Vec::with_capacity(k);
    for _ in 0..k {
        let at = r.pos();
        let (id, w) = (r.u8("pattern field kind")?, r.u8("pattern field width")?);
        kinds.push(Kind::from_id(id, w).ok_or_else(|| corrupt(at, "pattern field kind"))?);
        lits.push(read_literal(r)?);
    }
    Ok(Template { lits, kinds })
}

/// The decoded values of one field for the wanted rows.
enum Field {
    Ints(Vec<u64>),
    Text(DecodedStrings<i64>),
}

/// A field opened for decoding: decoded, or an integer node to decode a
/// block at a time, with an upper bound of its values.
enum Opened<'a> {
    Field(Field),
    Stream(int::blocks::Blocks<'a>, u64),
}

/// The fields of the template, integer nodes left to stream where `stream`
/// and their codec allows.
fn open_fields<'a>(
    r: &mut ByteReader<'a>,
    t: &Template,
    rows: Rows,
    stream: bool,
) -> Result<Vec<Opened<'a>>, CompressionError> {
    t.kinds
        .iter()
        .map(|&kind| {
            if kind == Kind::Text {
                return Ok(Opened::Field(Field::Text(super::decode_basic::<i64>(
                    r, rows,
                )?)));
            }
            if stream {
                if let Some((blocks, high)) = int::blocks::Blocks::open(r, rows, int::DECODE_DEPTH)?
                {
                    return Ok(Opened::Stream(blocks, high));
                }
            }
            let mut values = vec![0u64; rows.len()];
            int::decode_rows(r, rows, &mut values, int::DECODE_DEPTH)?;
            check_width(r, kind, &values)?;
            Ok(Opened::Field(Field::Ints(values)))
        })
        .collect()
}

/// Errs when a fixed-width field's value does not fit its width.
fn check_width(r: &ByteReader, kind: Kind, values: &[u64]) -> Result<(), CompressionError> {
    if let Some((alphabet, w)) = kind.fixed() {
        let limit = (alphabet.len() as u128).pow(w as u32);
        // Hex limits are powers of two, which the OR of the values (one
        // vector op per lane, where SSE2 has no 64-bit max) checks exactly.
        let high = if alphabet.len() == 16 {
            or_of(values)
        } else {
            max_of(values)
        };
        if u128::from(high) >= limit {
            return Err(r.err("pattern field value wider than its width"));
        }
    }
    Ok(())
}

/// The opened fields all decoded.
fn decode_fields(
    r: &ByteReader,
    t: &Template,
    opened: Vec<Opened>,
    rows: Rows,
) -> Result<Vec<Field>, CompressionError> {
    opened
        .into_iter()
        .zip(&t.kinds)
        .map(|(opened, &kind)| match opened {
            Opened::Field(field) => Ok(field),
            Opened::Stream(mut blocks, _) => {
                let mut values = vec![0u64; rows.len()];
                for block in values.chunks_mut(int::BLOCK) {
                    blocks.next(block)?;
                }
                check_width(r, kind, &values)?;
                Ok(Field::Ints(values))
            }
        })
        .collect()
}

fn read_fields(
    r: &mut ByteReader,
    t: &Template,
    rows: Rows,
) -> Result<Vec<Field>, CompressionError> {
    let opened = open_fields(r, t, rows, false)?;
    decode_fields(r, t, opened, rows)
}

/// The largest value (0 for none), in a loop LLVM keeps in vector lanes.
fn max_of(values: &[u64]) -> u64 {
    values.iter().fold(0, |m, &v| m.max(v))
}

/// The OR of the values: at least their maximum, and below twice it.
fn or_of(values: &[u64]) -> u64 {
    values.iter().fold(0, |m, &v| m | v)
}

/// 10^0 ..= 10^19.
const POW10: [u64; 20] = {
    let mut t = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// The number of decimal digits of `v` (1 for 0), without branches: the bit
/// length gives the count or one less, and one comparison settles it.
#[inline]
fn decimal_digits(v: u64) -> usize {
    let v = v | 1; // same digit count, and a bit length of at least 1
    let t = ((64 - v.leading_zeros()) * 1233) >> 12; // floor(bits * log10(2))
    t as usize + usize::from(v >= POW10[t as usize])
}

/// "00" "01" ... "99".
const PAIRS: [[u8; 2]; 100] = {
    let mut t = [[0u8; 2]; 100];
    let mut i = 0;
    while i < 100 {
        t[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    t
};

/// `v < 10^8` as eight ASCII digits, most significant first in memory
/// (little-endian word): four lanes of hundreds, then tens, split by
/// multiplications instead of divisions.
#[inline]
fn eight_digits(v: u64) -> u64 {
    // v / 10^4 as a 32 x 32-bit multiply (exact for v < 10^8, and what a
    // vector lane can do; a 64-bit division by a constant is not).
    let q = (u64::from(v as u32) * 109_951_163) >> 40;
    let x = q | ((v - q * 10_000) << 32);
    let hundreds = ((x * 5243) >> 19) & 0x0000_007F_0000_007F;
    let y = hundreds | ((x - hundreds * 100) << 16);
    let tens = ((y * 103) >> 10) & 0x000F_000F_000F_000F;
    let z = tens | ((y - tens * 10) << 8);
    z + 0x3030_3030_3030_3030
}

/// Writes `v` as exactly `w` decimal digits (`v < 10^w`); may write up to
/// 16 bytes from the start.
#[inline]
fn put_decimal(out: &mut [u8], v: u64, w: usize) {
    if w <= 16 {
        out[..16].copy_from_slice(&decimal_text(v, w).to_le_bytes());
        return;
    }
    let mut v = v;
    let mut p = w;
    while p >= 2 {
        p -= 2;
        out[p..p + 2].copy_from_slice(&PAIRS[(v % 100) as usize]);
        v /= 100;
    }
    if p == 1 {
        out[0] = b'0' + (v % 10) as u8;
    }
}

/// The low 32 bits of `x` as eight hex digits, most significant first in
/// memory; `letters` is `'a' - '0' - 10` or `'A' - '0' - 10`.
#[inline]
fn eight_hex(x: u64, letters: u64) -> u64 {
    let x = x & 0xFFFF_FFFF;
    let x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    let x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    let x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    let above_nine = ((x + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
    (x + 0x3030_3030_3030_3030 + above_nine * letters).swap_bytes()
}

/// Writes `v` as exactly `w` hex digits (`v < 16^w`); may write up to 16
/// bytes past the start.
#[inline]
fn put_hex(out: &mut [u8], v: u64, w: usize, letters: u64) {
    out[..16].copy_from_slice(&hex_text(v, w, letters).to_le_bytes());
}

/// `v < 10^16` as `d` decimal digits (`v < 10^d`, `1 <= d <= 16`), first
/// digit in the lowest byte.
#[inline]
fn decimal_text(v: u64, d: usize) -> u128 {
    if d <= 8 {
        u128::from(eight_digits(v) >> ((8 - d) * 8))
    } else {
        let both =
            u128::from(eight_digits(v / POW10[8])) | (u128::from(eight_digits(v % POW10[8])) << 64);
        both >> ((16 - d) * 8)
    }
}

/// `v < 16^w` as `w` hex digits (`1 <= w <= 16`), first digit in the lowest
/// byte.
#[inline]
fn hex_text(v: u64, w: usize, letters: u64) -> u128 {
    if w <= 8 {
        u128::from(eight_hex(v, letters) >> ((8 - w) * 8))
    } else {
        let both =
            u128::from(eight_hex(v >> 32, letters)) | (u128::from(eight_hex(v, letters)) << 64);
        both >> ((16 - w) * 8)
    }
}

/// A number field whose widest text, with the literal after it, fits one
/// 16-byte word.
struct Numeric<'a> {
    kind: Kind,
    values: &'a [u64],
    lit: &'a [u8],
    /// At least the widest text.
    widest: usize,
}

/// The fields as `Numeric`s when every row can be stitched from 16-byte
/// words: literal 0 and each field's widest text plus its literal fit 16
/// bytes, and no field is text.
fn numeric_fields<'a>(t: &'a Template, fields: &'a [Field]) -> Option<Vec<Numeric<'a>>> {
    if t.lits[0].len() > 16 {
        return None;
    }
    let after = t.kinds.iter().zip(fields).zip(&t.lits[1..]);
    after
        .map(|((&kind, field), lit)| {
            let Field::Ints(values) = field else {
                return None;
            };
            let widest = match kind.fixed() {
                Some((_, w)) => w,
                // At most one digit more than the widest (the OR is below
                // twice the maximum): a bound is all this needs.
                None => decimal_digits(or_of(values)),
            };
            (widest + lit.len() <= 16).then_some(Numeric {
                kind,
                values,
                lit,
                widest,
            })
        })
        .collect()
}

/// Rows stitched per tile (a field's words take 6 KB; fewer, longer tiles
/// measured 4 % faster than 64 rows).
const TILE: usize = 256;

/// One field's text followed by its literal, per row of a tile: the 16
/// bytes (as two little-endian words) and the length of text and literal.
struct Words {
    text: [[u64; 2]; TILE],
    len: [u64; TILE],
}

/// Up to 16 bytes as a little-endian word.
fn word(bytes: &[u8]) -> u128 {
    let mut w = [0u8; 16];
    w[..bytes.len()].copy_from_slice(bytes);
    u128::from_le_bytes(w)
}

/// Words of a field for rows `from..` of the tile (any widths that fit 16
/// bytes with the literal; the portable path, and the vector path's tail).
fn text_words(kind: Kind, values: &[u64], lit: &[u8], words: &mut Words, from: usize) {
    let lit_len = lit.len();
    let lit = word(lit);
    let text = |v: u64| match kind {
        Kind::Decimal => {
            let d = decimal_digits(v);
            (decimal_text(v, d), d)
        }
        Kind::ZeroPadded(w) => (decimal_text(v, w as usize), w as usize),
        Kind::HexLower(w) => (hex_text(v, w as usize, 0x27), w as usize),
        Kind::HexUpper(w) => (hex_text(v, w as usize, 0x07), w as usize),
        Kind::Text => unreachable!("numeric_fields admits no text field"),
    };
    let out = words.text[from..].iter_mut().zip(&mut words.len[from..]);
    for ((text_out, len), &v) in out.zip(values) {
        let (t, d) = text(v);
        // d * 8 reaches 128 only when the literal is empty (then 0 either way).
        let w = t | lit.wrapping_shl((d * 8) as u32);
        *text_out = [w as u64, (w >> 64) as u64];
        *len = (d + lit_len) as u64;
    }
}

/// Rows of number fields with texts and literals of at most 8 bytes each,
/// four at a time in AVX2 lanes, without the `Words` round trip: each
/// field's words for four rows are made in registers (Muła's vector itoa:
/// 16-bit multiply-high divisions; a byte shuffle for hex) and stored
/// straight into the rows. Fixed-width texts are moved into place by byte
/// shuffles: Zen 1 runs vector shifts on one pipe, where they were the
/// bottleneck.
#[cfg(target_arch = "x86_64")]
mod short_avx2 {
    use std::arch::x86_64::*;
    use std::mem::MaybeUninit;

    use arrow_array::OffsetSizeTrait;

    use super::Kind;

    /// Each lane's `v < 10^8` as eight ASCII digits, first digit lowest.
    #[target_feature(enable = "avx2")]
    fn eight_digits(v: __m256i) -> __m256i {
        // v / 10^4 by multiply and shift, exact below 10^8.
        let q = _mm256_srli_epi64::<40>(_mm256_mul_epu32(v, _mm256_set1_epi64x(109_951_163)));
        let r = _mm256_sub_epi64(v, _mm256_mul_epu32(q, _mm256_set1_epi64x(10_000)));
        // 32-bit lanes [q, r]; each / 100 in its low 16 bits (x * 5243 >> 19).
        let x = _mm256_or_si256(q, _mm256_slli_epi64::<32>(r));
        let h = _mm256_srli_epi16::<3>(_mm256_mulhi_epu16(x, _mm256_set1_epi32(5243)));
        let rest = _mm256_sub_epi16(x, _mm256_mullo_epi16(h, _mm256_set1_epi16(100)));
        // 16-bit lanes of two digits each; / 10 as x * 6554 >> 16 (below 100).
        let y = _mm256_or_si256(h, _mm256_slli_epi32::<16>(rest));
        let t = _mm256_mulhi_epu16(y, _mm256_set1_epi16(6554));
        let ones = _mm256_sub_epi16(y, _mm256_mullo_epi16(t, _mm256_set1_epi16(10)));
        let z = _mm256_or_si256(t, _mm256_slli_epi16::<8>(ones));
        _mm256_add_epi8(z, _mm256_set1_epi8(b'0' as i8))
    }

    /// The bits of each lane's text, 8 per digit, from its eight ASCII
    /// digits: leading '0's are dropped (all but the last). The run of
    /// leading '0' bytes is the low run of 0xFF bytes of the comparison,
    /// which `m & !(m + 1)` keeps alone; summing 8 per byte of it gives the
    /// bits to drop.
    #[target_feature(enable = "avx2")]
    fn text_bits(digits: __m256i) -> __m256i {
        let zeros = _mm256_cmpeq_epi8(digits, _mm256_set1_epi8(b'0' as i8));
        let m = _mm256_and_si256(zeros, _mm256_set1_epi64x(0x00FF_FFFF_FFFF_FFFF));
        let run = _mm256_andnot_si256(_mm256_add_epi64(m, _mm256_set1_epi64x(1)), m);
        let eights = _mm256_and_si256(run, _mm256_set1_epi8(8));
        let dropped = _mm256_sad_epu8(eights, _mm256_setzero_si256());
        _mm256_sub_epi64(_mm256_set1_epi64x(64), dropped)
    }

    /// Each lane's low 32 bits as eight hex digits, first digit lowest.
    #[target_feature(enable = "avx2")]
    fn eight_hex(v: __m256i, upper: bool) -> __m256i {
        // Byte k of the value lands on digits 6 - 2k (high nibble) and 7 - 2k.
        let spread = _mm256_setr_epi8(
            3, 3, 2, 2, 1, 1, 0, 0, 11, 11, 10, 10, 9, 9, 8, 8, //
            3, 3, 2, 2, 1, 1, 0, 0, 11, 11, 10, 10, 9, 9, 8, 8,
        );
        let x = _mm256_shuffle_epi8(v, spread);
        let high = _mm256_and_si256(_mm256_srli_epi16::<4>(x), _mm256_set1_epi16(0x000f));
        let nibbles = _mm256_or_si256(high, _mm256_and_si256(x, _mm256_set1_epi16(0x0f00)));
        let table = if upper {
            b"0123456789ABCDEF"
        } else {
            b"0123456789abcdef"
        };
        // SAFETY: `table` is 16 readable bytes.
        let table = unsafe { _mm_loadu_si128(table.as_ptr().cast()) };
        _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(table), nibbles)
    }

    /// Literal 0 (up to 8 bytes) put before the first field's words.
    #[derive(Clone, Copy)]
    struct Lead {
        /// Its bits, and 64 minus them, as shift counts.
        bits: __m128i,
        back: __m128i,
        word: __m256i,
        len: __m256i,
    }

    /// One field's constants, four lanes each.
    #[derive(Clone, Copy)]
    struct Short<'a> {
        kind: Kind,
        values: &'a [u64],
        lit: __m256i,
        lit_empty: bool,
        lit_len: __m256i,
        lead: Option<Lead>,
        /// For a fixed-width text: the byte shuffles that move the text of
        /// rows 0 and 2, and of rows 1 and 3, after literal 0's bytes (if
        /// any), and those bytes with the literal after the text; the
        /// length of it all.
        fixed: Option<([__m256i; 3], __m256i)>,
    }

    /// `Short::fixed` for a text of `w` characters after `lead` and
    /// before `lit`.
    #[target_feature(enable = "avx2")]
    fn fixed(w: usize, lead: &[u8], lit: &[u8]) -> ([__m256i; 3], __m256i) {
        let mut masks = [[0x80u8; 16]; 2];
        for (row, mask) in masks.iter_mut().enumerate() {
            for (j, m) in mask[lead.len()..lead.len() + w].iter_mut().enumerate() {
                *m = (8 * row + 8 - w + j) as u8;
            }
        }
        // A shift of 128 (8 bytes of each, no literal after) places nothing.
        let around = super::word(lead) | super::word(lit).wrapping_shl(8 * (lead.len() + w) as u32);
        let broadcast = |bytes: [u8; 16]| {
            // SAFETY: 16 readable bytes.
            _mm256_broadcastsi128_si256(unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) })
        };
        let len = _mm256_set1_epi64x((lead.len() + w + lit.len()) as i64);
        (
            [
                broadcast(masks[0]),
                broadcast(masks[1]),
                broadcast(around.to_le_bytes()),
            ],
            len,
        )
    }

    /// Four rows' words of one field (as `super::text_words` and
    /// `super::prepend`): rows 0 and 2 in the first vector, rows 1 and 3 in
    /// the second (16 bytes each), and their lengths.
    #[target_feature(enable = "avx2")]
    fn words4(f: &Short, v: __m256i) -> [__m256i; 3] {
        match f.fixed {
            Some(fixed) => fixed4(f.kind, fixed, v),
            None => decimal4(f, v),
        }
    }

    /// `words4` of a fixed-width text: its characters shuffled into place.
    #[target_feature(enable = "avx2")]
    fn fixed4(
        kind: Kind,
        ([a, b, around], len): ([__m256i; 3], __m256i),
        v: __m256i,
    ) -> [__m256i; 3] {
        let chars = match kind {
            Kind::HexLower(_) => eight_hex(v, false),
            Kind::HexUpper(_) => eight_hex(v, true),
            _ => eight_digits(v),
        };
        [
            _mm256_or_si256(_mm256_shuffle_epi8(chars, a), around),
            _mm256_or_si256(_mm256_shuffle_epi8(chars, b), around),
            len,
        ]
    }

    /// `words4` of a decimal: its digit count varies per row.
    #[target_feature(enable = "avx2")]
    fn decimal4(f: &Short, v: __m256i) -> [__m256i; 3] {
        let digits = eight_digits(v);
        let s = text_bits(digits);
        let back = _mm256_sub_epi64(_mm256_set1_epi64x(64), s);
        let text = _mm256_srlv_epi64(digits, back);
        let (mut lo, mut hi) = if f.lit_empty {
            (text, _mm256_setzero_si256())
        } else {
            // Vector shifts give 0 from 64 on, as the literal's placement
            // needs.
            (
                _mm256_or_si256(text, _mm256_sllv_epi64(f.lit, s)),
                _mm256_srlv_epi64(f.lit, back),
            )
        };
        let mut len = _mm256_add_epi64(_mm256_srli_epi64::<3>(s), f.lit_len);
        if let Some(l) = f.lead {
            hi = _mm256_or_si256(_mm256_sll_epi64(hi, l.bits), _mm256_srl_epi64(lo, l.back));
            lo = _mm256_or_si256(_mm256_sll_epi64(lo, l.bits), l.word);
            len = _mm256_add_epi64(len, l.len);
        }
        [
            _mm256_unpacklo_epi64(lo, hi),
            _mm256_unpackhi_epi64(lo, hi),
            len,
        ]
    }

    /// Stores 16 bytes at `at` of `out`.
    #[target_feature(enable = "avx2")]
    fn put16(out: &mut [MaybeUninit<u8>], at: usize, word: __m128i) {
        let dst = &mut out[at..at + 16];
        // SAFETY: `dst` is 16 writable bytes; an unaligned store.
        unsafe { _mm_storeu_si128(dst.as_mut_ptr().cast(), word) }
    }

    /// As `super::stitch`'s tiles, four rows at a time with the words of
    /// each in registers: the rows of `fields` (texts and literals of at
    /// most 8 bytes each), with literal 0 joining the first field's words
    /// (`lead`, at most 8 bytes) or written alone (`lit0`, at most 16).
    #[target_feature(enable = "avx2")]
    pub(super) fn stitch<O: OffsetSizeTrait, const P: usize>(
        fields: &[super::Numeric; P],
        (lead, lit0): (&[u8], &[u8]),
        out: &mut [MaybeUninit<u8>],
        mut at: usize,
        ends: &mut [MaybeUninit<O>],
    ) -> usize {
        let bits = 8 * lead.len() as i64;
        let lead_bytes = lead;
        let lead = (!lead.is_empty()).then(|| Lead {
            bits: _mm_set_epi64x(0, bits),
            back: _mm_set_epi64x(0, 64 - bits),
            word: _mm256_set1_epi64x(super::word(lead) as i64),
            len: _mm256_set1_epi64x(lead.len() as i64),
        });
        let shorts = std::array::from_fn::<_, P, _>(|f| {
            let field = &fields[f];
            let lead_bytes = if f == 0 { lead_bytes } else { &[] };
            Short {
                fixed: field
                    .kind
                    .fixed()
                    .map(|(_, w)| fixed(w, lead_bytes, field.lit)),
                kind: field.kind,
                values: field.values,
                lit: _mm256_set1_epi64x(super::word(field.lit) as i64),
                lit_empty: field.lit.is_empty(),
                lit_len: _mm256_set1_epi64x(field.lit.len() as i64),
                lead: if f == 0 { lead } else { None },
            }
        });
        // SAFETY: 16 readable bytes.
        let lit0_word = unsafe { _mm_loadu_si128(super::word(lit0).to_le_bytes().as_ptr().cast()) };
        // Straight-line code per field, not left to LLVM's unroller: a
        // build where the loop stayed rolled (and the word kernel out of
        // line) decoded 25 % slower.
        const { assert!(P <= 8) };
        macro_rules! each_field {
            (|$f:ident| $body:block) => {
                each_field!(@ $f, $body, 0 1 2 3 4 5 6 7)
            };
            (@ $f:ident, $body:block, $($i:literal)*) => {
                $(if $i < P {
                    let $f: usize = $i;
                    $body
                })*
            };
        }
        let mut words = [[_mm256_setzero_si256(); 2]; P];
        let mut lens = [[0u64; 4]; P];
        for (g, ends) in ends.chunks_mut(4).enumerate() {
            each_field!(|f| {
                let short = &shorts[f];
                let mut four = [0u64; 4];
                let values = short.values.get(4 * g..4 * g + 4).unwrap_or_else(|| {
                    let rest = &short.values[4 * g..];
                    four[..rest.len()].copy_from_slice(rest);
                    &four
                });
                // SAFETY: `values` is 4 u64, 32 bytes; unaligned load.
                let v = unsafe { _mm256_loadu_si256(values.as_ptr().cast()) };
                let [a, b, len] = words4(short, v);
                words[f] = [a, b];
                // SAFETY: `lens[f]` is 4 u64, 32 bytes; unaligned store.
                unsafe { _mm256_storeu_si256(lens[f].as_mut_ptr().cast(), len) };
            });
            for (k, end) in ends.iter_mut().enumerate() {
                if !lit0.is_empty() {
                    put16(out, at, lit0_word);
                    at += lit0.len();
                }
                each_field!(|f| {
                    let [a, b] = words[f];
                    let word = match k {
                        0 => _mm256_castsi256_si128(a),
                        1 => _mm256_castsi256_si128(b),
                        2 => _mm256_extracti128_si256::<1>(a),
                        _ => _mm256_extracti128_si256::<1>(b),
                    };
                    put16(out, at, word);
                    at += lens[f][k] as usize;
                });
                end.write(O::usize_as(at));
            }
        }
        at
    }
}

/// Fills `words` for one field of a tile.
fn field_words(field: &Numeric, values: &[u64], lead: &[u8], words: &mut Words) {
    text_words(field.kind, values, field.lit, words, 0);
    prepend(words, 0..values.len(), lead);
}

/// Puts `lead` (at most 8 bytes) before the words of `rows`.
fn prepend(words: &mut Words, rows: std::ops::Range<usize>, lead: &[u8]) {
    if lead.is_empty() {
        return;
    }
    let shift = 8 * lead.len() as u32;
    let word = word(lead);
    let out = words.text[rows.clone()]
        .iter_mut()
        .zip(&mut words.len[rows]);
    for (text, len) in out {
        let w = (u128::from(text[0]) | u128::from(text[1]) << 64) << shift | word;
        *text = [w as u64, (w >> 64) as u64];
        *len += lead.len() as u64;
    }
}

/// The rows of number fields on the portable path, or None when their
/// widest rows could overflow the offset type (the general path then
/// checks the exact total). Per tile,
/// each field's words are made column by column, then rows are stitched
/// left to right from 16-byte moves, each of which may spill into the bytes
/// the next move overwrites (or the padding after the last row).
fn stitch<O: OffsetSizeTrait>(
    r: &ByteReader,
    lit0: &[u8],
    fields: &[Numeric],
    n: usize,
) -> Result<Option<Formatted<O>>, CompressionError> {
    let Some((bound, lead)) = room::<O>(r, lit0, fields, n) else {
        return Ok(None);
    };
    let mut out = super::padded_output(bound, PAD, "pattern strings")?;
    let mut offsets = vec![O::usize_as(0); n + 1];
    let lit0_word = word(lit0).to_le_bytes();
    let empty = || Words {
        text: [[0; 2]; TILE],
        len: [0; TILE],
    };
    let mut words: Vec<Words> = fields.iter().map(|_| empty()).collect();
    let mut at = 0usize;
    for start in (0..n).step_by(TILE) {
        let rows = TILE.min(n - start);
        for (f, (field, words)) in fields.iter().zip(&mut words).enumerate() {
            let lead = if f == 0 && lead { lit0 } else { &[] };
            field_words(field, &field.values[start..start + rows], lead, words);
        }
        let ends = &mut offsets[start + 1..start + 1 + rows];
        let lit0 = (!lead).then_some((&lit0_word, lit0.len()));
        // A known field count unrolls the loop over fields.
        at = match words.len() {
            1 => stitch_rows(&mut out, at, lit0, &words[..1], ends),
            2 => stitch_rows(&mut out, at, lit0, &words[..2], ends),
            3 => stitch_rows(&mut out, at, lit0, &words[..3], ends),
            _ => stitch_rows(&mut out, at, lit0, &words, ends),
        };
    }
    out.truncate(at);
    Ok(Some((super::monotone_offsets(offsets), out)))
}

/// Room for `n` rows of `fields` after `lit0`: a bound of their bytes, and
/// whether literal 0 joins the first field's words. None when the rows
/// could overflow the offset type.
fn room<O: OffsetSizeTrait>(
    r: &ByteReader,
    lit0: &[u8],
    fields: &[Numeric],
    n: usize,
) -> Option<(usize, bool)> {
    let widest_row = lit0.len() + fields.iter().map(|f| f.widest + f.lit.len()).sum::<usize>();
    let bound = widest_row.checked_mul(n)?;
    super::checked_total::<O>(r, std::iter::once(bound as u64)).ok()?;
    // Literal 0 joins the first field's words where they fit: one move per
    // row fewer.
    let first = &fields[0];
    let lead = (1..=8).contains(&lit0.len()) && lit0.len() + first.widest + first.lit.len() <= 16;
    Some((bound, lead))
}

/// The rows of number fields of at most 8 characters on AVX2 (the
/// `short_avx2` kernel), a block of 1024 at a time: the fields' streamed
/// integer nodes are decoded, checked and stitched while in L1, instead of
/// whole columns of zeroed integers first; fields decoded whole are read in
/// place. None where that does not apply (`format` then takes the portable
/// or general path).
#[cfg(target_arch = "x86_64")]
fn stitch_streamed<O: OffsetSizeTrait>(
    r: &ByteReader,
    isa: Isa,
    t: &Template,
    opened: &mut [Opened],
    rows: Rows,
) -> Result<Option<Formatted<O>>, CompressionError> {
    let lit0 = &t.lits[0][..];
    if isa == Isa::Portable || lit0.len() > 16 {
        return Ok(None);
    }
    // Each field with no values yet: its widest text is fixed, or that of
    // its values' bound.
    let mut shapes = Vec::with_capacity(opened.len());
    for ((opened, &kind), lit) in opened.iter().zip(&t.kinds).zip(&t.lits[1..]) {
        let high = match opened {
            Opened::Stream(_, high) => *high,
            Opened::Field(Field::Ints(values)) => or_of(values),
            Opened::Field(Field::Text(_)) => return Ok(None),
        };
        let widest = kind
            .fixed()
            .map_or_else(|| decimal_digits(high), |(_, w)| w);
        shapes.push(Numeric {
            kind,
            values: &[],
            lit,
            widest,
        });
    }
    if !shapes.iter().all(|f| f.widest <= 8 && f.lit.len() <= 8) {
        return Ok(None);
    }
    let n = rows.len();
    let Some((bound, lead)) = room::<O>(r, lit0, &shapes, n) else {
        return Ok(None);
    };
    let mut out = super::output_space(bound, PAD, "pattern strings")?;
    let mut offsets: Vec<O> = Vec::with_capacity(n + 1);
    let space = &mut offsets.spare_capacity_mut()[..n + 1];
    space[0].write(O::usize_as(0));
    let bytes = &mut out.spare_capacity_mut()[..bound + PAD];
    let mut blocks = vec![[0u64; int::BLOCK]; opened.len()];
    let mut at = 0;
    for start in (0..n).step_by(int::BLOCK) {
        let len = int::BLOCK.min(n - start);
        for ((opened, block), shape) in opened.iter_mut().zip(&mut blocks).zip(&shapes) {
            if let Opened::Stream(stream, _) = opened {
                stream.next(&mut block[..len])?;
                check_width(r, shape.kind, &block[..len])?;
            }
        }
        let fields: Vec<Numeric> = shapes
            .iter()
            .zip(opened.iter())
            .zip(&blocks)
            .map(|((shape, opened), block)| Numeric {
                values: match opened {
                    Opened::Stream(..) => &block[..len],
                    Opened::Field(Field::Ints(values)) => &values[start..start + len],
                    Opened::Field(Field::Text(_)) => unreachable!("no text fields here"),
                },
                ..*shape
            })
            .collect();
        let ends = &mut space[1 + start..1 + start + len];
        at = stitch_short(isa, (lit0, lead), &fields, (&mut bytes[..], at), ends)
            .expect("short number fields on AVX2");
    }
    // SAFETY: every offset is written (0, then each row's end), and the
    // moves of each row cover all its bytes.
    unsafe {
        offsets.set_len(n + 1);
        out.set_len(at);
    }
    Ok(Some((super::monotone_offsets(offsets), out)))
}

/// The rows of number fields of at most 8 characters and literals of at
/// most 8 bytes, four at a time in AVX2 lanes (`short_avx2::stitch`), into
/// `out` and `ends`: the end of the last row, or None where that kernel
/// does not apply.
#[cfg(target_arch = "x86_64")]
fn stitch_short<O: OffsetSizeTrait>(
    isa: Isa,
    (lit0, lead): (&[u8], bool),
    fields: &[Numeric],
    (out, at): (&mut [MaybeUninit<u8>], usize),
    ends: &mut [MaybeUninit<O>],
) -> Option<usize> {
    if isa == Isa::Portable || !fields.iter().all(|f| f.widest <= 8 && f.lit.len() <= 8) {
        return None;
    }
    let lits = if lead {
        (lit0, &[][..])
    } else {
        (&[][..], lit0)
    };
    // A known field count unrolls the loops over fields.
    macro_rules! by_count {
        ($($p:literal)*) => {
            match fields.len() {
                $($p => {
                    let fields = fields.try_into().expect("field count");
                    // SAFETY: `isa` is supported by this CPU, and AVX-512
                    // implies AVX2.
                    Some(unsafe { short_avx2::stitch::<O, $p>(fields, lits, out, at, ends) })
                })*
                _ => None,
            }
        };
    }
    by_count!(1 2 3 4 5 6 7 8)
}

/// Writes one tile's rows from `at` on, left to right, and their end
/// offsets; returns the end of the last row.
#[inline(always)]
fn stitch_rows<O: OffsetSizeTrait>(
    out: &mut [u8],
    mut at: usize,
    lit0: Option<(&[u8; 16], usize)>,
    words: &[Words],
    ends: &mut [O],
) -> usize {
    for (row, end) in ends.iter_mut().enumerate() {
        if let Some((lit0, len)) = lit0 {
            out[at..at + 16].copy_from_slice(lit0);
            at += len;
        }
        for w in words {
            let [lo, hi] = w.text[row];
            let bytes = (u128::from(lo) | u128::from(hi) << 64).to_le_bytes();
            out[at..at + 16].copy_from_slice(&bytes);
            at += w.len[row] as usize;
        }
        *end = O::usize_as(at);
    }
    at
}

/// One piece of every row, ready to write.
enum Piece<'a> {
    /// Literal bytes; up to 16 are written as one 16-byte move.
    Literal(&'a [u8], [u8; 16]),
    Decimal(&'a [u64]),
    ZeroPadded(usize, &'a [u64]),
    Hex(usize, u64, &'a [u64]),
    Text(&'a DecodedStrings<i64>),
}

/// Formatted rows: Arrow offsets and bytes.
type Formatted<O> = (arrow_buffer::OffsetBuffer<O>, Vec<u8>);

/// The rows of the decoded fields. Rows of number fields only are stitched
/// from words made a tile at a time (`stitch`); the general path writes
/// rows left to right, each piece with fixed-size moves that may spill into
/// the bytes the next piece overwrites.
fn format<'a, O: OffsetSizeTrait>(
    r: &ByteReader,
    t: &'a Template,
    fields: &'a [Field],
    n: usize,
) -> Result<Formatted<O>, CompressionError> {
    if let Some(numeric) = numeric_fields(t, fields) {
        if let Some(done) = stitch(r, &t.lits[0], &numeric, n)? {
            return Ok(done);
        }
    }
    let mut pieces = Vec::with_capacity(2 * fields.len() + 1);
    let literal = |l: &'a [u8]| {
        let mut short = [0u8; 16];
        short[..l.len().min(16)].copy_from_slice(&l[..l.len().min(16)]);
        // Empty literals (at either end) write nothing.
        (!l.is_empty()).then_some(Piece::Literal(l, short))
    };
    pieces.extend(literal(&t.lits[0]));
    let mut fixed = t.lits[0].len();
    for ((kind, field), lit) in t.kinds.iter().zip(fields).zip(&t.lits[1..]) {
        pieces.push(match (*kind, field) {
            (Kind::Decimal, Field::Ints(v)) => Piece::Decimal(v),
            (Kind::ZeroPadded(w), Field::Ints(v)) => Piece::ZeroPadded(w as usize, v),
            (Kind::HexLower(w), Field::Ints(v)) => Piece::Hex(w as usize, 0x27, v),
            (Kind::HexUpper(w), Field::Ints(v)) => Piece::Hex(w as usize, 0x07, v),
            (Kind::Text, Field::Text(s)) => Piece::Text(s),
            _ => unreachable!("fields are read by their kind"),
        });
        fixed += kind.fixed().map_or(0, |(_, w)| w) + lit.len();
        pieces.extend(literal(lit));
    }
    let mut lens = vec![fixed as u64; n];
    for piece in &pieces {
        match piece {
            Piece::Decimal(v) => {
                for (l, &v) in lens.iter_mut().zip(*v) {
                    *l += decimal_digits(v) as u64;
                }
            }
            Piece::Text(s) => {
                for (l, w) in lens.iter_mut().zip(s.offsets.windows(2)) {
                    *l += (w[1] - w[0]) as u64;
                }
            }
            _ => {}
        }
    }
    let (offsets, total) = super::offsets_from_lengths::<O>(r, lens.iter().copied(), n)?;
    let mut out = super::padded_output(total, PAD, "pattern strings")?;
    // Each row starts at its known offset, so rows do not wait on each other.
    for (i, start) in offsets.iter().take(n).enumerate() {
        let mut at = start.as_usize();
        for piece in &pieces {
            match piece {
                Piece::Literal(l, short) => {
                    if l.len() <= 16 {
                        out[at..at + 16].copy_from_slice(short);
                    } else {
                        out[at..at + l.len()].copy_from_slice(l);
                    }
                    at += l.len();
                }
                Piece::Decimal(v) => {
                    let d = decimal_digits(v[i]);
                    put_decimal(&mut out[at..], v[i], d);
                    at += d;
                }
                Piece::ZeroPadded(w, v) => {
                    put_decimal(&mut out[at..], v[i], *w);
                    at += w;
                }
                Piece::Hex(w, letters, v) => {
                    put_hex(&mut out[at..], v[i], *w, *letters);
                    at += w;
                }
                Piece::Text(s) => {
                    let (a, b) = (s.offsets[i] as usize, s.offsets[i + 1] as usize);
                    out[at..at + b - a].copy_from_slice(&s.values[a..b]);
                    at += b - a;
                }
            }
        }
    }
    out.truncate(total);
    Ok((offsets, out))
}

/// Decodes the blocks `rows` of a pattern node (after its codec id).
pub(crate) fn decode<O: OffsetSizeTrait>(
    r: &mut ByteReader,
    rows: Rows,
) -> Result<DecodedStrings<O>, CompressionError> {
    let t = read_template(r)?;
    let isa = crate::simd::best();
    // Streaming pays only where the AVX2 kernel will take the rows, which
    // the template alone rules out for text fields and long literals;
    // otherwise streamed nodes would be read twice for nothing.
    let kernel_may = isa != Isa::Portable
        && t.lits[0].len() <= 16
        && t.lits[1..].iter().all(|l| l.len() <= 8)
        && !t.kinds.contains(&Kind::Text);
    let mut opened = open_fields(r, &t, rows, kernel_may)?;
    let lits_utf8 = t.lits.iter().all(|l| std::str::from_utf8(l).is_ok());
    #[cfg(target_arch = "x86_64")]
    let streamed = stitch_streamed::<O>(r, isa, &t, &mut opened, rows)?;
    #[cfg(not(target_arch = "x86_64"))]
    let streamed = None;
    let (offsets, values, utf8) = match streamed {
        Some((offsets, values)) => (offsets, values, lits_utf8),
        None => {
            let fields = decode_fields(r, &t, opened, rows)?;
            let (offsets, values) = format::<O>(r, &t, &fields, rows.len())?;
            let utf8 = lits_utf8
                && fields.iter().all(|f| match f {
                    Field::Ints(_) => true,
                    Field::Text(s) => s.utf8,
                });
            (offsets, values, utf8)
        }
    };
    Ok(DecodedStrings {
        offsets,
        values: Buffer::from_vec(values),
        utf8,
    })
}

/// Which rows are below and which equal to one literal.
struct Order {
    less: BooleanBuffer,
    equal: BooleanBuffer,
}

/// Compares a literal of the template with the rest of the probe: Ok(length
/// consumed) when the probe continues with it, else how every row compares.
fn compare_literal(lit: &[u8], rest: &[u8]) -> Result<usize, Ordering> {
    let m = lit.len().min(rest.len());
    if let Some(j) = (0..m).find(|&j| lit[j] != rest[j]) {
        return Err(lit[j].cmp(&rest[j]));
    }
    if lit.len() > rest.len() {
        return Err(Ordering::Greater);
    }
    Ok(lit.len())
}

/// How many `w`-digit strings over `alphabet` sort before `rest`, and
/// whether `rest` starts with such a string (which then has value `bound`).
fn bound(alphabet: &[u8], w: usize, rest: &[u8]) -> (u128, bool) {
    let base = alphabet.len() as u128;
    let mut b = 0u128;
    for i in 0..w {
        let Some(&c) = rest.get(i) else {
            return (b, false);
        };
        let below = alphabet.iter().filter(|&&a| a < c).count() as u128;
        b += below * base.pow((w - 1 - i) as u32);
        if !alphabet.contains(&c) {
            return (b, false);
        }
    }
    (b, true)
}

/// Rows below and equal to `probe`, computed on the fields. With
/// `need_order` false only `equal` is meaningful. None when a variable-width
/// field decides the order for some rows (the caller formats the rows).
fn order(
    t: &Template,
    fields: &[Field],
    n: usize,
    probe: &[u8],
    need_order: bool,
) -> Option<Order> {
    let mut less = BooleanBuffer::new_unset(n);
    let mut open = BooleanBuffer::new_set(n);
    let none = BooleanBuffer::new_unset(n);
    let mut o = 0;
    // Each literal, then the field after it (none after the last literal).
    let after = t.kinds.iter().zip(fields).map(Some).chain([None]);
    for (lit, field) in t.lits.iter().zip(after) {
        match compare_literal(lit, &probe[o..]) {
            Ok(len) => o += len,
            Err(ord) => {
                if ord == Ordering::Less {
                    less = &less | &open;
                }
                return Some(Order { less, equal: none });
            }
        }
        let Some((kind, field)) = field else {
            break;
        };
        let rest = &probe[o..];
        match (kind, field) {
            (kind, Field::Ints(v)) if kind.fixed().is_some() => {
                let (alphabet, w) = kind.fixed().expect("checked");
                let (b, full) = bound(alphabet, w, rest);
                let lt = BooleanBuffer::collect_bool(n, |i| u128::from(v[i]) < b);
                less = &less | &(&open & &lt);
                if !full {
                    return Some(Order { less, equal: none });
                }
                let eq = BooleanBuffer::collect_bool(n, |i| u128::from(v[i]) == b);
                open = &open & &eq;
                o += w;
            }
            _ if need_order => return None,
            (kind, field) => {
                let len = rest.iter().position(|&b| !is_word(b)).unwrap_or(rest.len());
                let token = &rest[..len];
                let eq = match field {
                    Field::Ints(v) => match kind.parse(token) {
                        Some(x) => BooleanBuffer::collect_bool(n, |i| v[i] == x),
                        None => none.clone(),
                    },
                    Field::Text(s) => {
                        let offs = &s.offsets;
                        BooleanBuffer::collect_bool(n, |i| {
                            &s.values[offs[i] as usize..offs[i + 1] as usize] == token
                        })
                    }
                };
                open = &open & &eq;
                o += len;
            }
        }
        if open.count_set_bits() == 0 {
            return Some(Order { less, equal: none });
        }
    }
    if o == probe.len() {
        Some(Order { less, equal: open })
    } else {
        // The row is a proper prefix of the probe.
        less = &less | &open;
        Some(Order { less, equal: none })
    }
}

/// The predicate on the fields, without formatting rows (None: not possible).
fn evaluate_fields(
    t: &Template,
    fields: &[Field],
    n: usize,
    predicate: &Predicate,
) -> Option<BooleanBuffer> {
    fn bytes(s: &Scalar) -> Option<&[u8]> {
        match s {
            Scalar::Bytes(b) => Some(b),
            _ => None,
        }
    }
    let ord = |s: &Scalar| order(t, fields, n, bytes(s)?, true);
    let eq = |s: &Scalar| Some(order(t, fields, n, bytes(s)?, false)?.equal);
    Some(match predicate {
        Predicate::Eq(s) => eq(s)?,
        Predicate::NotEq(s) => !&eq(s)?,
        Predicate::In(list) => {
            let mut any = BooleanBuffer::new_unset(n);
            for s in list {
                any = &any | &eq(s)?;
            }
            any
        }
        Predicate::Lt(s) => ord(s)?.less,
        Predicate::LtEq(s) => {
            let o = ord(s)?;
            &o.less | &o.equal
        }
        Predicate::Gt(s) => {
            let o = ord(s)?;
            !&(&o.less | &o.equal)
        }
        Predicate::GtEq(s) => !&ord(s)?.less,
        Predicate::Between(lo, hi) => {
            let (lo, hi) = (ord(lo)?, ord(hi)?);
            &!&lo.less & &(&hi.less | &hi.equal)
        }
    })
}

/// Evaluates `predicate` on a pattern node of `n` rows (after its codec id):
/// fixed-width fields and literals compare as integers and bytes; rows are
/// formatted only when a variable-width field decides an ordering.
pub(crate) fn evaluate(
    r: &mut ByteReader,
    n: usize,
    predicate: &Predicate,
    bits: &mut BooleanBufferBuilder,
) -> Result<(), CompressionError> {
    let t = read_template(r)?;
    let fields = read_fields(r, &t, Rows::all(n))?;
    if let Some(mask) = evaluate_fields(&t, &fields, n, predicate) {
        bits.append_buffer(&mask);
        return Ok(());
    }
    let (offsets, values) = format::<i64>(r, &t, &fields, n)?;
    bits.append_buffer(&BooleanBuffer::collect_bool(n, |i| {
        bytes_match(
            predicate,
            &values[offsets[i] as usize..offsets[i + 1] as usize],
        )
    }));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_cuts_at_word_boundaries() {
        let (lits, fields) = split(b"req-0a1b-17");
        assert_eq!(lits, [&b""[..], b"-", b"-", b""]);
        assert_eq!(fields, [&b"req"[..], b"0a1b", b"17"]);
        let (lits, fields) = split(b"::");
        assert_eq!(lits, [&b"::"[..]]);
        assert!(fields.is_empty());
    }

    #[test]
    fn kinds_parse_only_their_canonical_text() {
        assert_eq!(Kind::Decimal.parse(b"0"), Some(0));
        assert_eq!(Kind::Decimal.parse(b"1234"), Some(1234));
        assert_eq!(Kind::Decimal.parse(b"01"), None);
        assert_eq!(Kind::Decimal.parse(b"99999999999999999999"), None);
        assert_eq!(Kind::ZeroPadded(3).parse(b"007"), Some(7));
        assert_eq!(Kind::ZeroPadded(3).parse(b"07"), None);
        assert_eq!(Kind::HexLower(4).parse(b"00ff"), Some(255));
        assert_eq!(Kind::HexLower(4).parse(b"00FF"), None);
        assert_eq!(Kind::HexUpper(2).parse(b"FF"), Some(255));
        let (kind, _) = Kind::classify(&[b"7", b"10"]);
        assert_eq!(kind, Kind::Decimal);
        let (kind, _) = Kind::classify(&[b"07", b"10"]);
        assert_eq!(kind, Kind::ZeroPadded(2));
        let (kind, values) = Kind::classify(&[b"0a", b"ff"]);
        assert_eq!((kind, values), (Kind::HexLower(2), vec![10, 255]));
        let (kind, _) = Kind::classify(&[b"abc", b"xy"]);
        assert_eq!(kind, Kind::Text);
    }

    #[test]
    fn digits_are_written_like_format() {
        let mut out = [0u8; 40];
        for v in [
            0u64,
            7,
            42,
            99_999_999,
            12_345_678,
            10_000_000_000,
            u64::MAX,
        ] {
            for w in decimal_digits(v)..=20 {
                put_decimal(&mut out, v, w);
                assert_eq!(&out[..w], format!("{v:0w$}").as_bytes());
            }
            let bits = 64 - v.leading_zeros() as usize;
            for w in bits.div_ceil(4).max(1)..=16 {
                put_hex(&mut out, v, w, 0x27);
                assert_eq!(&out[..w], format!("{v:0w$x}").as_bytes());
                put_hex(&mut out, v, w, 0x07);
                assert_eq!(&out[..w], format!("{v:0w$X}").as_bytes());
            }
        }
    }

    #[test]
    fn digit_counts_and_eight_digit_blocks_match_format() {
        // Every power of ten and its neighbours, where a count or the
        // multiply-based division by 10^4 would first go wrong.
        for p in 0..20 {
            let p = 10u64.pow(p);
            for v in [p - 1, p, p + 1] {
                assert_eq!(decimal_digits(v), v.to_string().len(), "{v}");
            }
        }
        assert_eq!(decimal_digits(u64::MAX), 20);
        // Either side of every multiple of 10^4 below 10^8.
        for k in 0..10_000u64 {
            for v in [k * 10_000, (k * 10_000 + 9_999)] {
                let text = eight_digits(v).to_le_bytes();
                assert_eq!(&text, format!("{v:08}").as_bytes(), "{v}");
                for d in 1..=16 {
                    if v < 10u64.pow(d as u32) {
                        let t = decimal_text(v, d).to_le_bytes();
                        assert_eq!(&t[..d], format!("{v:0d$}").as_bytes());
                    }
                }
            }
        }
    }

    fn numeric<'a>(kind: Kind, values: &'a [u64], lit: &'a [u8]) -> Numeric<'a> {
        Numeric {
            kind,
            values,
            lit,
            widest: kind
                .fixed()
                .map_or(decimal_digits(or_of(values)), |(_, w)| w),
        }
    }

    /// Every instruction set stitches the rows `format!` writes: each kind
    /// and width alone and before a decimal, literals of 0-8 bytes after
    /// fields, literal 0 empty, joining the first field or written alone,
    /// and row counts that leave 0-3 rows after the last group of four.
    #[test]
    fn stitched_rows_match_format_on_every_isa() {
        let mut state = 7u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut kinds = vec![Kind::Decimal];
        for w in 1..=8 {
            kinds.extend([Kind::ZeroPadded(w), Kind::HexLower(w), Kind::HexUpper(w)]);
        }
        let text = |kind: Kind, v: u64| match kind {
            Kind::Decimal => v.to_string(),
            Kind::ZeroPadded(w) => format!("{v:0w$}", w = w as usize),
            Kind::HexLower(w) => format!("{v:0w$x}", w = w as usize),
            Kind::HexUpper(w) => format!("{v:0w$X}", w = w as usize),
            Kind::Text => unreachable!(),
        };
        let values_of = |kind: Kind, n: usize, next: &mut dyn FnMut() -> u64| -> Vec<u64> {
            let limit = match kind.fixed() {
                Some((alphabet, w)) => (alphabet.len() as u64).pow(w as u32),
                // Decimals below 2^26, so that their OR (the bound on their
                // digits) keeps to 8 digits.
                None => 1 << 26,
            };
            // 0, limits of digit counts, and values of every digit count.
            let edges = [0, 1, 9, 10, 99, 100, 9_999_999, 10_000_000, 99_999_999];
            edges
                .into_iter()
                .map(|v| v % limit)
                .chain(std::iter::repeat_with(|| {
                    next() % 10u64.pow(1 + (next() % 8) as u32) % limit
                }))
                .take(n)
                .collect()
        };
        let lit0s = [
            &b""[..],
            b"r",
            b"req-",
            b"1234567",
            b"12345678",
            b"123456789abcdef",
        ];
        let lits = [&b""[..], b"-", b"::", b"-x-yz-w", b"12345678"];
        let r = ByteReader::new(&[]);
        let mut kernel_runs = 0;
        for (i, &kind) in kinds.iter().enumerate() {
            for ((j, lit0), (l, lit)) in lit0s
                .iter()
                .enumerate()
                .flat_map(|j| lits.iter().enumerate().map(move |l| (j, l)))
            {
                let last_lit = lits[(i + 2 * j + l + 1) % lits.len()];
                let n = 61 + j % 4;
                let first = values_of(kind, n, &mut next);
                let second = values_of(Kind::Decimal, n, &mut next);
                let one = [numeric(kind, &first, lit)];
                let two = [
                    numeric(kind, &first, lit),
                    numeric(Kind::Decimal, &second, last_lit),
                ];
                for fields in [&one[..], &two[..]] {
                    let want: Vec<Vec<u8>> = (0..n)
                        .map(|row| {
                            let mut s = lit0.to_vec();
                            for f in fields {
                                s.extend(text(f.kind, f.values[row]).as_bytes());
                                s.extend(f.lit);
                            }
                            s
                        })
                        .collect();
                    let (offsets, bytes) = stitch::<i32>(&r, lit0, fields, n)
                        .unwrap()
                        .expect("fits i32");
                    let got: Vec<&[u8]> = offsets
                        .windows(2)
                        .map(|w| &bytes[w[0] as usize..w[1] as usize])
                        .collect();
                    assert_eq!(got, want, "{kind:?} portable lit0 {lit0:?} lit {lit:?}");
                    assert_eq!(bytes.len(), *offsets.last().unwrap() as usize);
                    // The vector kernel writes every byte it keeps: checked
                    // in buffers of junk (its caller leaves them
                    // uninitialized, and a freed buffer may still hold an
                    // earlier call's right answer).
                    #[cfg(target_arch = "x86_64")]
                    for &isa in &crate::simd::supported()[1..] {
                        let want_bytes = want.concat();
                        let first = &fields[0];
                        let lead = (1..=8).contains(&lit0.len())
                            && lit0.len() + first.widest + first.lit.len() <= 16;
                        let mut out =
                            vec![MaybeUninit::new(0xEEu8); want_bytes.len() + 4 * n + PAD];
                        let mut ends = vec![MaybeUninit::new(-1i32); n];
                        let short = fields.iter().all(|f| f.widest <= 8 && f.lit.len() <= 8);
                        let at = stitch_short(isa, (*lit0, lead), fields, (&mut out, 0), &mut ends);
                        assert_eq!(at.is_some(), short);
                        let Some(at) = at else { continue };
                        kernel_runs += 1;
                        // SAFETY: all initialized above.
                        let (out, ends) = unsafe {
                            (
                                out[..at]
                                    .iter()
                                    .map(|b| b.assume_init())
                                    .collect::<Vec<u8>>(),
                                ends.iter().map(|e| e.assume_init()).collect::<Vec<i32>>(),
                            )
                        };
                        assert_eq!(
                            out, want_bytes,
                            "{kind:?} {isa:?} lit0 {lit0:?} lit {lit:?}"
                        );
                        let want_ends: Vec<i32> = want
                            .iter()
                            .scan(0, |end, row| {
                                *end += row.len() as i32;
                                Some(*end)
                            })
                            .collect();
                        assert_eq!(ends, want_ends);
                    }
                }
            }
        }
        #[cfg(target_arch = "x86_64")]
        if crate::simd::supported().len() > 1 {
            assert!(kernel_runs > 1000, "{kernel_runs}");
        }
    }
    /// A hex field whose node holds a value above its width is corrupt,
    /// whether the value is in the first block or a later one, and whether
    /// its node streams (FOR) or is decoded whole (delta).
    #[test]
    fn fixed_width_values_above_their_width_are_corrupt() {
        for (at, scheme) in [
            (5, int::IntScheme::ForBitpack),
            (2500, int::IntScheme::ForBitpack),
            (2500, int::IntScheme::Delta),
        ] {
            let mut values: Vec<u64> = (0..3000u64).map(|i| i * 7919 % 65_536).collect();
            values[at] = 1 << 32;
            // "id-" then an 8-digit lower-case hex field, nothing after it.
            let mut blob = vec![1u8];
            blob.extend(3u16.to_le_bytes());
            blob.extend(b"id-");
            blob.extend([2, 8]);
            blob.extend(0u16.to_le_bytes());
            let template = blob.len();
            int::encode_node(&values, Some(scheme), int::ENCODE_DEPTH, &mut blob);
            let got = decode::<i32>(&mut ByteReader::new(&blob), Rows::all(values.len()));
            let err = got.err().expect("corrupt");
            assert!(
                err.to_string()
                    .contains("pattern field value wider than its width"),
                "{err}"
            );
            // The same node with the value in range decodes.
            values[at] = 0xffff_ffff;
            let mut blob = blob[..template].to_vec();
            int::encode_node(&values, Some(scheme), int::ENCODE_DEPTH, &mut blob);
            let got = decode::<i32>(&mut ByteReader::new(&blob), Rows::all(values.len())).unwrap();
            let row = |i: usize| {
                let o = &got.offsets;
                &got.values[o[i] as usize..o[i + 1] as usize]
            };
            assert_eq!(row(at), b"id-ffffffff");
            assert_eq!(row(1), format!("id-{:08x}", 7919).as_bytes());
        }
    }

    #[test]
    fn bound_counts_fixed_width_strings_below_a_probe() {
        assert_eq!(bound(DIGITS, 3, b"042"), (42, true));
        assert_eq!(bound(DIGITS, 3, b"04"), (40, false));
        assert_eq!(bound(DIGITS, 3, b"04:"), (50, false));
        assert_eq!(bound(DIGITS, 3, b"04-"), (40, false));
        assert_eq!(bound(HEX_LOWER, 2, b"g"), (256, false));
        assert_eq!(bound(HEX_LOWER, 2, b":"), (160, false));
        assert_eq!(
            bound(HEX_LOWER, 16, b"ffffffffffffffff"),
            (u64::MAX as u128, true)
        );
    }
}
