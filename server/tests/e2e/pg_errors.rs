//! Errors carry PostgreSQL's SQLSTATE and leave the session usable.

use crate::harness::Server;

async fn expect_code(c: &tokio_postgres::Client, sql: &str, code: &str) -> String {
    let err = c.simple_query(sql).await.expect_err(sql);
    let db = err
        .as_db_error()
        .unwrap_or_else(|| panic!("{sql}: not a server error: {err}"));
    assert_eq!(db.code().code(), code, "{sql}: {}", db.message());
    // The session keeps working after every error.
    let rows = c.query_one("SELECT 41 + 1", &[]).await.unwrap();
    assert_eq!(rows.get::<_, i64>(0), 42);
    db.message().to_string()
}

#[tokio::test]
async fn errors_have_the_right_sqlstate_and_the_session_survives() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE cpu (time TIMESTAMPTZ NOT NULL, host TEXT, usage DOUBLE PRECISION)",
    )
    .await
    .unwrap();

    let m = expect_code(&c, "SELEC 1", "42601").await;
    assert_eq!(m, "syntax error at or near \"SELEC\"");
    let m = expect_code(&c, "SELECT * FROM nope", "42P01").await;
    assert_eq!(m, "relation \"nope\" does not exist");
    let m = expect_code(&c, "SELECT nope FROM cpu", "42703").await;
    assert_eq!(m, "column \"nope\" does not exist");
    let m = expect_code(&c, "CREATE TABLE cpu (time TIMESTAMPTZ NOT NULL)", "42P07").await;
    assert_eq!(m, "relation \"cpu\" already exists");
    let m = expect_code(&c, "SELECT 1 / 0", "22012").await;
    assert_eq!(m, "division by zero");
    let m = expect_code(&c, "SELECT 'abc'::int", "22P02").await;
    assert_eq!(m, "invalid input syntax for type integer: \"abc\"");
    expect_code(&c, "INSERT INTO cpu (host) VALUES ('a')", "23502").await;
    expect_code(&c, "SET no_such_setting = 1", "42704").await;
    expect_code(&c, "SET TimeZone = 'Mars/Base'", "22023").await;
    for zero_stride in [
        "SELECT date_bin(INTERVAL '0 minutes', TIMESTAMPTZ '2024-01-01 00:05:00+00')",
        "SELECT time_bucket(INTERVAL '0 minutes', TIMESTAMPTZ '2024-01-01 00:05:00+00')",
    ] {
        let m = expect_code(&c, zero_stride, "22023").await;
        assert_eq!(m, "stride must be greater than zero");
    }

    // A failed INSERT wrote nothing.
    let n: i64 = c
        .query_one("SELECT count(*) FROM cpu", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}

#[tokio::test]
async fn a_bind_with_the_wrong_parameter_count_is_a_protocol_violation() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut raw = crate::pg_protocol::RawClient::connect(server.pg_port);
    // Parse "SELECT $1::int4 + 1", then Bind with zero parameters.
    let code = raw.parse_bind_error("SELECT $1::int4 + 1", 0);
    assert_eq!(code, "08P01");
    assert_eq!(raw.simple_query_first_value("SELECT 7"), "7");
}
