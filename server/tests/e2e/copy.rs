//! COPY FROM STDIN / TO STDOUT through real clients: psql `\copy` and
//! tokio-postgres `copy_in` / `copy_out` in text, CSV and binary; bad input
//! with its SQLSTATE and nothing stored; server-side file confinement.

use bytes::{BufMut, Bytes, BytesMut};
use futures::{pin_mut, SinkExt, TryStreamExt};
use tokio_postgres::binary_copy::{BinaryCopyInWriter, BinaryCopyOutStream};
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type};

use crate::harness::Server;

const ALL_TYPES: &str = "CREATE TABLE {t} (time TIMESTAMPTZ NOT NULL, ts TIMESTAMP, d DATE, \
    f8 DOUBLE PRECISION, f4 REAL, i8 BIGINT, i4 INTEGER, i2 SMALLINT, b BOOLEAN, s TEXT, \
    by BYTEA, n NUMERIC(10,3))";

/// The two rows every format round-trips, as PostgreSQL 16 prints them in
/// COPY text format.
const TEXT_ROWS: &str = "2024-01-02 03:04:05.123456+00\t2024-01-02 03:04:05\t2024-02-29\t0.1\t1.5\t9000000000\t-7\t300\tt\ttab\\there\\nnew \\\\ slash\t\\\\xdead\t12.345\n\
    2024-01-03 00:00:00+00\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n";

const CSV_ROWS: &str = "time,ts,d,f8,f4,i8,i4,i2,b,s,by,n\n\
    2024-01-02 03:04:05.123456+00,2024-01-02 03:04:05,2024-02-29,0.1,1.5,9000000000,-7,300,t,\"tab\there\nnew \\ slash\",\\xdead,12.345\n\
    2024-01-03 00:00:00+00,,,,,,,,,,,\n";

fn create(t: &str) -> String {
    ALL_TYPES.replace("{t}", t)
}

/// A value in its binary wire form, for types tokio-postgres has no Rust
/// type for (numeric), and to read any column back as raw bytes.
#[derive(Debug, PartialEq)]
struct Raw(Vec<u8>);

impl ToSql for Raw {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.put_slice(&self.0);
        Ok(IsNull::No)
    }
    fn accepts(_ty: &Type) -> bool {
        true
    }
    tokio_postgres::types::to_sql_checked!();
}

impl<'a> FromSql<'a> for Raw {
    fn from_sql(
        _ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(raw.to_vec()))
    }
    fn accepts(_ty: &Type) -> bool {
        true
    }
}

/// numeric 12.345: 2 digits (base 10000) 12 and 3450, weight 0, dscale 3.
fn numeric_12_345() -> Raw {
    let mut b = Vec::new();
    for v in [2i16, 0, 0, 3, 12, 3450] {
        b.extend_from_slice(&v.to_be_bytes());
    }
    Raw(b)
}

async fn copy_in(
    c: &tokio_postgres::Client,
    sql: &str,
    data: &str,
) -> Result<u64, tokio_postgres::Error> {
    let sink = c.copy_in(sql).await?;
    pin_mut!(sink);
    // Split the data across messages at an awkward place.
    let bytes = data.as_bytes();
    let mid = bytes.len() / 3;
    sink.send(Bytes::copy_from_slice(&bytes[..mid])).await?;
    sink.send(Bytes::copy_from_slice(&bytes[mid..])).await?;
    sink.finish().await
}

async fn copy_out(c: &tokio_postgres::Client, sql: &str) -> Vec<u8> {
    let stream = c.copy_out(sql).await.unwrap();
    let chunks: Vec<Bytes> = stream.try_collect().await.unwrap();
    chunks.concat()
}

