//! EXPLAIN shows what the scan pruned: segments and series skipped by tag
//! and time filters, and count(*) answered from statistics without a scan.

use crate::harness::Server;

async fn plan(c: &tokio_postgres::Client, sql: &str) -> String {
    c.query(&format!("EXPLAIN {sql}"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| format!("{}: {}", r.get::<_, String>(0), r.get::<_, String>(1)))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn explain_shows_series_and_time_pruning_after_vacuum() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE m (time TIMESTAMPTZ NOT NULL, host TEXT, v DOUBLE PRECISION);
         INSERT INTO m VALUES ('2024-01-01 00:00:00+00', 'a', 1), ('2024-01-01 00:00:00+00', 'b', 2),
                              ('2024-01-01 00:00:00+00', 'c', 3), ('2024-01-02 00:00:00+00', 'a', 4);
         VACUUM;",
    )
    .await
    .unwrap();
    let p = plan(
        &c,
        "SELECT v FROM m WHERE host = 'a' AND time < '2024-01-01 12:00:00+00'",
    )
    .await;
    assert!(p.contains("LynxScanExec: table=m"), "{p}");
    assert!(p.contains("tag host IN (a)"), "{p}");
    // Day 2's segment is pruned by time, and two of day 1's three series by tag.
    assert!(p.contains("segments=1/2, series=1/3"), "{p}");
    let rows: Vec<f64> = c
        .query(
            "SELECT v FROM m WHERE host = 'a' AND time < '2024-01-01 12:00:00+00'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(rows, vec![1.0]);
    let p = plan(&c, "SELECT count(*) FROM m").await;
    assert!(p.contains("ProjectionExec: expr=[4 as count(*)]"), "{p}");
    assert!(
        !p.contains("LynxScanExec"),
        "count(*) should not scan:\n{p}"
    );
}
