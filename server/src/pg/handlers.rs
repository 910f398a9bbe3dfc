//! pgwire handlers: simple and extended query protocol over `lynx_sql`.
//!
//! Each connection owns one [`Conn`] (its SQL session). Statements run with
//! the session locked; results stream to the client batch by batch, each
//! batch checked against the connection's cancel flag and the statement
//! timeout, so a CancelRequest (psql Ctrl-C) stops a query mid-stream.

use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::execution::SendableRecordBatchStream;
use futures::{Sink, SinkExt, StreamExt};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::stmt::QueryParser;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::response::NoticeResponse;
use pgwire::messages::startup::ParameterStatus;
use pgwire::messages::PgWireBackendMessage;
use tracing::Instrument;

use lynx_pgtypes::PgFormatSettings;
use lynx_sql::{CopyOut, Engine, Notice, Output, Prepared, Session, SqlError, StatusCode};

use crate::metrics::Metrics;
use crate::pg::conn::{CancelRegistry, Conn};
use crate::pg::format::format_settings;
use crate::sqlstate::error_code;

/// What running a statement produced: a response pgwire sends, or a
/// `COPY ... TO STDOUT` the handler streams itself (see `copy`).
pub enum Ran {
    Response(Response),
    CopyOut(CopyOut),
}

pub struct PgHandler {
    pub engine: Arc<Engine>,
    pub metrics: Arc<Metrics>,
    pub registry: Arc<CancelRegistry>,
}

/// Converts an SQL error into the pgwire error sent to the client.
pub fn pg_error(metrics: &Metrics, e: &SqlError) -> PgWireError {
    PgWireError::UserError(Box::new(error_info(metrics, e)))
}

/// The ErrorResponse for an SQL error; counts it by SQLSTATE.
fn error_info(metrics: &Metrics, e: &SqlError) -> ErrorInfo {
    let code = error_code(e);
    metrics.error(code);
    let mut info = ErrorInfo::new("ERROR".into(), code.into(), e.message.clone());
    info.where_context = e.context.clone();
    info
}

fn cancelled_error() -> SqlError {
    SqlError::new(
        StatusCode::Cancelled,
        "canceling statement due to user request",
    )
}

fn timeout_error() -> SqlError {
    SqlError::new(
        StatusCode::Cancelled,
        "canceling statement due to statement timeout",
    )
}

impl PgHandler {
    /// The connection's state, created at startup (see `auth`).
    pub fn conn<C: ClientInfo>(&self, client: &C) -> Arc<Conn> {
        client.session_extensions().get_or_insert_with(|| {
            let user = client
                .metadata()
                .get("user")
                .cloned()
                .unwrap_or_else(|| "lynx".into());
            let (pid, _) = client.pid_and_secret_key();
            Conn::new(self.engine.session(&user, Some(pid)), self.registry.clone())
        })
    }

