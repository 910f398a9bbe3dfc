//! Every supported type, written with binary parameters and read back in
//! binary (extended protocol) and text (simple protocol) formats.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use tokio_postgres::types::Type;
use tokio_postgres::SimpleQueryMessage;

use crate::harness::Server;

const CREATE: &str = "CREATE TABLE all_types (time TIMESTAMPTZ NOT NULL, ts TIMESTAMP, d DATE, \
    f8 DOUBLE PRECISION, f4 REAL, i8 BIGINT, i4 INTEGER, i2 SMALLINT, b BOOLEAN, t TEXT, \
    v VARCHAR(20), by BYTEA, n NUMERIC(10,2))";

fn text_rows(msgs: Vec<SimpleQueryMessage>) -> Vec<Vec<Option<String>>> {
    msgs.into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
            }
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn every_type_round_trips_in_binary_and_text() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let c = server.client().await;
    c.batch_execute(CREATE).await.unwrap();

    let time: DateTime<Utc> = "2024-01-02T03:04:05.5Z".parse().unwrap();
    let ts = NaiveDateTime::parse_from_str("2024-01-02 03:04:05.123456", "%Y-%m-%d %H:%M:%S%.f")
        .unwrap();
    let d = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
    let insert = c
        .prepare(
            "INSERT INTO all_types (time, ts, d, f8, f4, i8, i4, i2, b, t, v, by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .await
        .unwrap();
    let n = c
        .execute(
            &insert,
            &[
                &time,
                &ts,
                &d,
                &0.1f64,
                &1.5f32,
                &9_007_199_254_740_993i64,
                &-42i32,
                &7i16,
                &true,
                &"héllo",
                &"v",
                &vec![0u8, 1, 255],
            ],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    // NULLs in every nullable column, and a numeric through the simple protocol.
    c.batch_execute("INSERT INTO all_types (time, n) VALUES ('2024-01-03 00:00:00+00', 12.5)")
        .await
        .unwrap();

    let text = text_rows(
        c.simple_query("SELECT * FROM all_types ORDER BY time")
            .await
            .unwrap(),
    );
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        text[0],
        vec![
            s("2024-01-02 03:04:05.5+00"),
            s("2024-01-02 03:04:05.123456"),
            s("2024-02-29"),
            s("0.1"),
            s("1.5"),
            s("9007199254740993"),
            s("-42"),
            s("7"),
            s("t"),
            s("héllo"),
            s("v"),
            s("\\x0001ff"),
            None,
        ]
    );
    let mut expected_nulls = vec![s("2024-01-03 00:00:00+00")];
    expected_nulls.extend(std::iter::repeat_n(None, 11));
    expected_nulls.push(s("12.50"));
    assert_eq!(text[1], expected_nulls);

    let rows = c
        .query("SELECT * FROM all_types ORDER BY time", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let types: Vec<Type> = rows[0]
        .columns()
        .iter()
        .map(|c| c.type_().clone())
        .collect();
    assert_eq!(
        types,
        vec![
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
            Type::VARCHAR,
            Type::BYTEA,
            Type::NUMERIC
        ]
    );
    let r = &rows[0];
    assert_eq!(r.get::<_, DateTime<Utc>>(0), time);
    assert_eq!(r.get::<_, NaiveDateTime>(1), ts);
    assert_eq!(r.get::<_, NaiveDate>(2), d);
    assert_eq!(r.get::<_, f64>(3), 0.1);
    assert_eq!(r.get::<_, f32>(4), 1.5);
    assert_eq!(r.get::<_, i64>(5), 9_007_199_254_740_993);
    assert_eq!(r.get::<_, i32>(6), -42);
    assert_eq!(r.get::<_, i16>(7), 7);
    assert!(r.get::<_, bool>(8));
    assert_eq!(r.get::<_, &str>(9), "héllo");
    assert_eq!(r.get::<_, &str>(10), "v");
    assert_eq!(r.get::<_, Vec<u8>>(11), vec![0u8, 1, 255]);
    // NULLs in binary: (the text form of the same rows is checked above).
    assert_eq!(rows[1].get::<_, Option<NaiveDateTime>>(1), None);
    assert_eq!(rows[1].get::<_, Option<f64>>(3), None);
    assert_eq!(rows[1].get::<_, Option<Vec<u8>>>(11), None);
}

#[tokio::test]
async fn literals_and_time_arithmetic_have_postgres_types_and_text() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let c = server.client().await;
    let stmt = c
        .prepare(
            "SELECT 1::int2 AS a, 2::int4 AS b, 3::int8 AS c, 1.25::float4 AS d, 2.5::float8 AS e, \
             true AS f, 'x'::text AS g, DATE '2024-01-01' AS h, INTERVAL '1 day 02:00:00' AS i, \
             TIMESTAMPTZ '2024-01-01 00:00:00+00' + INTERVAL '90 minutes' AS j, NULL::int4 AS k",
        )
        .await
        .unwrap();
    let types: Vec<Type> = stmt.columns().iter().map(|c| c.type_().clone()).collect();
    assert_eq!(
        types,
        vec![
            Type::INT2,
            Type::INT4,
            Type::INT8,
            Type::FLOAT4,
            Type::FLOAT8,
            Type::BOOL,
            Type::TEXT,
            Type::DATE,
            Type::INTERVAL,
            Type::TIMESTAMPTZ,
            Type::INT4
        ]
    );
    let text = text_rows(
        c.simple_query(
            "SELECT 1::int2, 2.5::float8, 1e100::float8, 'NaN'::float8, INTERVAL '1 day 02:00:00', \
             TIMESTAMPTZ '2024-01-01 00:00:00+00' + INTERVAL '90 minutes', NULL::int4",
        )
        .await
        .unwrap(),
    );
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        text[0],
        vec![
            s("1"),
            s("2.5"),
            s("1e+100"),
            s("NaN"),
            s("1 day 02:00:00"),
            s("2024-01-01 01:30:00+00"),
            None
        ]
    );
}

