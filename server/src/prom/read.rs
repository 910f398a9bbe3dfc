//! `POST /api/v1/read`: Prometheus remote read.
//!
//! Each query selects metric tables by its `__name__` matchers (all metric
//! tables when there is none), then series by the other matchers, evaluated
//! once per series, never per row. Prometheus semantics: an absent label
//! (NULL) matches as the empty string, and `=~` / `!~` regexes are fully
//! anchored, `^(?s:re)$`. Samples inside `[start_ms, end_ms]` are returned
//! sorted by time, series sorted by labels.
//!
//! Answers: `SAMPLES` (snappy `ReadResponse`) or, when the client accepts
//! it first, `STREAMED_XOR_CHUNKS` (framed `ChunkedReadResponse`s, one
//! series per frame, XOR chunks of at most 120 samples).

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, TimestampMicrosecondType};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode as Http};
use axum::response::{IntoResponse, Response};
use prost::Message;
use regex::Regex;

use lynx_storage::{ColumnRole, Database};

use super::chunk::{write_frame, XorChunk, MAX_SAMPLES_PER_CHUNK};
use super::mapping::{self, TIME_COLUMN, VALUE_COLUMN};
use super::proto::{self, MatchType, ReadRequest, ResponseType};
use super::{check_snappy, decode, PromError};
use crate::http::HttpState;

/// Largest frame payload of a streamed response, as Prometheus' default.
const MAX_BYTES_IN_FRAME: usize = 1 << 20;

/// A compiled label matcher.
#[derive(Debug)]
pub struct Matcher {
    pub name: String,
    kind: MatchType,
    value: String,
    re: Option<Regex>,
}

impl Matcher {
    pub fn new(m: &proto::LabelMatcher) -> Result<Matcher, PromError> {
        let kind = MatchType::try_from(m.r#type).map_err(|_| {
            PromError::bad_request(format!("unknown label matcher type {}", m.r#type))
        })?;
        let re = match kind {
            MatchType::Re | MatchType::Nre => {
                Some(Regex::new(&format!("^(?s:{})$", m.value)).map_err(|e| {
                    PromError::bad_request(format!(
                        "invalid regular expression {:?} for label {:?}: {e}",
                        m.value, m.name
                    ))
                })?)
            }
            MatchType::Eq | MatchType::Neq => None,
        };
        Ok(Matcher {
            name: m.name.clone(),
            kind,
            value: m.value.clone(),
            re,
        })
    }

    pub fn matches(&self, v: &str) -> bool {
        match (self.kind, &self.re) {
            (MatchType::Eq, _) => v == self.value,
            (MatchType::Neq, _) => v != self.value,
            (MatchType::Re, Some(re)) => re.is_match(v),
            (MatchType::Nre, Some(re)) => !re.is_match(v),
            (MatchType::Re | MatchType::Nre, None) => false,
        }
    }
}

/// One series of a result: labels sorted by name, samples sorted by time.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Vec<(String, String)>,
    pub samples: Vec<(i64, f64)>,
}

