//! Prometheus remote storage: `POST /api/v1/write` (remote write 1.0 and
//! 2.0) and `POST /api/v1/read` (remote read, sampled and streamed XOR
//! chunks).
//!
//! Flow of a write: [`decode`] (snappy, protobuf, validation of the whole
//! request) -> [`ha`] (optional HA-pair de-duplication) -> [`mapping`] (one
//! Arrow batch per metric table, tables and tag columns created on demand)
//! -> `Database::write_many`: one WAL record for the whole request, so a
//! 204 means every sample is durable and a refused request stored nothing.
//! Reads go through [`read`], which scans table snapshots and encodes
//! [`chunk`]s.
//!
//! Invariant: nothing touches the catalog or the WAL before the whole
//! request has been validated.

pub mod chunk;
pub mod decode;
pub mod ha;
pub mod mapping;
pub mod proto;
pub mod read;
pub mod write;

use std::time::Duration;

use axum::http::{header, HeaderMap, StatusCode as Http};
use axum::response::{IntoResponse, Response};

use crate::config::PrometheusConfig;

/// What the remote-write and remote-read handlers need besides the engine.
pub struct PromState {
    pub limits: decode::Limits,
    pub max_read_samples: usize,
    pub ha: Option<ha::HaTracker>,
}

impl PromState {
    pub fn new(c: &PrometheusConfig) -> PromState {
        let ms = |secs: u64| i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        PromState {
            limits: decode::Limits {
                max_decoded_bytes: c.max_decoded_bytes,
                max_series_per_request: c.max_series_per_request,
                max_labels_per_series: c.max_labels_per_series,
                max_label_name_length: c.max_label_name_length,
                max_label_value_length: c.max_label_value_length,
                max_sample_age_ms: ms(c.max_sample_age_secs),
                max_sample_ahead_ms: ms(c.max_sample_ahead_secs),
            },
            max_read_samples: c.max_read_samples,
            ha: match (&c.ha_cluster_label, &c.ha_replica_label) {
                (Some(cluster), Some(replica)) => Some(ha::HaTracker::new(
                    cluster.clone(),
                    replica.clone(),
                    Duration::from_secs(c.ha_failover_timeout_secs),
                )),
                _ => None,
            },
        }
    }
}

/// An HTTP answer with a plain-text message (Prometheus logs the body).
#[derive(Debug)]
pub struct PromError {
    pub status: Http,
    pub message: String,
}

impl PromError {
    pub fn new(status: Http, message: impl Into<String>) -> PromError {
        PromError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> PromError {
        Self::new(Http::BAD_REQUEST, message)
    }
}

impl From<decode::DecodeError> for PromError {
    fn from(e: decode::DecodeError) -> Self {
        match e {
            decode::DecodeError::TooLarge(m) => PromError::new(Http::PAYLOAD_TOO_LARGE, m),
            decode::DecodeError::Invalid(m) => PromError::bad_request(m),
        }
    }
}

impl From<lynx_storage::StorageError> for PromError {
    fn from(e: lynx_storage::StorageError) -> Self {
        PromError::new(crate::sqlstate::http_status(e.status_code()), e.to_string())
    }
}

impl IntoResponse for PromError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            self.message + "\n",
        )
            .into_response();
        if self.status == Http::TOO_MANY_REQUESTS || self.status == Http::SERVICE_UNAVAILABLE {
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        r
    }
}

/// Bodies must be snappy block-compressed; a missing Content-Encoding is
/// taken as snappy, as Prometheus' own receiver does.
fn check_snappy(headers: &HeaderMap) -> Result<(), PromError> {
    match headers.get(header::CONTENT_ENCODING) {
        None => Ok(()),
        Some(v) if v.as_bytes().eq_ignore_ascii_case(b"snappy") => Ok(()),
        Some(v) => Err(PromError::new(
            Http::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "unsupported Content-Encoding {:?}: the body must be snappy block-compressed (Content-Encoding: snappy)",
                String::from_utf8_lossy(v.as_bytes())
            ),
        )),
    }
}

/// Milliseconds since the epoch, now.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
