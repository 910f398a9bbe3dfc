//! The one place that maps status codes to SQLSTATE and HTTP status.
//!
//! Both matches are exhaustive without a `_` arm: a new `StatusCode` does
//! not compile until every protocol decides how to report it.

use lynx_sql::{SqlError, StatusCode};

pub fn sqlstate(status: StatusCode) -> &'static str {
    match status {
        StatusCode::Syntax => "42601",
        StatusCode::TableNotFound => "42P01",
        StatusCode::ColumnNotFound => "42703",
        StatusCode::AlreadyExists => "42P07",
        StatusCode::InvalidInput => "22P02",
        StatusCode::InvalidDatetimeFormat => "22007",
        StatusCode::InvalidParameterValue => "22023",
        StatusCode::UndefinedObject => "42704",
        StatusCode::UndefinedFunction => "42883",
        StatusCode::DatatypeMismatch => "42804",
        StatusCode::ProtocolViolation => "08P01",
        StatusCode::OutOfRange => "22003",
        StatusCode::NotNullViolation => "23502",
        StatusCode::StringTooLong => "22001",
        StatusCode::DivisionByZero => "22012",
        StatusCode::Unsupported => "0A000",
        StatusCode::Cancelled => "57014",
        StatusCode::ResourceExhausted => "53000",
        StatusCode::AuthFailed => "28P01",
        StatusCode::PermissionDenied => "42501",
        StatusCode::Corrupt => "XX001",
        StatusCode::Unavailable => "58030",
        StatusCode::Internal => "XX000",
    }
}

pub fn http_status(status: StatusCode) -> axum::http::StatusCode {
    use axum::http::StatusCode as H;
    match status {
        StatusCode::Syntax
        | StatusCode::InvalidInput
        | StatusCode::InvalidDatetimeFormat
        | StatusCode::InvalidParameterValue
        | StatusCode::UndefinedObject
        | StatusCode::UndefinedFunction
        | StatusCode::DatatypeMismatch
        | StatusCode::ProtocolViolation
        | StatusCode::OutOfRange
        | StatusCode::NotNullViolation
        | StatusCode::StringTooLong
        | StatusCode::DivisionByZero
        | StatusCode::ColumnNotFound => H::BAD_REQUEST,
        StatusCode::TableNotFound => H::NOT_FOUND,
        StatusCode::AlreadyExists => H::CONFLICT,
        StatusCode::Unsupported => H::NOT_IMPLEMENTED,
        StatusCode::Cancelled => H::REQUEST_TIMEOUT,
        StatusCode::ResourceExhausted => H::TOO_MANY_REQUESTS,
        StatusCode::AuthFailed => H::UNAUTHORIZED,
        StatusCode::PermissionDenied => H::FORBIDDEN,
        StatusCode::Corrupt | StatusCode::Internal => H::INTERNAL_SERVER_ERROR,
        StatusCode::Unavailable => H::SERVICE_UNAVAILABLE,
    }
}

/// The SQLSTATE of an error: the specific one it carries, else its status's.
pub fn error_code(e: &SqlError) -> &'static str {
    e.sqlstate.unwrap_or_else(|| sqlstate(e.status))
}
