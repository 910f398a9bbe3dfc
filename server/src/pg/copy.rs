//! The COPY sub-protocol on pgwire.
//!
//! COPY FROM STDIN: the statement leaves a [`lynx_sql::CopyIn`] in the
//! connection; CopyData messages feed it, CopyDone validates and writes all
//! rows and answers `COPY n`, CopyFail drops everything (57014). COPY TO
//! STDOUT: [`send_copy_out`] streams CopyOutResponse, one CopyData per row
//! and CopyDone itself, because the `COPY n` tag counts rows, not messages
//! (the binary header and the CSV header line are not rows).

use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use futures::{Sink, SinkExt, StreamExt};
use pgwire::api::copy::CopyHandler;
use pgwire::api::query::{send_execution_response, send_query_response};
use pgwire::api::results::{Response, Tag};
use pgwire::api::ClientInfo;
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::copy::{CopyData, CopyDone, CopyFail, CopyOutResponse};
use pgwire::messages::response::EmptyQueryResponse;
use pgwire::messages::PgWireBackendMessage;

use lynx_sql::{CopyOut, SqlError, StatusCode};

use crate::pg::handlers::{pg_error, PgHandler};

pub struct PgCopy {
    pub handler: Arc<PgHandler>,
}

#[async_trait]
impl CopyHandler for PgCopy {
    async fn on_copy_data<C>(&self, client: &mut C, copy_data: CopyData) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = self.handler.conn(client);
        if let Some(copy) = conn.copy_in.lock().as_mut() {
            if conn.cancelled.load(Ordering::SeqCst) {
                copy.fail(SqlError::new(
                    StatusCode::Cancelled,
                    "canceling statement due to user request",
                ));
            }
            copy.feed(&copy_data.data);
        }
        Ok(())
    }

    async fn on_copy_done<C>(&self, client: &mut C, _done: CopyDone) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = self.handler.conn(client);
        let copy = conn.copy_in.lock().take();
        let Some(copy) = copy else {
            return Err(pg_error(
                &self.handler.metrics,
                &SqlError::new(StatusCode::ProtocolViolation, "unexpected CopyDone"),
            ));
        };
        let result = copy.finish().await;
        conn.copy_memory.lock().take();
        match result {
            Ok(rows) => {
                let tag = Tag::new("COPY").with_rows(rows as usize);
                client
                    .send(PgWireBackendMessage::CommandComplete(tag.into()))
                    .await?;
                Ok(())
            }
            Err(e) => Err(pg_error(&self.handler.metrics, &e)),
        }
    }

    async fn on_copy_fail<C>(&self, client: &mut C, fail: CopyFail) -> PgWireError
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = self.handler.conn(client);
        conn.copy_in.lock().take();
        conn.copy_memory.lock().take();
        let code = "57014";
        self.handler.metrics.error(code);
        PgWireError::UserError(Box::new(ErrorInfo::new(
            "ERROR".into(),
            code.into(),
            format!("COPY from stdin failed: {}", fail.message),
        )))
    }
}

/// Sends responses of earlier statements of the same simple query, so they
/// reach the client before the COPY data that follows them.
pub async fn flush_responses<C>(client: &mut C, responses: &mut Vec<Response>) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    for r in responses.drain(..) {
        match r {
            Response::EmptyQuery => {
                client
                    .feed(PgWireBackendMessage::EmptyQueryResponse(
                        EmptyQueryResponse::new(),
                    ))
                    .await?
            }
            Response::Query(q) => send_query_response(client, q, true).await?,
            Response::Execution(tag)
            | Response::TransactionStart(tag)
            | Response::TransactionEnd(tag) => send_execution_response(client, tag).await?,
            Response::Error(e) => {
                client
                    .feed(PgWireBackendMessage::ErrorResponse((*e).into()))
                    .await?
            }
            Response::CopyIn(_) | Response::CopyOut(_) | Response::CopyBoth(_) => {}
        }
    }
    Ok(())
}

/// Streams a COPY TO STDOUT; returns the `COPY n` tag, or the error that
/// stopped it (sent by pgwire as an ErrorResponse, ending the copy).
pub async fn send_copy_out<C>(
    client: &mut C,
    mut out: CopyOut,
    cancelled: &AtomicBool,
) -> PgWireResult<Result<Tag, SqlError>>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    let formats = vec![i16::from(out.format); out.columns];
    client
        .feed(PgWireBackendMessage::CopyOutResponse(CopyOutResponse::new(
            out.format,
            out.columns as i16,
            formats,
        )))
        .await?;
    let mut rows = 0u64;
    while let Some(chunk) = out.chunks.next().await {
        if cancelled.load(Ordering::SeqCst) {
            return Ok(Err(SqlError::new(
                StatusCode::Cancelled,
                "canceling statement due to user request",
            )));
        }
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        rows += chunk.rows;
        for m in chunk.messages {
            client
                .feed(PgWireBackendMessage::CopyData(CopyData::new(m)))
                .await?;
        }
        client.flush().await?;
    }
    client
        .feed(PgWireBackendMessage::CopyDone(CopyDone::new()))
        .await?;
    Ok(Ok(Tag::new("COPY").with_rows(rows as usize)))
}
