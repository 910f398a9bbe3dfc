//! COPY statement options: what is copied, where to, and in which format.
//!
//! Turns sqlparser's `Statement::Copy` (both the `WITH (FORMAT csv, ...)`
//! syntax and the pre-9.0 `WITH CSV HEADER` one) into a [`CopyStatement`],
//! checking option combinations with PostgreSQL's messages.

use datafusion::sql::sqlparser::ast::{
    CopyLegacyCsvOption, CopyLegacyOption, CopyOption, CopySource, CopyTarget, Query, Statement,
};

use crate::error::{Result, SqlError, StatusCode};
use crate::names::object_name;

/// The data format of a COPY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyFormat {
    Text,
    Csv,
    Binary,
    Parquet,
}

/// Format options after defaults are applied.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    pub format: CopyFormat,
    pub delimiter: u8,
    pub null: String,
    pub header: bool,
    pub quote: u8,
    pub escape: u8,
    /// CSV output: always quote these columns (`*` = all).
    pub force_quote: ForceColumns,
    /// CSV input: never read these columns as NULL.
    pub force_not_null: ForceColumns,
    /// CSV input: read the NULL string as NULL even when quoted.
    pub force_null: ForceColumns,
}

#[derive(Debug, Clone, Default)]
pub enum ForceColumns {
    #[default]
    None,
    All,
    Some(Vec<String>),
}

impl ForceColumns {
    pub fn flags(&self, columns: &[String]) -> Vec<bool> {
        columns
            .iter()
            .map(|c| match self {
                ForceColumns::None => false,
                ForceColumns::All => true,
                ForceColumns::Some(list) => list.contains(c),
            })
            .collect()
    }
}

/// Where the rows come from (COPY TO) or go to (COPY FROM).
#[derive(Debug, Clone)]
pub enum CopyRelation {
    Table { name: String, columns: Vec<String> },
    Query(Box<Query>),
}

/// The client side of the copy: the connection or a server-side file.
#[derive(Debug, Clone, PartialEq)]
pub enum CopyEndpoint {
    Stdio,
    File(String),
}

#[derive(Debug, Clone)]
pub struct CopyStatement {
    pub relation: CopyRelation,
    /// `true` for COPY ... TO.
    pub to: bool,
    pub endpoint: CopyEndpoint,
    pub options: CopyOptions,
}

fn syntax(m: impl Into<String>) -> SqlError {
    SqlError::syntax(m)
}

fn one_byte(c: char, what: &str) -> Result<u8> {
    if c.is_ascii() {
        Ok(c as u8)
    } else {
        Err(SqlError::unsupported(format!(
            "COPY {what} must be a single one-byte character"
        )))
    }
}

#[derive(Default)]
struct Raw {
    format: Option<CopyFormat>,
    delimiter: Option<u8>,
    null: Option<String>,
    header: Option<bool>,
    quote: Option<u8>,
    escape: Option<u8>,
    force_quote: ForceColumns,
    force_not_null: ForceColumns,
    force_null: ForceColumns,
}

fn set<T>(slot: &mut Option<T>, v: T) -> Result<()> {
    if slot.is_some() {
        return Err(syntax("conflicting or redundant options"));
    }
    *slot = Some(v);
    Ok(())
}

fn parse_format(name: &str) -> Result<CopyFormat> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "text" => CopyFormat::Text,
        "csv" => CopyFormat::Csv,
        "binary" => CopyFormat::Binary,
        "parquet" => CopyFormat::Parquet,
        other => {
            return Err(SqlError::new(
                StatusCode::InvalidParameterValue,
                format!("COPY format \"{other}\" not recognized"),
            ))
        }
    })
}

fn idents(cols: &[datafusion::sql::sqlparser::ast::Ident]) -> ForceColumns {
    ForceColumns::Some(cols.iter().map(|i| i.value.clone()).collect())
}

