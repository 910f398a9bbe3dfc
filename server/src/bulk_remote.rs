//! `lynxstore import --url http://HOST:PORT`: the same import into a
//! running server, one `POST /v1/import/parquet` per file.
//!
//! Plain HTTP/1.1 over a TCP stream (no TLS), the file streamed from disk
//! with a progress bar on the bytes sent. Each file is imported by the
//! server with the same all-or-nothing rules; the request body is bounded
//! by the server's `max_body_bytes`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;

use indicatif::ProgressBar;

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub struct Target<'a> {
    pub url: &'a str,
    pub table: &'a str,
    pub create: bool,
    pub time_column: Option<&'a str>,
    pub tags: Option<&'a [String]>,
}

/// Posts one file; returns the rows the server imported.
pub fn post_file(target: &Target, file: &Path, bar: &ProgressBar) -> Result<u64, String> {
    let host = target
        .url
        .strip_prefix("http://")
        .ok_or("--url must look like http://HOST:PORT (no TLS)")?
        .trim_end_matches('/');
    let mut query = format!("table={}", encode(target.table));
    if target.create {
        query.push_str("&create=true");
    }
    if let Some(t) = target.time_column {
        query.push_str(&format!("&time_column={}", encode(t)));
    }
    if let Some(tags) = target.tags {
        query.push_str(&format!("&tags={}", encode(&tags.join(","))));
    }
    let name = file.display();
    let mut input = std::fs::File::open(file).map_err(|e| format!("{name}: {e}"))?;
    let len = input.metadata().map_err(|e| format!("{name}: {e}"))?.len();
    let mut s = TcpStream::connect(host).map_err(|e| format!("{host}: {e}"))?;
    let head = format!(
        "POST /v1/import/parquet?{query} HTTP/1.1\r\nHost: {host}\r\n\
         Content-Type: application/vnd.apache.parquet\r\nContent-Length: {len}\r\n\
         Connection: close\r\n\r\n"
    );
    let send = |e: std::io::Error| format!("{host}: sending {name}: {e}");
    s.write_all(head.as_bytes()).map_err(send)?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = input.read(&mut buf).map_err(|e| format!("{name}: {e}"))?;
        if n == 0 {
            break;
        }
        s.write_all(&buf[..n]).map_err(send)?;
        bar.inc(n as u64);
    }
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)
        .map_err(|e| format!("{host}: reading the response: {e}"))?;
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("{host}: malformed HTTP response"))?;
    let status_line = String::from_utf8_lossy(&resp[..split]);
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{host}: malformed HTTP response"))?;
    let body = String::from_utf8_lossy(&resp[split + 4..]).into_owned();
    let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    if status == 200 {
        return json["rows"]
            .as_u64()
            .ok_or_else(|| format!("{host}: unexpected answer: {body}"));
    }
    match json["error"]["message"].as_str() {
        Some(m) => Err(format!(
            "{name}: {m} (SQLSTATE {}); nothing from this file was stored",
            json["error"]["code"].as_str().unwrap_or("?")
        )),
        None => Err(format!("{name}: HTTP {status}: {}", body.trim())),
    }
}
