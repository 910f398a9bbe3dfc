//! Encoding of one Arrow array into a chunk blob.
//!
//! Owns value extraction per Arrow type, NULL filling, statistics and the
//! mapping of a forced `Codec` onto the node schemes.

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{AnyDictionaryArray, Array, ArrowPrimitiveType};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, TimeUnit};

use crate::block_index;
use crate::error::CompressionError;
use crate::float::{self, FloatScheme, FloatWidth};
use crate::format::{flag, Header, Kind, TypeTag, MAX_CHUNK_ROWS};
use crate::int::{self, all_equal, IntScheme, ENCODE_DEPTH, SIGN};
use crate::predicate::{float_key, Scalar};
use crate::string::{self, dict::Dictionary, StringRows, StringScheme};
use crate::zstd_stage::{write_stream, ZstdPolicy, MAX_DECODED_BYTES};
use crate::{Codec, EncodeOptions};

/// The order-preserving u64 keys of an integer-like array (all integer
/// widths, dates, timestamps: signed values `^ SIGN`) and whether it is
/// signed; `None` for other types. NULL slots hold whatever the array has.
pub(crate) fn int_keys(array: &dyn Array) -> Option<(Vec<u64>, bool)> {
    fn signed<T: ArrowPrimitiveType>(a: &dyn Array) -> Vec<u64>
    where
        T::Native: Into<i64>,
    {
        a.as_primitive::<T>()
            .values()
            .iter()
            .map(|&v| (v.into() as u64) ^ SIGN)
            .collect()
    }
    fn unsigned<T: ArrowPrimitiveType>(a: &dyn Array) -> Vec<u64>
    where
        T::Native: Into<u64>,
    {
        a.as_primitive::<T>()
            .values()
            .iter()
            .map(|&v| v.into())
            .collect()
    }
    Some(match array.data_type() {
        DataType::Int8 => (signed::<Int8Type>(array), true),
        DataType::Int16 => (signed::<Int16Type>(array), true),
        DataType::Int32 => (signed::<Int32Type>(array), true),
        DataType::Int64 => (signed::<Int64Type>(array), true),
        DataType::Date32 => (signed::<Date32Type>(array), true),
        DataType::Date64 => (signed::<Date64Type>(array), true),
        DataType::Timestamp(TimeUnit::Second, _) => (signed::<TimestampSecondType>(array), true),
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            (signed::<TimestampMillisecondType>(array), true)
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            (signed::<TimestampMicrosecondType>(array), true)
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            (signed::<TimestampNanosecondType>(array), true)
        }
        DataType::UInt8 => (unsigned::<UInt8Type>(array), false),
        DataType::UInt16 => (unsigned::<UInt16Type>(array), false),
        DataType::UInt32 => (unsigned::<UInt32Type>(array), false),
        DataType::UInt64 => (unsigned::<UInt64Type>(array), false),
        _ => return None,
    })
}

/// Encode one column chunk (up to 65_536 values) into a self-describing, versioned byte blob.
pub fn encode_array(array: &dyn Array, opts: &EncodeOptions) -> Result<Vec<u8>, CompressionError> {
    let dt = array.data_type();
    let tag = TypeTag::of(dt)?;
    let rows = array.len();
    if rows > MAX_CHUNK_ROWS {
        return Err(CompressionError::TooManyRows {
            rows,
            limit: MAX_CHUNK_ROWS,
        });
    }
    let nulls = array.nulls().filter(|n| n.null_count() > 0);
    let null_count = nulls.map_or(0, |n| n.null_count());
    let mut header = Header {
        tag,
        flags: 0,
        rows,
        nulls: null_count,
        decimal: match dt {
            DataType::Decimal128(p, s) => Some((*p, *s)),
            _ => None,
        },
        min: None,
        max: None,
        block_index: None,
    };
    let mut out = Vec::new();
    if rows == null_count {
        if rows > 0 {
            header.flags |= flag::ALL_NULL;
        }
        // Empty and all-NULL chunks have no values node: a forced codec is moot.
        header.write(None, &mut out);
        return Ok(out);
    }
    let mut body = Vec::new();
    if let Some(n) = nulls {
        header.flags |= flag::HAS_VALIDITY;
        let bits: Vec<u64> = n.iter().map(|v| v as u64).collect();
        int::encode_node(&bits, None, ENCODE_DEPTH, &mut body);
    }
    header.flags |= flag::HAS_STATS;
    let mut enc = Encoder {
        dt,
        nulls,
        opts,
        zstd: zstd_policy(opts),
        index: None,
    };
    let (min, max) = match tag.kind() {
        Kind::Signed | Kind::Unsigned => enc.ints(array, &mut body)?,
        Kind::Bool => enc.bools(array, &mut body)?,
        Kind::Float(w) => enc.floats(array, w, &mut body)?,
        Kind::Bytes => enc.strings(array, &mut body)?,
        Kind::Decimal => enc.decimals(array, &mut body)?,
    };
    header.min = Some(min);
    header.max = Some(max);
    if enc.index.is_some() {
        header.flags |= flag::HAS_BLOCK_INDEX;
    }
    header.write(enc.index.as_deref(), &mut out);
    write_stream(&body, enc.zstd, &mut out)?;
    Ok(out)
}

