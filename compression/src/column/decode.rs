//! Decoding of a chunk blob into an Arrow array.
//!
//! Owns the final step of every decode: values decoded as keys or bits are
//! turned into the Arrow buffer of the caller's type (zero-copy for 64-bit
//! types: the decode vector becomes the Arrow buffer). Hot path.

use std::ops::Range;
use std::sync::Arc;

use arrow_array::types::*;
use arrow_array::{
    new_empty_array, new_null_array, ArrayRef, BooleanArray, GenericBinaryArray,
    GenericStringArray, OffsetSizeTrait, PrimitiveArray,
};
use arrow_buffer::{Buffer, NullBuffer, ScalarBuffer};
use arrow_schema::{DataType, TimeUnit};

use super::{open, read_validity, OpenChunk};
use crate::cursor::ByteReader;
use crate::error::CompressionError;
use crate::float::{self, FloatWidth};
use crate::format::Kind;
use crate::int::{self, Rows, SIGN};
use crate::string;

/// Decode a blob from `encode_array`. `data_type` is the Arrow type the caller expects; mismatches are errors.
pub fn decode_array(bytes: &[u8], data_type: &DataType) -> Result<ArrayRef, CompressionError> {
    decode(bytes, data_type, None)
}

/// Decode only the 1024-row blocks `blocks` of a chunk (rows
/// `blocks.start * 1024 .. min(blocks.end * 1024, row_count)`), for readers
/// that pruned blocks with `block_stats`. Equals `decode_array(..).slice(..)`.
/// Codecs with per-block layout (plain, FOR, delta, ALP, XOR, dictionary
/// codes) skip the other blocks without decoding them.
pub fn decode_blocks(
    bytes: &[u8],
    data_type: &DataType,
    blocks: Range<usize>,
) -> Result<ArrayRef, CompressionError> {
    decode(bytes, data_type, Some(blocks))
}

/// A chunk opened once for several reads: its header parsed and its body
/// decompressed (when behind the zstd stage), so that each
/// [`OpenedChunk::decode_blocks`] only unpacks its own blocks. Readers that
/// take several parts of one chunk open it once.
pub struct OpenedChunk<'a>(OpenChunk<'a>);

/// Opens a chunk blob for [`OpenedChunk::decode_blocks`].
pub fn open_chunk(bytes: &[u8]) -> Result<OpenedChunk<'_>, CompressionError> {
    open(bytes).map(OpenedChunk)
}

impl OpenedChunk<'_> {
    /// Same as [`decode_blocks`] on the blob this chunk was opened from.
    pub fn decode_blocks(
        &self,
        data_type: &DataType,
        blocks: Range<usize>,
    ) -> Result<ArrayRef, CompressionError> {
        decode_open(&self.0, data_type, Some(blocks))
    }

    /// Same as [`crate::evaluate_blocks`] on the blob this chunk was opened from.
    pub fn evaluate_blocks(
        &self,
        predicate: &crate::Predicate,
        blocks: Range<usize>,
    ) -> Result<arrow_buffer::BooleanBuffer, CompressionError> {
        crate::evaluate::evaluate_open(&self.0, predicate, Some(blocks))
    }

    /// `predicate` prepared for this chunk (key ranges and block decisions
    /// computed once), for [`OpenedChunk::evaluate_prepared`] on its parts.
    pub fn prepare(
        &self,
        predicate: &crate::Predicate,
    ) -> Result<crate::PreparedPredicate, CompressionError> {
        crate::evaluate::prepare(&self.0, predicate)
    }

    /// Same as [`OpenedChunk::evaluate_blocks`] with a predicate prepared
    /// for this chunk; one prepared for another chunk is an error when the
    /// row counts differ (and gives wrong bits otherwise).
    pub fn evaluate_prepared(
        &self,
        prepared: &crate::PreparedPredicate,
        blocks: Range<usize>,
    ) -> Result<arrow_buffer::BooleanBuffer, CompressionError> {
        crate::evaluate::evaluate_prepared(&self.0, prepared, Some(blocks))
    }

    /// Rows in the chunk.
    pub fn rows(&self) -> usize {
        self.0.header.rows
    }
}

fn decode(
    bytes: &[u8],
    data_type: &DataType,
    blocks: Option<Range<usize>>,
) -> Result<ArrayRef, CompressionError> {
    decode_open(&open(bytes)?, data_type, blocks)
}