/// Runs one query over the engine's metric tables. Blocking.
///
/// `budget` is the number of samples still allowed for this request.
pub fn select(
    db: &Database,
    start_ms: i64,
    end_ms: i64,
    matchers: &[Matcher],
    budget: &mut usize,
) -> Result<Vec<Series>, PromError> {
    let (names, others): (Vec<&Matcher>, Vec<&Matcher>) =
        matchers.iter().partition(|m| m.name == "__name__");
    let lo = start_ms.saturating_mul(1000);
    let hi = end_ms.saturating_mul(1000).saturating_add(999);
    let mut out = Vec::new();
    for table in db.table_names() {
        if !names.iter().all(|m| m.matches(&table)) {
            continue;
        }
        let Some(def) = db.table_def(&table) else {
            continue;
        };
        if !mapping::is_metric_table(&def) {
            continue;
        }
        let tags: Vec<&str> = def
            .columns
            .iter()
            .filter(|c| c.role == ColumnRole::Tag && c.column_type.is_text())
            .map(|c| c.name.as_str())
            .collect();
        // Matchers on labels the table has no column for see "".
        let mut per_tag: Vec<Vec<&Matcher>> = vec![Vec::new(); tags.len()];
        let mut impossible = false;
        for m in &others {
            let column = mapping::column_for_label(&m.name);
            match tags.iter().position(|t| *t == column) {
                Some(i) => per_tag[i].push(m),
                None => impossible |= !m.matches(""),
            }
        }
        if impossible {
            continue;
        }
        let snapshot = db.snapshot(&table)?;
        let mut index: HashMap<Vec<Option<String>>, usize> = HashMap::new();
        let mut series: Vec<Series> = Vec::new();
        let mut key: Vec<Option<String>> = Vec::new();
        // Segments, chunks and blocks outside the range are skipped.
        for batch in &snapshot.scan(None, Some(lo), Some(hi))? {
            let (Some(time), Some(value)) = (
                batch.column_by_name(TIME_COLUMN),
                batch.column_by_name(VALUE_COLUMN),
            ) else {
                continue;
            };
            let time = time.as_primitive::<TimestampMicrosecondType>();
            let value = value.as_primitive::<Float64Type>();
            let cols: Vec<_> = tags
                .iter()
                .map(|t| batch.column_by_name(t).map(|c| c.as_string::<i32>()))
                .collect();
            let tag_at = |c: usize, row: usize| -> Option<&str> {
                cols[c].filter(|a| a.is_valid(row)).map(|a| a.value(row))
            };
            // Rows of one series are adjacent in a sorted snapshot: the
            // decision is cached until the tag values change.
            let mut current: Option<Option<usize>> = None;
            for row in 0..batch.num_rows() {
                let t = time.value(row);
                if t < lo || t > hi || value.is_null(row) {
                    continue;
                }
                let same = current.is_some()
                    && (0..tags.len()).all(|c| key[c].as_deref() == tag_at(c, row));
                if !same {
                    key = (0..tags.len())
                        .map(|c| tag_at(c, row).map(str::to_string))
                        .collect();
                    let ok = per_tag.iter().enumerate().all(|(c, ms)| {
                        let v = key[c].as_deref().unwrap_or("");
                        ms.iter().all(|m| m.matches(v))
                    });
                    current = Some(ok.then(|| {
                        let next = series.len();
                        *index.entry(key.clone()).or_insert_with(|| {
                            series.push(Series {
                                labels: labels_of(&table, &tags, &key),
                                samples: Vec::new(),
                            });
                            next
                        })
                    }));
                }
                if let Some(Some(i)) = current {
                    if *budget == 0 {
                        return Err(PromError::bad_request(
                            "remote read would return more samples than max_read_samples",
                        ));
                    }
                    *budget -= 1;
                    series[i]
                        .samples
                        .push((t.div_euclid(1000), value.value(row)));
                }
            }
        }
        for s in &mut series {
            s.samples.sort_by_key(|(t, _)| *t);
            // Two rows in one millisecond (possible with SQL inserts): keep the last.
            let mut deduped: Vec<(i64, f64)> = Vec::with_capacity(s.samples.len());
            for x in s.samples.drain(..) {
                match deduped.last_mut() {
                    Some(last) if last.0 == x.0 => *last = x,
                    _ => deduped.push(x),
                }
            }
            s.samples = deduped;
        }
        out.extend(series);
    }
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(out)
}

fn labels_of(table: &str, tags: &[&str], key: &[Option<String>]) -> Vec<(String, String)> {
    let mut labels = vec![("__name__".to_string(), table.to_string())];
    for (t, v) in tags.iter().zip(key) {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            labels.push((mapping::label_for_column(t).to_string(), v.to_string()));
        }
    }
    labels.sort();
    labels
}

fn proto_labels(labels: &[(String, String)]) -> Vec<proto::Label> {
    labels
        .iter()
        .map(|(n, v)| proto::Label {
            name: Bytes::copy_from_slice(n.as_bytes()),
            value: Bytes::copy_from_slice(v.as_bytes()),
        })
        .collect()
}

