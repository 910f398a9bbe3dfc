//! Errors of the type layer.
//!
//! Owns the one error enum of `lynx-pgtypes` and its SQLSTATE. Messages are
//! PostgreSQL's own wording (`invalid input syntax for type integer: "abc"`)
//! because clients and tests compare them; do not reword them.

use arrow::datatypes::DataType;

/// An error converting a value between Arrow and a PostgreSQL representation.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum PgTypeError {
    /// Text that is not a valid literal of the type (22P02).
    #[error("invalid input syntax for type {type_name}: \"{value}\"")]
    InvalidText {
        type_name: &'static str,
        value: String,
    },
    /// Invalid text whose PostgreSQL message does not quote the value (22P02),
    /// e.g. `invalid input syntax for type bytea`.
    #[error("{message}")]
    Syntax { message: String },
    /// Text that is not a valid date, time or timestamp literal (22007).
    #[error("invalid input syntax for type {type_name}: \"{value}\"")]
    InvalidDatetime {
        type_name: &'static str,
        value: String,
    },
    /// A date/time field or result outside its range (22008).
    #[error("{message}")]
    DatetimeOverflow { message: String },
    /// An integer or float outside the range of its type (22003).
    #[error("value \"{value}\" is out of range for type {type_name}")]
    OutOfRange {
        type_name: &'static str,
        value: String,
    },
    /// A numeric result that does not fit (22003), e.g. `numeric field overflow`.
    #[error("{message}")]
    NumericOverflow { message: String },
    /// A session setting or parameter with an invalid value (22023).
    #[error("{message}")]
    InvalidParameter { message: String },
    /// Malformed binary input (08P01).
    #[error("incorrect binary data format for type {type_name}: {reason}")]
    InvalidBinary {
        type_name: &'static str,
        reason: String,
    },
    /// The Bind message result format count does not match the columns (08P01).
    #[error("bind message has {formats} result formats but query has {columns} columns")]
    FormatCount { formats: usize, columns: usize },
    /// Bytes that are not valid UTF-8 (22021).
    #[error("invalid byte sequence for encoding \"UTF8\": 0x{byte:02x}")]
    InvalidUtf8 { byte: u8 },
    /// A type or conversion this crate does not support (0A000).
    #[error("{what} is not supported")]
    Unsupported { what: String },
    /// An Arrow array that does not have the layout its data type promises (XX000).
    #[error("internal error: {message}")]
    Internal { message: String },
}

impl PgTypeError {
    /// The SQLSTATE a PostgreSQL server would report for this error.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            PgTypeError::InvalidText { .. } => "22P02",
            PgTypeError::Syntax { .. } => "22P02",
            PgTypeError::InvalidDatetime { .. } => "22007",
            PgTypeError::DatetimeOverflow { .. } => "22008",
            PgTypeError::OutOfRange { .. } => "22003",
            PgTypeError::NumericOverflow { .. } => "22003",
            PgTypeError::InvalidParameter { .. } => "22023",
            PgTypeError::InvalidBinary { .. } => "08P01",
            PgTypeError::FormatCount { .. } => "08P01",
            PgTypeError::InvalidUtf8 { .. } => "22021",
            PgTypeError::Unsupported { .. } => "0A000",
            PgTypeError::Internal { .. } => "XX000",
        }
    }

    pub(crate) fn invalid_text(type_name: &'static str, value: &str) -> Self {
        PgTypeError::InvalidText {
            type_name,
            value: value.to_string(),
        }
    }

    pub(crate) fn invalid_datetime(type_name: &'static str, value: &str) -> Self {
        PgTypeError::InvalidDatetime {
            type_name,
            value: value.to_string(),
        }
    }

    pub(crate) fn field_overflow(value: &str) -> Self {
        PgTypeError::DatetimeOverflow {
            message: format!("date/time field value out of range: \"{value}\""),
        }
    }

    pub(crate) fn out_of_range(type_name: &'static str, value: &str) -> Self {
        PgTypeError::OutOfRange {
            type_name,
            value: value.to_string(),
        }
    }

    pub(crate) fn binary(type_name: &'static str, reason: impl Into<String>) -> Self {
        PgTypeError::InvalidBinary {
            type_name,
            reason: reason.into(),
        }
    }

    pub(crate) fn unsupported_arrow(dt: &DataType) -> Self {
        PgTypeError::Unsupported {
            what: format!("Arrow type {dt}"),
        }
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        PgTypeError::Internal {
            message: message.into(),
        }
    }

    pub(crate) fn timestamp_out_of_range() -> Self {
        PgTypeError::DatetimeOverflow {
            message: "timestamp out of range".to_string(),
        }
    }
}

/// Checks that `bytes` are UTF-8, reporting the first bad byte like PostgreSQL.
pub fn utf8(bytes: &[u8]) -> Result<&str, PgTypeError> {
    std::str::from_utf8(bytes).map_err(|e| PgTypeError::InvalidUtf8 {
        byte: bytes.get(e.valid_up_to()).copied().unwrap_or(0),
    })
}
