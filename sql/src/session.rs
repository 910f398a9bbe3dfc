//! One client session: settings, prepared statements, statement execution.
//!
//! Statements are split in two families. Queries and DML (SELECT, INSERT,
//! EXPLAIN, VALUES) are planned by DataFusion on a per-statement clone of the
//! engine state with the session's settings applied. Utility statements
//! (DDL, SET/SHOW, transaction control) are executed here directly.
//!
//! Transactions: each statement is atomic and autocommits. BEGIN/COMMIT are
//! accepted so drivers work; ROLLBACK cannot undo statements already run
//! (a WARNING says so when writes happened inside the block).

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use datafusion::common::{ParamValues, ScalarValue};
use datafusion::execution::session_state::SessionState;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::execute_stream;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement;

use crate::engine::Engine;
use crate::error::{Result, SqlError, StatusCode};
use crate::settings::Settings;
use crate::utility::{self, Utility};

/// A statement ready to run, possibly many times with different parameters.
#[derive(Clone)]
pub struct Prepared {
    pub(crate) kind: PreparedKind,
    /// Types of `$1..$n` as far as they could be inferred; the field
    /// metadata may name the PostgreSQL type (`pg.type`, e.g. varchar).
    pub param_types: Vec<Option<FieldRef>>,
    /// Result columns; empty for commands.
    pub schema: SchemaRef,
}

#[derive(Clone)]
pub(crate) enum PreparedKind {
    Plan {
        plan: Box<LogicalPlan>,
        is_insert: bool,
    },
    Utility(Box<Utility>),
    Empty,
}

/// The outcome of one statement.
pub enum Output {
    Rows {
        schema: SchemaRef,
        stream: SendableRecordBatchStream,
    },
    /// A command tag such as `CREATE TABLE`, with the row count for
    /// INSERT/DELETE (`INSERT 0 5` on the wire).
    Command {
        tag: &'static str,
        rows: Option<u64>,
    },
    Empty,
    /// `COPY ... FROM STDIN`: the protocol layer feeds the client's data.
    CopyIn(Box<crate::copy::CopyIn>),
    /// `COPY ... TO STDOUT`: messages to send to the client.
    CopyOut(crate::copy::CopyOut),
}

impl Output {
    pub fn command(tag: &'static str) -> Output {
        Output::Command { tag, rows: None }
    }
}

/// Something the protocol layer should tell the client after a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// A reported setting changed (ParameterStatus).
    ParameterStatus(String, String),
    /// A WARNING or NOTICE message.
    Warning(String),
}

pub struct Session {
    engine: Arc<Engine>,
    pub settings: Settings,
    user: String,
    pid: i32,
    pub(crate) in_transaction: bool,
    pub(crate) wrote_in_transaction: bool,
    notices: Vec<Notice>,
}

impl Session {
    pub(crate) fn new(engine: Arc<Engine>, user: String, pid: i32) -> Session {
        Session {
            engine,
            settings: Settings::default(),
            user,
            pid,
            in_transaction: false,
            wrote_in_transaction: false,
            notices: Vec::new(),
        }
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    pub fn in_transaction(&self) -> bool {
        self.in_transaction
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Messages produced by the statements run so far; drains them.
    pub fn take_notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.notices)
    }

    pub(crate) fn notify(&mut self, n: Notice) {
        self.notices.push(n);
    }

    /// Splits and parses a query string (empty for an empty query).
    pub fn parse(&self, sql: &str) -> Result<Vec<Statement>> {
        let sql = crate::client_queries::replace_known_fragments(sql);
        let mut stmts = self.engine.parser.parse(&sql)?;
        let db = self.engine.db();
        let time_type = |table: &str, column: &str| {
            let def = db.table_def(table)?;
            Some(match def.column(column)?.column_type {
                lynx_storage::ColumnType::Timestamp => "TIMESTAMP",
                _ => "TIMESTAMPTZ",
            })
        };
        for s in &mut stmts {
            crate::column_names::name_columns(s);
            crate::gapfill::rewrite(s, &time_type)?;
            crate::rewrite::rewrite(s);
        }
        Ok(stmts)
    }

    /// The DataFusion state for one statement, with this session's settings.
    pub(crate) fn state(&self) -> SessionState {
        let mut state = self.engine.ctx.state();
        // DataFusion wants an IANA name or an ISO offset (east positive).
        let tz = match lynx_pgtypes::SessionTimeZone::parse(&self.settings.value("TimeZone")) {
            Some(lynx_pgtypes::SessionTimeZone::Named(tz)) if tz.name() != "UTC" => {
                tz.name().to_string()
            }
            Some(lynx_pgtypes::SessionTimeZone::Fixed(offset)) => offset.to_string(),
            _ => "+00:00".to_string(),
        };
        state.config_mut().options_mut().execution.time_zone = Some(tz);
        crate::functions::register_session(&mut state, &self.settings, &self.user, self.pid);
        state
    }

    /// Plans a statement. `hints` are parameter types the client declared.
    pub async fn prepare(
        &mut self,
        stmt: Statement,
        hints: &[Option<DataType>],
    ) -> Result<Prepared> {
        if let Some(u) = utility::classify(&stmt, self)? {
            let schema = u.schema(self)?;
            return Ok(Prepared {
                kind: PreparedKind::Utility(Box::new(u)),
                param_types: vec![],
                schema,
            });
        }
        let is_insert = matches!(stmt, Statement::Insert(_));
        let mut stmt = stmt;
        let declared: Vec<Option<&'static str>> = hints
            .iter()
            .map(|h| h.as_ref().and_then(sql_type_name))
            .collect();
        crate::rewrite::cast_declared_params(&mut stmt, &declared);
        let state = self.state();
        let plan = state
            .statement_to_plan(DfStatement::Statement(Box::new(stmt)))
            .await?;
        let param_types = param_types(&plan, hints)?;
        let schema = if is_insert || matches!(plan, LogicalPlan::Ddl(_) | LogicalPlan::Dml(_)) {
            Arc::new(Schema::empty())
        } else {
            Arc::new(plan.schema().as_arrow().clone())
        };
        Ok(Prepared {
            kind: PreparedKind::Plan {
                plan: Box::new(plan),
                is_insert,
            },
            param_types,
            schema,
        })
    }