async fn count(c: &tokio_postgres::Client, table: &str) -> i64 {
    c.query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn copy_round_trips_every_type_in_text_csv_and_binary() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let c = server.client().await;
    for t in ["bin", "txt", "csv"] {
        c.batch_execute(&create(t)).await.unwrap();
    }

    // Binary in, with BinaryCopyInWriter.
    let types = [
        Type::TIMESTAMPTZ,
        Type::TIMESTAMP,
        Type::DATE,
        Type::FLOAT8,
        Type::FLOAT4,
        Type::INT8,
        Type::INT4,
        Type::INT2,
        Type::BOOL,
        Type::TEXT,
        Type::BYTEA,
        Type::NUMERIC,
    ];
    let sink = c
        .copy_in("COPY bin FROM STDIN (FORMAT binary)")
        .await
        .unwrap();
    let writer = BinaryCopyInWriter::new(sink, &types);
    pin_mut!(writer);
    let time: chrono::DateTime<chrono::Utc> = "2024-01-02T03:04:05.123456Z".parse().unwrap();
    let ts = chrono::NaiveDate::from_ymd_opt(2024, 1, 2)
        .unwrap()
        .and_hms_opt(3, 4, 5)
        .unwrap();
    let d = chrono::NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
    let by: &[u8] = &[0xde, 0xad];
    let s = "tab\there\nnew \\ slash";
    let n = numeric_12_345();
    writer
        .as_mut()
        .write(&[
            &time,
            &ts,
            &d,
            &0.1f64,
            &1.5f32,
            &9_000_000_000i64,
            &-7i32,
            &300i16,
            &true,
            &s,
            &by,
            &n,
        ])
        .await
        .unwrap();
    let time2: chrono::DateTime<chrono::Utc> = "2024-01-03T00:00:00Z".parse().unwrap();
    let null: &Option<Raw> = &None;
    writer
        .as_mut()
        .write(&[
            &time2, null, null, null, null, null, null, null, null, null, null, null,
        ])
        .await
        .unwrap();
    assert_eq!(writer.finish().await.unwrap(), 2);

    // Text out is PostgreSQL's text format, byte for byte. A table has no
    // row order (rows are stored by series), so the exact comparisons
    // order by time and the table form is compared line by line.
    let sorted = |s: String| {
        let mut lines: Vec<String> = s.lines().map(str::to_string).collect();
        lines.sort();
        lines
    };
    assert_eq!(
        sorted(String::from_utf8(copy_out(&c, "COPY bin TO STDOUT").await).unwrap()),
        sorted(TEXT_ROWS.to_string())
    );
    assert_eq!(
        String::from_utf8(copy_out(&c, "COPY (SELECT * FROM bin ORDER BY time) TO STDOUT").await)
            .unwrap(),
        TEXT_ROWS
    );
    assert_eq!(
        String::from_utf8(
            copy_out(
                &c,
                "COPY (SELECT * FROM bin ORDER BY time) TO STDOUT WITH (FORMAT csv, HEADER true)"
            )
            .await
        )
        .unwrap(),
        CSV_ROWS
    );

    // Text and CSV in, from those exact outputs; out again unchanged.
    assert_eq!(
        copy_in(&c, "COPY txt FROM STDIN", TEXT_ROWS).await.unwrap(),
        2
    );
    assert_eq!(
        copy_in(&c, "COPY csv FROM STDIN WITH CSV HEADER", CSV_ROWS)
            .await
            .unwrap(),
        2
    );
    for t in ["txt", "csv"] {
        assert_eq!(
            String::from_utf8(
                copy_out(
                    &c,
                    &format!("COPY (SELECT * FROM {t} ORDER BY time) TO STDOUT")
                )
                .await
            )
            .unwrap(),
            TEXT_ROWS,
            "{t}"
        );
    }

    // Binary out, read with BinaryCopyOutStream.
    let stream = c
        .copy_out("COPY (SELECT * FROM txt ORDER BY time) TO STDOUT (FORMAT binary)")
        .await
        .unwrap();
    let rows: Vec<_> = BinaryCopyOutStream::new(stream, &types)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let r = &rows[0];
    assert_eq!(r.get::<chrono::DateTime<chrono::Utc>>(0), time);
    assert_eq!(r.get::<chrono::NaiveDateTime>(1), ts);
    assert_eq!(r.get::<chrono::NaiveDate>(2), d);
    assert_eq!(r.get::<f64>(3), 0.1);
    assert_eq!(r.get::<f32>(4), 1.5);
    assert_eq!(r.get::<i64>(5), 9_000_000_000);
    assert_eq!(r.get::<i32>(6), -7);
    assert_eq!(r.get::<i16>(7), 300);
    assert!(r.get::<bool>(8));
    assert_eq!(r.get::<&str>(9), s);
    assert_eq!(r.get::<&[u8]>(10), by);
    assert_eq!(r.get::<Raw>(11), numeric_12_345());
    let r = &rows[1];
    assert_eq!(r.get::<chrono::DateTime<chrono::Utc>>(0), time2);
    for i in 1..12 {
        assert_eq!(r.get::<Option<Raw>>(i), None, "column {i}");
    }

    // A column list, NULL/DELIMITER options, zero rows.
    c.batch_execute("CREATE TABLE part (time TIMESTAMPTZ NOT NULL, host TEXT, v INTEGER)")
        .await
        .unwrap();
    let n = copy_in(
        &c,
        "COPY part (v, time) FROM STDIN (DELIMITER '|', NULL 'nil')",
        "1|2024-01-01 00:00:00+00\nnil|2024-01-01 00:00:01+00\n",
    )
    .await
    .unwrap();
    assert_eq!(n, 2);
    assert_eq!(
        String::from_utf8(
            copy_out(&c, "COPY part (time, v) TO STDOUT (FORMAT csv, NULL 'nil')").await
        )
        .unwrap(),
        "2024-01-01 00:00:00+00,1\n2024-01-01 00:00:01+00,nil\n"
    );
    let empty = c
        .copy_out("COPY (SELECT * FROM part WHERE v > 100) TO STDOUT (FORMAT binary)")
        .await
        .unwrap();
    let rows: Vec<_> =
        BinaryCopyOutStream::new(empty, &[Type::TIMESTAMPTZ, Type::TEXT, Type::INT4])
            .try_collect()
            .await
            .unwrap();
    assert!(rows.is_empty());
}

