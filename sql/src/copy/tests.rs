//! COPY decoders and encoders against the engine: escapes, quoting, NULLs,
//! end markers and input split at every byte.

use std::sync::Arc;

use futures::StreamExt;
use lynx_storage::Database;

use crate::{Engine, Output, Session};

struct Fixture {
    session: Session,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Database::open(dir.path()).unwrap());
    let engine = Engine::new(db).unwrap();
    let mut session = engine.session("lynx", None);
    session
        .run("CREATE TABLE t (time TIMESTAMPTZ NOT NULL, a TEXT, b TEXT)")
        .await
        .unwrap();
    Fixture { session, _dir: dir }
}

/// Runs `COPY t FROM STDIN <options>` with `data` cut into `chunk`-byte
/// messages, parsed in blocks of about `3 * chunk` bytes (so that records
/// fall on every side of a block boundary); returns the rows or the error
/// message with its context.
async fn load(f: &mut Fixture, options: &str, data: &[u8], chunk: usize) -> Result<u64, String> {
    load_into(f, "t", options, data, chunk, 3 * chunk).await
}

async fn dump(f: &mut Fixture, sql: &str) -> String {
    let out = f.session.run(sql).await.unwrap();
    let Some(Output::CopyOut(mut copy)) = out.into_iter().next() else {
        panic!("not a COPY OUT");
    };
    let mut bytes = Vec::new();
    while let Some(c) = copy.chunks.next().await {
        for m in c.unwrap().messages {
            bytes.extend_from_slice(&m);
        }
    }
    String::from_utf8(bytes).unwrap()
}

const CSV_OUT: &str = "COPY (SELECT a, b FROM t ORDER BY time) TO STDOUT (FORMAT csv)";

#[tokio::test]
async fn text_escapes_nulls_and_end_marker_at_every_split() {
    let data = b"2024-01-01 00:00:00+00\ta\\x41\\101\\tz\\\\\t\\N\r\n\
        2024-01-01 00:00:01+00\t\\\\N\t\n\\.\nignored after the end marker\n";
    for chunk in [1, 2, 5, 1000] {
        let mut f = fixture().await;
        assert_eq!(load(&mut f, "", data, chunk).await, Ok(2), "chunk {chunk}");
        assert_eq!(
            dump(&mut f, CSV_OUT).await,
            "aAA\tz\\,\n\\N,\"\"\n",
            "chunk {chunk}"
        );
        assert_eq!(
            dump(&mut f, "COPY (SELECT a, b FROM t ORDER BY time) TO STDOUT").await,
            "aAA\\tz\\\\\t\\N\n\\\\N\t\n"
        );
    }
}

#[tokio::test]
async fn csv_quoting_escape_force_null_and_header_at_every_split() {
    let data = b"time,a,b\n\
        2024-01-01 00:00:00+00,\"multi\nline, \"\"quoted\"\"\",\n\
        2024-01-01 00:00:01+00,\"\",plain\n";
    for chunk in [1, 3, 1000] {
        let mut f = fixture().await;
        assert_eq!(
            load(&mut f, "(FORMAT csv, HEADER)", data, chunk).await,
            Ok(2)
        );
        assert_eq!(
            dump(&mut f, CSV_OUT).await,
            "\"multi\nline, \"\"quoted\"\"\",\n\"\",plain\n"
        );
    }
    // ESCAPE other than QUOTE; FORCE_NOT_NULL / FORCE_NULL.
    let mut f = fixture().await;
    let data = b"2024-01-01 00:00:00+00;'it\\'s \\\\';\n2024-01-01 00:00:01+00;'';''\n";
    assert_eq!(
        load(
            &mut f,
            "(FORMAT csv, DELIMITER ';', QUOTE '''', ESCAPE '\\', FORCE_NOT_NULL (b), FORCE_NULL (a))",
            data,
            1
        )
        .await,
        Ok(2)
    );
    assert_eq!(dump(&mut f, CSV_OUT).await, "it's \\,\"\"\n,\"\"\n");
}

