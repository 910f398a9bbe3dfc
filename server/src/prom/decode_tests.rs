use bytes::Bytes;
use prost::Message;

use super::*;
use crate::prom::proto::{RequestV2, Sample, TimeSeries, TimeSeriesV2, WriteRequest};

const NOW: i64 = 1_700_000_000_000;

fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries::from_pairs(labels, samples)
}

fn parse_v1(ts: Vec<TimeSeries>) -> Result<(Vec<String>, WriteStats), DecodeError> {
    let msg = WriteMessage::V1(WriteRequest {
        timeseries: ts,
        metadata: vec![],
    });
    let parsed = parse(&msg, &Limits::default(), NOW)?;
    let rows = parsed
        .series
        .iter()
        .map(|s| {
            let labels: Vec<String> = parsed
                .labels(s)
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect();
            let samples: Vec<String> = parsed
                .samples(s)
                .iter()
                .map(|x| format!("{}@{}", x.value, x.timestamp))
                .collect();
            format!(
                "{} {{{}}} {}",
                s.metric,
                labels.join(","),
                samples.join(" ")
            )
        })
        .collect();
    Ok((rows, parsed.stats))
}

fn err(ts: Vec<TimeSeries>) -> String {
    match parse_v1(ts) {
        Err(DecodeError::Invalid(m)) => m,
        other => panic!("expected a 400-class error, got {other:?}"),
    }
}

#[test]
fn valid_v1_request_parses_with_labels_and_samples() {
    let (rows, stats) = parse_v1(vec![
        series(
            &[("__name__", "up"), ("instance", "a:9100"), ("job", "node")],
            &[(NOW - 1000, 1.0), (NOW, 0.0)],
        ),
        series(
            &[("Zone", "z"), ("__name__", "x:y"), ("empty", "")],
            &[(NOW, 2.5)],
        ),
    ])
    .unwrap();
    assert_eq!(
        rows,
        [
            "up {instance=a:9100,job=node} 1@1699999999000 0@1700000000000",
            "x:y {Zone=z} 2.5@1700000000000",
        ]
    );
    assert_eq!(
        stats,
        WriteStats {
            series: 2,
            samples: 3,
            histograms: 0,
            exemplars: 0,
            metadata: 0
        }
    );
}

