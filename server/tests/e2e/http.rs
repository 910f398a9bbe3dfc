//! The HTTP side: health, SQL over HTTP in JSON/CSV/Arrow, metrics.

use std::io::{Read, Write};
use std::net::TcpStream;

use crate::harness::Server;

/// One HTTP/1.1 request; returns (status, headers, body).
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&resp[..split]).into_owned();
    let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut body = resp[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, head, body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let n =
            usize::from_str_radix(std::str::from_utf8(&b[..line_end]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[line_end + 2..line_end + 2 + n]);
        b = &b[line_end + 2 + n + 2..];
    }
}

#[test]
fn health_sql_and_metrics_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let port = server.http_port;
    let (status, _, body) = request(port, "GET", "/health", &[], b"");
    assert_eq!(status, 200);
    assert!(String::from_utf8(body)
        .unwrap()
        .contains("\"status\":\"ok\""));

    let sql = |body: &str, accept: &str| {
        request(
            port,
            "POST",
            "/v1/sql",
            &[("Accept", accept)],
            body.as_bytes(),
        )
    };
    let (status, _, body) = sql(
        "CREATE TABLE h (time TIMESTAMPTZ NOT NULL, host TEXT, v DOUBLE PRECISION); \
         INSERT INTO h VALUES ('2024-01-01 00:00:00+00', 'a', 1.5), ('2024-01-01 00:00:10+00', 'b,c', NULL)",
        "application/json",
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        String::from_utf8(body).unwrap(),
        r#"{"command":"INSERT 0 2"}"#
    );

    let (status, _, body) = sql(
        "SELECT time, host, v FROM h ORDER BY time",
        "application/json",
    );
    assert_eq!(status, 200);
    assert_eq!(
        String::from_utf8(body).unwrap(),
        r#"{"columns":[{"name":"time","type":"timestamptz"},{"name":"host","type":"text"},{"name":"v","type":"float8"}],"rows":[["2024-01-01 00:00:00+00","a",1.5],["2024-01-01 00:00:10+00","b,c",null]]}"#
    );
    let (status, head, body) = sql(
        r#"{"query": "SELECT time, host, v FROM h ORDER BY time"}"#,
        "text/csv",
    );
    assert_eq!(status, 200);
    assert!(head.contains("text/csv"));
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "time,host,v\n2024-01-01 00:00:00+00,a,1.5\n2024-01-01 00:00:10+00,\"b,c\",\n"
    );
    let (status, head, body) = sql(
        "SELECT count(*) AS n FROM h",
        "application/vnd.apache.arrow.stream",
    );
    assert_eq!(status, 200);
    assert!(head.contains("application/vnd.apache.arrow.stream"));
    assert_eq!(
        &body[..4],
        &[0xff, 0xff, 0xff, 0xff],
        "Arrow IPC stream continuation marker"
    );

    let (status, _, body) = sql("SELECT * FROM missing", "application/json");
    assert_eq!(status, 404);
    assert_eq!(
        String::from_utf8(body).unwrap(),
        r#"{"error":{"code":"42P01","message":"relation \"missing\" does not exist"}}"#
    );
    let (status, _, body) = sql("SELEC 1", "application/json");
    assert_eq!(status, 400);
    assert!(String::from_utf8(body)
        .unwrap()
        .contains("\"code\":\"42601\""));

    // Bad request bodies: a clear 400, nothing run.
    let (status, _, body) = request(port, "POST", "/v1/sql", &[], &[0xff, 0xfe, b'1']);
    assert_eq!(status, 400);
    assert_eq!(
        String::from_utf8(body).unwrap(),
        r#"{"error":{"code":"22021","message":"request body is not UTF-8"}}"#
    );
    let (status, _, body) = sql(r#"{"sql": "DROP TABLE h"}"#, "application/json");
    assert_eq!(status, 400);
    assert_eq!(
        String::from_utf8(body).unwrap(),
        r#"{"error":{"code":"22P02","message":"JSON body needs a \"query\" string"}}"#
    );
    let (_, _, body) = sql("SELECT count(*) AS n FROM h", "application/json");
    assert!(
        String::from_utf8(body).unwrap().contains("[[2]]"),
        "table h must be untouched"
    );

    let (status, _, body) = request(port, "GET", "/metrics", &[], b"");
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    for needle in [
        "lynx_rows_written_total 2",
        "lynx_query_errors_total{sqlstate=\"42P01\"} 1",
        "lynx_query_errors_total{sqlstate=\"42601\"} 1",
        "# TYPE lynx_wal_fsync_duration_seconds histogram",
        "# TYPE lynx_query_duration_seconds histogram",
        "lynx_memtable_bytes ",
        "lynx_pg_connections_active 0",
    ] {
        assert!(text.contains(needle), "metrics lack {needle:?}:\n{text}");
    }
}

#[test]
fn help_documents_every_config_option() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lynxstore"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--config",
        "--data-dir",
        "--pg-addr",
        "--http-addr",
        "--durability",
        "--flush-bytes",
        "--flush-age-secs",
        "--memory-limit-bytes",
        "--user",
        "--password",
        "--tls-cert",
        "--tls-key",
        "--max-connections",
        "--max-body-bytes",
        "--http-auth",
        "--http-bearer-token",
        "--http-tls",
        "--log",
    ] {
        assert!(help.contains(flag), "serve --help lacks {flag}:\n{help}");
    }
}
