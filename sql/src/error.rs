//! Errors of the statement layer, each with a [`StatusCode`].
//!
//! DataFusion, storage and parser errors are classified here once, so that
//! every protocol reports the same condition the same way.

use datafusion::arrow::error::ArrowError;
use datafusion::error::DataFusionError;
use datafusion::sql::sqlparser::parser::ParserError;
pub use lynx_storage::StatusCode;
use lynx_storage::StorageError;

/// An error with its classification and a PostgreSQL-style message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SqlError {
    pub status: StatusCode,
    pub message: String,
    /// A SQLSTATE more specific than `status` implies, when one is known
    /// (e.g. from the type layer: 22007 vs 22P02).
    pub sqlstate: Option<&'static str>,
    /// Where the error happened (PostgreSQL's CONTEXT line), e.g.
    /// `COPY cpu, line 3, column usage: "abc"`.
    pub context: Option<String>,
}

pub type Result<T, E = SqlError> = std::result::Result<T, E>;

impl SqlError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> SqlError {
        SqlError {
            status,
            message: message.into(),
            sqlstate: None,
            context: None,
        }
    }

    pub fn with_context(mut self, context: impl Into<String>) -> SqlError {
        self.context = Some(context.into());
        self
    }

    /// A value conversion error of the type layer, with its own SQLSTATE.
    pub fn from_pgtype(e: &lynx_pgtypes::PgTypeError) -> SqlError {
        let status = match e.sqlstate() {
            "22007" => StatusCode::InvalidDatetimeFormat,
            "22003" | "22008" => StatusCode::OutOfRange,
            "22023" => StatusCode::InvalidParameterValue,
            "08P01" => StatusCode::ProtocolViolation,
            "0A000" => StatusCode::Unsupported,
            "XX000" => StatusCode::Internal,
            _ => StatusCode::InvalidInput,
        };
        SqlError::new(status, e.to_string()).with_sqlstate(e.sqlstate())
    }

    pub fn with_sqlstate(mut self, sqlstate: &'static str) -> SqlError {
        self.sqlstate = Some(sqlstate);
        self
    }

    pub fn unsupported(message: impl Into<String>) -> SqlError {
        SqlError::new(StatusCode::Unsupported, message)
    }

    pub fn syntax(message: impl Into<String>) -> SqlError {
        SqlError::new(StatusCode::Syntax, message)
    }
}

impl From<StorageError> for SqlError {
    fn from(e: StorageError) -> SqlError {
        let status = e.status_code();
        let message = match &e {
            StorageError::TableNotFound(name) => format!("relation \"{name}\" does not exist"),
            other => other.to_string(),
        };
        SqlError::new(status, message)
    }
}

impl From<ParserError> for SqlError {
    fn from(e: ParserError) -> SqlError {
        let msg = match e {
            ParserError::ParserError(m) | ParserError::TokenizerError(m) => m,
            ParserError::RecursionLimitExceeded => "statement is too deeply nested".into(),
        };
        SqlError::syntax(syntax_message(&msg))
    }
}

/// Turns sqlparser's "Expected: X, found: Y at Line: 1, Column: 8" into
/// PostgreSQL's "syntax error at or near \"Y\"".
fn syntax_message(msg: &str) -> String {
    if let Some(rest) = msg.split("found: ").nth(1) {
        let token = rest.split(" at Line").next().unwrap_or(rest).trim();
        if token == "EOF" {
            return "syntax error at end of input".into();
        }
        return format!("syntax error at or near \"{token}\"");
    }
    format!("syntax error: {msg}")
}

impl From<ArrowError> for SqlError {
    fn from(e: ArrowError) -> SqlError {
        match e {
            ArrowError::DivideByZero => {
                SqlError::new(StatusCode::DivisionByZero, "division by zero")
            }
            ArrowError::CastError(m) | ArrowError::ParseError(m) => {
                SqlError::new(StatusCode::InvalidInput, invalid_input_message(&m))
            }
            ArrowError::ComputeError(m) if m.contains("Overflow") || m.contains("overflow") => {
                SqlError::new(StatusCode::OutOfRange, m)
            }
            ArrowError::ArithmeticOverflow(m) => SqlError::new(StatusCode::OutOfRange, m),
            ArrowError::ExternalError(inner) => external(inner),
            other => SqlError::new(StatusCode::Internal, other.to_string()),
        }
    }
}