#[test]
fn every_label_rule_is_enforced_with_the_series_named() {
    assert_eq!(
        err(vec![series(&[("job", "a"), ("job", "b")], &[])]),
        r#"series 0 {job="a", job="b"}: duplicate label name "job""#
    );
    assert_eq!(
        err(vec![
            series(&[("__name__", "ok")], &[]),
            series(&[("__name__", "m"), ("b", "1"), ("a", "2")], &[])
        ]),
        r#"series 1 {__name__="m", b="1", a="2"}: labels are not sorted by name ("b" comes before "a")"#
    );
    assert_eq!(
        err(vec![series(&[("job", "a")], &[(NOW, 1.0)])]),
        r#"series 0 {job="a"}: no __name__ label (metric name)"#
    );
    assert_eq!(
        err(vec![series(&[("__name__", "m"), ("bad-name", "1")], &[])]),
        r#"series 0 {__name__="m", bad-name="1"}: invalid label name "bad-name" (must match [a-zA-Z_][a-zA-Z0-9_]*)"#
    );
    assert_eq!(
        err(vec![series(&[("0abc", "1"), ("__name__", "m")], &[])]),
        r#"series 0 {0abc="1", __name__="m"}: invalid label name "0abc" (must match [a-zA-Z_][a-zA-Z0-9_]*)"#
    );
    assert_eq!(
        err(vec![series(&[("__name__", "1m")], &[])]),
        r#"series 0 {__name__="1m"}: invalid metric name "1m" (must match [a-zA-Z_:][a-zA-Z0-9_:]*)"#
    );
    assert_eq!(
        err(vec![series(&[("__name__", "")], &[])]),
        r#"series 0 {__name__=""}: invalid metric name "" (must match [a-zA-Z_:][a-zA-Z0-9_:]*)"#
    );
    let huge = "x".repeat(2049);
    let m = err(vec![series(&[("__name__", "m"), ("big", &huge)], &[])]);
    assert!(
        m.starts_with(r#"series 0 {__name__="m", big="xxxx"#)
            && m.ends_with(r#"..."}: value of label "big" is 2049 bytes, over the limit of 2048"#),
        "{m}"
    );
    assert!(m.len() < 200, "the message stays short: {m}");
}

#[test]
fn timestamps_outside_the_window_are_rejected() {
    let old = NOW - 10 * 365 * 86_400_000 - 1;
    assert_eq!(
        err(vec![series(
            &[("__name__", "m")],
            &[(NOW, 1.0), (old, 2.0)]
        )]),
        format!(
            "series 0 {{__name__=\"m\"}}: sample timestamp {old} ms is outside the accepted window \
             {}..={} ms since the epoch (max_sample_age_secs / max_sample_ahead_secs)",
            old + 1,
            NOW + 600_000
        )
    );
    let future = NOW + 600_001;
    assert!(err(vec![series(&[("__name__", "m")], &[(future, 1.0)])])
        .contains(&format!("sample timestamp {future} ms is outside")));
    assert!(parse_v1(vec![series(
        &[("__name__", "m")],
        &[(NOW + 600_000, 1.0), (old + 1, 1.0)]
    )])
    .is_ok());
}

#[test]
fn nan_inf_and_staleness_markers_are_accepted_bit_exact() {
    let stale = f64::from_bits(0x7ff0_0000_0000_0002);
    // (-0.0 is not in the list: proto3 encoders, Prometheus' included, skip
    // a double equal to 0, so it arrives as +0.0.)
    let values = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        stale,
        f64::MIN_POSITIVE,
    ];
    let ts = vec![series(
        &[("__name__", "m")],
        &values.iter().map(|v| (NOW, *v)).collect::<Vec<_>>(),
    )];
    let body = WriteRequest {
        timeseries: ts,
        metadata: vec![],
    }
    .encode_to_vec();
    let msg = decode_message(Protocol::V1, Bytes::from(body)).unwrap();
    let parsed = parse(&msg, &Limits::default(), NOW).unwrap();
    let bits: Vec<u64> = parsed
        .samples(&parsed.series[0])
        .iter()
        .map(|s| s.value.to_bits())
        .collect();
    let want: Vec<u64> = values.iter().map(|v| v.to_bits()).collect();
    assert_eq!(bits, want);
}

#[test]
fn limits_on_series_and_labels_per_series() {
    let limits = Limits {
        max_series_per_request: 1,
        max_labels_per_series: 2,
        ..Limits::default()
    };
    let two = WriteMessage::V1(WriteRequest {
        timeseries: vec![series(&[("__name__", "a")], &[]); 2],
        metadata: vec![],
    });
    assert_eq!(
        parse(&two, &limits, NOW).unwrap_err(),
        DecodeError::Invalid("request has 2 series, over the limit of 1 series per request".into())
    );
    let wide = WriteMessage::V1(WriteRequest {
        timeseries: vec![series(&[("__name__", "a"), ("b", "1"), ("c", "2")], &[])],
        metadata: vec![],
    });
    assert_eq!(
        parse(&wide, &limits, NOW).unwrap_err().to_string(),
        r#"series 0 {__name__="a", b="1", c="2"}: 3 labels, over the limit of 2"#
    );
}

#[test]
fn snappy_errors_are_clear() {
    assert_eq!(
        decompress(b"", 100).unwrap_err().to_string(),
        "empty request body: expected a snappy-compressed protobuf message"
    );
    let e = decompress(b"\xff\xff\xff\xff\xff\xff", 1 << 20).unwrap_err();
    assert!(
        matches!(&e, DecodeError::Invalid(m) if m.starts_with("body is not snappy block-format data")),
        "{e:?}"
    );
    let good = snap::raw::Encoder::new()
        .compress_vec(&[7u8; 1000])
        .unwrap();
    assert_eq!(decompress(&good, 1000).unwrap(), vec![7u8; 1000]);
    assert_eq!(
        decompress(&good, 999).unwrap_err(),
        DecodeError::TooLarge(
            "decompressed body would be 1000 bytes, over the limit of 999 bytes".into()
        )
    );
    let e = decompress(&good[..good.len() - 1], 1 << 20).unwrap_err();
    assert!(
        matches!(&e, DecodeError::Invalid(m) if m.starts_with("body is not valid snappy block-format data")),
        "{e:?}"
    );
}

#[test]
fn protobuf_errors_are_clear() {
    // Field 1 (timeseries) with wire type 0 (varint) instead of 2.
    let e = decode_message(Protocol::V1, Bytes::from_static(&[0x08, 0x01])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "body is not a valid prometheus.WriteRequest protobuf message: \
         failed to decode Protobuf message: WriteRequest.timeseries: invalid wire type: Varint (expected LengthDelimited)"
    );
    let e = decode_message(
        Protocol::V1,
        Bytes::from_static(b"hello world, not protobuf"),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("body is not a valid prometheus.WriteRequest protobuf message"),
        "{e}"
    );
    // Truncated: a length-delimited field claims more bytes than there are.
    let e = decode_message(Protocol::V1, Bytes::from_static(&[0x0a, 0x10, 0x0a])).unwrap_err();
    assert!(e.to_string().contains("buffer underflow"), "{e}");
}

#[test]
fn empty_message_is_an_empty_request() {
    let msg = decode_message(Protocol::V1, Bytes::new()).unwrap();
    let parsed = parse(&msg, &Limits::default(), NOW).unwrap();
    assert!(parsed.series.is_empty());
}

fn v2(symbols: &[&str], series: Vec<TimeSeriesV2>) -> WriteMessage {
    WriteMessage::V2(RequestV2 {
        symbols: symbols
            .iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect(),
        timeseries: series,
    })
}

fn v2_series(refs: &[u32], samples: &[(i64, f64)]) -> TimeSeriesV2 {
    TimeSeriesV2 {
        labels_refs: refs.to_vec(),
        samples: samples
            .iter()
            .map(|&(timestamp, value)| Sample {
                value,
                timestamp,
                start_timestamp: 0,
            })
            .collect(),
        histograms: vec![Bytes::from_static(b"\xff not decoded")],
        exemplars: vec![],
        metadata: Some(Bytes::new()),
    }
}

#[test]
fn v2_symbols_resolve_and_are_checked() {
    let msg = v2(
        &["", "__name__", "up", "job", "node"],
        vec![v2_series(&[1, 2, 3, 4], &[(NOW, 1.0)])],
    );
    let parsed = parse(&msg, &Limits::default(), NOW).unwrap();
    assert_eq!(parsed.series[0].metric, "up");
    assert_eq!(parsed.labels(&parsed.series[0]), &[("job", "node")]);
    assert_eq!(parsed.stats.histograms, 1);
    assert_eq!(parsed.stats.metadata, 1);

    let bad = v2(&["", "__name__"], vec![v2_series(&[1, 7], &[])]);
    assert_eq!(
        parse(&bad, &Limits::default(), NOW)
            .unwrap_err()
            .to_string(),
        "series 0: label reference 7 is outside the symbols table (2 symbols)"
    );
    let odd = v2(&["", "__name__"], vec![v2_series(&[1], &[])]);
    assert_eq!(
        parse(&odd, &Limits::default(), NOW)
            .unwrap_err()
            .to_string(),
        "series 0: labels_refs has an odd length (1)"
    );
    let first = v2(&["x"], vec![]);
    assert_eq!(
        parse(&first, &Limits::default(), NOW)
            .unwrap_err()
            .to_string(),
        "symbols table: the first symbol must be the empty string"
    );
}

#[test]
fn invalid_utf8_in_labels_is_rejected() {
    let mut ts = series(&[("__name__", "m"), ("a", "")], &[]);
    ts.labels[1].value = Bytes::from_static(b"\xff\xfe");
    assert_eq!(
        err(vec![ts]),
        "series 0 {__name__=\"m\", a=\"\u{fffd}\u{fffd}\"}: the value of label \"a\" is not valid UTF-8"
    );
}

#[test]
fn fuzz_corpus_replays_and_seeds_are_valid_requests() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/prom/fuzz");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        fuzz_decode(&data);
        n += 1;
    }
    assert!(n >= 6, "corpus at {}", dir.display());
    for (file, protocol) in [("v1_snappy", Protocol::V1), ("v2_snappy", Protocol::V2)] {
        let data = std::fs::read(dir.join(file)).unwrap();
        let raw = decompress(&data[1..], 1 << 20).unwrap();
        let msg = decode_message(protocol, Bytes::from(raw)).unwrap();
        let parsed = parse(&msg, &Limits::default(), NOW).unwrap();
        assert_eq!(parsed.series[0].metric, "up", "{file}");
        assert_eq!(parsed.labels(&parsed.series[0]), &[("job", "a")], "{file}");
    }
}

