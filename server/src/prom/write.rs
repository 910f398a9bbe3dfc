//! `POST /api/v1/write`: Prometheus remote write 1.0 and 2.0.
//!
//! Status codes follow the remote-write spec: 204 once the whole request is
//! durable in the WAL; 400 for anything that must not be retried (bad
//! snappy, bad protobuf, invalid labels, timestamps outside the window,
//! an incompatible existing table); 413 for a body over `max_body_bytes`
//! or `max_decoded_bytes`; 415 for an unsupported Content-Type or
//! Content-Encoding; 429 when the engine reports back-pressure; 5xx only
//! for conditions worth retrying (I/O). 2.0 answers carry the
//! `X-Prometheus-Remote-Write-{Samples,Histograms,Exemplars}-Written`
//! headers. Native histograms, exemplars and metadata are accepted,
//! counted and dropped (they do not fit a float column).

use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode as Http};
use axum::response::{IntoResponse, Response};
use tracing::{debug, warn};

use lynx_storage::{Database, StorageError};

use super::decode::{self, Protocol, WriteStats};
use super::ha::HaDecision;
use super::mapping::{self, TableBatch};
use super::{check_snappy, now_ms, PromError, PromState};
use crate::http::HttpState;

const V1_PROTO: &str = "prometheus.WriteRequest";
const V2_PROTO: &str = "io.prometheus.write.v2.Request";

/// The protocol named by a Content-Type; a missing one means 1.0.
pub fn protocol_of(headers: &HeaderMap) -> Result<Protocol, PromError> {
    let Some(v) = headers.get(header::CONTENT_TYPE) else {
        return Ok(Protocol::V1);
    };
    let text = v.to_str().unwrap_or("");
    let mut parts = text.split(';').map(str::trim);
    let media = parts.next().unwrap_or("");
    let unsupported = || {
        PromError::new(
            Http::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "unsupported Content-Type {text:?}: expected application/x-protobuf \
                 (proto={V1_PROTO} or proto={V2_PROTO})"
            ),
        )
    };
    if !media.eq_ignore_ascii_case("application/x-protobuf") {
        return Err(unsupported());
    }
    let mut protocol = Protocol::V1;
    for p in parts {
        let Some((k, val)) = p.split_once('=') else {
            continue;
        };
        if k.trim().eq_ignore_ascii_case("proto") {
            protocol = match val.trim().trim_matches('"') {
                V1_PROTO => Protocol::V1,
                V2_PROTO => Protocol::V2,
                _ => return Err(unsupported()),
            };
        }
    }
    Ok(protocol)
}

pub async fn post_write(
    State(state): State<HttpState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    state
        .metrics
        .http_requests_total
        .fetch_add(1, Ordering::Relaxed);
    let protocol = protocol_of(&headers).ok();
    let result = async {
        let protocol = protocol_of(&headers)?;
        check_snappy(&headers)?;
        let body = body.map_err(body_error)?;
        let s = state.clone();
        tokio::task::spawn_blocking(move || ingest(&s, protocol, &body, now_ms()))
            .await
            .map_err(|e| PromError::new(Http::INTERNAL_SERVER_ERROR, e.to_string()))?
    }
    .await;
    let m = &state.metrics;
    let mut response = match &result {
        Ok(outcome) => {
            m.prom_write_requests.fetch_add(1, Ordering::Relaxed);
            let stats = &outcome.stats;
            m.prom_samples_written
                .fetch_add(outcome.samples_written as u64, Ordering::Relaxed);
            m.prom_dropped.fetch_add(
                (stats.histograms + stats.exemplars) as u64,
                Ordering::Relaxed,
            );
            match &outcome.dropped_by_ha {
                None => Http::NO_CONTENT.into_response(),
                Some(message) => (Http::ACCEPTED, message.clone()).into_response(),
            }
        }
        Err(e) => {
            m.prom_write_rejected.fetch_add(1, Ordering::Relaxed);
            warn!(status = %e.status, "remote write refused: {}", e.message);
            PromError::new(e.status, e.message.clone()).into_response()
        }
    };
    if protocol == Some(Protocol::V2) {
        let written = result.as_ref().map(|o| o.samples_written).unwrap_or(0);
        let h = response.headers_mut();
        for (name, n) in [
            ("x-prometheus-remote-write-samples-written", written),
            ("x-prometheus-remote-write-histograms-written", 0),
            ("x-prometheus-remote-write-exemplars-written", 0),
        ] {
            h.insert(name, HeaderValue::from(n));
        }
    }
    response
}

