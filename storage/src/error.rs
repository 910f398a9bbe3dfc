//! Errors of the storage engine and the status codes shared by every layer.
//!
//! `StatusCode` is the small, protocol-neutral classification that the
//! server maps to SQLSTATE and HTTP status codes (one exhaustive `match` per
//! protocol). Every error in the workspace reports one.

use std::path::PathBuf;

/// Protocol-neutral classification of an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusCode {
    /// The statement could not be parsed.
    Syntax,
    /// A table does not exist.
    TableNotFound,
    /// A column does not exist.
    ColumnNotFound,
    /// A table (or column) already exists.
    AlreadyExists,
    /// The input is malformed for its type (bad literal, bad value).
    InvalidInput,
    /// A date/time literal is malformed.
    InvalidDatetimeFormat,
    /// A setting or function argument has an invalid value.
    InvalidParameterValue,
    /// A named object (setting, type, prepared statement) does not exist.
    UndefinedObject,
    /// A function with these argument types does not exist.
    UndefinedFunction,
    /// Types do not match (wrong argument or column type).
    DatatypeMismatch,
    /// The client broke the protocol (wrong parameter count, bad message).
    ProtocolViolation,
    /// A value is out of range for its type.
    OutOfRange,
    /// A NOT NULL column received NULL.
    NotNullViolation,
    /// A string is longer than its column's declared length.
    StringTooLong,
    /// Division by zero during evaluation.
    DivisionByZero,
    /// The feature is not supported.
    Unsupported,
    /// The query was cancelled by the client or a timeout.
    Cancelled,
    /// A resource limit (memory, request size) was exceeded.
    ResourceExhausted,
    /// Authentication failed.
    AuthFailed,
    /// The operation is not allowed (e.g. server-side file access disabled).
    PermissionDenied,
    /// Stored data is corrupt.
    Corrupt,
    /// A transient condition (I/O error, disk full); retrying may succeed.
    Unavailable,
    /// A bug or an unexpected condition.
    Internal,
}

/// Errors of the storage engine.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("table \"{0}\" does not exist")]
    TableNotFound(String),
    #[error("relation \"{0}\" already exists")]
    TableExists(String),
    #[error("column \"{column}\" of relation \"{table}\" already exists")]
    ColumnExists { table: String, column: String },
    #[error("column \"{column}\" of relation \"{table}\" does not exist")]
    ColumnNotFound { table: String, column: String },
    #[error(
        "null value in column \"{column}\" of relation \"{table}\" violates not-null constraint"
    )]
    NotNull { table: String, column: String },
    #[error("value too long for type {type_name}")]
    ValueTooLong { type_name: String },
    #[error("invalid table definition for \"{table}\": {message}")]
    InvalidDefinition { table: String, message: String },
    #[error("invalid data for table \"{table}\": {message}")]
    InvalidData { table: String, message: String },
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("corrupt file {path}: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("data directory {path} is in use by another process")]
    Locked { path: PathBuf },
    #[error("arrow error: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl StorageError {
    pub fn status_code(&self) -> StatusCode {
        match self {
            StorageError::TableNotFound(_) => StatusCode::TableNotFound,
            StorageError::TableExists(_) | StorageError::ColumnExists { .. } => {
                StatusCode::AlreadyExists
            }
            StorageError::ColumnNotFound { .. } => StatusCode::ColumnNotFound,
            StorageError::NotNull { .. } => StatusCode::NotNullViolation,
            StorageError::ValueTooLong { .. } => StatusCode::StringTooLong,
            StorageError::InvalidDefinition { .. } | StorageError::InvalidData { .. } => {
                StatusCode::InvalidInput
            }
            StorageError::Io { .. } | StorageError::Locked { .. } => StatusCode::Unavailable,
            StorageError::Corrupt { .. } => StatusCode::Corrupt,
            StorageError::Arrow(_) | StorageError::Internal(_) => StatusCode::Internal,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StorageError::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;
