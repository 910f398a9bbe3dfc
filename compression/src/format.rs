//! The chunk blob: versioned, self-describing header + body.
//!
//! Owns the byte layout every other module nests into:
//!
//! ```text
//! magic "LX" | version u8 | type tag u8 | flags u8 | rows u32 | nulls u32
//! [precision u8, scale i8]            Decimal128 only
//! [min, max]                          when flags & HAS_STATS
//! [index len u32, index]              when flags & HAS_BLOCK_INDEX (see block_index)
//! [body stream]                       unless empty or all NULL (see zstd_stage)
//! body = [validity integer node]      when flags & HAS_VALIDITY
//!        values node                  (integer, float, string or decimal)
//! ```
//!
//! Statistics sit in the header so `chunk_stats` never touches the body.
//! Type tags and codec ids are u8 and never reused.
//! Invariant: a header that parses is internally consistent (counts, flags,
//! stats presence), so later stages only check what they read.

use arrow_schema::{DataType, TimeUnit};

use crate::cursor::ByteReader;
use crate::error::{corrupt, CompressionError};
use crate::float::FloatWidth;
use crate::predicate::Scalar;

pub(crate) const MAGIC: [u8; 2] = *b"LX";
pub(crate) const VERSION: u8 = 1;
/// Most rows in one chunk.
pub const MAX_CHUNK_ROWS: usize = 1 << 16;

pub(crate) mod flag {
    pub(crate) const HAS_VALIDITY: u8 = 1;
    pub(crate) const ALL_NULL: u8 = 2;
    pub(crate) const HAS_STATS: u8 = 4;
    pub(crate) const HAS_BLOCK_INDEX: u8 = 8;
    pub(crate) const KNOWN: u8 = HAS_VALIDITY | ALL_NULL | HAS_STATS | HAS_BLOCK_INDEX;
}

/// How values are represented and compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Signed,
    Unsigned,
    Float(FloatWidth),
    Bool,
    Bytes,
    Decimal,
}

macro_rules! type_tags {
    ($($name:ident = $id:literal),* $(,)?) => {
        /// Stored Arrow type of a chunk. Never reuse a retired id.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum TypeTag { $($name = $id),* }
        impl TypeTag {
            fn from_u8(v: u8) -> Option<TypeTag> {
                match v { $($id => Some(TypeTag::$name),)* _ => None }
            }
        }
    };
}

type_tags! {
    Int8 = 1, Int16 = 2, Int32 = 3, Int64 = 4,
    UInt8 = 5, UInt16 = 6, UInt32 = 7, UInt64 = 8,
    Float32 = 9, Float64 = 10,
    TimestampSecond = 11, TimestampMillisecond = 12, TimestampMicrosecond = 13, TimestampNanosecond = 14,
    Date32 = 15, Date64 = 16, Boolean = 17,
    Utf8 = 18, LargeUtf8 = 19, Binary = 20, LargeBinary = 21, Decimal128 = 22,
}

impl TypeTag {
    pub(crate) fn of(dt: &DataType) -> Result<TypeTag, CompressionError> {
        use TypeTag as T;
        Ok(match dt {
            DataType::Int8 => T::Int8,
            DataType::Int16 => T::Int16,
            DataType::Int32 => T::Int32,
            DataType::Int64 => T::Int64,
            DataType::UInt8 => T::UInt8,
            DataType::UInt16 => T::UInt16,
            DataType::UInt32 => T::UInt32,
            DataType::UInt64 => T::UInt64,
            DataType::Float32 => T::Float32,
            DataType::Float64 => T::Float64,
            DataType::Timestamp(TimeUnit::Second, _) => T::TimestampSecond,
            DataType::Timestamp(TimeUnit::Millisecond, _) => T::TimestampMillisecond,
            DataType::Timestamp(TimeUnit::Microsecond, _) => T::TimestampMicrosecond,
            DataType::Timestamp(TimeUnit::Nanosecond, _) => T::TimestampNanosecond,
            DataType::Date32 => T::Date32,
            DataType::Date64 => T::Date64,
            DataType::Boolean => T::Boolean,
            DataType::Utf8 => T::Utf8,
            // A dictionary of strings is stored (and read back) as Utf8.
            DataType::Dictionary(_, v) if v.as_ref() == &DataType::Utf8 => T::Utf8,
            DataType::LargeUtf8 => T::LargeUtf8,
            DataType::Binary => T::Binary,
            DataType::LargeBinary => T::LargeBinary,
            DataType::Decimal128(_, _) => T::Decimal128,
            other => return Err(CompressionError::UnsupportedType(other.clone())),
        })
    }

    pub(crate) fn kind(self) -> Kind {
        use TypeTag as T;
        match self {
            T::Int8 | T::Int16 | T::Int32 | T::Int64 => Kind::Signed,
            T::TimestampSecond
            | T::TimestampMillisecond
            | T::TimestampMicrosecond
            | T::TimestampNanosecond => Kind::Signed,
            T::Date32 | T::Date64 => Kind::Signed,
            T::UInt8 | T::UInt16 | T::UInt32 | T::UInt64 => Kind::Unsigned,
            T::Float32 => Kind::Float(FloatWidth::F32),
            T::Float64 => Kind::Float(FloatWidth::F64),
            T::Boolean => Kind::Bool,
            T::Utf8 | T::LargeUtf8 | T::Binary | T::LargeBinary => Kind::Bytes,
            T::Decimal128 => Kind::Decimal,
        }
    }
}