    /// Runs a prepared statement with parameter values.
    pub async fn execute(
        &mut self,
        prepared: &Prepared,
        params: Vec<ScalarValue>,
    ) -> Result<Output> {
        match &prepared.kind {
            PreparedKind::Empty => Ok(Output::Empty),
            PreparedKind::Utility(u) => utility::execute(u, self).await,
            PreparedKind::Plan { plan, is_insert } => {
                if params.len() != prepared.param_types.len() {
                    return Err(SqlError::new(
                        StatusCode::ProtocolViolation,
                        format!(
                            "bind message supplies {} parameters, but prepared statement \"\" requires {}",
                            params.len(),
                            prepared.param_types.len()
                        ),
                    ));
                }
                let plan = if params.is_empty() {
                    (**plan).clone()
                } else {
                    (**plan)
                        .clone()
                        .replace_params_with_values(&ParamValues::from(params))?
                };
                let state = self.state();
                let physical = state.create_physical_plan(&plan).await?;
                let stream = execute_stream(physical, state.task_ctx())?;
                if *is_insert {
                    let rows = count_rows(stream).await?;
                    if self.in_transaction {
                        self.wrote_in_transaction = true;
                    }
                    return Ok(Output::Command {
                        tag: "INSERT",
                        rows: Some(rows),
                    });
                }
                Ok(Output::Rows {
                    schema: prepared.schema.clone(),
                    stream,
                })
            }
        }
    }

    /// Runs a prepared query (not a utility statement or INSERT): the rows
    /// of `COPY (query) TO`.
    pub(crate) async fn query_stream(
        &mut self,
        prepared: &Prepared,
    ) -> Result<(SchemaRef, SendableRecordBatchStream)> {
        let PreparedKind::Plan {
            plan,
            is_insert: false,
        } = &prepared.kind
        else {
            return Err(SqlError::syntax("COPY (query) must be a SELECT"));
        };
        let state = self.state();
        let physical = state.create_physical_plan(plan).await?;
        let stream = execute_stream(physical, state.task_ctx())?;
        Ok((prepared.schema.clone(), stream))
    }

    /// Parses and runs every statement of a simple query.
    pub async fn run(&mut self, sql: &str) -> Result<Vec<Output>> {
        let stmts = self.parse(sql)?;
        let mut out = Vec::with_capacity(stmts.len());
        for stmt in stmts {
            let prepared = self.prepare(stmt, &[]).await?;
            out.push(self.execute(&prepared, vec![]).await?);
        }
        Ok(out)
    }

    /// A prepared statement for an empty query string.
    pub fn empty() -> Prepared {
        Prepared {
            kind: PreparedKind::Empty,
            param_types: vec![],
            schema: Arc::new(Schema::empty()),
        }
    }
}

async fn count_rows(stream: SendableRecordBatchStream) -> Result<u64> {
    use datafusion::arrow::array::{Array, UInt64Array};
    use futures::TryStreamExt;
    let batches: Vec<_> = stream.try_collect().await?;
    let mut total = 0;
    for b in batches {
        if let Some(c) = b
            .columns()
            .first()
            .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
        {
            total += (0..c.len()).map(|i| c.value(i)).sum::<u64>();
        }
    }
    Ok(total)
}

fn param_types(plan: &LogicalPlan, hints: &[Option<DataType>]) -> Result<Vec<Option<FieldRef>>> {
    let types = plan.get_parameter_fields()?;
    let mut ordered: Vec<(usize, Option<FieldRef>)> = types
        .into_iter()
        .filter_map(|(id, t)| {
            id.trim_start_matches('$')
                .parse::<usize>()
                .ok()
                .map(|n| (n, t))
        })
        .collect();
    ordered.sort_by_key(|(n, _)| *n);
    let count = ordered.last().map_or(0, |(n, _)| *n).max(hints.len());
    let mut out = vec![None; count];
    for (n, t) in ordered {
        if n >= 1 {
            out[n - 1] = t;
        }
    }
    for (i, h) in hints.iter().enumerate() {
        if out[i].is_none() {
            out[i] = h.clone().map(|t| Arc::new(Field::new("", t, true)));
        }
    }
    Ok(out)
}

/// The SQL spelling of a parameter type a client may declare.
fn sql_type_name(dt: &DataType) -> Option<&'static str> {
    Some(match dt {
        DataType::Int16 => "SMALLINT",
        DataType::Int32 => "INTEGER",
        DataType::Int64 => "BIGINT",
        DataType::Float32 => "REAL",
        DataType::Float64 => "DOUBLE PRECISION",
        DataType::Boolean => "BOOLEAN",
        DataType::Date32 => "DATE",
        DataType::Timestamp(_, Some(_)) => "TIMESTAMPTZ",
        DataType::Timestamp(_, None) => "TIMESTAMP",
        DataType::Binary => "BYTEA",
        _ => return None,
    })
}

/// A one-column text schema (SHOW results).
pub(crate) fn text_schema(name: &str) -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(name, DataType::Utf8, true)]))
}
