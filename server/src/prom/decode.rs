//! Decoding and validation of remote-write request bodies: snappy block
//! format, then protobuf (1.0 `WriteRequest` or 2.0 `Request`), then the
//! checks that make a request acceptable as a whole.
//!
//! Owns the rule "validate everything before storing anything": [`parse`]
//! (over a prost message) and [`parse_v1`] (1.0 bodies read straight from
//! their protobuf bytes, the hot path) either return every series of the
//! request, labels borrowed zero-copy, or the first violation as a
//! 400-class message that names the series. It knows nothing about tables, HTTP or the engine, and must
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
    samples: (usize, usize),
}

/// A whole request that passed validation.
#[derive(Debug, Default)]
pub struct ParsedWrite<'a> {
    pub series: Vec<ParsedSeries<'a>>,
    labels: Vec<(&'a str, &'a str)>,
    samples: Vec<Sample>,
    pub stats: WriteStats,
}

impl<'a> ParsedWrite<'a> {
    /// The labels of `s` other than `__name__`, sorted by name.
    pub fn labels(&self, s: &ParsedSeries<'a>) -> &[(&'a str, &'a str)] {
        &self.labels[s.labels.0..s.labels.1]
    }

    /// The samples of `s`, in request order.
    pub fn samples(&self, s: &ParsedSeries<'a>) -> &[Sample] {
        &self.samples[s.samples.0..s.samples.1]
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
    let checker = SeriesChecker::new(limits, now_ms);
    let mut out = ParsedWrite {
        series: Vec::with_capacity(count),
        ..ParsedWrite::default()
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
                let first = out.samples.len();
                out.samples.extend_from_slice(&ts.samples);
                let range = first..out.samples.len();
                checker.push(&mut out, i, &raw, range)?;
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
                let first = out.samples.len();
                out.samples.extend_from_slice(&ts.samples);
                let range = first..out.samples.len();
                checker.push(&mut out, i, &raw, range)?;
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

impl<'l> SeriesChecker<'l> {
    fn new(limits: &'l Limits, now_ms: i64) -> SeriesChecker<'l> {
        SeriesChecker {
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
        }
    }

    /// Checks one series, whose samples are `out.samples[samples]`, and
    /// appends it to `out`.
    fn push<'a>(
        &self,
        out: &mut ParsedWrite<'a>,
        index: usize,
        raw: &[(&'a [u8], &'a [u8])],
        samples: std::ops::Range<usize>,
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
            let Some(name_str) = utf8(name) else {
                return Err(fail("a label name is not valid UTF-8".into()));
            };
            let Some(value_str) = utf8(value) else {
                return Err(fail(format!(
                    "the value of label \"{name_str}\" is not valid UTF-8"
                )));
            };
            if let Some(i) = i.checked_sub(1) {
                let prev = raw[i].0;
                match prev.cmp(name) {
                    std::cmp::Ordering::Less => {}
                    std::cmp::Ordering::Equal => {
                        return Err(fail(format!("duplicate label name \"{name_str}\"")));
                    }
                    std::cmp::Ordering::Greater => {
                        return Err(fail(format!(
                            "labels are not sorted by name (\"{}\" comes before \"{name_str}\")",
                            String::from_utf8_lossy(prev)
                        )));
                    }
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
        if let Some(s) = out.samples[samples.clone()]
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
            samples: (samples.start, samples.end),
        });
        Ok(())
    }
}

/// Decodes and validates a remote-write 1.0 `WriteRequest` straight from
/// its protobuf bytes: what `decode_message` + `parse` do, without building
/// prost messages (no refcounted buffer per label, nothing to drop). Label
/// names and values stay borrowed from `buf`. Accepts and rejects exactly
/// the messages prost does (unknown fields and groups skipped, wrong wire
/// types of known fields refused, last value wins for repeated scalars);
/// `fuzz_decode` checks the two paths against each other.
pub fn parse_v1<'a>(
    buf: &'a [u8],
    limits: &Limits,
    now_ms: i64,
) -> Result<ParsedWrite<'a>, DecodeError> {
    let fail = |e: WireError| {
        invalid(format!(
            "body is not a valid prometheus.WriteRequest protobuf message: {e}"
        ))
    };
    // Everything is decoded before anything is validated, as with prost:
    // a malformed message is reported as such wherever the damage is.
    let mut series: Vec<WireSeries> = Vec::new();
    let mut labels: Vec<(&'a [u8], &'a [u8])> = Vec::new();
    let mut samples: Vec<Sample> = Vec::new();
    let mut metadata = 0;
    let mut w = Wire::new(buf);
    while !w.done() {
        match w.key().map_err(fail)? {
            (1, t) => {
                let s = within(
                    wire_type(t, LEN)
                        .and_then(|()| w.bytes())
                        .and_then(|body| wire_series(body, &mut labels, &mut samples)),
                    "WriteRequest.timeseries",
                );
                series.push(s.map_err(fail)?);
            }
            (3, t) => {
                w.field_bytes(t, "WriteRequest.metadata").map_err(fail)?;
                metadata += 1;
            }
            (field, t) => w.skip(field, t).map_err(fail)?,
        }
    }
    if series.len() > limits.max_series_per_request {
        return Err(invalid(format!(
            "request has {} series, over the limit of {} series per request",
            series.len(),
            limits.max_series_per_request
        )));
    }
    let checker = SeriesChecker::new(limits, now_ms);
    // The decoded samples are the request's samples, in series order.
    let mut out = ParsedWrite {
        series: Vec::with_capacity(series.len()),
        samples,
        ..ParsedWrite::default()
    };
    out.stats.metadata = metadata;
    for (i, s) in series.iter().enumerate() {
        out.stats.exemplars += s.exemplars;
        out.stats.histograms += s.histograms;
        checker.push(&mut out, i, &labels[s.labels.clone()], s.samples.clone())?;
    }
    out.stats.series = out.series.len();
    Ok(out)
}

/// One `TimeSeries` as decoded by `parse_v1`: ranges into the shared
/// label and sample lists.
struct WireSeries {
    labels: std::ops::Range<usize>,
    samples: std::ops::Range<usize>,
    exemplars: usize,
    histograms: usize,
}

fn wire_series<'a>(
    buf: &'a [u8],
    labels: &mut Vec<(&'a [u8], &'a [u8])>,
    samples: &mut Vec<Sample>,
) -> Result<WireSeries, WireError> {
    let mut s = WireSeries {
        labels: labels.len()..labels.len(),
        samples: samples.len()..samples.len(),
        exemplars: 0,
        histograms: 0,
    };
    let mut w = Wire::new(buf);
    while !w.done() {
        match w.key()? {
            (1, t) => {
                let body = w.field_bytes(t, "TimeSeries.labels")?;
                labels.push(within(wire_label(body), "TimeSeries.labels")?);
            }
            (2, t) => {
                let body = w.field_bytes(t, "TimeSeries.samples")?;
                samples.push(within(wire_sample(body), "TimeSeries.samples")?);
            }
            (3, t) => {
                w.field_bytes(t, "TimeSeries.exemplars")?;
                s.exemplars += 1;
            }
            (4, t) => {
                w.field_bytes(t, "TimeSeries.histograms")?;
                s.histograms += 1;
            }
            (field, t) => w.skip(field, t)?,
        }
    }
    s.labels.end = labels.len();
    s.samples.end = samples.len();
    Ok(s)
}

