//! Decoding and validation of remote-write request bodies: snappy block
//! format, then protobuf (1.0 `WriteRequest` or 2.0 `Request`), then the
//! checks that make a request acceptable as a whole.
//!
//! Owns the rule "validate everything before storing anything": [`parse`]
//! either returns every series of the request, borrowed zero-copy from the
//! decoded message, or the first violation as a 400-class message that names
//! the series. It knows nothing about tables, HTTP or the engine, and must
//! stay free of crate-internal imports: the fuzz crate includes this file and
//! `proto.rs` by path. Untrusted bytes never reach a panic here.
//!
//! Accepted timestamps: `now - max_sample_age_secs ..= now + max_sample_ahead_secs`
//! (defaults 10 years and 10 minutes, like Prometheus' own 10-minute limit
//! on samples from the future).

use std::fmt::{self, Write};

use bytes::Bytes;
use prost::Message as _;

use super::proto::{RequestV2, Sample, WriteRequest};

/// Which protobuf message a request body holds (from its Content-Type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `prometheus.WriteRequest`, remote write 1.0.
    V1,
    /// `io.prometheus.write.v2.Request`, remote write 2.0.
    V2,
}

/// Limits a request must respect; the server fills them from its config.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_decoded_bytes: usize,
    pub max_series_per_request: usize,
    pub max_labels_per_series: usize,
    pub max_label_name_length: usize,
    pub max_label_value_length: usize,
    pub max_sample_age_ms: i64,
    pub max_sample_ahead_ms: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_decoded_bytes: 256 << 20,
            max_series_per_request: 100_000,
            max_labels_per_series: 64,
            max_label_name_length: 1024,
            max_label_value_length: 2048,
            max_sample_age_ms: 10 * 365 * 86_400_000,
            max_sample_ahead_ms: 600_000,
        }
    }
}

/// Why a request body was refused. Neither is worth retrying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The decompressed body would exceed `max_decoded_bytes` (HTTP 413).
    TooLarge(String),
    /// Malformed or invalid data (HTTP 400).
    Invalid(String),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::TooLarge(m) | DecodeError::Invalid(m) => f.write_str(m),
        }
    }
}

fn invalid(message: impl Into<String>) -> DecodeError {
    DecodeError::Invalid(message.into())
}

/// Decompresses a snappy block-format body, refusing before allocating
/// when its declared length exceeds `max_decoded_bytes`.
pub fn decompress(body: &[u8], max_decoded_bytes: usize) -> Result<Vec<u8>, DecodeError> {
    if body.is_empty() {
        return Err(invalid(
            "empty request body: expected a snappy-compressed protobuf message",
        ));
    }
    let len = snap::raw::decompress_len(body)
        .map_err(|e| invalid(format!("body is not snappy block-format data: {e}")))?;
    if len > max_decoded_bytes {
        return Err(DecodeError::TooLarge(format!(
            "decompressed body would be {len} bytes, over the limit of {max_decoded_bytes} bytes"
        )));
    }
    snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| invalid(format!("body is not valid snappy block-format data: {e}")))
}

/// A decoded protobuf message of either protocol version.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteMessage {
    V1(WriteRequest),
    V2(RequestV2),
}

/// Decodes the protobuf message; label strings stay views into `buf`.
pub fn decode_message(protocol: Protocol, buf: Bytes) -> Result<WriteMessage, DecodeError> {
    let decoded = match protocol {
        Protocol::V1 => WriteRequest::decode(buf).map(WriteMessage::V1),
        Protocol::V2 => RequestV2::decode(buf).map(WriteMessage::V2),
    };
    decoded.map_err(|e| {
        let name = match protocol {
            Protocol::V1 => "prometheus.WriteRequest",
            Protocol::V2 => "io.prometheus.write.v2.Request",
        };
        invalid(format!("body is not a valid {name} protobuf message: {e}"))
    })
}

/// Counts of what a request carried. Only float samples are stored;
/// histograms, exemplars and metadata are counted and dropped.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriteStats {
    pub series: usize,
    pub samples: usize,
    pub histograms: usize,
    pub exemplars: usize,
    pub metadata: usize,
}

/// One valid series: metric name, labels (without `__name__` and without
/// empty values, sorted by name) and samples.
#[derive(Debug, Clone, Copy)]
pub struct ParsedSeries<'a> {
    pub metric: &'a str,
    labels: (usize, usize),
    pub samples: &'a [Sample],
}

