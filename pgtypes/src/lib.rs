//! PostgreSQL types for LynxStore.
//!
//! Owns the mapping between Arrow and PostgreSQL types (OIDs) and the exact
//! PostgreSQL text and binary encodings of values in both directions. Knows
//! nothing about sockets, SQL or storage: `server` uses it for RowDescription,
//! DataRows, Bind parameters and COPY; the HTTP API for its text output.
//!
//! The invariant: text output is byte-for-byte what PostgreSQL 16 prints
//! (psql output is compared in tests), and the binary layout is decided by
//! the PostgreSQL type announced in the RowDescription.
//!
//! | task | entry point |
//! | --- | --- |
//! | describe columns | [`pg_type_of`], [`pg_type_of_field`], [`field_infos`] |
//! | send rows | [`encode_batch`] |
//! | one value as text / binary | [`format_text`], [`format_binary`] |
//! | read Bind parameters | [`decode_param`] |
//! | read COPY / literals | [`parse_text`], [`parse_binary`] |
//! | session settings | [`PgFormatSettings`] |
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{ArrayRef, Float64Array, RecordBatch, TimestampMicrosecondArray};
//! use pgwire::api::portal::Format;
//! use lynx_pgtypes::{encode_batch, field_infos, format_text, PgFormatSettings};
//!
//! let ts = TimestampMicrosecondArray::from(vec![1_704_164_645_500_000]).with_timezone("UTC");
//! let v = Float64Array::from(vec![0.1 + 0.2]);
//! let batch = RecordBatch::try_from_iter([
//!     ("ts", Arc::new(ts) as ArrayRef),
//!     ("v", Arc::new(v) as ArrayRef),
//! ])
//! .unwrap();
//! let settings = PgFormatSettings {
//!     timezone: PgFormatSettings::parse_timezone("Asia/Kolkata").unwrap(),
//!     ..PgFormatSettings::default()
//! };
//! let mut s = String::new();
//! format_text(batch.column(0).as_ref(), 0, &settings, &mut s).unwrap();
//! assert_eq!(s, "2024-01-02 08:34:05.5+05:30");
//! s.clear();
//! format_text(batch.column(1).as_ref(), 0, &settings, &mut s).unwrap();
//! assert_eq!(s, "0.30000000000000004");
//!
//! // RowDescription and DataRows for a portal with text results.
//! let fields = Arc::new(field_infos(&batch.schema(), &Format::UnifiedText).unwrap());
//! let rows = encode_batch(&batch, &fields, &settings).unwrap();
//! assert_eq!(rows.len(), 1);
//! ```

mod access;
mod binary;
mod binary_in;
mod datetime;
mod datetime_in;
mod datetime_words;
mod error;
mod fast_text;
mod float_fmt;
mod interval;
mod numeric;
mod oid;
mod params;
mod rows;
mod settings;
mod shortest;
mod text_in;
mod text_out;

pub use binary::{format_binary, write_binary};
pub use binary_in::{decode_binary, parse_binary};
pub use error::{utf8, PgTypeError};
pub use float_fmt::{parse_f32, parse_f64, write_f32, write_f64};
pub use interval::{parse_interval, write_interval, PgInterval};
pub use oid::{
    array_type_of, arrow_type_of, element_type_of, field_infos, format_for, pg_type_of,
    pg_type_of_field, type_by_name, type_modifier, type_size, DEFAULT_TIMESTAMPTZ_ZONE,
    PG_TYPE_METADATA_KEY,
};
pub use params::decode_param;
/// A PostgreSQL type (OID and name), as announced in RowDescription.
pub use pgwire::api::Type as PgType;
pub use rows::encode_batch;
pub use settings::{
    ByteaOutput, DateOrder, DateStyle, IntervalStyle, PgFormatSettings, SessionTimeZone,
};
pub use text_in::{parse_bool, parse_bytea, parse_int, parse_text, parse_timestamp};
pub use text_out::{format_text, write_bytea, write_text, write_text_as};

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