    /// Sends ParameterStatus and NOTICE/WARNING messages the session produced.
    async fn send_notices<C>(client: &mut C, session: &mut Session) -> PgWireResult<()>
    where
        C: Sink<PgWireBackendMessage> + Unpin + Send,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        for n in session.take_notices() {
            let msg = match n {
                Notice::ParameterStatus(k, v) => {
                    PgWireBackendMessage::ParameterStatus(ParameterStatus::new(k, v))
                }
                Notice::Warning(m) => PgWireBackendMessage::NoticeResponse(NoticeResponse::from(
                    ErrorInfo::new("WARNING".into(), "01000".into(), m),
                )),
            };
            client.feed(msg).await?;
        }
        Ok(())
    }

    /// Runs one prepared statement and turns its output into a response.
    async fn run(
        &self,
        conn: &Conn,
        session: &mut Session,
        prepared: &Prepared,
        params: Vec<ScalarValue>,
        format: &Format,
    ) -> Result<Ran, SqlError> {
        let started = Instant::now();
        let query_id = self.metrics.queries_total.fetch_add(1, Ordering::Relaxed) + 1;
        let span = tracing::debug_span!("query", id = query_id, pid = session.pid());

        conn.cancelled.store(false, Ordering::SeqCst);
        let timeout_ms = session.settings.statement_timeout_ms();
        let deadline = (timeout_ms > 0).then(|| started + Duration::from_millis(timeout_ms));
        let work = async {
            let out: Output = session.execute(prepared, params).await?;
            match out {
                Output::Rows { schema, mut stream } => {
                    // Pull the first batch here: most of a query's work (and
                    // its errors) happen before it, and this part is raced
                    // against CancelRequest by pgwire.
                    let first = stream.next().await.transpose()?;
                    Ok::<Output, SqlError>(Output::Rows {
                        schema,
                        stream: prepend(first, stream),
                    })
                }
                other => Ok(other),
            }
        };
        let work = work.instrument(span);
        let out = match deadline {
            Some(d) => tokio::time::timeout_at(d.into(), work)
                .await
                .map_err(|_| timeout_error())?,
            None => work.await,
        };
        self.metrics.query_latency.observe(started.elapsed());
        let out: Output = out?;
        Ok(Ran::Response(match out {
            Output::Empty => Response::EmptyQuery,
            Output::CopyIn(copy) => {
                let response = pgwire::api::results::CopyResponse::new(
                    copy.format_code(),
                    copy.columns(),
                    futures::stream::empty(),
                );
                *conn.copy_in.lock() = Some(copy);
                *conn.copy_memory.lock() = Some(crate::alloc::BulkCopyMemory::start());
                Response::CopyIn(response)
            }
            Output::CopyOut(out) => return Ok(Ran::CopyOut(out)),
            Output::Command { tag, rows } => {
                let t = match (tag, rows) {
                    ("INSERT", Some(n)) => Tag::new("INSERT").with_oid(0).with_rows(n as usize),
                    (tag, Some(n)) => Tag::new(tag).with_rows(n as usize),
                    (tag, None) => Tag::new(tag),
                };
                match tag {
                    "BEGIN" | "START TRANSACTION" => Response::TransactionStart(t),
                    "COMMIT" | "ROLLBACK" => Response::TransactionEnd(t),
                    _ => Response::Execution(t),
                }
            }
            Output::Rows { schema, stream } => {
                let settings = format_settings(&session.settings);
                Response::Query(self.rows(
                    schema,
                    stream,
                    format,
                    settings,
                    conn.cancelled.clone(),
                    deadline,
                )?)
            }
        }))
    }

    fn rows(
        &self,
        schema: SchemaRef,
        stream: SendableRecordBatchStream,
        format: &Format,
        settings: PgFormatSettings,
        cancelled: Arc<AtomicBool>,
        deadline: Option<Instant>,
    ) -> Result<QueryResponse, SqlError> {
        let fields = Arc::new(
            lynx_pgtypes::field_infos(&schema, format)
                .map_err(|e| SqlError::new(StatusCode::Unsupported, e.to_string()))?,
        );
        let encode_fields = fields.clone();
        let metrics = self.metrics.clone();
        let rows = stream
            .map(move |batch| -> Vec<PgWireResult<_>> {
                let fail = |e: SqlError| vec![Err(pg_error(&metrics, &e))];
                if cancelled.load(Ordering::SeqCst) {
                    return fail(cancelled_error());
                }
                if deadline.is_some_and(|d| Instant::now() > d) {
                    return fail(timeout_error());
                }
                let batch = match batch {
                    Ok(b) => b,
                    Err(e) => return fail(SqlError::from(e)),
                };
                match lynx_pgtypes::encode_batch(&batch, &encode_fields, &settings) {
                    Ok(rows) => rows.into_iter().map(Ok).collect(),
                    Err(e) => fail(
                        SqlError::new(StatusCode::Internal, e.to_string())
                            .with_sqlstate(e.sqlstate()),
                    ),
                }
            })
            .flat_map(futures::stream::iter);
        Ok(QueryResponse::new(fields, rows))
    }
}

fn prepend(
    first: Option<RecordBatch>,
    rest: SendableRecordBatchStream,
) -> SendableRecordBatchStream {
    let schema = rest.schema();
    let head = futures::stream::iter(first.map(Ok));
    Box::pin(
        datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(schema, head.chain(rest)),
    )
}

#[async_trait]
impl SimpleQueryHandler for PgHandler {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = self.conn(client);
        let mut session = conn.session.lock().await;
        let stmts = match session.parse(query) {
            Ok(s) => s,
            Err(e) => return Err(pg_error(&self.metrics, &e)),
        };
        if stmts.is_empty() {
            return Ok(vec![Response::EmptyQuery]);
        }
        let mut responses = Vec::with_capacity(stmts.len());
        for stmt in stmts {
            let result = match session.prepare(stmt, &[]).await {
                Ok(p) => {
                    self.run(&conn, &mut session, &p, vec![], &Format::UnifiedText)
                        .await
                }
                Err(e) => Err(e),
            };
            Self::send_notices(client, &mut session).await?;
            let result = match result {
                Ok(Ran::CopyOut(out)) => {
                    crate::pg::copy::flush_responses(client, &mut responses).await?;
                    crate::pg::copy::send_copy_out(client, out, &conn.cancelled)
                        .await?
                        .map(Response::Execution)
                }
                Ok(Ran::Response(r)) => Ok(r),
                Err(e) => Err(e),
            };
            match result {
                Ok(r) => {
                    let copy_in = matches!(r, Response::CopyIn(_));
                    responses.push(r);
                    if copy_in {
                        // The client sends the data next; statements after
                        // a COPY FROM STDIN in the same query are not run.
                        break;
                    }
                }
                Err(e) => {
                    // PostgreSQL stops at the first failing statement.
                    responses.push(Response::Error(Box::new(error_info(&self.metrics, &e))));
                    break;
                }
            }
        }
        Ok(responses)
    }
}