/// A whole request that passed validation.
#[derive(Debug, Default)]
pub struct ParsedWrite<'a> {
    pub series: Vec<ParsedSeries<'a>>,
    labels: Vec<(&'a str, &'a str)>,
    pub stats: WriteStats,
}

impl<'a> ParsedWrite<'a> {
    /// The labels of `s` other than `__name__`, sorted by name.
    pub fn labels(&self, s: &ParsedSeries<'a>) -> &[(&'a str, &'a str)] {
        &self.labels[s.labels.0..s.labels.1]
    }
}

/// Validates a decoded message as a whole (see the module docs for the
/// rules); `now_ms` anchors the accepted timestamp window.
pub fn parse<'a>(
    msg: &'a WriteMessage,
    limits: &Limits,
    now_ms: i64,
) -> Result<ParsedWrite<'a>, DecodeError> {
    let count = match msg {
        WriteMessage::V1(r) => r.timeseries.len(),
        WriteMessage::V2(r) => r.timeseries.len(),
    };
    if count > limits.max_series_per_request {
        return Err(invalid(format!(
            "request has {count} series, over the limit of {} series per request",
            limits.max_series_per_request
        )));
    }
    let checker = SeriesChecker {
        limits,
        // Clamped so that every accepted timestamp converts to microseconds.
        window: (
            now_ms
                .saturating_sub(limits.max_sample_age_ms)
                .max(-(i64::MAX / 1000)),
            now_ms
                .saturating_add(limits.max_sample_ahead_ms)
                .min(i64::MAX / 1000),
        ),
    };
    let mut out = ParsedWrite {
        series: Vec::with_capacity(count),
        labels: Vec::new(),
        stats: WriteStats::default(),
    };
    let mut raw: Vec<(&'a [u8], &'a [u8])> = Vec::new();
    match msg {
        WriteMessage::V1(r) => {
            out.stats.metadata = r.metadata.len();
            for (i, ts) in r.timeseries.iter().enumerate() {
                raw.clear();
                raw.extend(ts.labels.iter().map(|l| (&l.name[..], &l.value[..])));
                out.stats.exemplars += ts.exemplars.len();
                out.stats.histograms += ts.histograms.len();
                checker.push(&mut out, i, &raw, &ts.samples)?;
            }
        }
        WriteMessage::V2(r) => {
            if r.symbols.first().is_some_and(|s| !s.is_empty()) {
                return Err(invalid(
                    "symbols table: the first symbol must be the empty string",
                ));
            }
            for (i, ts) in r.timeseries.iter().enumerate() {
                if !ts.labels_refs.len().is_multiple_of(2) {
                    return Err(invalid(format!(
                        "series {i}: labels_refs has an odd length ({})",
                        ts.labels_refs.len()
                    )));
                }
                raw.clear();
                for pair in ts.labels_refs.chunks_exact(2) {
                    let name = symbol_at(&r.symbols, pair[0], i)?;
                    let value = symbol_at(&r.symbols, pair[1], i)?;
                    raw.push((name, value));
                }
                out.stats.exemplars += ts.exemplars.len();
                out.stats.histograms += ts.histograms.len();
                out.stats.metadata += usize::from(ts.metadata.is_some());
                checker.push(&mut out, i, &raw, &ts.samples)?;
            }
        }
    }
    out.stats.series = out.series.len();
    Ok(out)
}

fn symbol_at(symbols: &[Bytes], r: u32, series: usize) -> Result<&[u8], DecodeError> {
    usize::try_from(r)
        .ok()
        .and_then(|r| symbols.get(r))
        .map(|b| &b[..])
        .ok_or_else(|| {
            invalid(format!(
                "series {series}: label reference {r} is outside the symbols table ({} symbols)",
                symbols.len()
            ))
        })
}

struct SeriesChecker<'l> {
    limits: &'l Limits,
    /// Inclusive range of accepted sample timestamps (ms).
    window: (i64, i64),
}

