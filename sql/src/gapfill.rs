//! `time_bucket_gapfill(width, time [, start, finish])` with `locf(agg)`
//! and `interpolate(agg)`, as TimescaleDB users write them.
//!
//! A grouped SELECT that calls `time_bucket_gapfill` is rewritten into
//! plain SQL DataFusion runs:
//!
//! ```text
//! WITH __agg     AS (the query, bucketing with date_bin, every item aliased __cN),
//!      __buckets AS (SELECT unnest(range(bucket(start), finish, width)) AS __b),
//!      __groups  AS (SELECT DISTINCT <other group keys> FROM __agg)
//! SELECT ... FROM __buckets CROSS JOIN __groups
//!        LEFT JOIN __agg ON bucket = __b AND keys IS NOT DISTINCT FROM
//! ```
//!
//! so every group gets every bucket of [start, finish); aggregates are NULL
//! in the gaps, `locf(x)` is `last_value(x) IGNORE NULLS` over the group's
//! buckets so far, `interpolate(x)` is linear between the previous and the
//! next non-NULL bucket of the group (NULL before the first and after the
//! last). `start`/`finish` come from the arguments or, as in TimescaleDB,
//! from the WHERE clause's bounds on the same time expression (`>=`, `>`,
//! `<`, `<=`, BETWEEN); missing bounds are an error. Buckets use
//! TimescaleDB's origin (2000-01-03, a Monday).

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, Expr, FunctionArg, FunctionArgExpr, FunctionArgOperator, FunctionArguments,
    GroupByExpr, OrderByKind, Query, SelectItem, SetExpr, Statement, TableFactor, Value,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

use crate::error::{Result, SqlError, StatusCode};

/// Function name of a call expression, lowercased.
fn call_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Function(f) => f
            .name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .map(|i| i.value.to_ascii_lowercase()),
        _ => None,
    }
}

/// Arguments of a call as (name, expression) pairs.
fn call_args(e: &Expr) -> Vec<(Option<String>, Expr)> {
    let Expr::Function(f) = e else {
        return Vec::new();
    };
    let FunctionArguments::List(list) = &f.args else {
        return Vec::new();
    };
    list.args
        .iter()
        .filter_map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some((None, e.clone())),
            FunctionArg::Named {
                name,
                arg: FunctionArgExpr::Expr(e),
                operator: FunctionArgOperator::RightArrow | FunctionArgOperator::Assignment,
            } => Some((Some(name.value.to_ascii_lowercase()), e.clone())),
            _ => None,
        })
        .collect()
}

fn bad(message: impl Into<String>) -> SqlError {
    SqlError::new(StatusCode::InvalidParameterValue, message)
}

/// `time > x` and friends, split out of the WHERE conjunction.
fn conjuncts(e: &Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            conjuncts(left, out);
            conjuncts(right, out);
        }
        Expr::Nested(inner) => conjuncts(inner, out),
        other => out.push(other.clone()),
    }
}