/// A `prometheus.Label`: (name, value).
fn wire_label(buf: &[u8]) -> Result<(&[u8], &[u8]), WireError> {
    let mut l = Wire::new(buf);
    let (mut name, mut value): (&[u8], &[u8]) = (&[], &[]);
    while !l.done() {
        match l.key()? {
            (1, t) => name = l.field_bytes(t, "Label.name")?,
            (2, t) => value = l.field_bytes(t, "Label.value")?,
            (field, t) => l.skip(field, t)?,
        }
    }
    Ok((name, value))
}

/// A `prometheus.Sample`.
fn wire_sample(buf: &[u8]) -> Result<Sample, WireError> {
    let mut x = Wire::new(buf);
    let mut sample = Sample {
        value: 0.0,
        timestamp: 0,
        start_timestamp: 0,
    };
    while !x.done() {
        match x.key()? {
            (1, t) => {
                let bits = within(wire_type(t, I64).and_then(|()| x.fixed64()), "Sample.value")?;
                sample.value = f64::from_bits(bits);
            }
            (2, t) => {
                sample.timestamp = within(
                    wire_type(t, VARINT).and_then(|()| x.varint()),
                    "Sample.timestamp",
                )? as i64;
            }
            (3, t) => {
                sample.start_timestamp = within(
                    wire_type(t, VARINT).and_then(|()| x.varint()),
                    "Sample.start_timestamp",
                )? as i64;
            }
            (field, t) => x.skip(field, t)?,
        }
    }
    Ok(sample)
}