async fn expect_copy_error(
    c: &tokio_postgres::Client,
    sql: &str,
    data: &[u8],
    code: &str,
) -> (String, Option<String>) {
    let sink = c.copy_in(sql).await.unwrap();
    pin_mut!(sink);
    let sent = sink.send(Bytes::copy_from_slice(data)).await;
    let err = match sent {
        Err(e) => e,
        Ok(()) => sink.finish().await.expect_err(sql),
    };
    let db = err
        .as_db_error()
        .unwrap_or_else(|| panic!("{sql}: not a server error: {err}"));
    assert_eq!(db.code().code(), code, "{sql}: {}", db.message());
    (db.message().to_string(), db.where_().map(str::to_string))
}

#[tokio::test]
async fn bad_copy_input_reports_its_sqlstate_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE cpu (time TIMESTAMPTZ NOT NULL, host TEXT, usage DOUBLE PRECISION, cores INTEGER)",
    )
    .await
    .unwrap();
    let good = "2024-01-01 00:00:00+00\ta\t0.5\t4\n";

    let (m, w) = expect_copy_error(
        &c,
        "COPY cpu FROM STDIN",
        format!("{good}2024-01-01 00:00:01+00\tb\tabc\t4\n").as_bytes(),
        "22P02",
    )
    .await;
    assert_eq!(m, "invalid input syntax for type double precision: \"abc\"");
    assert_eq!(
        w.as_deref(),
        Some("COPY cpu, line 2, column usage: \"abc\"")
    );

    let (m, w) = expect_copy_error(
        &c,
        "COPY cpu FROM STDIN",
        format!("{good}2024-01-01 00:00:01+00\tb\t1\n").as_bytes(),
        "22P04",
    )
    .await;
    assert_eq!(m, "missing data for column \"cores\"");
    assert_eq!(
        w.as_deref(),
        Some("COPY cpu, line 2: \"2024-01-01 00:00:01+00\tb\t1\"")
    );
    let (m, _) = expect_copy_error(
        &c,
        "COPY cpu FROM STDIN",
        format!("{good}2024-01-01 00:00:01+00\tb\t1\t2\t3\n").as_bytes(),
        "22P04",
    )
    .await;
    assert_eq!(m, "extra data after last expected column");
    let (m, _) = expect_copy_error(
        &c,
        "COPY cpu FROM STDIN (FORMAT csv)",
        b"2024-01-01 00:00:00+00,a,0.5,4\n2024-01-01 00:00:01+00,\"unterminated,1,2\n",
        "22P04",
    )
    .await;
    assert_eq!(m, "unterminated CSV quoted field");
    let (m, _) = expect_copy_error(
        &c,
        "COPY cpu FROM STDIN",
        format!("{good}\\N\tb\t1\t2\n").as_bytes(),
        "23502",
    )
    .await;
    assert_eq!(
        m,
        "null value in column \"time\" of relation \"cpu\" violates not-null constraint"
    );
    let (m, _) = expect_copy_error(&c, "COPY cpu (host) FROM STDIN", b"a\n", "23502").await;
    assert!(m.contains("\"time\""), "{m}");
    let (m, _) = expect_copy_error(
        &c,
        "COPY cpu FROM STDIN (FORMAT binary)",
        b"NOTPGCOPY-at-all-and-longer-than-the-header",
        "22P04",
    )
    .await;
    assert_eq!(m, "COPY file signature not recognized");
    let (m, _) = expect_copy_error(
        &c,
        "COPY cpu FROM STDIN (FORMAT binary)",
        b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0\0\x01\x00\x00\x00\x08",
        "22P04",
    )
    .await;
    assert_eq!(m, "row field count is 1, expected 4");
    assert_eq!(count(&c, "cpu").await, 0, "nothing stored by failed COPYs");

    // CopyFail from the client: nothing stored, the connection works.
    {
        let sink = c.copy_in::<_, Bytes>("COPY cpu FROM STDIN").await.unwrap();
        pin_mut!(sink);
        sink.send(Bytes::from(good)).await.unwrap();
        // Dropping the sink unfinished makes tokio-postgres send CopyFail.
    }
    assert_eq!(count(&c, "cpu").await, 0);

    // Statement-level errors.
    let Err(err) = c.copy_in::<_, Bytes>("COPY nope FROM STDIN").await else {
        panic!("COPY nope should fail");
    };
    assert_eq!(err.as_db_error().unwrap().code().code(), "42P01");
    let Err(err) = c.copy_in::<_, Bytes>("COPY cpu (nope) FROM STDIN").await else {
        panic!("COPY cpu (nope) should fail");
    };
    assert_eq!(
        err.as_db_error()
            .unwrap_or_else(|| panic!("{err}"))
            .code()
            .code(),
        "42703"
    );
    let err = c
        .simple_query("COPY cpu FROM STDIN (FORMAT xml)")
        .await
        .unwrap_err();
    assert_eq!(err.as_db_error().unwrap().code().code(), "22023");

    // Good data still loads afterwards.
    assert_eq!(copy_in(&c, "COPY cpu FROM STDIN", good).await.unwrap(), 1);
    assert_eq!(count(&c, "cpu").await, 1);
}

