//! Prometheus remote write and remote read against the real binary: exact
//! round trips over SQL, every bad input from issue #6, a restart, remote
//! write 2.0, HA pairs, and a real Prometheus (Debian package `prometheus`).

use bytes::Bytes;
use prost::Message;

use lynxstore::prom::chunk::decode_xor;
use lynxstore::prom::proto::{
    ChunkedReadResponse, Label, LabelMatcher, Query, ReadRequest, ReadResponse, RequestV2, Sample,
    TimeSeries, TimeSeriesV2, WriteRequest,
};

use crate::harness::Server;
use crate::http::request;

/// 2024-01-01T00:00:00Z in milliseconds.
const T0: i64 = 1_704_067_200_000;
const STALE: u64 = 0x7ff0_0000_0000_0002;
/// Go's math.NaN(), which differs from Rust's f64::NAN.
const GO_NAN: u64 = 0x7ff8_0000_0000_0001;

pub fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries::from_pairs(labels, samples)
}

fn snappy(raw: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(raw).unwrap()
}

pub fn body(ts: Vec<TimeSeries>) -> Vec<u8> {
    snappy(
        &WriteRequest {
            timeseries: ts,
            metadata: vec![],
        }
        .encode_to_vec(),
    )
}

pub const V1: [(&str, &str); 3] = [
    ("Content-Type", "application/x-protobuf"),
    ("Content-Encoding", "snappy"),
    ("X-Prometheus-Remote-Write-Version", "0.1.0"),
];

/// POSTs a remote-write body; returns (status, headers, body text).
pub fn write(port: u16, body: &[u8]) -> (u16, String, String) {
    write_with(port, &V1, body)
}

pub fn write_with(port: u16, headers: &[(&str, &str)], body: &[u8]) -> (u16, String, String) {
    let (status, head, body) = request(port, "POST", "/api/v1/write", headers, body);
    (status, head, String::from_utf8(body).unwrap())
}

fn fixed_request() -> Vec<TimeSeries> {
    let job = [("instance", "host-1:9100"), ("job", "node")];
    let cpu = |mode: &'static str| {
        let mut l = vec![("__name__", "node_cpu_seconds_total"), ("cpu", "0")];
        l.extend(job);
        l.push(("mode", mode));
        l
    };
    vec![
        series(&cpu("idle"), &[(T0, 100.5), (T0 + 15_000, 115.25)]),
        series(
            &cpu("user"),
            &[(T0, 3.0), (T0 + 15_000, f64::from_bits(STALE))],
        ),
        // Labels named like the fixed columns are stored as label_time / label_value.
        series(
            &[("__name__", "odd_values"), ("time", "t"), ("value", "v")],
            &[
                (T0, f64::from_bits(GO_NAN)),
                (T0 + 1, f64::INFINITY),
                (T0 + 2, f64::NEG_INFINITY),
                (T0 + 3, 1e-300),
                (T0 + 4, f64::MAX),
            ],
        ),
    ]
}

type CpuRow = (i64, u64, String, String, String, String);

async fn cpu_rows(server: &Server) -> Vec<CpuRow> {
    let c = server.client().await;
    c.query(
        "SELECT time, value, cpu, instance, job, mode FROM node_cpu_seconds_total \
         WHERE zone IS NULL ORDER BY mode, time",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| {
        let t: chrono::DateTime<chrono::Utc> = r.get(0);
        let v: f64 = r.get(1);
        (
            t.timestamp_millis(),
            v.to_bits(),
            r.get(2),
            r.get(3),
            r.get(4),
            r.get(5),
        )
    })
    .collect()
}

async fn odd_rows(server: &Server) -> Vec<(i64, u64, String, String)> {
    let c = server.client().await;
    c.query(
        "SELECT time, value, label_time, label_value FROM odd_values ORDER BY time",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| {
        let t: chrono::DateTime<chrono::Utc> = r.get(0);
        let v: f64 = r.get(1);
        (t.timestamp_millis(), v.to_bits(), r.get(2), r.get(3))
    })
    .collect()
}

