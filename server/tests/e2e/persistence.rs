//! Acknowledged writes survive a clean restart and a `kill -9`.

use crate::harness::Server;

async fn count(server: &Server) -> (i64, f64) {
    let c = server.client().await;
    let r = c
        .query_one("SELECT count(*), coalesce(sum(v), 0) FROM d", &[])
        .await
        .unwrap();
    (r.get(0), r.get(1))
}

#[tokio::test]
async fn rows_survive_restart_and_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path());
    {
        let c = server.client().await;
        c.batch_execute(
            "CREATE TABLE d (time TIMESTAMPTZ NOT NULL, host TEXT, v DOUBLE PRECISION)",
        )
        .await
        .unwrap();
        c.batch_execute("INSERT INTO d VALUES ('2024-01-01 00:00:00+00', 'a', 1.5), ('2024-01-01 00:00:01+00', 'b', 2.5)")
            .await
            .unwrap();
    }
    server.restart();
    assert_eq!(count(&server).await, (2, 4.0));
    {
        let c = server.client().await;
        let stmt = c
            .prepare("INSERT INTO d VALUES ($1, 'c', $2)")
            .await
            .unwrap();
        let base: chrono::DateTime<chrono::Utc> = "2024-01-01T00:01:40Z".parse().unwrap();
        for i in 0..50i64 {
            // Each execute returns only after the server acknowledged it.
            let t = base + chrono::Duration::seconds(i);
            c.execute(&stmt, &[&t, &(i as f64)]).await.unwrap();
        }
        c.batch_execute("ALTER TABLE d ADD COLUMN note TEXT")
            .await
            .unwrap();
        c.batch_execute(
            "INSERT INTO d (time, v, note) VALUES ('2024-01-02 00:00:00+00', 0.5, 'after alter')",
        )
        .await
        .unwrap();
    }
    server.kill9();
    server.start_again();
    assert_eq!(count(&server).await, (53, 4.0 + 1225.0 + 0.5));
    let c = server.client().await;
    let notes: Vec<Option<String>> = c
        .query("SELECT note FROM d ORDER BY time DESC LIMIT 2", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(notes, vec![Some("after alter".to_string()), None]);
}