fn zstd_policy(opts: &EncodeOptions) -> ZstdPolicy {
    match (opts.disable_zstd, opts.zstd_level) {
        (true, _) => ZstdPolicy::Never,
        (false, None) => ZstdPolicy::Auto,
        (false, Some(l)) => ZstdPolicy::Level(l),
    }
}

struct Encoder<'a> {
    dt: &'a DataType,
    nulls: Option<&'a NullBuffer>,
    opts: &'a EncodeOptions,
    zstd: ZstdPolicy,
    /// Block index section, set by the value encoders that support one.
    index: Option<Vec<u8>>,
}

/// Replaces NULL slots by the previous valid value (leading NULLs by the first one).
fn fill_nulls<T: Copy>(values: &mut [T], nulls: Option<&NullBuffer>) {
    let Some(n) = nulls else { return };
    let Some(first) = n.valid_indices().next() else {
        return;
    };
    let mut prev = values[first];
    for (i, v) in values.iter_mut().enumerate() {
        if n.is_valid(i) {
            prev = *v;
        } else {
            *v = prev;
        }
    }
}

/// (min, max) of the valid values under `key` order.
fn min_max_by<T: Copy, K: Ord>(
    values: &[T],
    nulls: Option<&NullBuffer>,
    key: impl Fn(T) -> K,
) -> (T, T) {
    let mut it = values
        .iter()
        .enumerate()
        .filter(|(i, _)| nulls.is_none_or(|n| n.is_valid(*i)))
        .map(|(_, v)| *v);
    let first = it.next().expect("a chunk with stats has a valid value");
    it.fold((first, first), |(lo, hi), v| {
        (
            if key(v) < key(lo) { v } else { lo },
            if key(v) > key(hi) { v } else { hi },
        )
    })
}

