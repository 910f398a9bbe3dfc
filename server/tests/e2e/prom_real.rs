//! A real Prometheus (Debian package `prometheus`, installed by
//! scripts/test.sh) scraping itself and LynxStore, remote-writing into
//! LynxStore and reading a series only LynxStore has through remote_read.

use std::time::{Duration, Instant};

use crate::harness::Server;
use crate::http::request;
use crate::prom::{body, now_ms, series, write};

/// Kills the Prometheus process when the test ends, however it ends.
struct Prometheus(std::process::Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn poll<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn real_prometheus_remote_writes_and_reads_through_lynxstore() {
    let binary = std::path::Path::new("/usr/bin/prometheus");
    assert!(
        binary.exists(),
        "/usr/bin/prometheus is missing: install the Debian package `prometheus` (scripts/test.sh does)"
    );
    let version_out = std::process::Command::new(binary)
        .arg("--version")
        .output()
        .unwrap();
    let version_text = String::from_utf8_lossy(&version_out.stdout).to_string()
        + &String::from_utf8_lossy(&version_out.stderr);
    // "prometheus, version 2.42.0+ds (branch: ..."
    let version = version_text
        .split_whitespace()
        .skip_while(|w| *w != "version")
        .nth(1)
        .unwrap()
        .to_string();

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("lynx"));
    let port = server.http_port;
    // A series only LynxStore has: 20 samples, one every 15 s, ending now.
    let end = now_ms() / 1000 * 1000;
    let marker: Vec<(i64, f64)> = (0..20)
        .map(|i| (end - (19 - i) * 15_000, i as f64 + 0.5))
        .collect();
    let (status, _, text) = write(
        port,
        &body(vec![series(
            &[("__name__", "lynx_e2e_marker"), ("source", "lynx")],
            &marker,
        )]),
    );
    assert_eq!((status, text.as_str()), (204, ""));

    let prom_port = free_port();
    let config = format!(
        r#"global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["127.0.0.1:{prom_port}"]
  - job_name: lynxstore
    static_configs:
      - targets: ["127.0.0.1:{port}"]
remote_write:
  - url: http://127.0.0.1:{port}/api/v1/write
    queue_config:
      batch_send_deadline: 1s
      max_samples_per_send: 1000
      min_backoff: 100ms
      max_backoff: 1s
remote_read:
  - url: http://127.0.0.1:{port}/api/v1/read
    read_recent: true
"#
    );
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let _prometheus = Prometheus(
        std::process::Command::new(binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start prometheus"),
    );
    poll("Prometheus to be ready", Duration::from_secs(60), || {
        let s = std::net::TcpStream::connect(("127.0.0.1", prom_port)).ok()?;
        drop(s);
        (request(prom_port, "GET", "/-/ready", &[], b"").0 == 200).then_some(())
    });

    // Remote write: Prometheus' own scrapes arrive as tables.
    let c = server.client().await;
    let up: Vec<(String, f64)> = {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let rows = c
                .query(
                    "SELECT instance, value FROM up WHERE job = 'prometheus' ORDER BY time DESC LIMIT 1",
                    &[],
                )
                .await;
            if let Ok(rows) = rows {
                if !rows.is_empty() {
                    break rows.iter().map(|r| (r.get(0), r.get(1))).collect();
                }
            }
            assert!(
                Instant::now() < deadline,
                "no `up` rows from Prometheus within 60 s; log: {}",
                std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    assert_eq!(up, [(format!("127.0.0.1:{prom_port}"), 1.0)]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let build_info = loop {
        let rows = c
            .query(
                "SELECT version, job, value FROM prometheus_build_info LIMIT 1",
                &[],
            )
            .await;
        if let Ok(rows) = rows {
            if let Some(r) = rows.first() {
                break (
                    r.get::<_, String>(0),
                    r.get::<_, String>(1),
                    r.get::<_, f64>(2),
                );
            }
        }
        assert!(
            Instant::now() < deadline,
            "no prometheus_build_info rows within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(build_info, (version, "prometheus".to_string(), 1.0));
    // Our own /metrics, scraped by Prometheus and written back.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n = c
            .query(
                "SELECT count(*) FROM lynx_prom_write_requests_total WHERE job = 'lynxstore'",
                &[],
            )
            .await
            .ok()
            .and_then(|r| r.first().map(|r| r.get::<_, i64>(0)));
        if n.is_some_and(|n| n > 0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no lynxstore self-metrics within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Remote read: PromQL through Prometheus sees the series only we have.
    let query = |q: &str| {
        let path = format!(
            "/api/v1/query?query={}&time={}",
            q.replace('{', "%7B")
                .replace('}', "%7D")
                .replace('"', "%22")
                .replace('[', "%5B")
                .replace(']', "%5D")
                .replace('~', "%7E")
                .replace('*', "%2A")
                .replace(' ', "%20"),
            end / 1000
        );
        let (status, _, body) = request(prom_port, "GET", &path, &[], b"");
        let text = String::from_utf8(body).unwrap();
        assert_eq!(status, 200, "{text}");
        text
    };
    let latest = query("lynx_e2e_marker{source=~\"ly.*\"}");
    assert!(
        latest.contains(r#""metric":{"__name__":"lynx_e2e_marker","source":"lynx"}"#)
            && latest.contains(&format!(r#""value":[{},"19.5"]"#, end / 1000)),
        "{latest}"
    );
    let count = query("count_over_time(lynx_e2e_marker[10m])");
    assert!(count.contains(r#""20"]"#), "{count}");
    let sum = query("sum_over_time(lynx_e2e_marker{source!=\"x\"}[10m])");
    // 0.5 + 1.5 + ... + 19.5 = 200
    assert!(sum.contains(r#""200"]"#), "{sum}");

    // Every request Prometheus sent was accepted.
    let (_, _, metrics) = request(port, "GET", "/metrics", &[], b"");
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics.contains("lynx_prom_write_rejected_total 0"),
        "{metrics}"
    );
}