fn expected_cpu() -> Vec<CpuRow> {
    let row = |t: i64, v: f64, mode: &str| {
        (
            t,
            v.to_bits(),
            "0".to_string(),
            "host-1:9100".to_string(),
            "node".to_string(),
            mode.to_string(),
        )
    };
    vec![
        row(T0, 100.5, "idle"),
        row(T0 + 15_000, 115.25, "idle"),
        row(T0, 3.0, "user"),
        row(T0 + 15_000, f64::from_bits(STALE), "user"),
    ]
}

fn expected_odd() -> Vec<(i64, u64, String, String)> {
    [
        GO_NAN,
        f64::INFINITY.to_bits(),
        f64::NEG_INFINITY.to_bits(),
        1e-300f64.to_bits(),
        f64::MAX.to_bits(),
    ]
    .iter()
    .enumerate()
    .map(|(i, bits)| (T0 + i as i64, *bits, "t".to_string(), "v".to_string()))
    .collect()
}

#[tokio::test]
async fn fixed_write_request_reads_back_exactly_over_sql_and_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path());
    let port = server.http_port;
    let payload = body(fixed_request());
    let (status, _, text) = write(port, &payload);
    assert_eq!((status, text.as_str()), (204, ""));
    // A new label on an existing metric adds a column; older rows read NULL.
    let zone = series(
        &[
            ("__name__", "node_cpu_seconds_total"),
            ("cpu", "1"),
            ("instance", "host-1:9100"),
            ("job", "node"),
            ("mode", "idle"),
            ("zone", "z1"),
        ],
        &[(T0, 7.0)],
    );
    assert_eq!(write(port, &body(vec![zone])).0, 204);
    assert_eq!(cpu_rows(&server).await, expected_cpu());
    assert_eq!(odd_rows(&server).await, expected_odd());

    // Resent samples are de-duplicated (primary key over labels + time).
    assert_eq!(write(port, &payload).0, 204);
    let c = server.client().await;
    let r = c
        .query_one(
            "SELECT count(*), count(zone) FROM node_cpu_seconds_total",
            &[],
        )
        .await
        .unwrap();
    assert_eq!((r.get::<_, i64>(0), r.get::<_, i64>(1)), (5, 1));
    // The issue's example query, with SELECT * column order.
    let rows = c
        .query(
            "SELECT * FROM node_cpu_seconds_total WHERE mode = 'idle' ORDER BY cpu, time",
            &[],
        )
        .await
        .unwrap();
    let names: Vec<&str> = rows[0].columns().iter().map(|c| c.name()).collect();
    assert_eq!(
        names,
        ["time", "value", "cpu", "instance", "job", "mode", "zone"]
    );
    let values: Vec<(f64, String, Option<String>)> = rows
        .iter()
        .map(|r| (r.get(1), r.get(2), r.get(6)))
        .collect();
    assert_eq!(
        values,
        [
            (100.5, "0".into(), None),
            (115.25, "0".into(), None),
            (7.0, "1".into(), Some("z1".into()))
        ]
    );
    drop(c);

    server.restart();
    assert_eq!(cpu_rows(&server).await, expected_cpu());
    assert_eq!(odd_rows(&server).await, expected_odd());
    server.kill9();
    server.start_again();
    assert_eq!(cpu_rows(&server).await, expected_cpu());
    assert_eq!(odd_rows(&server).await, expected_odd());
}

