//! Crate-level tests with exact expected strings and bytes from
//! PostgreSQL 16: `output` for type mapping, text/binary output and
//! DataRows; `input` for text input and Bind parameters.

use arrow::datatypes::{DataType, TimeUnit};
use bytes::BytesMut;

use crate::*;

mod alloc;
mod input;
mod output;

pub(crate) fn text(array: &dyn arrow::array::Array, row: usize) -> String {
    text_with(array, row, &PgFormatSettings::default())
}

pub(crate) fn text_with(
    array: &dyn arrow::array::Array,
    row: usize,
    settings: &PgFormatSettings,
) -> String {
    let mut s = String::new();
    let null = format_text(array, row, settings, &mut s).unwrap();
    if null {
        return "<NULL>".to_string();
    }
    s
}

pub(crate) fn binary(array: &dyn arrow::array::Array, row: usize) -> Vec<u8> {
    let mut b = BytesMut::new();
    assert!(!format_binary(array, row, &mut b).unwrap());
    b.to_vec()
}

pub(crate) fn settings_in(tz: &str) -> PgFormatSettings {
    PgFormatSettings {
        timezone: PgFormatSettings::parse_timezone(tz).unwrap(),
        ..PgFormatSettings::default()
    }
}

pub(crate) const UTC_TS: DataType = DataType::Timestamp(TimeUnit::Microsecond, None);

pub(crate) fn tstz() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}