#[tokio::test]
async fn varchar_length_is_enforced_like_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE vc (time TIMESTAMPTZ NOT NULL, code VARCHAR(3), note CHARACTER VARYING)",
    )
    .await
    .unwrap();
    let err = c
        .batch_execute("INSERT INTO vc VALUES ('2024-01-01 00:00:00+00', 'ab', 'x'), ('2024-01-01 00:00:01+00', 'abcd', 'y')")
        .await
        .unwrap_err();
    let db = err.as_db_error().unwrap();
    assert_eq!(db.code().code(), "22001");
    assert_eq!(db.message(), "value too long for type character varying(3)");
    // Three characters in six bytes fit; spaces beyond the limit are cut.
    c.batch_execute("INSERT INTO vc VALUES ('2024-01-01 00:00:02+00', 'äöü', NULL), ('2024-01-01 00:00:03+00', 'ab    ', 'long text is fine here')")
        .await
        .unwrap();
    let insert = c
        .prepare("INSERT INTO vc (time, code) VALUES ('2024-01-01 00:00:04+00', $1)")
        .await
        .unwrap();
    assert_eq!(insert.params(), &[Type::VARCHAR]);
    let err = c.execute(&insert, &[&"wxyz"]).await.unwrap_err();
    assert_eq!(err.as_db_error().unwrap().code().code(), "22001");
    c.execute(&insert, &[&"wxy"]).await.unwrap();
    let rows = c
        .query("SELECT code, note FROM vc ORDER BY time", &[])
        .await
        .unwrap();
    assert_eq!(rows[0].columns()[0].type_(), &Type::VARCHAR);
    let got: Vec<(String, Option<String>)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        got,
        vec![
            ("äöü".to_string(), None),
            (
                "ab ".to_string(),
                Some("long text is fine here".to_string())
            ),
            ("wxy".to_string(), None),
        ]
    );
}