#[test]
fn psql_copy_from_and_to_files_in_text_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    server.psql_ok(&[
        "-c",
        "CREATE TABLE cpu (time TIMESTAMPTZ NOT NULL, host TEXT, usage DOUBLE PRECISION, cores INTEGER)",
    ]);
    let text = dir.path().join("in.txt");
    std::fs::write(
        &text,
        "2024-01-01 00:00:00+00\ta\t0.5\t4\n2024-01-01 00:00:10+00\tb\t\\N\t8\n",
    )
    .unwrap();
    let csv = dir.path().join("in.csv");
    std::fs::write(
        &csv,
        "time,host,usage,cores\r\n2024-01-01 00:00:20+00,\"c,\"\"d\"\"\",1.25,\r\n",
    )
    .unwrap();
    let out = server.psql_ok(&[
        "-c",
        &format!("\\copy cpu from '{}'", text.display()),
        "-c",
        &format!(
            "\\copy cpu from '{}' with (format csv, header true)",
            csv.display()
        ),
    ]);
    assert_eq!(out, "COPY 2\nCOPY 1\n");

    let out_txt = dir.path().join("out.txt");
    let out_csv = dir.path().join("out.csv");
    let out = server.psql_ok(&[
        "-c",
        &format!(
            "\\copy (SELECT * FROM cpu ORDER BY time) to '{}'",
            out_txt.display()
        ),
        "-c",
        &format!(
            "\\copy (SELECT * FROM cpu ORDER BY time) to '{}' with csv header",
            out_csv.display()
        ),
    ]);
    assert_eq!(out, "COPY 3\nCOPY 3\n");
    assert_eq!(
        std::fs::read_to_string(&out_txt).unwrap(),
        "2024-01-01 00:00:00+00\ta\t0.5\t4\n\
         2024-01-01 00:00:10+00\tb\t\\N\t8\n\
         2024-01-01 00:00:20+00\tc,\"d\"\t1.25\t\\N\n"
    );
    assert_eq!(
        std::fs::read_to_string(&out_csv).unwrap(),
        "time,host,usage,cores\n\
         2024-01-01 00:00:00+00,a,0.5,4\n\
         2024-01-01 00:00:10+00,b,,8\n\
         2024-01-01 00:00:20+00,\"c,\"\"d\"\"\",1.25,\n"
    );
    // psql's own \copy ... to stdout.
    assert_eq!(
        server.psql_ok(&[
            "-c",
            "\\copy (SELECT host, cores FROM cpu ORDER BY time) to stdout with (format csv)"
        ]),
        "a,4\nb,8\n\"c,\"\"d\"\"\",\n"
    );

    // A bad row: psql shows PostgreSQL's error and context; nothing stored.
    let bad = dir.path().join("bad.txt");
    std::fs::write(
        &bad,
        "2024-01-02 00:00:00+00\tz\t1\t1\n2024-01-02 00:00:01+00\tz\t1\tx\n",
    )
    .unwrap();
    let out = server.psql(&["-c", &format!("\\copy cpu from '{}'", bad.display())]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ERROR:  invalid input syntax for type integer: \"x\"")
            && stderr.contains("CONTEXT:  COPY cpu, line 2, column cores: \"x\""),
        "{stderr}"
    );
    assert_eq!(
        server.psql_ok(&["-A", "-t", "-c", "SELECT count(*) FROM cpu"]),
        "3\n"
    );
}