fn decode_open(
    chunk: &OpenChunk<'_>,
    data_type: &DataType,
    blocks: Option<Range<usize>>,
) -> Result<ArrayRef, CompressionError> {
    let h = &chunk.header;
    h.check_type(data_type)?;
    let rows = block_rows(h, blocks)?;
    let n = rows.len();
    if !h.has_body() || n == 0 {
        return Ok(if h.rows == 0 || n == 0 {
            new_empty_array(data_type)
        } else {
            new_null_array(data_type, n)
        });
    }
    let mut r = ByteReader::new(&chunk.body);
    let nulls = read_validity(&mut r, h, rows)?;
    let array: ArrayRef = match h.tag.kind() {
        Kind::Signed | Kind::Unsigned => {
            let mut keys = vec![0u64; n];
            int::decode_rows(&mut r, rows, &mut keys, int::DECODE_DEPTH)?;
            int_array(keys, nulls, data_type)
        }
        Kind::Bool => Arc::new(BooleanArray::new(
            int::decode_bool_rows(&mut r, rows)?,
            nulls,
        )),
        Kind::Float(w) => {
            let mut bits = vec![0u64; n];
            float::decode_rows(&mut r, w, rows, &mut bits)?;
            match w {
                FloatWidth::F64 => {
                    Arc::new(PrimitiveArray::<Float64Type>::new(reinterpret(bits), nulls))
                }
                FloatWidth::F32 => Arc::new(PrimitiveArray::<Float32Type>::new(
                    bits.iter().map(|&b| f32::from_bits(b as u32)).collect(),
                    nulls,
                )),
            }
        }
        Kind::Bytes => string_array(&mut r, rows, nulls, data_type)?,
        Kind::Decimal => {
            let values = decode_decimals(&mut r, rows)?;
            Arc::new(
                PrimitiveArray::<Decimal128Type>::new(ScalarBuffer::from(values), nulls)
                    .with_data_type(data_type.clone()),
            )
        }
    };
    r.expect_end("trailing bytes after the values")?;
    Ok(array)
}

/// The rows of `blocks` of a chunk (all rows when `None`), checked against its block count.
pub(crate) fn block_rows(
    h: &crate::format::Header,
    blocks: Option<Range<usize>>,
) -> Result<Rows, CompressionError> {
    let Some(b) = blocks else {
        return Ok(Rows::all(h.rows));
    };
    let n_blocks = h.rows.div_ceil(int::BLOCK);
    if b.start > b.end || b.end > n_blocks {
        return Err(CompressionError::BlockRange {
            start: b.start,
            end: b.end,
            blocks: n_blocks,
        });
    }
    Ok(Rows {
        n: h.rows,
        first_block: b.start,
        end_block: b.end,
    })
}

/// Decimal values: an i128 split node or an integer node of i64 keys.
pub(crate) fn decode_decimals(
    r: &mut ByteReader,
    rows: Rows,
) -> Result<Vec<i128>, CompressionError> {
    let at = r.pos();
    if r.u8("decimal codec id")? == int::id::I128_SPLIT {
        return int::wide::decode(r, rows);
    }
    r.rewind(at);
    let mut keys = vec![0u64; rows.len()];
    int::decode_rows(r, rows, &mut keys, int::DECODE_DEPTH)?;
    Ok(keys.iter().map(|&k| ((k ^ SIGN) as i64) as i128).collect())
}

/// A Vec<u64> becomes an Arrow buffer of another 64-bit native type without copying.
fn reinterpret<T: arrow_buffer::ArrowNativeType>(v: Vec<u64>) -> ScalarBuffer<T> {
    debug_assert_eq!(std::mem::size_of::<T>(), 8);
    let n = v.len();
    ScalarBuffer::new(Buffer::from_vec(v), 0, n)
}