/// Body bytes for `fuzz_decode`: remote write 1.0, not snappy-compressed.
fn v1_fuzz_input(body: &[u8]) -> Vec<u8> {
    let mut data = vec![0u8];
    data.extend_from_slice(body);
    data
}

fn wire_strategy() -> impl proptest::strategy::Strategy<Value = WriteRequest> {
    use proptest::prelude::*;
    let label = (
        prop::sample::select(vec!["__name__", "a", "b", "job", "1x", ""]),
        prop::sample::select(vec!["", "up", "x", "caf\u{e9}", "9bad"]),
    );
    let sample = (
        prop::sample::select(vec![NOW, NOW - 1000, NOW + 3_600_000, 0, i64::MIN]),
        any::<u64>(),
        any::<i64>(),
    );
    let series = (
        prop::collection::vec(label, 0..4),
        prop::collection::vec(sample, 0..4),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..4), 0..2),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..4), 0..2),
    )
        .prop_map(|(labels, samples, exemplars, histograms)| TimeSeries {
            labels: labels
                .into_iter()
                .map(|(n, v)| crate::prom::proto::Label {
                    name: Bytes::from(n),
                    value: Bytes::from(v),
                })
                .collect(),
            samples: samples
                .into_iter()
                .map(|(timestamp, bits, start_timestamp)| Sample {
                    value: f64::from_bits(bits),
                    timestamp,
                    start_timestamp,
                })
                .collect(),
            exemplars: exemplars.into_iter().map(Bytes::from).collect(),
            histograms: histograms.into_iter().map(Bytes::from).collect(),
        });
    (
        prop::collection::vec(series, 0..5),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..3), 0..2),
    )
        .prop_map(|(timeseries, metadata)| WriteRequest {
            timeseries,
            metadata: metadata.into_iter().map(Bytes::from).collect(),
        })
}