#[tokio::test]
async fn server_side_files_are_confined_to_the_import_dir() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir(&files).unwrap();
    std::fs::write(files.join("in.csv"), "2024-01-01 00:00:00+00,a\n").unwrap();
    std::fs::write(dir.path().join("secret.csv"), "2024-01-01 00:00:00+00,s\n").unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret.csv"), files.join("link.csv")).unwrap();

    // Without --import-dir, server files are off.
    let off = Server::start(&dir.path().join("d1"));
    let c = off.client().await;
    c.batch_execute("CREATE TABLE t (time TIMESTAMPTZ NOT NULL, host TEXT)")
        .await
        .unwrap();
    let err = c
        .simple_query(&format!(
            "COPY t FROM '{}' (FORMAT csv)",
            files.join("in.csv").display()
        ))
        .await
        .unwrap_err();
    let db = err.as_db_error().unwrap();
    assert_eq!(db.code().code(), "42501");
    assert!(db.message().contains("--import-dir"), "{}", db.message());
    drop(off);

    let on = Server::start_with(
        &dir.path().join("d2"),
        &["--import-dir", files.to_str().unwrap()],
    );
    let c = on.client().await;
    c.batch_execute("CREATE TABLE t (time TIMESTAMPTZ NOT NULL, host TEXT)")
        .await
        .unwrap();
    let msgs = c
        .simple_query("COPY t FROM 'in.csv' (FORMAT csv)")
        .await
        .unwrap();
    assert!(matches!(
        msgs.last(),
        Some(tokio_postgres::SimpleQueryMessage::CommandComplete(1))
    ));
    for bad in [
        "COPY t FROM '../secret.csv' (FORMAT csv)".to_string(),
        "COPY t FROM 'link.csv' (FORMAT csv)".to_string(),
        format!(
            "COPY t FROM '{}' (FORMAT csv)",
            dir.path().join("secret.csv").display()
        ),
        "COPY t TO '../out.csv' (FORMAT csv)".to_string(),
        "COPY t TO 'link.csv' (FORMAT csv)".to_string(),
    ] {
        let err = c.simple_query(&bad).await.unwrap_err();
        assert_eq!(err.as_db_error().unwrap().code().code(), "42501", "{bad}");
    }
    c.simple_query("COPY t TO 'out.csv' (FORMAT csv, HEADER)")
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(files.join("out.csv")).unwrap(),
        "time,host\n2024-01-01 00:00:00+00,a\n"
    );
    assert_eq!(count(&c, "t").await, 1);
}