fn int_array(mut keys: Vec<u64>, nulls: Option<NullBuffer>, dt: &DataType) -> ArrayRef {
    fn narrow<T: arrow_array::ArrowPrimitiveType>(
        keys: &[u64],
        nulls: Option<NullBuffer>,
        f: impl Fn(u64) -> T::Native,
    ) -> PrimitiveArray<T> {
        PrimitiveArray::<T>::new(keys.iter().map(|&k| f(k)).collect(), nulls)
    }
    let s = |k: u64| (k ^ SIGN) as i64;
    match dt {
        DataType::Int8 => Arc::new(narrow::<Int8Type>(&keys, nulls, |k| s(k) as i8)),
        DataType::Int16 => Arc::new(narrow::<Int16Type>(&keys, nulls, |k| s(k) as i16)),
        DataType::Int32 => Arc::new(narrow::<Int32Type>(&keys, nulls, |k| s(k) as i32)),
        DataType::Date32 => Arc::new(narrow::<Date32Type>(&keys, nulls, |k| s(k) as i32)),
        DataType::UInt8 => Arc::new(narrow::<UInt8Type>(&keys, nulls, |k| k as u8)),
        DataType::UInt16 => Arc::new(narrow::<UInt16Type>(&keys, nulls, |k| k as u16)),
        DataType::UInt32 => Arc::new(narrow::<UInt32Type>(&keys, nulls, |k| k as u32)),
        DataType::UInt64 => Arc::new(PrimitiveArray::<UInt64Type>::new(
            ScalarBuffer::from(keys),
            nulls,
        )),
        _ => {
            for k in keys.iter_mut() {
                *k ^= SIGN;
            }
            let values = reinterpret::<i64>(keys);
            match dt {
                DataType::Int64 => Arc::new(PrimitiveArray::<Int64Type>::new(values, nulls)),
                DataType::Date64 => Arc::new(PrimitiveArray::<Date64Type>::new(values, nulls)),
                DataType::Timestamp(unit, tz) => match unit {
                    TimeUnit::Second => Arc::new(
                        PrimitiveArray::<TimestampSecondType>::new(values, nulls)
                            .with_timezone_opt(tz.clone()),
                    ),
                    TimeUnit::Millisecond => Arc::new(
                        PrimitiveArray::<TimestampMillisecondType>::new(values, nulls)
                            .with_timezone_opt(tz.clone()),
                    ),
                    TimeUnit::Microsecond => Arc::new(
                        PrimitiveArray::<TimestampMicrosecondType>::new(values, nulls)
                            .with_timezone_opt(tz.clone()),
                    ),
                    TimeUnit::Nanosecond => Arc::new(
                        PrimitiveArray::<TimestampNanosecondType>::new(values, nulls)
                            .with_timezone_opt(tz.clone()),
                    ),
                },
                // check_type admitted only integer types here.
                _ => Arc::new(PrimitiveArray::<Int64Type>::new(values, nulls)),
            }
        }
    }
}

fn string_array(
    r: &mut ByteReader,
    n: Rows,
    nulls: Option<NullBuffer>,
    dt: &DataType,
) -> Result<ArrayRef, CompressionError> {
    fn build<O: OffsetSizeTrait>(
        r: &mut ByteReader,
        n: Rows,
        nulls: Option<NullBuffer>,
        utf8: bool,
    ) -> Result<ArrayRef, CompressionError> {
        let at = r.pos();
        let s = string::decode_node::<O>(r, n)?;
        let bad = |_| {
            crate::error::corrupt(
                at,
                "strings are not valid UTF-8 or offsets are inconsistent",
            )
        };
        if nulls
            .as_ref()
            .is_some_and(|nb| nb.len() != s.offsets.len() - 1)
        {
            return Err(crate::error::corrupt(
                at,
                "validity and values disagree on the row count",
            ));
        }
        Ok(
            if utf8 && s.utf8 && s.offsets.last().and_then(|o| o.to_usize()) == Some(s.values.len())
            {
                // SAFETY: the offsets were built by the decoder from entry
                // lengths (monotonic, ending at `values.len()`, checked above),
                // every boundary is an entry boundary, and `s.utf8` says the
                // entries are valid UTF-8 split at char boundaries; the null
                // buffer's length was checked above.
                Arc::new(unsafe {
                    GenericStringArray::<O>::new_unchecked(s.offsets, s.values, nulls)
                })
            } else if utf8 {
                Arc::new(GenericStringArray::<O>::try_new(s.offsets, s.values, nulls).map_err(bad)?)
            } else {
                Arc::new(GenericBinaryArray::<O>::try_new(s.offsets, s.values, nulls).map_err(bad)?)
            },
        )
    }
    match dt {
        DataType::Utf8 => build::<i32>(r, n, nulls, true),
        DataType::LargeUtf8 => build::<i64>(r, n, nulls, true),
        DataType::Binary => build::<i32>(r, n, nulls, false),
        _ => build::<i64>(r, n, nulls, false),
    }
}
