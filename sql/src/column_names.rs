//! PostgreSQL's names for unaliased result columns.
//!
//! `SELECT 1` is `?column?`, `SELECT count(*)` is `count`, `SELECT x::int`
//! is `x`, `SELECT 'a'::text` is `text`. DataFusion would name them after
//! the expression (`Int64(1)`, `count(*)`); clients and psql output expect
//! PostgreSQL's names, so unaliased items get an explicit alias. A name that
//! would repeat one already in the list is left to DataFusion, which
//! requires unique names.

use std::collections::HashSet;

use datafusion::sql::sqlparser::ast::{
    DataType, Expr, Ident, Query, SelectItem, SetExpr, Statement,
};

/// The name PostgreSQL gives an expression, None for a plain column (kept).
fn pg_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => None,
        Expr::Function(f) => f
            .name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .map(|i| i.value.to_ascii_lowercase()),
        Expr::Cast {
            expr, data_type, ..
        } => match expr.as_ref() {
            Expr::Identifier(i) => Some(i.value.clone()),
            Expr::CompoundIdentifier(parts) => parts.last().map(|i| i.value.clone()),
            inner @ Expr::Function(_) => pg_name(inner),
            _ => Some(type_name(data_type)),
        },
        Expr::Nested(inner) => pg_name(inner),
        Expr::Case { .. } => Some("case".into()),
        Expr::Exists { .. } => Some("exists".into()),
        Expr::Extract { .. } => Some("extract".into()),
        Expr::Interval(_) => Some("interval".into()),
        Expr::TypedString(t) => Some(type_name(&t.data_type)),
        _ => Some("?column?".into()),
    }
}

fn type_name(t: &DataType) -> String {
    let s = t.to_string().to_ascii_lowercase();
    let base = s.split('(').next().unwrap_or(&s).trim().to_string();
    match base.as_str() {
        "int" | "integer" => "int4".into(),
        "bigint" => "int8".into(),
        "smallint" => "int2".into(),
        "double precision" | "double" => "float8".into(),
        "real" => "float4".into(),
        "boolean" => "bool".into(),
        "timestamp with time zone" => "timestamptz".into(),
        "timestamp" | "timestamp without time zone" => "timestamp".into(),
        "character varying" => "varchar".into(),
        "decimal" => "numeric".into(),
        _ => base,
    }
}

fn name_query(q: &mut Query) {
    if let SetExpr::Select(select) = q.body.as_mut() {
        let mut used: HashSet<String> = HashSet::new();
        for item in select.projection.iter_mut() {
            match item {
                SelectItem::UnnamedExpr(expr) => match pg_name(expr) {
                    Some(name) if used.insert(name.clone()) => {
                        let expr = expr.clone();
                        *item = SelectItem::ExprWithAlias {
                            expr,
                            alias: Ident::with_quote('"', name),
                        };
                    }
                    Some(_) => {}
                    None => {
                        if let Expr::Identifier(i) = expr {
                            used.insert(i.value.to_ascii_lowercase());
                        }
                    }
                },
                SelectItem::ExprWithAlias { alias, .. } => {
                    used.insert(alias.value.clone());
                }
                _ => {}
            }
        }
    }
}

/// Names the output columns of a top-level query the PostgreSQL way.
pub fn name_columns(stmt: &mut Statement) {
    if let Statement::Query(q) = stmt {
        name_query(q);
    }
}