/// Rows per INSERT request in the crash test.
const BATCH_ROWS: i64 = 25;
/// kill -9 cycles: 50 in the normal suite; `LYNX_CRASH_CYCLES=N` runs the
/// long mode (README "Long crash test").
fn crash_cycles() -> usize {
    std::env::var("LYNX_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
}

/// Concurrent writers insert 25-row requests while background flushes run
/// (tiny flush threshold); the server is killed with SIGKILL mid-ingest,
/// 50 times (or `LYNX_CRASH_CYCLES`). After every restart each acknowledged request is there with
/// all its rows and no request is there partially.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_requests_survive_50_kill_9_cycles_during_ingest_and_flush() {
    use std::collections::BTreeSet;
    use std::sync::{Arc, Mutex};

    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with(
        dir.path(),
        &["--flush-bytes", "20000", "--flush-age-secs", "1"],
    );
    server
        .client()
        .await
        .batch_execute(
            "CREATE TABLE crash (time TIMESTAMPTZ NOT NULL, host TEXT, req BIGINT, v DOUBLE PRECISION)",
        )
        .await
        .unwrap();
    let acked: Arc<Mutex<BTreeSet<i64>>> = Arc::default();
    let progress = Arc::new(tokio::sync::Notify::new());
    let mut next_req = 0i64;
    for cycle in 0..crash_cycles() {
        let mut writers = Vec::new();
        for w in 0..3 {
            let client = server.client().await;
            let acked = acked.clone();
            let progress = progress.clone();
            let first = next_req + w * 1000;
            writers.push(tokio::spawn(async move {
                for req in first..first + 1000 {
                    let values: Vec<String> = (0..BATCH_ROWS)
                        .map(|i| {
                            format!(
                                "(to_timestamp({}), 'h{}', {req}, {})",
                                req * 60 + i,
                                i % 5,
                                i as f64 * 0.5
                            )
                        })
                        .collect();
                    let sql = format!("INSERT INTO crash VALUES {}", values.join(","));
                    match client.execute(sql.as_str(), &[]).await {
                        Ok(n) => {
                            assert_eq!(n, BATCH_ROWS as u64);
                            acked.lock().unwrap().insert(req);
                            progress.notify_one();
                        }
                        Err(_) => return, // the server died under us
                    }
                }
            }));
        }
        next_req += 3000;
        // Kill once this cycle has some acknowledged requests in flight.
        let target = acked.lock().unwrap().len() + 6 + cycle % 7;
        let reached = tokio::time::timeout(std::time::Duration::from_secs(60), async {
            while acked.lock().unwrap().len() < target {
                progress.notified().await;
            }
        })
        .await;
        assert!(reached.is_ok(), "cycle {cycle}: writers made no progress");
        server.kill9();
        for w in writers {
            w.await.unwrap();
        }
        server.start_again();
        let c = server.client().await;
        let counts: Vec<(i64, i64)> = c
            .query("SELECT req, count(*) FROM crash GROUP BY req", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let stored: BTreeSet<i64> = counts.iter().map(|(req, _)| *req).collect();
        for (req, n) in &counts {
            assert_eq!(*n, BATCH_ROWS, "cycle {cycle}: request {req} is partial");
        }
        let acked = acked.lock().unwrap().clone();
        let lost: Vec<_> = acked.difference(&stored).collect();
        assert!(
            lost.is_empty(),
            "cycle {cycle}: acknowledged requests lost: {lost:?}"
        );
    }
    let segments = std::fs::read_dir(dir.path().join("segments"))
        .unwrap()
        .count();
    assert!(
        segments > 0,
        "the crash test must exercise flushed segments"
    );
}

/// A disk that fills up: writes fail with a clear error and change
/// nothing, reads keep working, and every acknowledged row is there after
/// a crash and a restart with space again. RLIMIT_FSIZE stands in for
/// ENOSPC (the WAL append fails the same way).
#[tokio::test]
async fn a_full_disk_fails_writes_cleanly_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path());
    server
        .client()
        .await
        .batch_execute("CREATE TABLE t (time TIMESTAMPTZ NOT NULL, host TEXT, v DOUBLE PRECISION)")
        .await
        .unwrap();
    server.stop();
    server.file_size_limit_kib = Some(256);
    server.start_again();
    let c = server.client().await;
    let values = |i: i64| {
        (0..100)
            .map(|j| format!("(to_timestamp({}), 'host-{j}', {i}.5)", i * 100 + j))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut acked = 0i64;
    let mut failure = None;
    for i in 0..10_000i64 {
        match c
            .batch_execute(&format!("INSERT INTO t VALUES {}", values(i)))
            .await
        {
            Ok(()) => acked += 100,
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let e = failure.expect("the 256 KiB file size limit is reached");
    let db = e
        .as_db_error()
        .expect("an error response, not a dropped connection");
    assert_eq!(db.code().code(), "58030", "{db:?}");
    assert!(db.message().contains("File too large"), "{}", db.message());
    assert!(acked > 0);
    // Reads work and see exactly the acknowledged rows; so does the next
    // (also failing) write.
    assert_eq!(rows_in_t(&c).await, acked);
    assert!(c
        .batch_execute(&format!("INSERT INTO t VALUES {}", values(99_999)))
        .await
        .is_err());
    assert_eq!(rows_in_t(&c).await, acked);

    server.kill9();
    server.file_size_limit_kib = None;
    server.start_again();
    let c = server.client().await;
    assert_eq!(rows_in_t(&c).await, acked);
    c.batch_execute(&format!("INSERT INTO t VALUES {}", values(99_999)))
        .await
        .unwrap();
    assert_eq!(rows_in_t(&c).await, acked + 100);
}

async fn rows_in_t(c: &tokio_postgres::Client) -> i64 {
    c.query_one("SELECT count(*) FROM t", &[])
        .await
        .unwrap()
        .get(0)
}

/// A large COPY into a table without a primary key writes segment files
/// while it streams; a kill -9 before CopyDone leaves no row and no file,
/// a completed COPY survives kill -9.
#[tokio::test]
async fn a_crash_during_a_large_copy_leaves_nothing_and_a_finished_one_survives() {
    use futures::SinkExt;
    let dir = tempfile::tempdir().unwrap();
    // Runs of 1 MiB, so the stream writes segments long before CopyDone.
    let mut server = Server::start_with(dir.path(), &["--memory-limit-bytes", "4194304"]);
    let c = server.client().await;
    c.batch_execute("CREATE TABLE t (time TIMESTAMPTZ NOT NULL, host TEXT, v DOUBLE PRECISION)")
        .await
        .unwrap();
    let segments = |dir: &std::path::Path| {
        std::fs::read_dir(dir.join("segments"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let chunk = |i: usize| {
        let mut s = String::new();
        for j in 0..2_000 {
            let n = i * 2_000 + j;
            s.push_str(&format!(
                "2024-01-01 00:00:00.{:06}+00\thost-{}\t{n}.25\n",
                n % 1_000_000,
                n % 50
            ));
        }
        bytes::Bytes::from(s)
    };
    let sink = c.copy_in("COPY t FROM STDIN").await.unwrap();
    futures::pin_mut!(sink);
    let mut sent = 0;
    while segments(dir.path()) < 2 {
        assert!(sent < 2_000, "no segment files after {sent} chunks");
        sink.send(chunk(sent)).await.unwrap();
        sent += 1;
    }
    server.kill9();
    drop(c);
    server.start_again();
    let c = server.client().await;
    assert_eq!(rows_in_t(&c).await, 0);
    assert_eq!(
        segments(dir.path()),
        0,
        "unreferenced segments are removed on open"
    );

    let sink = c.copy_in("COPY t FROM STDIN").await.unwrap();
    futures::pin_mut!(sink);
    for i in 0..sent {
        sink.send(chunk(i)).await.unwrap();
    }
    assert_eq!(sink.finish().await.unwrap(), sent as u64 * 2_000);
    server.kill9();
    server.start_again();
    let c = server.client().await;
    assert_eq!(rows_in_t(&c).await, sent as i64 * 2_000);
}
