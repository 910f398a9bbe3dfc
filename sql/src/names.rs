//! Resolving object names: `t`, `public.t`, `lynx.public.t`.

use datafusion::sql::sqlparser::ast::ObjectName;

use crate::error::{Result, SqlError, StatusCode};

pub const DATABASE: &str = "lynx";
pub const SCHEMA: &str = "public";

/// The table name of a possibly qualified name in our one schema.
pub fn object_name(name: &ObjectName) -> Result<String> {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| {
            p.as_ident()
                .map(|i| i.value.clone())
                .unwrap_or_else(|| p.to_string())
        })
        .collect();
    match parts.as_slice() {
        [t] => Ok(t.clone()),
        [s, t] if s == SCHEMA => Ok(t.clone()),
        [d, s, t] if d == DATABASE && s == SCHEMA => Ok(t.clone()),
        [.., s, _] => Err(SqlError::new(
            StatusCode::UndefinedObject,
            format!("schema \"{s}\" does not exist"),
        )
        .with_sqlstate("3F000")),
        [] => Err(SqlError::syntax("empty name")),
    }
}