/// The wire type `found` of a known field must be `want`.
fn wire_type(found: u8, want: u8) -> Result<(), WireError> {
    if found == want {
        Ok(())
    } else {
        Err(WireKind::WireType(found, want).into())
    }
}

const VARINT: u8 = 0;
const I64: u8 = 1;
const LEN: u8 = 2;
const START_GROUP: u8 = 3;
const END_GROUP: u8 = 4;
const I32: u8 = 5;
/// Nesting of unknown groups `parse_v1` skips (prost allows about 100).
const MAX_GROUP_DEPTH: usize = 32;

/// What is wrong with protobuf bytes, worded as prost words it.
#[derive(Debug)]
enum WireKind {
    Truncated,
    Varint,
    Key,
    /// (found, expected) wire type of a known field.
    WireType(u8, u8),
    Group,
    Depth,
}

/// A decoding error and the fields it happened in, innermost first
/// (`TimeSeries.labels: WriteRequest.timeseries`), as prost reports them.
#[derive(Debug)]
struct WireError {
    kind: WireKind,
    path: Vec<&'static str>,
}

impl From<WireKind> for WireError {
    fn from(kind: WireKind) -> WireError {
        WireError {
            kind,
            path: Vec::new(),
        }
    }
}

/// Adds the field `field` (`Message.field`) to the path of an error.
fn within<T>(r: Result<T, WireError>, field: &'static str) -> Result<T, WireError> {
    r.map_err(|mut e| {
        e.path.push(field);
        e
    })
}

fn wire_type_name(t: u8) -> &'static str {
    [
        "Varint",
        "SixtyFourBit",
        "LengthDelimited",
        "StartGroup",
        "EndGroup",
        "ThirtyTwoBit",
    ]
    .get(t as usize)
    .copied()
    .unwrap_or("unknown")
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("failed to decode Protobuf message: ")?;
        for p in &self.path {
            write!(f, "{p}: ")?;
        }
        match self.kind {
            WireKind::Truncated => f.write_str("buffer underflow"),
            WireKind::Varint => f.write_str("invalid varint"),
            WireKind::Key => f.write_str("invalid field key"),
            WireKind::WireType(found, want) => write!(
                f,
                "invalid wire type: {} (expected {})",
                wire_type_name(found),
                wire_type_name(want)
            ),
            WireKind::Group => f.write_str("unexpected end group tag"),
            WireKind::Depth => f.write_str("groups nested too deep"),
        }
    }
}

/// A protobuf wire-format reader over a borrowed buffer.
struct Wire<'a> {
    buf: &'a [u8],
}