/// Asserts that table `name` does not exist.
async fn assert_absent(server: &Server, name: &str) {
    let c = server.client().await;
    let e = c
        .query(&format!("SELECT * FROM \"{name}\""), &[])
        .await
        .unwrap_err();
    assert_eq!(
        e.code().map(|c| c.code()),
        Some("42P01"),
        "table {name} must not exist: {e:?}"
    );
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test]
async fn bad_inputs_get_the_right_status_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("lynx.toml");
    std::fs::write(&config, "[prometheus]\nmax_decoded_bytes = 200000\n").unwrap();
    let data = dir.path().join("data");
    let server = Server::start_with(
        &data,
        &[
            "--config",
            config.to_str().unwrap(),
            "--max-body-bytes",
            "65536",
        ],
    );
    let port = server.http_port;
    {
        let c = server.client().await;
        c.batch_execute("CREATE TABLE clash (time TIMESTAMPTZ NOT NULL, value BIGINT)")
            .await
            .unwrap();
    }
    let ok = |name: &str| series(&[("__name__", name), ("job", "j")], &[(T0, 1.0)]);
    let good_request = body(vec![ok("bad_never_stored")]);
    let truncated = &good_request[..good_request.len() / 2];
    let far_future = now_ms() + 86_400_000;
    let huge = "v".repeat(5000);
    let nested_wire_type = snappy(&[0x0a, 0x02, 0x08, 0x05]);
    let bomb = snappy(&vec![0u8; 300_000]);

    // (body, headers, status, start of the message)
    type Case<'a> = (Vec<u8>, &'a [(&'a str, &'a str)], u16, String);
    let cases: Vec<Case> = vec![
        (b"this is not snappy".to_vec(), &V1, 400, "body is not valid snappy block-format data".into()),
        (vec![0xff; 12], &V1, 400, "body is not snappy block-format data".into()),
        (truncated.to_vec(), &V1, 400, "body is not valid snappy block-format data".into()),
        (snappy(b"\xff\xfe not protobuf at all"), &V1, 400, "body is not a valid prometheus.WriteRequest protobuf message".into()),
        (snappy(&[0x08, 0x01]), &V1, 400, "body is not a valid prometheus.WriteRequest protobuf message: failed to decode Protobuf message: WriteRequest.timeseries: invalid wire type: Varint (expected LengthDelimited)".into()),
        (nested_wire_type, &V1, 400, "body is not a valid prometheus.WriteRequest protobuf message: failed to decode Protobuf message: TimeSeries.labels: WriteRequest.timeseries: invalid wire type: Varint (expected LengthDelimited)".into()),
        (Vec::new(), &V1, 400, "empty request body: expected a snappy-compressed protobuf message".into()),
        (body(vec![ok("bad_ok_1"), series(&[("__name__", "bad_dup"), ("job", "a"), ("job", "b")], &[(T0, 1.0)])]), &V1, 400,
            r#"series 1 {__name__="bad_dup", job="a", job="b"}: duplicate label name "job""#.into()),
        (body(vec![series(&[("__name__", "bad_unsorted"), ("b", "1"), ("a", "2")], &[(T0, 1.0)])]), &V1, 400,
            r#"series 0 {__name__="bad_unsorted", b="1", a="2"}: labels are not sorted by name ("b" comes before "a")"#.into()),
        (body(vec![ok("bad_ok_2"), series(&[("job", "bad_no_name")], &[(T0, 1.0)])]), &V1, 400,
            r#"series 1 {job="bad_no_name"}: no __name__ label (metric name)"#.into()),
        (body(vec![series(&[("__name__", "bad_label"), ("my-label", "1")], &[(T0, 1.0)])]), &V1, 400,
            r#"series 0 {__name__="bad_label", my-label="1"}: invalid label name "my-label" (must match [a-zA-Z_][a-zA-Z0-9_]*)"#.into()),
        (body(vec![series(&[("__name__", "bad metric")], &[(T0, 1.0)])]), &V1, 400,
            r#"series 0 {__name__="bad metric"}: invalid metric name "bad metric" (must match [a-zA-Z_:][a-zA-Z0-9_:]*)"#.into()),
        (body(vec![series(&[("__name__", "bad_huge"), ("big", &huge)], &[(T0, 1.0)])]), &V1, 400,
            format!(r#"series 0 {{__name__="bad_huge", big="{}..."}}: value of label "big" is 5000 bytes, over the limit of 2048"#, "v".repeat(64))),
        (body(vec![series(&[("__name__", "bad_past")], &[(T0, 1.0), (1000, 2.0)])]), &V1, 400,
            r#"series 0 {__name__="bad_past"}: sample timestamp 1000 ms is outside the accepted window"#.into()),
        (body(vec![series(&[("__name__", "bad_future")], &[(far_future, 1.0)])]), &V1, 400,
            format!(r#"series 0 {{__name__="bad_future"}}: sample timestamp {far_future} ms is outside the accepted window"#)),
        (body(vec![ok("bad_ok_3"), ok("clash")]), &V1, 400,
            "table \"clash\" exists but cannot store Prometheus samples: it has no DOUBLE PRECISION column \"value\"".into()),
        (bomb, &V1, 413, "decompressed body would be 300000 bytes, over the limit of 200000 bytes".into()),
        (vec![0u8; 70_000], &V1, 413, "request body is over the limit of max_body_bytes".into()),
        (good_request.clone(), &[("Content-Type", "application/json"), ("Content-Encoding", "snappy")], 415,
            r#"unsupported Content-Type "application/json": expected application/x-protobuf (proto=prometheus.WriteRequest or proto=io.prometheus.write.v2.Request)"#.into()),
        (good_request.clone(), &[("Content-Type", "application/x-protobuf;proto=foo.Bar")], 415,
            r#"unsupported Content-Type "application/x-protobuf;proto=foo.Bar""#.into()),
        (good_request.clone(), &[("Content-Type", "application/x-protobuf"), ("Content-Encoding", "gzip")], 415,
            r#"unsupported Content-Encoding "gzip": the body must be snappy block-compressed (Content-Encoding: snappy)"#.into()),
    ];
    for (i, (payload, headers, status, message)) in cases.iter().enumerate() {
        let (got, _, text) = write_with(port, headers, payload);
        assert_eq!(got, *status, "case {i}: {text}");
        assert!(
            text.starts_with(message.as_str()),
            "case {i}: message {text:?} should start with {message:?}"
        );
        // The server keeps answering after every refusal.
        assert_eq!(request(port, "GET", "/health", &[], b"").0, 200, "case {i}");
    }
    for name in [
        "bad_never_stored",
        "bad_ok_1",
        "bad_ok_2",
        "bad_ok_3",
        "bad_dup",
        "bad_unsorted",
        "bad_label",
        "bad_huge",
        "bad_past",
        "bad_future",
    ] {
        assert_absent(&server, name).await;
    }
    let c = server.client().await;
    let n: i64 = c
        .query_one("SELECT count(*) FROM clash", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);

    // Accepted as they are: an empty WriteRequest (nothing to store) and
    // NaN / ±Inf / staleness markers (stored bit-exact).
    assert_eq!(write(port, &snappy(&[])).0, 204);
    let specials = [
        GO_NAN,
        f64::INFINITY.to_bits(),
        f64::NEG_INFINITY.to_bits(),
        STALE,
    ];
    let samples: Vec<(i64, f64)> = specials
        .iter()
        .enumerate()
        .map(|(i, b)| (T0 + i as i64, f64::from_bits(*b)))
        .collect();
    let (status, _, text) = write(
        port,
        &body(vec![series(&[("__name__", "specials")], &samples)]),
    );
    assert_eq!((status, text.as_str()), (204, ""));
    let bits: Vec<u64> = c
        .query("SELECT value FROM specials ORDER BY time", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, f64>(0).to_bits())
        .collect();
    assert_eq!(bits, specials);
    let (_, _, metrics) = request(port, "GET", "/metrics", &[], b"");
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics.contains("lynx_prom_write_rejected_total 21"),
        "{metrics}"
    );
    assert!(
        metrics.contains("lynx_prom_samples_written_total 4"),
        "{metrics}"
    );
}

#[tokio::test]
async fn remote_write_2_0_answers_with_written_counts() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let port = server.http_port;
    let v2 = |symbols: &[&str], refs: &[u32], samples: &[(i64, f64)]| {
        snappy(
            &RequestV2 {
                symbols: symbols
                    .iter()
                    .map(|s| Bytes::copy_from_slice(s.as_bytes()))
                    .collect(),
                timeseries: vec![TimeSeriesV2 {
                    labels_refs: refs.to_vec(),
                    samples: samples
                        .iter()
                        .map(|&(timestamp, value)| Sample {
                            value,
                            timestamp,
                            start_timestamp: 0,
                        })
                        .collect(),
                    // Native histograms and exemplars are dropped, never fatal.
                    histograms: vec![Bytes::from_static(b"\x08\x01")],
                    exemplars: vec![Bytes::from_static(b"\x11")],
                    metadata: Some(Bytes::from_static(b"\x08\x02")),
                }],
            }
            .encode_to_vec(),
        )
    };
    let headers = [
        (
            "Content-Type",
            "application/x-protobuf;proto=io.prometheus.write.v2.Request",
        ),
        ("Content-Encoding", "snappy"),
        ("X-Prometheus-Remote-Write-Version", "2.0.0"),
    ];
    let good = v2(
        &["", "__name__", "http_requests_total", "code", "200"],
        &[1, 2, 3, 4],
        &[(T0, 1.0), (T0 + 1000, 2.0), (T0 + 2000, 3.0)],
    );
    let (status, head, text) = write_with(port, &headers, &good);
    assert_eq!((status, text.as_str()), (204, ""));
    let head = head.to_ascii_lowercase();
    for h in [
        "x-prometheus-remote-write-samples-written: 3",
        "x-prometheus-remote-write-histograms-written: 0",
        "x-prometheus-remote-write-exemplars-written: 0",
    ] {
        assert!(head.contains(h), "missing {h}:\n{head}");
    }
    let bad = v2(&["", "__name__"], &[1, 9], &[(T0, 1.0)]);
    let (status, head, text) = write_with(port, &headers, &bad);
    assert_eq!(status, 400);
    assert_eq!(
        text,
        "series 0: label reference 9 is outside the symbols table (2 symbols)\n"
    );
    assert!(head
        .to_ascii_lowercase()
        .contains("x-prometheus-remote-write-samples-written: 0"));
    let c = server.client().await;
    let rows: Vec<(String, f64)> = c
        .query(
            "SELECT code, value FROM http_requests_total ORDER BY time",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        rows,
        [
            ("200".into(), 1.0),
            ("200".into(), 2.0),
            ("200".into(), 3.0)
        ]
    );
}

fn read_request(matchers: &[(i32, &str, &str)], start: i64, end: i64, accept: &[i32]) -> Vec<u8> {
    snappy(
        &ReadRequest {
            queries: vec![Query {
                start_timestamp_ms: start,
                end_timestamp_ms: end,
                matchers: matchers
                    .iter()
                    .map(|(t, n, v)| LabelMatcher {
                        r#type: *t,
                        name: n.to_string(),
                        value: v.to_string(),
                    })
                    .collect(),
            }],
            accepted_response_types: accept.to_vec(),
        }
        .encode_to_vec(),
    )
}

type Found = Vec<(Vec<(String, String)>, Vec<(i64, u64)>)>;

fn labels_of(l: &[Label]) -> Vec<(String, String)> {
    l.iter()
        .map(|l| {
            (
                String::from_utf8(l.name.to_vec()).unwrap(),
                String::from_utf8(l.value.to_vec()).unwrap(),
            )
        })
        .collect()
}

fn read_samples(port: u16, req: &[u8]) -> Found {
    let (status, head, body) = request(port, "POST", "/api/v1/read", &V1, req);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(head.contains("application/x-protobuf"), "{head}");
    let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
    let resp = ReadResponse::decode(&raw[..]).unwrap();
    assert_eq!(resp.results.len(), 1);
    resp.results[0]
        .timeseries
        .iter()
        .map(|ts| {
            (
                labels_of(&ts.labels),
                ts.samples
                    .iter()
                    .map(|s| (s.timestamp, s.value.to_bits()))
                    .collect(),
            )
        })
        .collect()
}

fn read_streamed(port: u16, req: &[u8]) -> Found {
    let (status, head, body) = request(port, "POST", "/api/v1/read", &V1, req);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(
        head.contains(
            "content-type: application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse"
        ),
        "{head}"
    );
    let mut rest = &body[..];
    let mut out: Found = Vec::new();
    while !rest.is_empty() {
        let (mut len, mut i) = (0usize, 0);
        loop {
            len |= ((rest[i] & 0x7f) as usize) << (7 * i);
            i += 1;
            if rest[i - 1] < 0x80 {
                break;
            }
        }
        let crc = u32::from_be_bytes(rest[i..i + 4].try_into().unwrap());
        let data = &rest[i + 4..i + 4 + len];
        assert_eq!(crc, lynxstore::prom::chunk::crc32c(data));
        let msg = ChunkedReadResponse::decode(data).unwrap();
        assert_eq!(msg.query_index, 0);
        for s in msg.chunked_series {
            let mut samples = Vec::new();
            for c in &s.chunks {
                assert_eq!(c.r#type, 1, "XOR");
                let decoded = decode_xor(&c.data).unwrap();
                assert!(decoded.len() <= 120);
                assert_eq!(c.min_time_ms, decoded[0].0);
                assert_eq!(c.max_time_ms, decoded[decoded.len() - 1].0);
                samples.extend(decoded.iter().map(|(t, v)| (*t, v.to_bits())));
            }
            out.push((labels_of(&s.labels), samples));
        }
        rest = &rest[i + 4 + len..];
    }
    out
}

#[test]
fn remote_read_samples_and_streamed_xor_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let port = server.http_port;
    assert_eq!(write(port, &body(fixed_request())).0, 204);
    // 300 samples: three chunks (120 + 120 + 60) in the streamed answer.
    let long: Vec<(i64, f64)> = (0..300)
        .map(|i| (T0 + i * 15_000 + (i % 7), (i * i) as f64 / 3.0))
        .collect();
    assert_eq!(
        write(
            port,
            &body(vec![series(
                &[("__name__", "long_series"), ("k", "v")],
                &long
            )])
        )
        .0,
        204
    );
    let lbl = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    };
    let idle = lbl(&[
        ("__name__", "node_cpu_seconds_total"),
        ("cpu", "0"),
        ("instance", "host-1:9100"),
        ("job", "node"),
        ("mode", "idle"),
    ]);
    let mut user = idle.clone();
    user[4].1 = "user".into();
    let cpu_expected: Found = vec![
        (
            idle.clone(),
            vec![(T0, 100.5f64.to_bits()), (T0 + 15_000, 115.25f64.to_bits())],
        ),
        (
            user.clone(),
            vec![(T0, 3f64.to_bits()), (T0 + 15_000, STALE)],
        ),
    ];
    for accept in [&[][..], &[0], &[1], &[1, 0]] {
        let req = read_request(
            &[
                (0, "__name__", "node_cpu_seconds_total"),
                (2, "mode", "idle|user"),
            ],
            T0,
            T0 + 15_000,
            accept,
        );
        let got = if accept.first() == Some(&1) {
            read_streamed(port, &req)
        } else {
            read_samples(port, &req)
        };
        assert_eq!(got, cpu_expected, "accepted types {accept:?}");
    }
    // Time range is inclusive; !~ and != work; escaped columns map back.
    let req = read_request(
        &[
            (0, "__name__", "node_cpu_seconds_total"),
            (3, "mode", "id.*"),
        ],
        T0 + 1,
        T0 + 15_000,
        &[],
    );
    assert_eq!(
        read_samples(port, &req),
        vec![(user, vec![(T0 + 15_000, STALE)])]
    );
    let req = read_request(&[(1, "time", "x"), (0, "value", "v")], T0, T0 + 10, &[1]);
    let odd = lbl(&[("__name__", "odd_values"), ("time", "t"), ("value", "v")]);
    let odd_samples: Vec<(i64, u64)> = expected_odd().iter().map(|r| (r.0, r.1)).collect();
    assert_eq!(
        read_streamed(port, &req),
        vec![(odd.clone(), odd_samples.clone())]
    );
    assert_eq!(
        read_samples(
            port,
            &read_request(&[(1, "time", "x"), (0, "value", "v")], T0, T0 + 10, &[0])
        ),
        vec![(odd, odd_samples)]
    );
    let req = read_request(&[(0, "__name__", "long_series")], 0, T0 + 10_000_000, &[1]);
    let want: Vec<(i64, u64)> = long.iter().map(|(t, v)| (*t, v.to_bits())).collect();
    assert_eq!(
        read_streamed(port, &req),
        vec![(lbl(&[("__name__", "long_series"), ("k", "v")]), want)]
    );
    // Bad read requests: 400 with a message.
    let (status, _, body) = request(port, "POST", "/api/v1/read", &V1, b"nope");
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    let req = read_request(&[(2, "job", "(")], 0, T0, &[]);
    let (status, _, body) = request(port, "POST", "/api/v1/read", &V1, &req);
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).starts_with("invalid regular expression \"(\""));
}

#[tokio::test]
async fn ha_pairs_store_only_the_elected_replica() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("lynx.toml");
    std::fs::write(
        &config,
        "[prometheus]\nha_cluster_label = \"cluster\"\nha_replica_label = \"__replica__\"\nha_failover_timeout_secs = 3600\n",
    )
    .unwrap();
    let server = Server::start_with(
        &dir.path().join("data"),
        &["--config", config.to_str().unwrap()],
    );
    let port = server.http_port;
    let from = |replica: &str, v: f64| {
        body(vec![series(
            &[
                ("__name__", "ha_metric"),
                ("__replica__", replica),
                ("cluster", "c1"),
            ],
            &[(T0, v)],
        )])
    };
    assert_eq!(write(port, &from("a", 1.0)).0, 204);
    let (status, _, text) = write(port, &from("b", 2.0));
    assert_eq!(status, 202);
    assert_eq!(
        text,
        "dropped: replica \"b\" of cluster \"c1\" is not the elected replica \"a\""
    );
    assert_eq!(write(port, &from("a", 3.0)).0, 204);
    let c = server.client().await;
    let rows = c.query("SELECT * FROM ha_metric", &[]).await.unwrap();
    let names: Vec<&str> = rows[0].columns().iter().map(|c| c.name()).collect();
    assert_eq!(
        names,
        ["time", "value", "cluster"],
        "the replica label is not stored"
    );
    let got: Vec<(f64, String)> = rows.iter().map(|r| (r.get(1), r.get(2))).collect();
    assert_eq!(
        got,
        [(3.0, "c1".to_string())],
        "same series and time: last write wins"
    );
}

#[test]
fn http_auth_guards_remote_write_with_basic_and_bearer() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        dir.path(),
        &[
            "--user",
            "alice",
            "--password",
            "s3cret",
            "--http-auth",
            "--http-bearer-token",
            "tok-1",
        ],
    );
    let port = server.http_port;
    let payload = body(vec![series(&[("__name__", "auth_metric")], &[(T0, 1.0)])]);
    let with = |auth: &str| {
        let mut h = V1.to_vec();
        h.push(("Authorization", auth));
        write_with(port, &h, &payload)
    };
    let (status, head, text) = write(port, &payload);
    assert_eq!(status, 401);
    assert!(
        head.contains("www-authenticate: Basic realm=\"lynxstore\""),
        "{head}"
    );
    assert_eq!(
        text,
        "authentication required: HTTP Basic with a configured user, or a Bearer token\n"
    );
    assert_eq!(with("Basic YWxpY2U6d3Jvbmc=").0, 401); // alice:wrong
    assert_eq!(with("Bearer tok-2").0, 401);
    assert_eq!(with("Basic YWxpY2U6czNjcmV0").0, 204); // alice:s3cret
    assert_eq!(with("Bearer tok-1").0, 204);
    assert_eq!(request(port, "GET", "/health", &[], b"").0, 200);
    assert_eq!(request(port, "POST", "/v1/sql", &[], b"SELECT 1").0, 401);
    assert_eq!(request(port, "GET", "/metrics", &[], b"").0, 401);
    let (status, _, rows) = request(
        port,
        "POST",
        "/v1/sql",
        &[("Authorization", "Bearer tok-1")],
        b"SELECT count(*) AS n FROM auth_metric",
    );
    assert_eq!(status, 200);
    assert!(String::from_utf8(rows).unwrap().contains("[[1]]"));
}