impl Encoder<'_> {
    fn not_applicable(&self, codec: Codec, reason: &'static str) -> CompressionError {
        CompressionError::CodecNotApplicable {
            codec,
            data_type: self.dt.clone(),
            reason,
        }
    }

    fn int_scheme(&self, keys: &[u64]) -> Result<Option<IntScheme>, CompressionError> {
        let Some(codec) = self.opts.codec else {
            return Ok(None);
        };
        Ok(Some(match codec {
            Codec::Plain => IntScheme::Plain,
            Codec::Constant if all_equal(keys) => IntScheme::Constant,
            Codec::Constant => return Err(self.not_applicable(codec, "values are not all equal")),
            Codec::ForBitpack => IntScheme::ForBitpack,
            Codec::Delta => IntScheme::Delta,
            Codec::DeltaOfDelta => IntScheme::DeltaOfDelta,
            Codec::Rle => IntScheme::Rle,
            Codec::Linear => IntScheme::Linear,
            Codec::Patched => IntScheme::Patched,
            Codec::Flips if keys.iter().all(|&k| k <= 1) => IntScheme::Flips,
            Codec::Flips => return Err(self.not_applicable(codec, "values are not all 0 or 1")),
            _ => return Err(self.not_applicable(codec, "not an integer codec")),
        }))
    }

    fn ints(
        &mut self,
        array: &dyn Array,
        body: &mut Vec<u8>,
    ) -> Result<(Scalar, Scalar), CompressionError> {
        let Some((mut keys, is_signed)) = int_keys(array) else {
            return Err(CompressionError::UnsupportedType(self.dt.clone()));
        };
        let (lo, hi) = min_max_by(&keys, self.nulls, |k| k);
        fill_nulls(&mut keys, self.nulls);
        self.index = block_index::encode(&keys, self.nulls, |k| k);
        let scheme = self.int_scheme(&keys)?;
        int::encode_node(&keys, scheme, ENCODE_DEPTH, body);
        let value = |k: u64| {
            if is_signed {
                Scalar::Int(((k ^ SIGN) as i64) as i128)
            } else {
                Scalar::Int(k as i128)
            }
        };
        Ok((value(lo), value(hi)))
    }

    fn bools(
        &mut self,
        array: &dyn Array,
        body: &mut Vec<u8>,
    ) -> Result<(Scalar, Scalar), CompressionError> {
        let values = array.as_boolean().values();
        let mut keys: Vec<u64> = values.iter().map(|b| b as u64).collect();
        let (lo, hi) = min_max_by(&keys, self.nulls, |k| k);
        fill_nulls(&mut keys, self.nulls);
        self.index = block_index::encode(&keys, self.nulls, |k| k);
        let scheme = self.int_scheme(&keys)?;
        let start = body.len();
        int::encode_node(&keys, scheme, ENCODE_DEPTH, body);
        if scheme.is_none() && body.len() - start > 16 {
            // Rare isolated flips cost two run lengths each; as flips of a
            // smooth base they cost one position (Rice-coded gap).
            // PATCHED (positions in any node, values stored) is tried only
            // where FLIPS did not pay.
            for scheme in [IntScheme::Flips, IntScheme::Patched] {
                let mut patched = Vec::new();
                int::encode_node(&keys, Some(scheme), ENCODE_DEPTH, &mut patched);
                if patched.len() < body.len() - start {
                    body.truncate(start);
                    body.extend_from_slice(&patched);
                    break;
                }
            }
        }
        Ok((Scalar::Bool(lo == 1), Scalar::Bool(hi == 1)))
    }

    fn floats(
        &mut self,
        array: &dyn Array,
        w: FloatWidth,
        body: &mut Vec<u8>,
    ) -> Result<(Scalar, Scalar), CompressionError> {
        let mut bits: Vec<u64> = match w {
            FloatWidth::F32 => array
                .as_primitive::<Float32Type>()
                .values()
                .iter()
                .map(|v| v.to_bits() as u64)
                .collect(),
            FloatWidth::F64 => array
                .as_primitive::<Float64Type>()
                .values()
                .iter()
                .map(|v| v.to_bits())
                .collect(),
        };
        let (lo, hi) = min_max_by(&bits, self.nulls, |b| float_key(w.to_f64(b).to_bits()));
        fill_nulls(&mut bits, self.nulls);
        self.index = block_index::encode(&bits, self.nulls, |b| float_key(w.to_f64(b).to_bits()));
        let scheme = match self.opts.codec {
            None => None,
            Some(Codec::Plain) => Some(FloatScheme::Plain),
            Some(Codec::Alp) => Some(FloatScheme::Alp),
            Some(Codec::AlpUlp) => Some(FloatScheme::AlpUlp),
            Some(Codec::Xor) => Some(FloatScheme::Xor),
            Some(Codec::FloatBits) => Some(FloatScheme::Bits),
            Some(Codec::Constant) if all_equal(&bits) => Some(FloatScheme::Bits),
            Some(c @ Codec::Constant) => {
                return Err(self.not_applicable(c, "values are not all equal"))
            }
            Some(c) => return Err(self.not_applicable(c, "not a float codec")),
        };
        float::encode_node(&bits, w, scheme, body);
        Ok((Scalar::Float(w.to_f64(lo)), Scalar::Float(w.to_f64(hi))))
    }

    fn strings(
        &mut self,
        array: &dyn Array,
        body: &mut Vec<u8>,
    ) -> Result<(Scalar, Scalar), CompressionError> {
        if let Some(dict) = array.as_any_dictionary_opt() {
            return self.dictionary_strings(dict, body);
        }
        let values: Vec<&[u8]> = match self.dt {
            DataType::Utf8 => array
                .as_string::<i32>()
                .iter()
                .map(|v| v.unwrap_or("").as_bytes())
                .collect(),
            DataType::LargeUtf8 => array
                .as_string::<i64>()
                .iter()
                .map(|v| v.unwrap_or("").as_bytes())
                .collect(),
            DataType::Binary => array
                .as_binary::<i32>()
                .iter()
                .map(|v| v.unwrap_or(&[]))
                .collect(),
            DataType::LargeBinary => array
                .as_binary::<i64>()
                .iter()
                .map(|v| v.unwrap_or(&[]))
                .collect(),
            other => return Err(CompressionError::UnsupportedType(other.clone())),
        };
        let rows = StringRows {
            valid: self.nulls.map(|n| n.iter().collect()),
            values,
        };
        let dictionary = Dictionary::build(&rows);
        self.string_node(&rows, &dictionary, body)
    }

    /// A dictionary array of strings (the values without NULLs), encoded
    /// exactly as the same strings in a Utf8 array are, but with the
    /// distinct values found from the keys instead of comparing rows.
    fn dictionary_strings(
        &mut self,
        dict: &dyn AnyDictionaryArray,
        body: &mut Vec<u8>,
    ) -> Result<(Scalar, Scalar), CompressionError> {
        let unsupported = || CompressionError::UnsupportedType(self.dt.clone());
        let entries = dict
            .values()
            .as_string_opt::<i32>()
            .ok_or_else(unsupported)?;
        if entries.null_count() > 0 || entries.is_empty() {
            return Err(unsupported());
        }
        let keys = dict.normalized_keys();
        let valid: Option<Vec<bool>> = self.nulls.map(|n| n.iter().collect());
        let values: Vec<&[u8]> = keys
            .iter()
            .enumerate()
            .map(|(i, &k)| match &valid {
                Some(v) if !v[i] => &[][..],
                _ => entries.value(k).as_bytes(),
            })
            .collect();
        let rows = StringRows { valid, values };
        let dictionary = Dictionary::from_keys(&rows, &keys, entries);
        self.string_node(&rows, &dictionary, body)
    }

    fn string_node(
        &mut self,
        rows: &StringRows,
        dictionary: &Dictionary,
        body: &mut Vec<u8>,
    ) -> Result<(Scalar, Scalar), CompressionError> {
        let total: usize = rows.values.iter().map(|v| v.len()).sum();
        if total > MAX_DECODED_BYTES {
            // Decoders refuse sections this large, so do not write them.
            return Err(CompressionError::TooLarge {
                what: "string bytes",
                bytes: total,
                limit: MAX_DECODED_BYTES,
            });
        }
        let scheme = match self.opts.codec {
            None => None,
            Some(Codec::Dictionary) => Some(StringScheme::Dictionary),
            Some(Codec::Plain | Codec::PlainBytes) => Some(StringScheme::Plain),
            Some(Codec::Pattern) => Some(StringScheme::Pattern),
            Some(c) => return Err(self.not_applicable(c, "not a string codec")),
        };
        // The distinct values give the bounds without comparing every row.
        let (lo, hi) = dictionary
            .bounds()
            .expect("a chunk with stats has a valid value");
        if !string::encode_node(rows, dictionary, scheme, self.zstd, body)? {
            return Err(self.not_applicable(
                Codec::Pattern,
                "the values do not share one template of literals and fields",
            ));
        }
        Ok((Scalar::Bytes(lo.to_vec()), Scalar::Bytes(hi.to_vec())))
    }

    fn decimals(
        &mut self,
        array: &dyn Array,
        body: &mut Vec<u8>,
    ) -> Result<(Scalar, Scalar), CompressionError> {
        let mut values: Vec<i128> = array.as_primitive::<Decimal128Type>().values().to_vec();
        let (lo, hi) = min_max_by(&values, self.nulls, |v| v);
        fill_nulls(&mut values, self.nulls);
        let fits_i64 = values.iter().all(|&v| i64::try_from(v).is_ok());
        if fits_i64 {
            let keys: Vec<u64> = values.iter().map(|&v| (v as i64 as u64) ^ SIGN).collect();
            self.index = block_index::encode(&keys, self.nulls, |k| k);
            let scheme = self.int_scheme(&keys)?;
            int::encode_node(&keys, scheme, ENCODE_DEPTH, body);
        } else {
            if let Some(c) = self.opts.codec {
                return Err(
                    self.not_applicable(c, "decimals wider than i64 always use the i128 split")
                );
            }
            body.push(int::id::I128_SPLIT);
            int::wide::encode(&values, body);
        }
        Ok((Scalar::Int(lo), Scalar::Int(hi)))
    }
}