impl SeriesChecker<'_> {
    /// Checks one series and appends it to `out`.
    fn push<'a>(
        &self,
        out: &mut ParsedWrite<'a>,
        index: usize,
        raw: &[(&'a [u8], &'a [u8])],
        samples: &'a [Sample],
    ) -> Result<(), DecodeError> {
        let fail = |why: String| invalid(format!("series {index} {}: {why}", describe(raw)));
        if raw.len() > self.limits.max_labels_per_series {
            return Err(fail(format!(
                "{} labels, over the limit of {}",
                raw.len(),
                self.limits.max_labels_per_series
            )));
        }
        let start = out.labels.len();
        let mut metric = None;
        for (i, (name, value)) in raw.iter().enumerate() {
            let Ok(name_str) = std::str::from_utf8(name) else {
                return Err(fail("a label name is not valid UTF-8".into()));
            };
            let Ok(value_str) = std::str::from_utf8(value) else {
                return Err(fail(format!(
                    "the value of label \"{name_str}\" is not valid UTF-8"
                )));
            };
            if let Some(i) = i.checked_sub(1) {
                let prev = raw[i].0;
                if prev == *name {
                    return Err(fail(format!("duplicate label name \"{name_str}\"")));
                }
                if prev > *name {
                    return Err(fail(format!(
                        "labels are not sorted by name (\"{}\" comes before \"{name_str}\")",
                        String::from_utf8_lossy(prev)
                    )));
                }
            }
            if name.len() > self.limits.max_label_name_length {
                return Err(fail(format!(
                    "label name of {} bytes, over the limit of {}",
                    name.len(),
                    self.limits.max_label_name_length
                )));
            }
            if value.len() > self.limits.max_label_value_length {
                return Err(fail(format!(
                    "value of label \"{name_str}\" is {} bytes, over the limit of {}",
                    value.len(),
                    self.limits.max_label_value_length
                )));
            }
            if name_str == "__name__" {
                if !is_metric_name(value_str) {
                    return Err(fail(format!(
                        "invalid metric name \"{}\" (must match [a-zA-Z_:][a-zA-Z0-9_:]*)",
                        truncate(value_str)
                    )));
                }
                metric = Some(value_str);
                continue;
            }
            if !is_label_name(name_str) {
                return Err(fail(format!(
                    "invalid label name \"{}\" (must match [a-zA-Z_][a-zA-Z0-9_]*)",
                    truncate(name_str)
                )));
            }
            if !value_str.is_empty() {
                out.labels.push((name_str, value_str));
            }
        }
        let Some(metric) = metric else {
            out.labels.truncate(start);
            return Err(fail("no __name__ label (metric name)".into()));
        };
        let (lo, hi) = self.window;
        if let Some(s) = samples
            .iter()
            .find(|s| s.timestamp < lo || s.timestamp > hi)
        {
            out.labels.truncate(start);
            return Err(fail(format!(
                "sample timestamp {} ms is outside the accepted window {lo}..={hi} ms since the epoch \
                 (max_sample_age_secs / max_sample_ahead_secs)",
                s.timestamp
            )));
        }
        out.stats.samples += samples.len();
        out.series.push(ParsedSeries {
            metric,
            labels: (start, out.labels.len()),
            samples,
        });
        Ok(())
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
pub fn is_metric_name(s: &str) -> bool {
    let b = s.as_bytes();
    matches!(b.first(), Some(c) if c.is_ascii_alphabetic() || *c == b'_' || *c == b':')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`
pub fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    matches!(b.first(), Some(c) if c.is_ascii_alphabetic() || *c == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// At most 64 characters of a string for an error message.
fn truncate(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// `{__name__="up", job="x"}` for error messages, long values shortened.
fn describe(raw: &[(&[u8], &[u8])]) -> String {
    let mut s = String::from("{");
    for (i, (name, value)) in raw.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        if i == 8 {
            let _ = write!(s, "... {} more", raw.len() - i);
            break;
        }
        let name = truncate(&String::from_utf8_lossy(name));
        let value = truncate(&String::from_utf8_lossy(value));
        let _ = write!(s, "{name}={value:?}");
    }
    s.push('}');
    s
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;

/// Entry point of the cargo-fuzz target `remote_write` (`server/fuzz`),
/// also replayed over `testdata/prom/fuzz/` by the unit tests. The first
/// byte picks the protocol and whether the rest is snappy-compressed.
pub fn fuzz_decode(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let protocol = if mode & 1 == 0 {
        Protocol::V1
    } else {
        Protocol::V2
    };
    let raw = if mode & 2 == 0 {
        rest.to_vec()
    } else {
        match decompress(rest, 1 << 20) {
            Ok(raw) => raw,
            Err(_) => return,
        }
    };
    let limits = Limits {
        max_labels_per_series: 8,
        max_label_value_length: 64,
        ..Limits::default()
    };
    if let Ok(msg) = decode_message(protocol, Bytes::from(raw)) {
        if let Ok(parsed) = parse(&msg, &limits, 1_700_000_000_000) {
            for s in &parsed.series {
                assert!(is_metric_name(s.metric));
                for w in parsed.labels(s).windows(2) {
                    assert!(w[0].0 < w[1].0, "labels stay sorted and unique");
                }
            }
        }
    }
}
