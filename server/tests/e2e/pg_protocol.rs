//! Protocol behaviour: multi-statement and empty queries, prepared
//! statements, portals with row limits, settings, session functions.

use std::io::{Read, Write};
use std::net::TcpStream;

use tokio_postgres::SimpleQueryMessage;

use crate::harness::Server;

/// A minimal frontend speaking raw protocol messages, for cases drivers
/// refuse to produce (e.g. a Bind with the wrong parameter count).
pub struct RawClient {
    s: TcpStream,
}

impl RawClient {
    pub fn connect(port: u16) -> RawClient {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut body = Vec::new();
        body.extend_from_slice(&196608i32.to_be_bytes());
        for kv in ["user", "lynx", "database", "lynx"] {
            body.extend_from_slice(kv.as_bytes());
            body.push(0);
        }
        body.push(0);
        let mut msg = ((body.len() + 4) as i32).to_be_bytes().to_vec();
        msg.extend(body);
        s.write_all(&msg).unwrap();
        let mut c = RawClient { s };
        c.until_ready();
        c
    }

    fn send(&mut self, tag: u8, body: &[u8]) {
        let mut msg = vec![tag];
        msg.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
        msg.extend_from_slice(body);
        self.s.write_all(&msg).unwrap();
    }

    fn read(&mut self) -> (u8, Vec<u8>) {
        let mut head = [0u8; 5];
        self.s.read_exact(&mut head).unwrap();
        let len = i32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut body = vec![0u8; len - 4];
        self.s.read_exact(&mut body).unwrap();
        (head[0], body)
    }

    /// Reads until ReadyForQuery; returns every message before it.
    fn until_ready(&mut self) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        loop {
            let m = self.read();
            if m.0 == b'Z' {
                return out;
            }
            out.push(m);
        }
    }

    /// Sends Parse + Bind(with `nparams` NULL parameters) + Sync and returns
    /// the SQLSTATE of the error the server answers with.
    pub fn parse_bind_error(&mut self, sql: &str, nparams: i16) -> String {
        let mut parse = vec![0u8];
        parse.extend_from_slice(sql.as_bytes());
        parse.push(0);
        parse.extend_from_slice(&0i16.to_be_bytes());
        self.send(b'P', &parse);
        let mut bind = vec![0u8, 0u8];
        bind.extend_from_slice(&0i16.to_be_bytes());
        bind.extend_from_slice(&nparams.to_be_bytes());
        for _ in 0..nparams {
            bind.extend_from_slice(&(-1i32).to_be_bytes());
        }
        bind.extend_from_slice(&0i16.to_be_bytes());
        self.send(b'B', &bind);
        let mut exec = vec![0u8];
        exec.extend_from_slice(&0i32.to_be_bytes());
        self.send(b'E', &exec);
        self.send(b'S', &[]);
        let msgs = self.until_ready();
        let err = msgs.iter().find(|m| m.0 == b'E').expect("an ErrorResponse");
        error_field(&err.1, b'C')
    }

    pub fn simple_query_first_value(&mut self, sql: &str) -> String {
        let mut q = sql.as_bytes().to_vec();
        q.push(0);
        self.send(b'Q', &q);
        let msgs = self.until_ready();
        let row = msgs.iter().find(|m| m.0 == b'D').expect("a DataRow");
        let len = i32::from_be_bytes([row.1[2], row.1[3], row.1[4], row.1[5]]) as usize;
        String::from_utf8(row.1[6..6 + len].to_vec()).unwrap()
    }
}

fn error_field(body: &[u8], field: u8) -> String {
    let mut i = 0;
    while i < body.len() && body[i] != 0 {
        let end = i + 1 + body[i + 1..].iter().position(|b| *b == 0).unwrap();
        if body[i] == field {
            return String::from_utf8_lossy(&body[i + 1..end]).into_owned();
        }
        i = end + 1;
    }
    panic!("no field {} in error", field as char);
}

fn values(msgs: &[SimpleQueryMessage]) -> Vec<Vec<String>> {
    msgs.iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).unwrap_or("NULL").to_string())
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn simple_protocol_runs_every_statement_and_handles_empty_queries() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let c = server.client().await;
    let msgs = c
        .simple_query(
            "CREATE TABLE m (time TIMESTAMPTZ NOT NULL, host TEXT, v DOUBLE PRECISION); \
             INSERT INTO m VALUES ('2024-01-01 00:00:00+00', 'a', 1), ('2024-01-01 00:00:10+00', 'b', 2); \
             SELECT host, v FROM m ORDER BY host; SELECT count(*) FROM m",
        )
        .await
        .unwrap();
    let completes: Vec<u64> = msgs
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::CommandComplete(n) => Some(*n),
            _ => None,
        })
        .collect();
    assert_eq!(completes, vec![0, 2, 2, 1]);
    assert_eq!(
        values(&msgs),
        vec![vec!["a", "1"], vec!["b", "2"], vec!["2"]]
    );
    let empty = c.simple_query(";").await.unwrap();
    assert!(empty
        .iter()
        .all(|m| !matches!(m, SimpleQueryMessage::Row(_))));
    c.batch_execute("-- just a comment").await.unwrap();
}