/// The SAMPLES answer: a snappy-compressed `ReadResponse`.
pub fn encode_samples(results: &[Vec<Series>]) -> Result<Vec<u8>, PromError> {
    let resp = proto::ReadResponse {
        results: results
            .iter()
            .map(|series| proto::QueryResult {
                timeseries: series
                    .iter()
                    .map(|s| proto::TimeSeries {
                        labels: proto_labels(&s.labels),
                        samples: s
                            .samples
                            .iter()
                            .map(|&(timestamp, value)| proto::Sample {
                                value,
                                timestamp,
                                start_timestamp: 0,
                            })
                            .collect(),
                        exemplars: vec![],
                        histograms: vec![],
                    })
                    .collect(),
            })
            .collect(),
    };
    snap::raw::Encoder::new()
        .compress_vec(&resp.encode_to_vec())
        .map_err(|e| PromError::new(Http::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// The STREAMED_XOR_CHUNKS answer: one frame per series (more when a
/// series' chunks pass [`MAX_BYTES_IN_FRAME`]).
pub fn encode_streamed(results: &[Vec<Series>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (query_index, series) in results.iter().enumerate() {
        for s in series {
            let labels = proto_labels(&s.labels);
            let mut chunks = Vec::new();
            let mut frame_bytes = 0;
            let mut pieces = s.samples.chunks(MAX_SAMPLES_PER_CHUNK).peekable();
            while let Some(piece) = pieces.next() {
                let mut c = XorChunk::default();
                for &(t, v) in piece {
                    c.append(t, v);
                }
                let data = c.into_bytes();
                frame_bytes += data.len();
                chunks.push(proto::Chunk {
                    min_time_ms: piece.first().map_or(0, |x| x.0),
                    max_time_ms: piece.last().map_or(0, |x| x.0),
                    r#type: proto::CHUNK_ENCODING_XOR,
                    data,
                });
                if frame_bytes < MAX_BYTES_IN_FRAME && pieces.peek().is_some() {
                    continue;
                }
                let msg = proto::ChunkedReadResponse {
                    chunked_series: vec![proto::ChunkedSeries {
                        labels: labels.clone(),
                        chunks: std::mem::take(&mut chunks),
                    }],
                    query_index: query_index as i64,
                };
                write_frame(&mut out, &msg.encode_to_vec());
                frame_bytes = 0;
            }
        }
    }
    out
}

pub async fn post_read(
    State(state): State<HttpState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    state
        .metrics
        .http_requests_total
        .fetch_add(1, Ordering::Relaxed);
    state
        .metrics
        .prom_read_requests
        .fetch_add(1, Ordering::Relaxed);
    let result = async {
        check_snappy(&headers)?;
        let body = body.map_err(|e| PromError::new(e.status(), e.body_text()))?;
        let s = state.clone();
        tokio::task::spawn_blocking(move || read(&s, &body))
            .await
            .map_err(|e| PromError::new(Http::INTERNAL_SERVER_ERROR, e.to_string()))?
    }
    .await;
    match result {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(status = %e.status, "remote read refused: {}", e.message);
            e.into_response()
        }
    }
}

fn read(state: &HttpState, body: &[u8]) -> Result<Response, PromError> {
    let limits = &state.prom.limits;
    let raw = decode::decompress(body, limits.max_decoded_bytes)?;
    let req = ReadRequest::decode(&raw[..]).map_err(|e| {
        PromError::bad_request(format!(
            "body is not a valid prometheus.ReadRequest protobuf message: {e}"
        ))
    })?;
    let response_type = negotiate(&req.accepted_response_types)?;
    let db = state.engine.db();
    let mut budget = state.prom.max_read_samples;
    let mut results = Vec::with_capacity(req.queries.len());
    for q in &req.queries {
        let matchers = q
            .matchers
            .iter()
            .map(Matcher::new)
            .collect::<Result<Vec<_>, _>>()?;
        results.push(select(
            db,
            q.start_timestamp_ms,
            q.end_timestamp_ms,
            &matchers,
            &mut budget,
        )?);
    }
    Ok(match response_type {
        ResponseType::Samples => (
            [
                (header::CONTENT_TYPE, "application/x-protobuf"),
                (header::CONTENT_ENCODING, "snappy"),
            ],
            encode_samples(&results)?,
        )
            .into_response(),
        ResponseType::StreamedXorChunks => (
            [(
                header::CONTENT_TYPE,
                "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse",
            )],
            encode_streamed(&results),
        )
            .into_response(),
    })
}

/// The first accepted response type we support; none listed means SAMPLES.
pub fn negotiate(accepted: &[i32]) -> Result<ResponseType, PromError> {
    if accepted.is_empty() {
        return Ok(ResponseType::Samples);
    }
    accepted
        .iter()
        .find_map(|t| ResponseType::try_from(*t).ok())
        .ok_or_else(|| {
            PromError::bad_request(format!(
                "none of the accepted response types {accepted:?} is supported (SAMPLES = 0, STREAMED_XOR_CHUNKS = 1)"
            ))
        })
}

#[cfg(test)]
#[path = "read_tests.rs"]
mod tests;