proptest::proptest! {
    /// The inline ASCII path of `utf8` agrees with the standard validator
    /// on any bytes, mostly-ASCII ones included.
    #[test]
    fn utf8_agrees_with_the_standard_validator(
        bytes in proptest::collection::vec(
            proptest::prop_oneof![0x20u8..0x7f, proptest::prelude::any::<u8>()],
            0..40,
        ),
    ) {
        proptest::prop_assert_eq!(utf8(&bytes), std::str::from_utf8(&bytes).ok());
    }

    /// The wire-format decoder (`parse_v1`) gives prost's result on valid
    /// and invalid requests, and on the same bytes damaged: a byte changed,
    /// cut short, or unknown fields appended (`fuzz_decode` asserts it).
    #[test]
    fn wire_decoder_agrees_with_prost(
        req in wire_strategy(),
        damage in proptest::option::of((0usize..10_000, proptest::prelude::any::<u8>())),
        cut in proptest::option::of(0usize..10_000),
        unknown in proptest::option::of(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..12)),
    ) {
        let mut body = req.encode_to_vec();
        // Untouched, a request decodes on both paths to the same result.
        fuzz_decode(&v1_fuzz_input(&body));
        if let Some((at, byte)) = damage {
            if !body.is_empty() {
                let at = at % body.len();
                body[at] = byte;
            }
        }
        if let Some(cut) = cut {
            body.truncate(cut % (body.len() + 1));
        }
        if let Some(extra) = unknown {
            body.extend_from_slice(&extra);
        }
        fuzz_decode(&v1_fuzz_input(&body));
    }
}