#[tokio::test]
async fn bad_input_names_line_and_column_and_stores_nothing() {
    let mut f = fixture().await;
    let e = load(
        &mut f,
        "(FORMAT csv)",
        b"2024-01-01 00:00:00+00,a,b\nnot a time,a,b\n",
        7,
    )
    .await
    .unwrap_err();
    assert_eq!(
        e,
        "invalid input syntax for type timestamp with time zone: \"not a time\" \
         (COPY t, line 2, column time: \"not a time\")"
    );
    let e = load(&mut f, "", b"2024-01-01 00:00:00+00\ta\xff\tb\n", 3)
        .await
        .unwrap_err();
    assert!(
        e.starts_with("invalid byte sequence for encoding \"UTF8\": 0xff"),
        "{e}"
    );
    let e = load(
        &mut f,
        "(FORMAT binary)",
        b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0\0\x03\0\0",
        4,
    )
    .await
    .unwrap_err();
    assert_eq!(e, "unexpected EOF in COPY data ()");
    assert_eq!(dump(&mut f, CSV_OUT).await, "");
}

/// A record longer than the limit (1 GiB; 64 bytes here) is refused with
/// PostgreSQL's program_limit_exceeded, and the records before it are not
/// stored either.
#[tokio::test]
async fn a_record_longer_than_the_limit_is_refused_and_stores_nothing() {
    let mut f = fixture().await;
    for csv in ["(FORMAT csv)", ""] {
        let mut copy = copy_in(&mut f, &format!("COPY t FROM STDIN {csv}")).await;
        copy.set_block_bytes(16);
        copy.set_max_record_bytes(64);
        let sep = if csv.is_empty() { '\t' } else { ',' };
        let ok = format!("2024-01-01 00:00:00+00{sep}a{sep}b\n");
        let long = format!("2024-01-01 00:00:01+00{sep}{}{sep}b\n", "x".repeat(60));
        let data = format!("{ok}{ok}{long}{ok}");
        for piece in data.as_bytes().chunks(7) {
            copy.feed(piece);
        }
        let e = copy.finish().await.unwrap_err();
        assert_eq!(e.sqlstate, Some("54000"));
        assert_eq!(e.message, "COPY record at line 3 is longer than 64 bytes");
    }
    assert_eq!(dump(&mut f, CSV_OUT).await, "");
    // A record of exactly the limit (its newline aside) loads, fed a byte
    // at a time.
    let at_limit = format!("2024-01-01 00:00:01+00,{},b\n", "x".repeat(39));
    assert_eq!(at_limit.len(), 64 + 1);
    let mut copy = copy_in(&mut f, "COPY t FROM STDIN (FORMAT csv)").await;
    copy.set_max_record_bytes(64);
    for byte in at_limit.as_bytes().chunks(1) {
        copy.feed(byte);
    }
    assert_eq!(copy.finish().await.unwrap(), 1);
}

/// Values are parsed a column at a time; the error reported is still the
/// first bad field in input order (line, then column), also when a later
/// record has the wrong number of fields or an open quote.
#[tokio::test]
async fn the_first_bad_field_in_input_order_is_reported() {
    let mut f = fixture().await;
    f.session
        .run("CREATE TABLE m (time TIMESTAMPTZ NOT NULL, x INT, y FLOAT8)")
        .await
        .unwrap();
    let cases: [(&[u8], &str); 5] = [
        (
            b"2024-01-01 00:00:00+00,1,oops\n2024-01-01 00:00:01+00,bad,2\n",
            "invalid input syntax for type double precision: \"oops\" \
             (COPY m, line 1, column y: \"oops\")",
        ),
        (
            b"2024-01-01 00:00:00+00,1,2\n2024-01-01 00:00:01+00,zz,zz\n",
            "invalid input syntax for type integer: \"zz\" (COPY m, line 2, column x: \"zz\")",
        ),
        (
            b"2024-01-01 00:00:00+00,1,2\n2024-01-01 00:00:01+00,x,2\n2024-01-01 00:00:02+00,1\n",
            "invalid input syntax for type integer: \"x\" (COPY m, line 2, column x: \"x\")",
        ),
        (
            b"2024-01-01 00:00:00+00,1,2\n2024-01-01 00:00:02+00,1\n2024-01-01 00:00:01+00,x,2\n",
            "missing data for column \"y\" (COPY m, line 2: \"2024-01-01 00:00:02+00,1\")",
        ),
        (
            b"2024-01-01 00:00:00+00,\"q\",2\n2024-01-01 00:00:01+00,1,\"2\n",
            "invalid input syntax for type integer: \"q\" (COPY m, line 1, column x: \"q\")",
        ),
    ];
    for (data, want) in cases {
        for block in [1, 1 << 20] {
            let got = load_into(&mut f, "m", "(FORMAT csv)", data, 5, block).await;
            assert_eq!(got.unwrap_err(), want, "block {block}");
        }
    }
    assert_eq!(dump(&mut f, "COPY m TO STDOUT").await, "");
}