/// Parses statements for the extended protocol.
pub struct PgParser {
    pub handler: Arc<PgHandler>,
}

#[async_trait]
impl QueryParser for PgParser {
    type Statement = Prepared;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<Option<Prepared>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let metrics = &self.handler.metrics;
        let conn = self.handler.conn(client);
        let mut session = conn.session.lock().await;
        let mut stmts = session.parse(sql).map_err(|e| pg_error(metrics, &e))?;
        match stmts.len() {
            0 => Ok(None),
            1 => {
                let hints: Vec<Option<DataType>> = types
                    .iter()
                    .map(|t| t.as_ref().and_then(lynx_pgtypes::arrow_type_of))
                    .collect();
                let stmt = stmts.remove(0);
                session
                    .prepare(stmt, &hints)
                    .await
                    .map(Some)
                    .map_err(|e| pg_error(metrics, &e))
            }
            _ => Err(pg_error(
                metrics,
                &SqlError::syntax("cannot insert multiple commands into a prepared statement"),
            )),
        }
    }

    fn get_parameter_types(&self, stmt: &Prepared) -> PgWireResult<Vec<Type>> {
        Ok(stmt
            .param_types
            .iter()
            .map(|t| {
                t.as_ref()
                    .and_then(|t| lynx_pgtypes::pg_type_of_field(t).ok())
                    .unwrap_or(Type::TEXT)
            })
            .collect())
    }

    fn get_result_schema(
        &self,
        stmt: &Prepared,
        format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        lynx_pgtypes::field_infos(&stmt.schema, format.unwrap_or(&Format::UnifiedText)).map_err(
            |e| {
                pg_error(
                    &self.handler.metrics,
                    &SqlError::new(StatusCode::Unsupported, e.to_string()),
                )
            },
        )
    }
}

pub struct PgExtended {
    pub handler: Arc<PgHandler>,
    pub parser: Arc<PgParser>,
}

#[async_trait]
impl ExtendedQueryHandler for PgExtended {
    type Statement = Prepared;
    type QueryParser = PgParser;

    fn query_parser(&self) -> Arc<PgParser> {
        self.parser.clone()
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Prepared>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let h = &self.handler;
        let conn = h.conn(client);
        let mut session = conn.session.lock().await;
        let prepared = &portal.statement.statement;
        let params = decode_params(portal, &session).map_err(|e| pg_error(&h.metrics, &e))?;
        let result = h
            .run(
                &conn,
                &mut session,
                prepared,
                params,
                &portal.result_column_format,
            )
            .await;
        PgHandler::send_notices(client, &mut session).await?;
        let result = match result {
            Ok(Ran::CopyOut(out)) => crate::pg::copy::send_copy_out(client, out, &conn.cancelled)
                .await?
                .map(Response::Execution),
            Ok(Ran::Response(r)) => Ok(r),
            Err(e) => Err(e),
        };
        result.map_err(|e| pg_error(&h.metrics, &e))
    }
}

fn decode_params(
    portal: &Portal<Prepared>,
    session: &Session,
) -> Result<Vec<ScalarValue>, SqlError> {
    let prepared = &portal.statement.statement;
    let declared = &portal.statement.parameter_types;
    if portal.parameters.len() != prepared.param_types.len() {
        return Err(SqlError::new(
            StatusCode::ProtocolViolation,
            format!(
                "bind message supplies {} parameters, but prepared statement \"{}\" requires {}",
                portal.parameters.len(),
                portal.statement.id,
                prepared.param_types.len()
            ),
        ));
    }
    let settings = format_settings(&session.settings);
    portal
        .parameters
        .iter()
        .enumerate()
        .map(|(i, bytes)| {
            let inferred = prepared.param_types[i].as_ref();
            let pg_type = declared
                .get(i)
                .cloned()
                .flatten()
                .filter(|t| *t != Type::UNKNOWN)
                .or_else(|| inferred.and_then(|t| lynx_pgtypes::pg_type_of_field(t).ok()))
                .unwrap_or(Type::TEXT);
            let target = inferred
                .map(|f| f.data_type().clone())
                .or_else(|| lynx_pgtypes::arrow_type_of(&pg_type))
                .unwrap_or(DataType::Utf8);
            let format = portal.parameter_format.format_for(i);
            lynx_pgtypes::decode_param(bytes.as_deref(), &pg_type, format, &target, &settings)
                .map_err(|e| {
                    SqlError::new(StatusCode::InvalidInput, e.to_string())
                        .with_sqlstate(e.sqlstate())
                })
        })
        .collect()
}
