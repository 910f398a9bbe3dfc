//! AST rewrites applied before planning, for PostgreSQL/TimescaleDB
//! compatibility that DataFusion lacks.
//!
//! - `time_bucket(width, ts [, origin])` (TimescaleDB argument order) becomes
//!   `date_bin(width, ts, origin)` with TimescaleDB's default origin
//!   2000-01-03 (a Monday), so weekly buckets start on Mondays.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, ObjectName,
    ObjectNamePart, Statement, VisitMut, VisitorMut,
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
        if let Expr::Function(Function { name, args: FunctionArguments::List(list), .. }) = expr {
            let is_time_bucket = name
                .0
                .last()
                .and_then(|p| p.as_ident())
                .is_some_and(|i| i.value.eq_ignore_ascii_case("time_bucket"));
            if is_time_bucket && list.args.len() == 2 {
                if let Some(origin) = origin_expr() {
                    list.args.push(FunctionArg::Unnamed(FunctionArgExpr::Expr(origin)));
                }
            }
            if is_time_bucket {
                *name = ObjectName(vec![ObjectNamePart::Identifier(Ident::new("date_bin"))]);
            }
        }
        ControlFlow::Continue(())
    }
}

pub fn rewrite(stmt: &mut Statement) {
    let _ = stmt.visit(&mut TimeBucket);
}