/// Recognizes a COPY statement.
pub fn classify(stmt: &Statement) -> Result<Option<CopyStatement>> {
    let Statement::Copy {
        source,
        to,
        target,
        options,
        legacy_options,
        values,
    } = stmt
    else {
        return Ok(None);
    };
    if !values.is_empty() {
        return Err(SqlError::unsupported(
            "COPY data inlined in the query string is not supported; send it with COPY FROM STDIN",
        ));
    }
    let relation = match source {
        CopySource::Table {
            table_name,
            columns,
        } => CopyRelation::Table {
            name: object_name(table_name)?,
            columns: columns.iter().map(|c| c.value.clone()).collect(),
        },
        CopySource::Query(q) => CopyRelation::Query(q.clone()),
    };
    let endpoint = match target {
        CopyTarget::Stdin | CopyTarget::Stdout => CopyEndpoint::Stdio,
        CopyTarget::File { filename } => CopyEndpoint::File(filename.clone()),
        CopyTarget::Program { .. } => {
            return Err(SqlError::new(
                StatusCode::PermissionDenied,
                "COPY to or from an external program is not supported",
            ))
        }
    };
    let mut raw = Raw::default();
    for o in options {
        match o {
            CopyOption::Format(f) => set(&mut raw.format, parse_format(&f.value)?)?,
            CopyOption::Freeze(_) => {}
            CopyOption::Delimiter(c) => set(&mut raw.delimiter, one_byte(*c, "delimiter")?)?,
            CopyOption::Null(s) => set(&mut raw.null, s.clone())?,
            CopyOption::Header(h) => set(&mut raw.header, *h)?,
            CopyOption::Quote(c) => set(&mut raw.quote, one_byte(*c, "quote")?)?,
            CopyOption::Escape(c) => set(&mut raw.escape, one_byte(*c, "escape")?)?,
            CopyOption::ForceQuote(cols) if cols.is_empty() => raw.force_quote = ForceColumns::All,
            CopyOption::ForceQuote(cols) => raw.force_quote = idents(cols),
            CopyOption::ForceNotNull(cols) => raw.force_not_null = idents(cols),
            CopyOption::ForceNull(cols) => raw.force_null = idents(cols),
            CopyOption::Encoding(e) => {
                let e = e.to_ascii_uppercase().replace('-', "");
                if e != "UTF8" && e != "SQL_ASCII" {
                    return Err(SqlError::unsupported(format!(
                        "COPY encoding \"{e}\" is not supported; LynxStore reads and writes UTF8"
                    )));
                }
            }
        }
    }
    for o in legacy_options {
        match o {
            CopyLegacyOption::Binary => set(&mut raw.format, CopyFormat::Binary)?,
            CopyLegacyOption::Delimiter(c) => set(&mut raw.delimiter, one_byte(*c, "delimiter")?)?,
            CopyLegacyOption::Null(s) => set(&mut raw.null, s.clone())?,
            CopyLegacyOption::Csv(csv) => {
                set(&mut raw.format, CopyFormat::Csv)?;
                for c in csv {
                    match c {
                        CopyLegacyCsvOption::Header => set(&mut raw.header, true)?,
                        CopyLegacyCsvOption::Quote(q) => {
                            set(&mut raw.quote, one_byte(*q, "quote")?)?
                        }
                        CopyLegacyCsvOption::Escape(q) => {
                            set(&mut raw.escape, one_byte(*q, "escape")?)?
                        }
                        CopyLegacyCsvOption::ForceQuote(cols) if cols.is_empty() => {
                            raw.force_quote = ForceColumns::All
                        }
                        CopyLegacyCsvOption::ForceQuote(cols) => raw.force_quote = idents(cols),
                        CopyLegacyCsvOption::ForceNotNull(cols) => {
                            raw.force_not_null = idents(cols)
                        }
                    }
                }
            }
            CopyLegacyOption::Header => set(&mut raw.header, true)?,
            other => return Err(SqlError::unsupported(format!("COPY option {other}"))),
        }
    }
    let options = finish(raw, *to)?;
    if let CopyRelation::Query(_) = relation {
        if !*to {
            return Err(syntax("COPY FROM does not support a query as its target"));
        }
    }
    if options.format == CopyFormat::Parquet && endpoint == CopyEndpoint::Stdio {
        return Err(SqlError::unsupported(
            "COPY FORMAT parquet needs a file name; use lynxstore import or POST /v1/import/parquet to send a file",
        ));
    }
    Ok(Some(CopyStatement {
        relation,
        to: *to,
        endpoint,
        options,
    }))
}