#[test]
fn wire_decoder_skips_unknown_fields_and_groups_like_prost() {
    let req = WriteRequest {
        timeseries: vec![series(&[("__name__", "up"), ("job", "a")], &[(NOW, 1.5)])],
        metadata: vec![],
    };
    let mut body = req.encode_to_vec();
    // Unknown fields of every wire type: 9 varint, 10 fixed64, 11 bytes,
    // 12 a group holding a varint field, 13 fixed32.
    body.extend_from_slice(&[0x48, 0x96, 0x01]);
    body.extend_from_slice(&[0x51, 1, 2, 3, 4, 5, 6, 7, 8]);
    body.extend_from_slice(&[0x5a, 2, 0xff, 0xff]);
    body.extend_from_slice(&[0x63, 0x08, 0x01, 0x64]);
    body.extend_from_slice(&[0x6d, 1, 2, 3, 4]);
    let parsed = super::parse_v1(&body, &Limits::default(), NOW).unwrap();
    assert_eq!(parsed.series.len(), 1);
    assert_eq!(parsed.series[0].metric, "up");
    assert_eq!(parsed.labels(&parsed.series[0]), &[("job", "a")]);
    let s = parsed.samples(&parsed.series[0]);
    assert_eq!((s[0].timestamp, s[0].value), (NOW, 1.5));
    fuzz_decode(&v1_fuzz_input(&body));
}

#[test]
fn wire_decoder_refuses_wrong_wire_types_and_deep_groups() {
    // Field 1 (timeseries) as a varint instead of a message.
    let e = super::parse_v1(&[0x08, 0x01], &Limits::default(), NOW).unwrap_err();
    assert_eq!(
        e,
        DecodeError::Invalid(
            "body is not a valid prometheus.WriteRequest protobuf message: failed to decode Protobuf \
             message: WriteRequest.timeseries: invalid wire type: Varint (expected LengthDelimited)"
                .into()
        )
    );
    // A sample value as a varint (it is a double: fixed64).
    let e = super::parse_v1(
        &[0x0a, 0x04, 0x12, 0x02, 0x08, 0x01],
        &Limits::default(),
        NOW,
    )
    .unwrap_err();
    assert!(
        e.to_string().ends_with(
            "Sample.value: TimeSeries.samples: WriteRequest.timeseries: \
             invalid wire type: Varint (expected SixtyFourBit)"
        ),
        "{e}"
    );
    // A length beyond the body.
    let e = super::parse_v1(&[0x0a, 0x10, 0x0a], &Limits::default(), NOW).unwrap_err();
    assert!(e.to_string().ends_with("buffer underflow"), "{e}");
    // 100,000 nested unknown groups: an error, not a stack overflow.
    let deep: Vec<u8> = std::iter::repeat_n(0x63u8, 100_000).collect();
    let e = super::parse_v1(&deep, &Limits::default(), NOW).unwrap_err();
    assert!(e.to_string().ends_with("groups nested too deep"), "{e}");
    fuzz_decode(&v1_fuzz_input(&deep));
}