/// (start, finish, finish is inclusive) from the WHERE clause.
fn bounds(selection: Option<&Expr>, time: &Expr) -> (Option<Expr>, Option<(Expr, bool)>) {
    let mut parts = Vec::new();
    if let Some(e) = selection {
        conjuncts(e, &mut parts);
    }
    let same = |e: &Expr| e.to_string() == time.to_string();
    let (mut start, mut finish) = (None, None);
    for p in parts {
        match p {
            Expr::Between {
                expr,
                negated: false,
                low,
                high,
            } if same(&expr) => {
                start = Some(*low);
                finish = Some((*high, true));
            }
            Expr::BinaryOp { left, op, right } => {
                let (op, other) = if same(&left) {
                    (op, *right)
                } else if same(&right) {
                    let flipped = match op {
                        BinaryOperator::Gt => BinaryOperator::Lt,
                        BinaryOperator::GtEq => BinaryOperator::LtEq,
                        BinaryOperator::Lt => BinaryOperator::Gt,
                        BinaryOperator::LtEq => BinaryOperator::GtEq,
                        other => other,
                    };
                    (flipped, *left)
                } else {
                    continue;
                };
                match op {
                    BinaryOperator::Gt | BinaryOperator::GtEq => start = Some(other),
                    BinaryOperator::Lt => finish = Some((other, false)),
                    BinaryOperator::LtEq => finish = Some((other, true)),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    (start, finish)
}

/// What an output column of the gap-filled query is.
enum Item {
    Bucket,
    Key,
    Plain,
    Locf,
    Interpolate,
}

/// Rewrites `stmt` when it is a gap-filling query. `time_type` gives the
/// SQL type (`TIMESTAMPTZ` or `TIMESTAMP`) of a column of a table.
pub fn rewrite(
    stmt: &mut Statement,
    time_type: &dyn Fn(&str, &str) -> Option<&'static str>,
) -> Result<()> {
    let Statement::Query(query) = stmt else {
        return Ok(());
    };
    let Some(sql) = gapfill_sql(query, time_type)? else {
        return Ok(());
    };
    let parsed = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(&sql)
        .and_then(|mut p| p.parse_statement())
        .map_err(|e| SqlError::new(StatusCode::Internal, format!("gapfill rewrite: {e}: {sql}")))?;
    *stmt = parsed;
    Ok(())
}

fn gapfill_sql(
    query: &Query,
    time_type: &dyn Fn(&str, &str) -> Option<&'static str>,
) -> Result<Option<String>> {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return Ok(None);
    };
    let items: Vec<(Expr, String)> = select
        .projection
        .iter()
        .map(|item| match item {
            SelectItem::UnnamedExpr(e) => Some((e.clone(), e.to_string())),
            SelectItem::ExprWithAlias { expr, alias } => Some((expr.clone(), alias.value.clone())),
            _ => None,
        })
        .collect::<Option<_>>()
        .unwrap_or_default();
    let Some(bucket_at) = items
        .iter()
        .position(|(e, _)| call_name(e).as_deref() == Some("time_bucket_gapfill"))
    else {
        return Ok(None);
    };
    if items.len() != select.projection.len() {
        return Err(SqlError::unsupported(
            "time_bucket_gapfill needs a select list of expressions (no *)",
        ));
    }
    let args = call_args(&items[bucket_at].0);
    let positional: Vec<&Expr> = args
        .iter()
        .filter(|(n, _)| n.is_none())
        .map(|(_, e)| e)
        .collect();
    let named = |name: &str| {
        args.iter()
            .find(|(n, _)| n.as_deref() == Some(name))
            .map(|(_, e)| e.clone())
    };
    let (Some(width), Some(time)) = (positional.first(), positional.get(1)) else {
        return Err(bad(
            "time_bucket_gapfill(bucket_width, time [, start, finish]) needs two arguments",
        ));
    };
    let (where_start, where_finish) = bounds(select.selection.as_ref(), time);
    // '5 minutes' as well as INTERVAL '5 minutes'.
    let width = format!("CAST({width} AS INTERVAL)");
    let start = named("start")
        .or_else(|| positional.get(2).map(|e| (*e).clone()))
        .or(where_start)
        .ok_or_else(|| {
            bad("missing time_bucket_gapfill argument: could not infer start from WHERE clause")
        })?;
    let (finish, inclusive) = named("finish")
        .or_else(|| positional.get(3).map(|e| (*e).clone()))
        .map(|e| (e, false))
        .or(where_finish)
        .ok_or_else(|| {
            bad("missing time_bucket_gapfill argument: could not infer finish from WHERE clause")
        })?;

    // Every GROUP BY entry must be an output column (by name, position or
    // the same expression).
    let GroupByExpr::Expressions(groups, _) = &select.group_by else {
        return Err(SqlError::unsupported(
            "time_bucket_gapfill with GROUP BY ALL",
        ));
    };
    let find = |g: &Expr| -> Option<usize> {
        if let Expr::Value(v) = g {
            if let Value::Number(n, _) = &v.value {
                return n.parse::<usize>().ok().and_then(|n| n.checked_sub(1));
            }
        }
        if let Expr::Identifier(id) = g {
            if let Some(i) = items.iter().position(|(_, alias)| *alias == id.value) {
                return Some(i);
            }
        }
        items
            .iter()
            .position(|(e, _)| e.to_string() == g.to_string())
    };
    let mut keys = Vec::new();
    for g in groups {
        match find(g) {
            Some(i) if i == bucket_at => {}
            Some(i) if i < items.len() => keys.push(i),
            _ => {
                return Err(SqlError::unsupported(format!(
                    "time_bucket_gapfill: GROUP BY {g} must also be in the select list"
                )))
            }
        }
    }
    if !groups.iter().any(|g| find(g) == Some(bucket_at)) {
        return Err(bad("time_bucket_gapfill must be in the GROUP BY"));
    }

    let ty = time_column_type(select, time, time_type);
    let origin = if ty == "TIMESTAMPTZ" {
        "TIMESTAMPTZ '2000-01-03 00:00:00+00'"
    } else {
        "TIMESTAMP '2000-01-03 00:00:00'"
    };
    let kinds: Vec<Item> = items
        .iter()
        .enumerate()
        .map(|(i, (e, _))| {
            if i == bucket_at {
                Item::Bucket
            } else if keys.contains(&i) {
                Item::Key
            } else {
                match call_name(e).as_deref() {
                    Some("locf") => Item::Locf,
                    Some("interpolate") => Item::Interpolate,
                    _ => Item::Plain,
                }
            }
        })
        .collect();

    // The aggregate query, every item aliased __cN.
    let inner_items = items
        .iter()
        .zip(&kinds)
        .enumerate()
        .map(|(i, ((e, _), kind))| {
            let e = match kind {
                Item::Bucket => format!("date_bin({width}, {time}, {origin})"),
                Item::Locf | Item::Interpolate => match call_args(e).first() {
                    Some((None, x)) => x.to_string(),
                    _ => return Err(bad(format!("{e} needs one argument"))),
                },
                _ => e.to_string(),
            };
            Ok(format!("{e} AS \"__c{i}\""))
        })
        .collect::<Result<Vec<_>>>()?
        .join(", ");
    let from = select
        .from
        .iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let mut agg = format!("SELECT {inner_items} FROM {from}");
    if let Some(w) = &select.selection {
        agg.push_str(&format!(" WHERE {w}"));
    }
    let group_ordinals: Vec<String> = std::iter::once(bucket_at)
        .chain(keys.iter().copied())
        .map(|i| (i + 1).to_string())
        .collect();
    agg.push_str(&format!(" GROUP BY {}", group_ordinals.join(", ")));
    if let Some(h) = &select.having {
        agg.push_str(&format!(" HAVING {h}"));
    }

    let finish = if inclusive {
        format!("CAST({finish} AS {ty}) + INTERVAL '1 microsecond'")
    } else {
        format!("CAST({finish} AS {ty})")
    };
    let buckets = format!(
        "SELECT unnest(range(date_bin({width}, CAST({start} AS {ty}), {origin}), {finish}, {width})) AS \"__b\""
    );
    let key_cols: Vec<String> = keys.iter().map(|k| format!("\"__c{k}\"")).collect();
    let partition = if keys.is_empty() {
        String::new()
    } else {
        format!(
            "PARTITION BY {} ",
            keys.iter()
                .map(|k| format!("__groups.\"__c{k}\""))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let before = format!(
        "({partition}ORDER BY __buckets.\"__b\" ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    );
    let after = format!(
        "({partition}ORDER BY __buckets.\"__b\" ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)"
    );
    let outer_items = items
        .iter()
        .zip(&kinds)
        .enumerate()
        .map(|(i, ((_, alias), kind))| {
            let v = format!("__agg.\"__c{i}\"");
            let e = match kind {
                Item::Bucket => "__buckets.\"__b\"".to_string(),
                Item::Key => format!("__groups.\"__c{i}\""),
                Item::Plain => v,
                Item::Locf => format!("last_value({v}) IGNORE NULLS OVER {before}"),
                Item::Interpolate => {
                    let at = format!("CASE WHEN {v} IS NOT NULL THEN __buckets.\"__b\" END");
                    let epoch = |e: &str| format!("extract(epoch FROM {e})");
                    let pv = format!("last_value({v}) IGNORE NULLS OVER {before}");
                    let pt = epoch(&format!("last_value({at}) IGNORE NULLS OVER {before}"));
                    let nv = format!("first_value({v}) IGNORE NULLS OVER {after}");
                    let nt = epoch(&format!("first_value({at}) IGNORE NULLS OVER {after}"));
                    let now = epoch("__buckets.\"__b\"");
                    format!(
                        "CASE WHEN {v} IS NOT NULL THEN CAST({v} AS DOUBLE PRECISION) \
                         ELSE {pv} + ({nv} - {pv}) * ({now} - {pt}) / ({nt} - {pt}) END"
                    )
                }
            };
            format!("{e} AS \"{}\"", alias.replace('"', "\"\""))
        })
        .collect::<Vec<_>>()
        .join(", ");
    let mut join_on = vec![format!("__agg.\"__c{bucket_at}\" = __buckets.\"__b\"")];
    join_on.extend(
        keys.iter()
            .map(|k| format!("__agg.\"__c{k}\" IS NOT DISTINCT FROM __groups.\"__c{k}\"")),
    );
    let mut ctes: Vec<String> = query
        .with
        .iter()
        .flat_map(|w| w.cte_tables.iter().map(|c| c.to_string()))
        .collect();
    ctes.push(format!("__agg AS ({agg})"));
    ctes.push(format!("__buckets AS ({buckets})"));
    let groups_from = if keys.is_empty() {
        String::new()
    } else {
        ctes.push(format!(
            "__groups AS (SELECT DISTINCT {} FROM __agg)",
            key_cols.join(", ")
        ));
        " CROSS JOIN __groups".to_string()
    };
    let order = match query.order_by.as_ref().map(|o| &o.kind) {
        Some(OrderByKind::Expressions(list)) => list
            .iter()
            .map(|o| {
                let target = match find(&o.expr) {
                    Some(i) if i < items.len() => {
                        format!("\"{}\"", items[i].1.replace('"', "\"\""))
                    }
                    _ => o.expr.to_string(),
                };
                format!("{target} {}", o.options)
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => keys
            .iter()
            .chain(std::iter::once(&bucket_at))
            .map(|i| format!("{}", i + 1))
            .collect::<Vec<_>>()
            .join(", "),
    };
    let limit = query
        .limit_clause
        .as_ref()
        .map(|l| format!(" {l}"))
        .unwrap_or_default();
    Ok(Some(format!(
        "WITH {} SELECT {outer_items} FROM __buckets{groups_from} LEFT JOIN __agg ON {} ORDER BY {order}{limit}",
        ctes.join(", "),
        join_on.join(" AND ")
    )))
}

/// The SQL type of the gap-filled time expression: looked up when it is a
/// column of the single table in FROM, TIMESTAMPTZ otherwise.
fn time_column_type(
    select: &datafusion::sql::sqlparser::ast::Select,
    time: &Expr,
    time_type: &dyn Fn(&str, &str) -> Option<&'static str>,
) -> &'static str {
    let column = match time {
        Expr::Identifier(i) => Some(i.value.clone()),
        Expr::CompoundIdentifier(parts) => parts.last().map(|i| i.value.clone()),
        _ => None,
    };
    let table = match select.from.as_slice() {
        [t] if t.joins.is_empty() => match &t.relation {
            TableFactor::Table { name, .. } => name
                .0
                .last()
                .and_then(|p| p.as_ident())
                .map(|i| i.value.clone()),
            _ => None,
        },
        _ => None,
    };
    match (table, column) {
        (Some(t), Some(c)) => time_type(&t, &c).unwrap_or("TIMESTAMPTZ"),
        _ => "TIMESTAMPTZ",
    }
}
