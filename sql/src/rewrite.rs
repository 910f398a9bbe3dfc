//! AST rewrites applied before planning, for PostgreSQL/TimescaleDB
//! compatibility that DataFusion lacks.
//!
//! - `time_bucket(width, ts [, origin])` (TimescaleDB argument order) becomes
//!   `date_bin(width, ts, origin)` with TimescaleDB's default origin
//!   2000-01-03 (a Monday), so weekly buckets start on Mondays.
//! - Interval literals (`INTERVAL '1 day 02:00:00'`, `'90 min'::interval`)
//!   are parsed with PostgreSQL's rules and handed to DataFusion in a
//!   spelling it accepts (`1 days 7200000000 microseconds`).

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    DataType, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, ObjectName,
    ObjectNamePart, Statement, Value, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

struct TimeBucket;

fn origin_expr() -> Option<Expr> {
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql("TIMESTAMPTZ '2000-01-03T00:00:00Z'")
        .ok()?
        .parse_expr()
        .ok()
}

impl VisitorMut for TimeBucket {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::Function(Function {
            name,
            args: FunctionArguments::List(list),
            ..
        }) = expr
        {
            let is_time_bucket = name
                .0
                .last()
                .and_then(|p| p.as_ident())
                .is_some_and(|i| i.value.eq_ignore_ascii_case("time_bucket"));
            if is_time_bucket && list.args.len() == 2 {
                if let Some(origin) = origin_expr() {
                    list.args
                        .push(FunctionArg::Unnamed(FunctionArgExpr::Expr(origin)));
                }
            }
            if is_time_bucket {
                *name = ObjectName(vec![ObjectNamePart::Identifier(Ident::new("date_bin"))]);
            }
        }
        ControlFlow::Continue(())
    }
}

struct IntervalLiterals;

/// PostgreSQL interval text -> a spelling DataFusion's parser accepts.
fn canonical_interval(text: &str) -> Option<String> {
    let iv = lynx_pgtypes::parse_interval(text).ok()?;
    Some(format!(
        "{} months {} days {} microseconds",
        iv.months, iv.days, iv.micros
    ))
}

fn rewrite_string(expr: &mut Expr) {
    if let Expr::Value(v) = expr {
        if let Value::SingleQuotedString(s) = &mut v.value {
            if let Some(c) = canonical_interval(s) {
                *s = c;
            }
        }
    }
}

impl VisitorMut for IntervalLiterals {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        match expr {
            Expr::Interval(iv) if iv.leading_field.is_none() && iv.last_field.is_none() => {
                rewrite_string(&mut iv.value)
            }
            Expr::Cast {
                data_type: DataType::Interval { .. },
                expr: inner,
                ..
            } => rewrite_string(inner),
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// Parameters whose type the client declared in Parse become
/// `CAST($n AS type)`, so the declared type decides the plan (PostgreSQL
/// semantics) even where nothing else in the statement determines it.
struct DeclaredParams<'a> {
    types: &'a [Option<&'static str>],
}

impl VisitorMut for DeclaredParams<'_> {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        let Expr::Value(v) = expr else {
            return ControlFlow::Continue(());
        };
        let Value::Placeholder(p) = &v.value else {
            return ControlFlow::Continue(());
        };
        let Some(n) = p.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()) else {
            return ControlFlow::Continue(());
        };
        if let Some(Some(ty)) = n.checked_sub(1).and_then(|i| self.types.get(i)) {
            let cast = Parser::new(&PostgreSqlDialect {})
                .try_with_sql(&format!("CAST({p} AS {ty})"))
                .and_then(|mut parser| parser.parse_expr());
            if let Ok(cast) = cast {
                *expr = cast;
            }
        }
        ControlFlow::Continue(())
    }
}

pub fn cast_declared_params(stmt: &mut Statement, types: &[Option<&'static str>]) {
    if types.iter().any(Option::is_some) {
        let _ = stmt.visit(&mut DeclaredParams { types });
    }
}

pub fn rewrite(stmt: &mut Statement) {
    let _ = stmt.visit(&mut TimeBucket);
    let _ = stmt.visit(&mut IntervalLiterals);
}