/// The parsed header of a chunk.
#[derive(Clone, Debug)]
pub(crate) struct Header {
    pub(crate) tag: TypeTag,
    pub(crate) flags: u8,
    pub(crate) rows: usize,
    pub(crate) nulls: usize,
    pub(crate) decimal: Option<(u8, i8)>,
    pub(crate) min: Option<Scalar>,
    pub(crate) max: Option<Scalar>,
    /// Byte range of the block index section within the blob.
    pub(crate) block_index: Option<std::ops::Range<usize>>,
}

impl Header {
    pub(crate) fn has_validity(&self) -> bool {
        self.flags & flag::HAS_VALIDITY != 0
    }

    /// True when there is a body to read (some non-null row).
    pub(crate) fn has_body(&self) -> bool {
        self.rows > self.nulls
    }

    /// Checks that the blob can be read as `dt`.
    pub(crate) fn check_type(&self, dt: &DataType) -> Result<(), CompressionError> {
        let ok = TypeTag::of(dt).ok() == Some(self.tag)
            && match dt {
                DataType::Decimal128(p, s) => self.decimal == Some((*p, *s)),
                _ => true,
            };
        if ok {
            Ok(())
        } else {
            Err(CompressionError::TypeMismatch {
                stored: match self.decimal {
                    Some((p, s)) => format!("{:?}({p}, {s})", self.tag),
                    None => format!("{:?}", self.tag),
                },
                expected: dt.clone(),
            })
        }
    }

    /// Writes the header and, when given, the block index section.
    pub(crate) fn write(&self, index: Option<&[u8]>, out: &mut Vec<u8>) {
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.push(self.tag as u8);
        out.push(self.flags);
        out.extend_from_slice(&(self.rows as u32).to_le_bytes());
        out.extend_from_slice(&(self.nulls as u32).to_le_bytes());
        if let Some((p, s)) = self.decimal {
            out.push(p);
            out.push(s as u8);
        }
        if let (Some(min), Some(max)) = (&self.min, &self.max) {
            write_stat(self.tag.kind(), min, out);
            write_stat(self.tag.kind(), max, out);
        }
        if let Some(index) = index {
            out.extend_from_slice(&(index.len() as u32).to_le_bytes());
            out.extend_from_slice(index);
        }
    }

    pub(crate) fn read(r: &mut ByteReader) -> Result<Header, CompressionError> {
        if r.bytes(2, "magic")? != MAGIC {
            return Err(corrupt(0, "bad magic"));
        }
        let version = r.u8("format version")?;
        if version != VERSION {
            return Err(CompressionError::UnsupportedVersion {
                version,
                supported: VERSION,
            });
        }
        let tag =
            TypeTag::from_u8(r.u8("type tag")?).ok_or_else(|| corrupt(3, "unknown type tag"))?;
        let flags = r.u8("flags")?;
        let rows = r.count(MAX_CHUNK_ROWS, "row count")?;
        let nulls = r.count(rows, "null count")?;
        let consistent = flags & !flag::KNOWN == 0
            && (flags & flag::ALL_NULL != 0) == (rows > 0 && nulls == rows)
            && (flags & flag::HAS_VALIDITY != 0) == (nulls > 0 && nulls < rows)
            && (flags & flag::HAS_STATS != 0) == (rows > nulls)
            && (flags & flag::HAS_BLOCK_INDEX == 0 || rows > nulls);
        if !consistent {
            return Err(corrupt(4, "flags disagree with the row and null counts"));
        }
        let decimal = if tag == TypeTag::Decimal128 {
            Some((r.u8("decimal precision")?, r.u8("decimal scale")? as i8))
        } else {
            None
        };
        let (min, max) = if flags & flag::HAS_STATS != 0 {
            (
                Some(read_stat(tag.kind(), r)?),
                Some(read_stat(tag.kind(), r)?),
            )
        } else {
            (None, None)
        };
        let block_index = if flags & flag::HAS_BLOCK_INDEX != 0 {
            Some(crate::block_index::read_section(r)?)
        } else {
            None
        };
        Ok(Header {
            tag,
            flags,
            rows,
            nulls,
            decimal,
            min,
            max,
            block_index,
        })
    }
}

fn write_stat(kind: Kind, s: &Scalar, out: &mut Vec<u8>) {
    match (kind, s) {
        (Kind::Float(w), Scalar::Float(f)) => {
            let bits = match w {
                FloatWidth::F32 => (*f as f32).to_bits() as u64,
                FloatWidth::F64 => f.to_bits(),
            };
            out.extend_from_slice(&bits.to_le_bytes()[..w.bytes()]);
        }
        (_, Scalar::Int(i)) => out.extend_from_slice(&i.to_le_bytes()),
        (_, Scalar::Bool(b)) => out.push(*b as u8),
        (_, Scalar::Bytes(b)) => {
            out.extend_from_slice(&(b.len() as u32).to_le_bytes());
            out.extend_from_slice(b);
        }
        (_, Scalar::Float(f)) => out.extend_from_slice(&f.to_bits().to_le_bytes()),
    }
}

fn read_stat(kind: Kind, r: &mut ByteReader) -> Result<Scalar, CompressionError> {
    Ok(match kind {
        Kind::Signed | Kind::Unsigned | Kind::Decimal => Scalar::Int(r.i128("integer statistic")?),
        Kind::Float(w) => {
            let mut a = [0u8; 8];
            a[..w.bytes()].copy_from_slice(r.bytes(w.bytes(), "float statistic")?);
            Scalar::Float(w.to_f64(u64::from_le_bytes(a)))
        }
        Kind::Bool => match r.u8("boolean statistic")? {
            0 => Scalar::Bool(false),
            1 => Scalar::Bool(true),
            _ => return Err(r.err("boolean statistic not 0 or 1")),
        },
        Kind::Bytes => {
            let len = r.count(r.remaining(), "string statistic length")?;
            Scalar::Bytes(r.bytes(len, "string statistic")?.to_vec())
        }
    })
}