impl<'a> Wire<'a> {
    fn new(buf: &'a [u8]) -> Wire<'a> {
        Wire { buf }
    }

    #[inline]
    fn done(&self) -> bool {
        self.buf.is_empty()
    }

    #[inline]
    fn varint(&mut self) -> Result<u64, WireError> {
        // Keys and most lengths are one byte.
        if let Some(&b) = self.buf.first() {
            if b < 0x80 {
                self.buf = &self.buf[1..];
                return Ok(u64::from(b));
            }
        }
        self.varint_long()
    }

    fn varint_long(&mut self) -> Result<u64, WireError> {
        let mut v = 0u64;
        for (i, &b) in self.buf.iter().enumerate().take(10) {
            if i == 9 && b > 1 {
                return Err(WireKind::Varint.into());
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                self.buf = &self.buf[i + 1..];
                return Ok(v);
            }
        }
        Err(if self.buf.len() >= 10 {
            WireKind::Varint
        } else {
            WireKind::Truncated
        }
        .into())
    }

    /// (field number, wire type) of the next field.
    #[inline]
    fn key(&mut self) -> Result<(u32, u8), WireError> {
        let key = self.varint()?;
        let field = u32::try_from(key >> 3).map_err(|_| WireKind::Key)?;
        let wire = (key & 7) as u8;
        if field == 0 || key > u64::from(u32::MAX) || wire > I32 {
            return Err(WireKind::Key.into());
        }
        Ok((field, wire))
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if n > self.buf.len() {
            return Err(WireKind::Truncated.into());
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    /// The bytes of length-delimited field `field` (`Message.field`),
    /// whose key had wire type `wire`.
    fn field_bytes(&mut self, wire: u8, field: &'static str) -> Result<&'a [u8], WireError> {
        within(wire_type(wire, LEN).and_then(|()| self.bytes()), field)
    }

    #[inline]
    fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let n = self.varint()?;
        self.take(usize::try_from(n).map_err(|_| WireKind::Truncated)?)
    }

    #[inline]
    fn fixed64(&mut self) -> Result<u64, WireError> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    /// Skips an unknown field (a group up to its matching end).
    fn skip(&mut self, field: u32, wire: u8) -> Result<(), WireError> {
        self.skip_nested(field, wire, 0)
    }

    fn skip_nested(&mut self, field: u32, wire: u8, depth: usize) -> Result<(), WireError> {
        // Below prost's recursion limit, so nothing prost refuses is taken.
        if depth > MAX_GROUP_DEPTH {
            return Err(WireKind::Depth.into());
        }
        match wire {
            VARINT => self.varint().map(drop),
            I64 => self.take(8).map(drop),
            LEN => self.bytes().map(drop),
            I32 => self.take(4).map(drop),
            START_GROUP => loop {
                match self.key()? {
                    (f, END_GROUP) if f == field => return Ok(()),
                    (_, END_GROUP) => return Err(WireKind::Group.into()),
                    (f, t) => self.skip_nested(f, t, depth + 1)?,
                }
            },
            _ => Err(WireKind::Group.into()),
        }
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
pub fn is_metric_name(s: &str) -> bool {
    let b = s.as_bytes();
    matches!(b.first(), Some(c) if c.is_ascii_alphabetic() || *c == b'_' || *c == b':')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b':')
}

/// `b` as text if it is valid UTF-8. Hot path (every label of every
/// remote-written series): label names and values are nearly always short
/// ASCII, checked inline here instead of through a call to the general
/// validator.
#[inline]
fn utf8(b: &[u8]) -> Option<&str> {
    if b.is_ascii() {
        // SAFETY: ASCII bytes are valid UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(b) })
    } else {
        std::str::from_utf8(b).ok()
    }
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
    let now = 1_700_000_000_000;
    let wire = (protocol == Protocol::V1).then(|| parse_v1(&raw, &limits, now));
    let decoded = decode_message(protocol, Bytes::from(raw.clone()));
    let via_prost = decoded
        .clone()
        .and_then(|msg| parse(&msg, &limits, now).map(|p| same_shape(&p)));
    if let Ok((parsed, _)) = &via_prost {
        for (metric, labels, _) in parsed {
            assert!(is_metric_name(metric));
            for w in labels.windows(2) {
                assert!(w[0].0 < w[1].0, "labels stay sorted and unique");
            }
        }
    }
    // The wire-format path takes exactly what prost takes, with the same
    // result, and refuses what it refuses (with the same validation
    // message once the bytes decode); it may refuse deeper group nesting.
    match (wire, &via_prost) {
        (None, _) => {}
        (Some(Ok(w)), Ok(p)) => assert_eq!(&same_shape(&w), p, "wire and prost results differ"),
        (Some(Err(w)), Err(p)) if decoded.is_ok() => assert_eq!(&w, p, "validation differs"),
        (Some(Err(_)), Err(_)) => {}
        (Some(Err(e)), Ok(_)) => {
            assert!(
                e.to_string().ends_with("groups nested too deep"),
                "wire refused: {e}"
            )
        }
        (Some(Ok(_)), Err(e)) => panic!("wire took what prost refused: {e}"),
    }
}

/// A comparable copy of a parse result: metric, labels and sample bits
/// per series, and the counts.
type Shape = (
    Vec<(String, Vec<(String, String)>, Vec<(i64, u64)>)>,
    WriteStats,
);

fn same_shape(p: &ParsedWrite<'_>) -> Shape {
    let series = p
        .series
        .iter()
        .map(|s| {
            (
                s.metric.to_string(),
                p.labels(s)
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect(),
                p.samples(s)
                    .iter()
                    .map(|x| (x.timestamp, x.value.to_bits()))
                    .collect(),
            )
        })
        .collect();
    (series, p.stats)
}