#[tokio::test]
async fn binary_round_trip_fed_byte_by_byte() {
    let mut f = fixture().await;
    f.session
        .run("INSERT INTO t VALUES ('2024-01-01 00:00:00+00', 'x', NULL), ('2024-01-02 00:00:00+00', '', 'y')")
        .await
        .unwrap();
    let out = f
        .session
        .run("COPY t TO STDOUT (FORMAT binary)")
        .await
        .unwrap();
    let Some(Output::CopyOut(mut copy)) = out.into_iter().next() else {
        panic!("not a COPY OUT");
    };
    let mut messages = Vec::new();
    while let Some(c) = copy.chunks.next().await {
        let c = c.unwrap();
        messages.extend(c.messages);
    }
    // Header with the first row, one message per row, then the trailer.
    assert_eq!(messages.len(), 3);
    assert!(messages[0].starts_with(b"PGCOPY\n\xff\r\n\0"));
    assert_eq!(&messages[2][..], b"\xff\xff");
    let data: Vec<u8> = messages.concat();
    f.session
        .run("CREATE TABLE t2 (time TIMESTAMPTZ NOT NULL, a TEXT, b TEXT)")
        .await
        .unwrap();
    let out = f
        .session
        .run("COPY t2 FROM STDIN (FORMAT binary)")
        .await
        .unwrap();
    let Some(Output::CopyIn(mut copy)) = out.into_iter().next() else {
        panic!("not a COPY IN");
    };
    for b in &data {
        copy.feed(std::slice::from_ref(b));
    }
    assert_eq!(copy.finish().await.unwrap(), 2);
    assert_eq!(
        dump(
            &mut f,
            "COPY (SELECT * FROM t2 ORDER BY time) TO STDOUT (FORMAT csv)"
        )
        .await,
        "2024-01-01 00:00:00+00,x,\n2024-01-02 00:00:00+00,\"\",y\n"
    );
}

/// A COPY larger than one sorted run writes segments while it streams;
/// they stay invisible until CopyDone, and a bad last row removes them.
#[tokio::test]
async fn large_copy_is_atomic_across_segment_runs() {
    let dir = tempfile::tempdir().unwrap();
    let options = lynx_storage::DatabaseOptions {
        max_memtable_bytes: 4 << 20, // runs of 1 MiB
        ..Default::default()
    };
    let db = Arc::new(Database::open_with(dir.path(), options).unwrap());
    let engine = Engine::new(db.clone()).unwrap();
    let session = engine.session("lynx", None);
    let mut f = Fixture { session, _dir: dir };
    f.session
        .run("CREATE TABLE t (time TIMESTAMPTZ NOT NULL, a TEXT, b TEXT)")
        .await
        .unwrap();
    let mut data = String::new();
    for i in 0..60_000 {
        data.push_str(&format!(
            "2024-01-01 00:00:{:02}.{i:06}+00\thost-{}\t{}\n",
            i % 60,
            i % 7,
            "x".repeat(20)
        ));
    }
    let segments = || {
        std::fs::read_dir(db.dir().join("segments"))
            .unwrap()
            .count()
    };
    let mut bad = data.clone();
    bad.push_str("never\ta\tb\n");
    let e = load(&mut f, "", bad.as_bytes(), 1 << 16).await.unwrap_err();
    assert!(e.contains("line 60001"), "{e}");
    assert_eq!(segments(), 0);
    assert_eq!(
        load(&mut f, "", data.as_bytes(), 1 << 16).await.unwrap(),
        60_000
    );
    assert!(segments() > 1, "the input spans several runs");
    let out = f.session.run("SELECT count(*) FROM t").await.unwrap();
    let Some(Output::Rows { mut stream, .. }) = out.into_iter().next() else {
        panic!("not rows");
    };
    let batch = stream.next().await.unwrap().unwrap();
    assert_eq!(
        datafusion::arrow::util::display::array_value_to_string(batch.column(0), 0).unwrap(),
        "60000"
    );
}

