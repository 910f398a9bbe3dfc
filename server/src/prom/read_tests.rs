use super::*;
use crate::prom::decode::{parse, Limits, WriteMessage};
use crate::prom::mapping::build_batches;
use crate::prom::proto::{LabelMatcher, TimeSeries, WriteRequest};
use crate::prom::write::store;

const NOW: i64 = 1_700_000_000_000;

fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries::from_pairs(labels, samples)
}

fn db_with(ts: Vec<TimeSeries>) -> (tempfile::TempDir, Database) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let msg = WriteMessage::V1(WriteRequest {
        timeseries: ts,
        metadata: vec![],
    });
    let parsed = parse(&msg, &Limits::default(), NOW).unwrap();
    store(&db, &build_batches(&parsed, None).unwrap()).unwrap();
    (dir, db)
}

fn m(kind: MatchType, name: &str, value: &str) -> Matcher {
    Matcher::new(&LabelMatcher {
        r#type: kind as i32,
        name: name.into(),
        value: value.into(),
    })
    .unwrap()
}

fn run(db: &Database, lo: i64, hi: i64, ms: &[Matcher]) -> Vec<String> {
    let mut budget = usize::MAX;
    select(db, lo, hi, ms, &mut budget)
        .unwrap()
        .iter()
        .map(|s| {
            let l: Vec<String> = s.labels.iter().map(|(n, v)| format!("{n}={v}")).collect();
            let x: Vec<String> = s.samples.iter().map(|(t, v)| format!("{v}@{t}")).collect();
            format!("{{{}}} {}", l.join(","), x.join(" "))
        })
        .collect()
}

#[test]
fn regexes_are_fully_anchored_and_dot_matches_newline() {
    let re = m(MatchType::Re, "a", "fo+");
    assert!(re.matches("foo"));
    assert!(!re.matches("xfoo"));
    assert!(!re.matches("foox"));
    let alt = m(MatchType::Re, "a", "a|b");
    assert!(alt.matches("a") && alt.matches("b") && !alt.matches("ab"));
    assert!(m(MatchType::Re, "a", "x.y").matches("x\ny"));
    assert!(m(MatchType::Nre, "a", "fo+").matches("xfoo"));
    assert!(m(MatchType::Neq, "a", "x").matches(""));
    let bad = Matcher::new(&LabelMatcher {
        r#type: 2,
        name: "a".into(),
        value: "(".into(),
    })
    .unwrap_err();
    assert_eq!(bad.status, Http::BAD_REQUEST);
    assert!(bad
        .message
        .starts_with("invalid regular expression \"(\" for label \"a\""));
}

#[test]
fn select_by_name_labels_and_time_range() {
    let (_dir, db) = db_with(vec![
        series(
            &[("__name__", "cpu"), ("host", "a"), ("mode", "idle")],
            &[(NOW - 2000, 1.0), (NOW - 1000, 2.0), (NOW, 3.0)],
        ),
        series(
            &[("__name__", "cpu"), ("host", "b"), ("mode", "user")],
            &[(NOW, 4.0)],
        ),
        series(&[("__name__", "cpu"), ("host", "c")], &[(NOW, 5.0)]),
        series(
            &[("__name__", "mem"), ("host", "a"), ("time", "t1")],
            &[(NOW, 6.0)],
        ),
    ]);
    use MatchType::*;
    assert_eq!(
        run(
            &db,
            NOW - 1000,
            NOW,
            &[m(Eq, "__name__", "cpu"), m(Eq, "mode", "idle")]
        ),
        ["{__name__=cpu,host=a,mode=idle} 2@1699999999000 3@1700000000000"]
    );
    // An absent label matches as "".
    assert_eq!(
        run(
            &db,
            NOW,
            NOW,
            &[m(Eq, "__name__", "cpu"), m(Eq, "mode", "")]
        ),
        ["{__name__=cpu,host=c} 5@1700000000000"]
    );
    assert_eq!(
        run(
            &db,
            NOW,
            NOW,
            &[m(Re, "__name__", "cpu|mem"), m(Neq, "host", "a")]
        ),
        [
            "{__name__=cpu,host=b,mode=user} 4@1700000000000",
            "{__name__=cpu,host=c} 5@1700000000000"
        ]
    );
    // No __name__ matcher: every metric table; escaped columns map back.
    assert_eq!(
        run(&db, NOW, NOW, &[m(Eq, "host", "a"), m(Nre, "mode", "id.*")]),
        ["{__name__=mem,host=a,time=t1} 6@1700000000000"]
    );
    assert_eq!(
        run(&db, NOW, NOW, &[m(Eq, "time", "t1")]),
        ["{__name__=mem,host=a,time=t1} 6@1700000000000"]
    );
    // A matcher on a label no table has, needing a value: nothing.
    assert!(run(&db, NOW, NOW, &[m(Eq, "nope", "x")]).is_empty());
    let mut budget = 2;
    let e = select(&db, 0, NOW, &[m(Eq, "__name__", "cpu")], &mut budget).unwrap_err();
    assert_eq!(
        e.message,
        "remote read would return more samples than max_read_samples"
    );
}

#[test]
fn streamed_frames_hold_one_series_with_chunks_of_120() {
    let samples: Vec<(i64, f64)> = (0..250).map(|i| (NOW + i * 15_000, i as f64)).collect();
    let results = vec![vec![Series {
        labels: vec![("__name__".into(), "up".into())],
        samples: samples.clone(),
    }]];
    let out = encode_streamed(&results);
    // One frame: uvarint length, CRC32C, ChunkedReadResponse.
    let mut len = 0usize;
    let mut i = 0;
    loop {
        len |= ((out[i] & 0x7f) as usize) << (7 * i);
        i += 1;
        if out[i - 1] < 0x80 {
            break;
        }
    }
    assert_eq!(out.len(), i + 4 + len);
    let data = &out[i + 4..];
    assert_eq!(
        u32::from_be_bytes(out[i..i + 4].try_into().unwrap()),
        crate::prom::chunk::crc32c(data)
    );
    let msg = proto::ChunkedReadResponse::decode(data).unwrap();
    assert_eq!(msg.query_index, 0);
    let chunks = &msg.chunked_series[0].chunks;
    assert_eq!(chunks.len(), 3);
    let sizes: Vec<u16> = chunks
        .iter()
        .map(|c| u16::from_be_bytes([c.data[0], c.data[1]]))
        .collect();
    assert_eq!(sizes, [120, 120, 10]);
    assert_eq!(chunks[1].min_time_ms, NOW + 120 * 15_000);
    assert_eq!(chunks[1].max_time_ms, NOW + 239 * 15_000);
    assert!(chunks.iter().all(|c| c.r#type == 1));
}

#[test]
fn negotiation_takes_the_first_supported_type() {
    assert_eq!(negotiate(&[]).unwrap(), ResponseType::Samples);
    assert_eq!(negotiate(&[1, 0]).unwrap(), ResponseType::StreamedXorChunks);
    assert_eq!(negotiate(&[7, 0]).unwrap(), ResponseType::Samples);
    assert!(negotiate(&[7]).is_err());
}
