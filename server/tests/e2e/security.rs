//! SCRAM-SHA-256 passwords and TLS, checked with the real psql.

use std::process::Command;

use crate::harness::Server;

fn psql_with(
    server: &Server,
    conn: &str,
    password: Option<&str>,
    sql: &str,
) -> std::process::Output {
    let mut cmd = Command::new("psql");
    cmd.args(["-X", "-A", "-t", conn, "-c", sql])
        .env("PGCONNECT_TIMEOUT", "10");
    match password {
        Some(p) => cmd.env("PGPASSWORD", p),
        None => cmd.env_remove("PGPASSWORD"),
    };
    let _ = server;
    cmd.output().unwrap()
}

#[test]
fn scram_accepts_the_right_password_and_rejects_others() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), &["--user", "alice", "--password", "s3cret"]);
    let conn = format!(
        "host=127.0.0.1 port={} user=alice dbname=lynx",
        server.pg_port
    );
    let ok = psql_with(&server, &conn, Some("s3cret"), "SELECT current_user");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(String::from_utf8(ok.stdout).unwrap(), "alice\n");

    let bad = psql_with(&server, &conn, Some("wrong"), "SELECT 1");
    assert!(!bad.status.success());
    let err = String::from_utf8(bad.stderr).unwrap();
    assert!(
        err.contains("FATAL:  password authentication failed for user \"alice\""),
        "{err}"
    );

    let other = format!(
        "host=127.0.0.1 port={} user=mallory dbname=lynx",
        server.pg_port
    );
    let bad = psql_with(&server, &other, Some("s3cret"), "SELECT 1");
    assert!(!bad.status.success());
}

#[tokio::test]
async fn scram_wrong_password_is_28p01_for_drivers() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), &["--user", "alice", "--password", "s3cret"]);
    let conn = format!(
        "host=127.0.0.1 port={} user=alice dbname=lynx password=nope",
        server.pg_port
    );
    let err = tokio_postgres::connect(&conn, tokio_postgres::NoTls)
        .await
        .err()
        .expect("login must fail");
    assert_eq!(
        err.as_db_error().map(|e| e.code().code()),
        Some("28P01"),
        "{err}"
    );
}

#[test]
fn tls_is_used_when_a_certificate_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("server.crt");
    let key = dir.path().join("server.key");
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let data = dir.path().join("data");
    let server = Server::start_with(
        &data,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--http-tls",
        ],
    );
    let conn = format!(
        "host=127.0.0.1 port={} user=lynx dbname=lynx sslmode=require",
        server.pg_port
    );
    let out = psql_with(&server, &conn, None, "SELECT 'over tls'");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "over tls\n");
    let info = psql_with(&server, &conn, None, "\\conninfo");
    let text = String::from_utf8(info.stdout).unwrap();
    assert!(text.contains("SSL connection"), "{text}");
    // The HTTP side (remote write, SQL, metrics) speaks HTTPS with the same
    // certificate, and plain HTTP gets no answer from it.
    let mut https = Command::new("openssl")
        .args(["s_client", "-quiet", "-connect"])
        .arg(format!("127.0.0.1:{}", server.http_port))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("openssl s_client");
    use std::io::Write;
    https
        .stdin
        .take()
        .unwrap()
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let out = https.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    let mut plain = std::net::TcpStream::connect(("127.0.0.1", server.http_port)).unwrap();
    plain
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    use std::io::Read;
    let _ = plain.read_to_end(&mut answer);
    assert!(
        !answer.starts_with(b"HTTP/1.1 200"),
        "plain HTTP was answered"
    );
}