fn invalid_input_message(m: &str) -> String {
    // "Cannot cast string 'abc' to value of Int32 type"
    if let Some(rest) = m.strip_prefix("Cannot cast string '") {
        if let Some((value, ty)) = rest.split_once("' to value of ") {
            let ty = ty.trim_end_matches(" type");
            let pg = match ty {
                "Int16" => "smallint",
                "Int32" => "integer",
                "Int64" => "bigint",
                "Float32" => "real",
                "Float64" => "double precision",
                "Boolean" => "boolean",
                t if t.starts_with("Timestamp") => "timestamp",
                t if t.starts_with("Date") => "date",
                t if t.starts_with("Decimal") => "numeric",
                _ => ty,
            };
            return format!("invalid input syntax for type {pg}: \"{value}\"");
        }
    }
    m.to_string()
}

fn external(inner: Box<dyn std::error::Error + Send + Sync>) -> SqlError {
    match inner.downcast::<StorageError>() {
        Ok(e) => SqlError::from(*e),
        Err(inner) => match inner.downcast::<SqlError>() {
            Ok(e) => *e,
            Err(inner) => SqlError::new(StatusCode::Internal, inner.to_string()),
        },
    }
}

impl From<DataFusionError> for SqlError {
    fn from(e: DataFusionError) -> SqlError {
        match e {
            DataFusionError::ArrowError(a, _) => SqlError::from(*a),
            DataFusionError::SQL(p, _) => SqlError::from(*p),
            DataFusionError::External(inner) => external(inner),
            DataFusionError::Context(_, inner) => SqlError::from(*inner),
            DataFusionError::Diagnostic(_, inner) => SqlError::from(*inner),
            DataFusionError::Shared(inner) => {
                SqlError::from(DataFusionError::Execution(inner.to_string()))
            }
            DataFusionError::SchemaError(s, _) => schema_error(*s),
            DataFusionError::NotImplemented(m) => SqlError::unsupported(m),
            DataFusionError::ResourcesExhausted(m) => {
                SqlError::new(StatusCode::ResourceExhausted, m)
            }
            DataFusionError::Plan(m) => plan_error(&m),
            DataFusionError::Execution(m) => execution_error(&m),
            other => {
                let m = other.to_string();
                execution_error(&m)
            }
        }
    }
}

fn schema_error(e: datafusion::common::SchemaError) -> SqlError {
    use datafusion::common::SchemaError;
    match e {
        SchemaError::FieldNotFound { field, .. } => SqlError::new(
            StatusCode::ColumnNotFound,
            format!("column \"{}\" does not exist", field.name()),
        ),
        SchemaError::AmbiguousReference { field } => SqlError::new(
            StatusCode::InvalidInput,
            format!("column reference \"{}\" is ambiguous", field.name()),
        )
        .with_sqlstate("42702"),
        other => SqlError::new(StatusCode::InvalidInput, other.to_string()),
    }
}

fn plan_error(m: &str) -> SqlError {
    if let Some(rest) = m.split("table '").nth(1) {
        if m.contains("not found") {
            let full = rest.split('\'').next().unwrap_or(rest);
            let name = full.rsplit('.').next().unwrap_or(full);
            return SqlError::new(
                StatusCode::TableNotFound,
                format!("relation \"{name}\" does not exist"),
            );
        }
    }
    if m.contains("Invalid function") || m.contains("No function matches") {
        return SqlError::new(StatusCode::UndefinedFunction, m.to_string());
    }
    if m.contains("Division by zero") || m.contains("Divide by zero") {
        return SqlError::new(StatusCode::DivisionByZero, "division by zero");
    }
    if m.contains("Cannot infer common")
        || m.contains("Cannot coerce")
        || m.contains("There isn't a common type")
    {
        return SqlError::new(StatusCode::DatatypeMismatch, m.to_string());
    }
    SqlError::new(StatusCode::InvalidInput, m.to_string())
}

fn execution_error(m: &str) -> SqlError {
    if m.contains("Divide by zero")
        || m.contains("Division by zero")
        || m.contains("divide by zero")
    {
        return SqlError::new(StatusCode::DivisionByZero, "division by zero");
    }
    if m.contains("DATE_BIN stride must be non-zero") {
        // PostgreSQL's date_bin (and time_bucket) reject a zero stride with 22023.
        return SqlError::new(
            StatusCode::InvalidParameterValue,
            "stride must be greater than zero",
        );
    }
    if m.contains("Cannot cast string") {
        let inner = m.split("Cannot cast string").nth(1).unwrap_or("");
        return SqlError::new(
            StatusCode::InvalidInput,
            invalid_input_message(&format!("Cannot cast string{inner}")),
        );
    }
    SqlError::new(StatusCode::Internal, m.to_string())
}