/// The copy handle of `sql`, a COPY FROM STDIN statement.
async fn copy_in(f: &mut Fixture, sql: &str) -> Box<crate::copy::CopyIn> {
    let out = f.session.run(sql).await.unwrap();
    let Some(Output::CopyIn(copy)) = out.into_iter().next() else {
        panic!("not a COPY IN");
    };
    copy
}

/// Feeds `data` to `COPY <table> FROM STDIN <options>` in `chunk`-byte
/// messages parsed in blocks of about `block` bytes.
async fn load_into(
    f: &mut Fixture,
    table: &str,
    options: &str,
    data: &[u8],
    chunk: usize,
    block: usize,
) -> Result<u64, String> {
    let out = f
        .session
        .run(&format!("COPY {table} FROM STDIN {options}"))
        .await
        .map_err(|e| e.message)?;
    let Some(Output::CopyIn(mut copy)) = out.into_iter().next() else {
        panic!("not a COPY IN");
    };
    copy.set_block_bytes(block);
    for piece in data.chunks(chunk.max(1)) {
        copy.feed(piece);
    }
    copy.finish()
        .await
        .map_err(|e| format!("{} ({})", e.message, e.context.unwrap_or_default()))
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
    /// However the input is cut into messages and parsing blocks, CSV and
    /// text input with quotes, escapes, delimiters, newlines and NULLs
    /// load the same rows as the whole input parsed at once.
    #[test]
    fn splitting_the_input_never_changes_the_rows(
        values in proptest::collection::vec(
            proptest::option::of("[a,\"\\\\\n\r\té.]{0,6}"), 2..40),
        csv in proptest::bool::ANY,
        chunk in 1usize..64,
        block in 1usize..200,
    ) {
        let mut data = String::new();
        for (i, pair) in values.chunks(2).enumerate() {
            let field = |v: &Option<String>| match (v, csv) {
                (None, true) => String::new(),
                (None, false) => "\\N".to_string(),
                (Some(s), true) => format!("\"{}\"", s.replace('"', "\"\"")),
                (Some(s), false) => s
                    .replace('\\', "\\\\")
                    .replace('\n', "\\n")
                    .replace('\r', "\\r")
                    .replace('\t', "\\t"),
            };
            let sep = if csv { "," } else { "\t" };
            let b = pair.get(1).cloned().flatten();
            data.push_str(&format!("2024-01-01 00:00:{:02}+00{sep}{}{sep}{}\n", i % 60, field(&pair[0]), field(&b)));
        }
        let options = if csv { "(FORMAT csv)" } else { "" };
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let mut f = fixture().await;
            f.session.run("CREATE TABLE whole (time TIMESTAMPTZ NOT NULL, a TEXT, b TEXT)").await.unwrap();
            let rows = values.len().div_ceil(2) as u64;
            assert_eq!(load_into(&mut f, "whole", options, data.as_bytes(), data.len(), usize::MAX).await, Ok(rows));
            assert_eq!(load_into(&mut f, "t", options, data.as_bytes(), chunk, block).await, Ok(rows));
            let sql = |t: &str| format!("COPY (SELECT a, b FROM {t} ORDER BY time, a, b) TO STDOUT (FORMAT csv)");
            let whole = dump(&mut f, &sql("whole")).await;
            assert_eq!(dump(&mut f, &sql("t")).await, whole);
        });
    }
}