fn finish(raw: Raw, to: bool) -> Result<CopyOptions> {
    let format = raw.format.unwrap_or(CopyFormat::Text);
    let csv = format == CopyFormat::Csv;
    if matches!(format, CopyFormat::Binary | CopyFormat::Parquet) {
        let name = if format == CopyFormat::Binary {
            "BINARY"
        } else {
            "PARQUET"
        };
        for (given, what) in [
            (raw.delimiter.is_some(), "DELIMITER"),
            (raw.null.is_some(), "NULL"),
            (raw.header.is_some(), "HEADER"),
        ] {
            if given {
                return Err(syntax(format!("cannot specify {what} in {name} mode")));
            }
        }
    }
    if !csv {
        for (given, what) in [
            (raw.quote.is_some(), "COPY QUOTE"),
            (raw.escape.is_some(), "COPY ESCAPE"),
            (
                !matches!(raw.force_quote, ForceColumns::None),
                "COPY FORCE_QUOTE",
            ),
            (
                !matches!(raw.force_not_null, ForceColumns::None),
                "COPY FORCE_NOT_NULL",
            ),
            (
                !matches!(raw.force_null, ForceColumns::None),
                "COPY FORCE_NULL",
            ),
        ] {
            if given {
                return Err(SqlError::unsupported(format!("{what} requires CSV mode")));
            }
        }
    }
    if to && !matches!(raw.force_not_null, ForceColumns::None) {
        return Err(SqlError::unsupported(
            "COPY FORCE_NOT_NULL cannot be used with COPY TO",
        ));
    }
    if !to && !matches!(raw.force_quote, ForceColumns::None) {
        return Err(SqlError::unsupported(
            "COPY FORCE_QUOTE cannot be used with COPY FROM",
        ));
    }
    let delimiter = raw.delimiter.unwrap_or(if csv { b',' } else { b'\t' });
    let null = raw
        .null
        .unwrap_or_else(|| if csv { String::new() } else { "\\N".into() });
    let quote = raw.quote.unwrap_or(b'"');
    let escape = raw.escape.unwrap_or(quote);
    if matches!(delimiter, b'\r' | b'\n') {
        return Err(SqlError::new(
            StatusCode::InvalidParameterValue,
            "COPY delimiter cannot be newline or carriage return",
        ));
    }
    if null.contains(['\r', '\n']) {
        return Err(SqlError::new(
            StatusCode::InvalidParameterValue,
            "COPY null representation cannot use newline or carriage return",
        ));
    }
    if !csv && (delimiter == b'\\' || delimiter.is_ascii_alphanumeric() || delimiter == b'.') {
        return Err(SqlError::new(
            StatusCode::InvalidParameterValue,
            format!("COPY delimiter cannot be \"{}\"", delimiter as char),
        ));
    }
    if csv && delimiter == quote {
        return Err(SqlError::new(
            StatusCode::InvalidParameterValue,
            "COPY delimiter and quote must be different",
        ));
    }
    if null.as_bytes().contains(&delimiter) {
        return Err(SqlError::new(
            StatusCode::InvalidParameterValue,
            "COPY delimiter must not appear in the NULL specification",
        ));
    }
    Ok(CopyOptions {
        format,
        delimiter,
        null,
        header: raw.header.unwrap_or(false),
        quote,
        escape,
        force_quote: raw.force_quote,
        force_not_null: raw.force_not_null,
        force_null: raw.force_null,
    })
}
