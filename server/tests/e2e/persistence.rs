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