fn body_error(e: BytesRejection) -> PromError {
    if e.status() == Http::PAYLOAD_TOO_LARGE {
        PromError::new(
            Http::PAYLOAD_TOO_LARGE,
            "request body is over the limit of max_body_bytes",
        )
    } else {
        PromError::bad_request(format!("cannot read the request body: {}", e.body_text()))
    }
}

/// The result of a stored (or HA-dropped) request.
pub struct Outcome {
    pub stats: WriteStats,
    pub samples_written: usize,
    /// Set when the HA tracker dropped the request (answered 202).
    pub dropped_by_ha: Option<String>,
}

/// Decodes, validates and stores one request. Blocking.
pub fn ingest(
    state: &HttpState,
    protocol: Protocol,
    body: &[u8],
    now_ms: i64,
) -> Result<Outcome, PromError> {
    let prom: &PromState = &state.prom;
    let started = Instant::now();
    let raw = decode::decompress(body, prom.limits.max_decoded_bytes)?;
    // 1.0 bodies are read straight from the wire bytes (the hot path);
    // 2.0 bodies through prost messages.
    let msg;
    let parsed = match protocol {
        Protocol::V1 => decode::parse_v1(&raw, &prom.limits, now_ms)?,
        Protocol::V2 => {
            msg = decode::decode_message(protocol, Bytes::from(raw))?;
            decode::parse(&msg, &prom.limits, now_ms)?
        }
    };
    let mut skip = None;
    if let Some(ha) = &prom.ha {
        if let HaDecision::Drop {
            cluster,
            replica,
            elected,
        } = ha.check(&parsed, Instant::now())
        {
            return Ok(Outcome {
                stats: parsed.stats,
                samples_written: 0,
                dropped_by_ha: Some(format!(
                    "dropped: replica \"{replica}\" of cluster \"{cluster}\" is not the elected replica \"{elected}\""
                )),
            });
        }
        skip = Some(ha.replica_label.as_str());
    }
    let batches = mapping::build_batches(&parsed, skip)
        .map_err(|e| PromError::new(Http::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let db = state.engine.db();
    store(db, &batches)?;
    debug!(
        series = parsed.stats.series,
        samples = parsed.stats.samples,
        tables = batches.len(),
        elapsed_us = started.elapsed().as_micros() as u64,
        "remote write stored"
    );
    Ok(Outcome {
        stats: parsed.stats,
        samples_written: parsed.stats.samples,
        dropped_by_ha: None,
    })
}

/// Creates missing tables and tag columns, then writes every batch in one
/// WAL record. Existing tables are all checked before anything is created.
pub(crate) fn store(db: &Database, batches: &[TableBatch]) -> Result<(), PromError> {
    if batches.is_empty() {
        return Ok(());
    }
    for b in batches {
        if let Some(def) = db.table_def(&b.table) {
            if let Some(why) = mapping::incompatibility(&def, &b.label_columns) {
                return Err(PromError::bad_request(why));
            }
        }
    }
    let writes: Vec<(&str, _)> = batches
        .iter()
        .map(|b| (b.table.as_str(), b.batch.clone()))
        .collect();
    // A table dropped by SQL between the schema step and the write is
    // recreated once; a second failure is reported.
    for attempt in 0..2 {
        for b in batches {
            ensure_schema(db, b)?;
        }
        match db.write_many(&writes) {
            Ok(_) => return Ok(()),
            Err(StorageError::TableNotFound(_) | StorageError::ColumnNotFound { .. })
                if attempt == 0 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(PromError::new(
        Http::SERVICE_UNAVAILABLE,
        "tables changed concurrently during the write; retry",
    ))
}

/// Makes table `b.table` exist with every tag column of `b`. Safe against
/// concurrent requests creating the same table or column.
fn ensure_schema(db: &Database, b: &TableBatch) -> Result<(), PromError> {
    let def = match db.table_def(&b.table) {
        Some(def) => def,
        None => {
            db.create_table(mapping::metric_table(&b.table, &b.label_columns), true)?;
            match db.table_def(&b.table) {
                Some(def) => def,
                None => return Ok(()), // dropped again at once; the write reports it
            }
        }
    };
    if let Some(why) = mapping::incompatibility(&def, &b.label_columns) {
        return Err(PromError::bad_request(why));
    }
    for c in &b.label_columns {
        if def.column(c).is_none() {
            db.add_column(&b.table, mapping::tag_column(c), true)?;
        }
    }
    Ok(())
}