/// `read_parquet` queries a file in the import directory without importing
/// it, joins it with a stored table, and is confined like COPY.
#[tokio::test]
async fn read_parquet_queries_files_in_the_import_dir_and_joins_stored_tables() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir(&files).unwrap();
    std::fs::write(dir.path().join("outside.parquet"), b"PAR1").unwrap();
    let server = Server::start_with(
        &dir.path().join("data"),
        &["--import-dir", files.to_str().unwrap()],
    );
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE cpu (time TIMESTAMPTZ NOT NULL, host TEXT, usage DOUBLE PRECISION);
         INSERT INTO cpu VALUES ('2024-01-01 00:00:00+00', 'a', 1.5), ('2024-01-01 00:00:00+00', 'b', 2.5);
         CREATE TABLE hosts (time TIMESTAMPTZ NOT NULL, host TEXT, dc TEXT) WITH (tags = 'host');
         INSERT INTO hosts VALUES ('2024-01-01 00:00:00+00', 'a', 'paris'), ('2024-01-01 00:00:00+00', 'b', 'tokyo');
         COPY (SELECT host, dc FROM hosts) TO 'hosts.parquet' (FORMAT parquet);",
    )
    .await
    .unwrap();
    let rows: Vec<(String, f64)> = c
        .query(
            "SELECT h.dc, c.usage FROM cpu c JOIN read_parquet('hosts.parquet') h ON c.host = h.host ORDER BY h.dc",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        rows,
        vec![("paris".to_string(), 1.5), ("tokyo".to_string(), 2.5)]
    );
    for bad in ["../outside.parquet", "/etc/passwd"] {
        let err = c
            .query(&format!("SELECT * FROM read_parquet('{bad}')"), &[])
            .await
            .unwrap_err();
        assert_eq!(
            err.as_db_error().unwrap().code().code(),
            "42501",
            "{bad}: {err}"
        );
    }
    // A file that is not Parquet is a clear error, and the session goes on.
    std::fs::write(files.join("junk.parquet"), b"not parquet at all").unwrap();
    let err = c
        .query("SELECT * FROM read_parquet('junk.parquet')", &[])
        .await
        .unwrap_err();
    let msg = err.as_db_error().unwrap().message().to_string();
    assert!(msg.contains("is not a readable Parquet file"), "{msg}");
    assert_eq!(
        c.query("SELECT count(*) FROM cpu", &[])
            .await
            .unwrap()
            .len(),
        1
    );
}