#[tokio::test]
async fn prepared_statements_are_reused_and_portals_respect_row_limits() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut c = server.client().await;
    c.batch_execute("CREATE TABLE p (time TIMESTAMPTZ NOT NULL, host TEXT, v BIGINT)")
        .await
        .unwrap();
    let insert = c
        .prepare("INSERT INTO p (time, host, v) VALUES ($1, $2, $3)")
        .await
        .unwrap();
    let base: chrono::DateTime<chrono::Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
    for i in 0..100i64 {
        let t = base + chrono::Duration::seconds(i);
        c.execute(&insert, &[&t, &format!("h{}", i % 3), &i])
            .await
            .unwrap();
    }
    let by_host = c
        .prepare("SELECT count(*), sum(v) FROM p WHERE host = $1")
        .await
        .unwrap();
    for (host, count, sum) in [("h0", 34i64, 1683i64), ("h1", 33, 1617), ("h2", 33, 1650)] {
        let r = c.query_one(&by_host, &[&host]).await.unwrap();
        assert_eq!((r.get::<_, i64>(0), r.get::<_, i64>(1)), (count, sum));
    }
    let tx = c.transaction().await.unwrap();
    let stmt = tx
        .prepare("SELECT v FROM p WHERE v < $1 ORDER BY v")
        .await
        .unwrap();
    let portal = tx.bind(&stmt, &[&10i64]).await.unwrap();
    let mut got = Vec::new();
    loop {
        let rows = tx.query_portal(&portal, 4).await.unwrap();
        if rows.is_empty() {
            break;
        }
        assert!(rows.len() <= 4);
        got.extend(rows.iter().map(|r| r.get::<_, i64>(0)));
    }
    assert_eq!(got, (0..10).collect::<Vec<_>>());
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn settings_and_session_functions_answer_like_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let c = server.client().await;
    let one = |sql: &'static str| {
        let c = &c;
        async move { values(&c.simple_query(sql).await.unwrap())[0].clone() }
    };
    assert!(one("SELECT version()").await[0].starts_with("PostgreSQL 16.4"));
    assert_eq!(
        one("SELECT current_schema(), current_database(), current_user").await,
        vec!["public", "lynx", "lynx"]
    );
    let pid: i32 = c
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(pid > 0);
    for (set, show, expected) in [
        (
            "SET client_encoding = 'UTF8'",
            "SHOW client_encoding",
            "UTF8",
        ),
        ("SET DateStyle = 'ISO, MDY'", "SHOW DateStyle", "ISO, MDY"),
        ("SET extra_float_digits = 3", "SHOW extra_float_digits", "3"),
        (
            "SET application_name = 'e2e'",
            "SHOW application_name",
            "e2e",
        ),
        ("SET search_path TO public", "SHOW search_path", "public"),
        ("SET statement_timeout = 0", "SHOW statement_timeout", "0"),
        (
            "SET TIME ZONE 'Asia/Kolkata'",
            "SHOW TimeZone",
            "Asia/Kolkata",
        ),
    ] {
        c.batch_execute(set).await.unwrap();
        assert_eq!(one(show).await, vec![expected], "{show}");
    }
    assert_eq!(
        one("SELECT current_setting('TimeZone')").await,
        vec!["Asia/Kolkata"]
    );
    assert_eq!(
        one("SELECT TIMESTAMPTZ '2024-01-01 00:00:00+00'").await,
        vec!["2024-01-01 05:30:00+05:30"]
    );
    c.batch_execute("BEGIN; COMMIT; BEGIN; ROLLBACK")
        .await
        .unwrap();
    assert_eq!(
        one("SHOW transaction isolation level").await,
        vec!["read committed"]
    );
}

#[tokio::test]
async fn cancel_request_stops_a_running_query() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let c = server.client().await;
    let token = c.cancel_token();
    // A cross join big enough to run for minutes if not cancelled.
    let q = c.simple_query(
        "SELECT count(*) FROM generate_series(1, 100000000) a, generate_series(1, 1000) b WHERE a.value + b.value = 0",
    );
    tokio::pin!(q);
    // Keep asking until the query ends: a cancel that arrives before the
    // query started is ignored, as in PostgreSQL.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    let res = loop {
        tokio::select! {
            r = &mut q => break r,
            _ = tokio::time::sleep(std::time::Duration::from_millis(50)) => {
                assert!(tokio::time::Instant::now() < deadline, "query was not cancelled within 60 s");
                token.cancel_query(tokio_postgres::NoTls).await.unwrap();
            }
        }
    };
    let err = res.expect_err("the query should be cancelled");
    assert_eq!(
        err.as_db_error().map(|e| e.code().code()),
        Some("57014"),
        "{err}"
    );
    let r = c.query_one("SELECT 1::int4", &[]).await.unwrap();
    assert_eq!(r.get::<_, i32>(0), 1);
}

#[tokio::test]
async fn statement_timeout_cancels_long_statements() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let c = server.client().await;
    c.batch_execute("SET statement_timeout = '200ms'")
        .await
        .unwrap();
    let err = c
        .simple_query(
            "SELECT count(*) FROM generate_series(1, 100000000) a, generate_series(1, 1000) b WHERE a.value + b.value = 0",
        )
        .await
        .expect_err("the statement should time out");
    let db = err.as_db_error().expect("a server error");
    assert_eq!(db.code().code(), "57014");
    assert_eq!(db.message(), "canceling statement due to statement timeout");
    c.batch_execute("SET statement_timeout = 0").await.unwrap();
    let r = c.query_one("SELECT 2::int4", &[]).await.unwrap();
    assert_eq!(r.get::<_, i32>(0), 2);
}

#[tokio::test]
async fn parameter_types_declared_by_oid_are_used() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let c = server.client().await;
    // Nothing in `SELECT $1` says its type: the OID sent in Parse decides.
    let stmt = c
        .prepare_typed("SELECT $1 AS v", &[tokio_postgres::types::Type::INT8])
        .await
        .unwrap();
    assert_eq!(stmt.params(), &[tokio_postgres::types::Type::INT8]);
    assert_eq!(
        stmt.columns()[0].type_(),
        &tokio_postgres::types::Type::INT8
    );
    let r = c.query_one(&stmt, &[&5_000_000_000i64]).await.unwrap();
    assert_eq!(r.get::<_, i64>(0), 5_000_000_000);
}
