//! Runs every `testdata/slt/*.slt` file against a fresh engine, with values
//! printed exactly as PostgreSQL prints them over the wire (text format).

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::DataType;
use futures::TryStreamExt;
use lynx_pgtypes::PgFormatSettings;
use lynx_sql::{Engine, Output, Session, SqlError};
use lynx_storage::Database;
use sqllogictest::{DBOutput, DefaultColumnType};

struct Lynx {
    session: Session,
    _dir: tempfile::TempDir,
}

#[derive(Debug)]
struct SltError(SqlError);

impl std::fmt::Display for SltError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.0.status, self.0.message)
    }
}

impl std::error::Error for SltError {}

fn column_type(dt: &DataType) -> DefaultColumnType {
    if dt.is_integer() {
        DefaultColumnType::Integer
    } else if dt.is_floating() || matches!(dt, DataType::Decimal128(..)) {
        DefaultColumnType::FloatingPoint
    } else {
        DefaultColumnType::Text
    }
}

#[async_trait]
impl sqllogictest::AsyncDB for Lynx {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let outputs = self.session.run(sql).await.map_err(SltError)?;
        let mut last = DBOutput::StatementComplete(0);
        for out in outputs {
            last = match out {
                Output::Rows { schema, stream } => {
                    let batches: Vec<_> =
                        stream.try_collect().await.map_err(|e| SltError(e.into()))?;
                    let settings = PgFormatSettings::default();
                    let mut rows = Vec::new();
                    for b in &batches {
                        for r in 0..b.num_rows() {
                            let mut row = Vec::with_capacity(b.num_columns());
                            for c in b.columns() {
                                let mut s = String::new();
                                let is_null =
                                    lynx_pgtypes::format_text(c.as_ref(), r, &settings, &mut s)
                                        .map_err(|e| {
                                            SltError(SqlError::new(
                                                lynx_sql::StatusCode::Internal,
                                                e.to_string(),
                                            ))
                                        })?;
                                row.push(if is_null {
                                    "NULL".to_string()
                                } else if s.is_empty() {
                                    "(empty)".into()
                                } else {
                                    s
                                });
                            }
                            rows.push(row);
                        }
                    }
                    let types = schema
                        .fields()
                        .iter()
                        .map(|f| column_type(f.data_type()))
                        .collect();
                    DBOutput::Rows { types, rows }
                }
                Output::Command { rows, .. } => DBOutput::StatementComplete(rows.unwrap_or(0)),
                Output::Empty => DBOutput::StatementComplete(0),
                // COPY TO STDOUT: one text row per output line.
                Output::CopyOut(mut out) => {
                    use futures::StreamExt;
                    let mut bytes = Vec::new();
                    while let Some(chunk) = out.chunks.next().await {
                        for m in chunk.map_err(SltError)?.messages {
                            bytes.extend_from_slice(&m);
                        }
                    }
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    let rows = text.lines().map(|l| vec![l.replace('\t', "|")]).collect();
                    DBOutput::Rows {
                        types: vec![DefaultColumnType::Text],
                        rows,
                    }
                }
                Output::CopyIn(_) => {
                    return Err(SltError(SqlError::unsupported(
                        "COPY FROM STDIN in .slt files (no data channel)",
                    )))
                }
            };
        }
        Ok(last)
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "lynxstore"
    }
}

fn slt_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", dir.display());
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqllogictest_files() {
    let mut failures = Vec::new();
    for file in slt_files() {
        let mut runner = sqllogictest::Runner::new(|| async {
            let dir = tempfile::tempdir().unwrap();
            let db = Arc::new(Database::open(dir.path()).unwrap());
            let engine = Engine::new(db).unwrap();
            Ok(Lynx {
                session: engine.session("lynx", None),
                _dir: dir,
            })
        });
        if let Err(e) = runner.run_file_async(&file).await {
            failures.push(format!("{}:\n{}", file.display(), e.display(true)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The plan text of `EXPLAIN <sql>`.
async fn explain(session: &mut Session, sql: &str) -> String {
    let mut text = String::new();
    for out in session.run(&format!("EXPLAIN {sql}")).await.unwrap() {
        if let Output::Rows { stream, .. } = out {
            let batches: Vec<_> = stream.try_collect().await.unwrap();
            text.push_str(
                &datafusion::arrow::util::pretty::pretty_format_batches(&batches)
                    .unwrap()
                    .to_string(),
            );
        }
    }
    text
}

/// `testdata/slt/lastpoint.slt` checks the rows; this checks which of its
/// queries take the newest-rows-per-series scan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distinct_on_newest_rows_take_the_series_directory_path() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Database::open(dir.path()).unwrap());
    let mut s = Engine::new(db).unwrap().session("lynx", None);
    s.run("CREATE TABLE lp (time TIMESTAMPTZ NOT NULL, host TEXT, region TEXT, usage DOUBLE PRECISION) WITH (tags = 'host,region')")
        .await
        .unwrap();
    s.run("CREATE TABLE racks (time TIMESTAMPTZ NOT NULL, host TEXT, rack INT) WITH (tags = 'host,rack')")
        .await
        .unwrap();
    let marker = "newest rows per series";
    for (sql, fast) in [
        ("SELECT DISTINCT ON (host) * FROM lp ORDER BY host, time DESC", true),
        ("SELECT DISTINCT ON (host, region) host, usage FROM lp WHERE region IN ('eu', 'us') ORDER BY host, region DESC, time DESC", true),
        ("SELECT DISTINCT ON (t.host) t.usage FROM lp t ORDER BY t.host, t.time DESC", true),
        ("SELECT DISTINCT ON (host) * FROM lp ORDER BY host, time", false),
        ("SELECT DISTINCT ON (host) * FROM lp ORDER BY host, time DESC, usage", false),
        ("SELECT DISTINCT ON (host) * FROM lp WHERE usage > 1 ORDER BY host, time DESC", false),
        ("SELECT DISTINCT ON (host) * FROM lp WHERE time > '2024-01-01 00:00:00+00' ORDER BY host, time DESC", false),
        ("SELECT DISTINCT ON (usage) * FROM lp ORDER BY usage, time DESC", false),
        ("SELECT host, max(time) FROM lp GROUP BY host", false),
        ("SELECT DISTINCT ON (host) * FROM racks ORDER BY host, time DESC", false),
    ] {
        let plan = explain(&mut s, sql).await;
        assert_eq!(plan.contains(marker), fast, "{sql}\n{plan}");
    }
}

/// EXPLAIN ANALYZE shows the pushed-down filters in the scan (and no
/// FilterExec for them), the scan's exact output rows and the run
/// aggregation's kernels.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_analyze_shows_pushdown_rows_and_kernels() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Database::open(dir.path()).unwrap());
    let mut s = Engine::new(db).unwrap().session("lynx", None);
    s.run("CREATE TABLE m (time TIMESTAMPTZ NOT NULL, host TEXT, usage DOUBLE PRECISION) WITH (tags = 'host')")
        .await
        .unwrap();
    s.run(
        "INSERT INTO m SELECT to_timestamp(t * 60), 'h' || (t % 3), t FROM generate_series(0, 599) AS g(t)",
    )
    .await
    .unwrap();
    s.run("VACUUM").await.unwrap();
    // Minutes 100..=199 of hosts h0 and h1: 67 rows.
    let plan = explain(
        &mut s,
        "ANALYZE SELECT host, avg(usage), max(usage) FROM m WHERE host IN ('h0', 'h1') \
         AND time >= to_timestamp(6000) AND time < to_timestamp(12000) GROUP BY host",
    )
    .await;
    let scan = plan.lines().find(|l| l.contains("LynxScanExec")).unwrap();
    assert!(scan.contains("tag host IN (h0, h1)"), "{plan}");
    assert!(scan.contains("output_rows=67,"), "{plan}");
    assert!(!plan.contains("FilterExec"), "{plan}");
    let agg = plan
        .lines()
        .find(|l| l.contains("RunAggregateExec"))
        .unwrap();
    assert!(
        agg.contains("kernels for [avg(m.usage), max(m.usage)]"),
        "{plan}"
    );
    // A field comparison is evaluated by the scan on encoded data, exactly:
    // no FilterExec, and the scan's output is the 49 rows above 550.
    let plan = explain(
        &mut s,
        "ANALYZE SELECT count(*) FROM m WHERE usage > 550 AND time >= to_timestamp(0)",
    )
    .await;
    let scan = plan.lines().find(|l| l.contains("LynxScanExec")).unwrap();
    assert!(scan.contains("usage > 550.0 (on encoded data)"), "{plan}");
    assert!(scan.contains("output_rows=49,"), "{plan}");
    assert!(!plan.contains("FilterExec"), "{plan}");
    // A LIMIT without ORDER BY reaches the scan, which stops reading once
    // it has produced that many rows.
    let plan = explain(&mut s, "ANALYZE SELECT time, usage FROM m LIMIT 5").await;
    let scan = plan.lines().find(|l| l.contains("LynxScanExec")).unwrap();
    assert!(scan.contains(", limit=5"), "{plan}");
    // A sort that stored order gives is answered by a sorted scan: one
    // host's rows by time (newest first: the segment read backwards), and
    // all rows by (host, time).
    for sql in [
        "SELECT time, usage FROM m WHERE host = 'h1' ORDER BY time LIMIT 3",
        "SELECT time, usage FROM m WHERE host = 'h1' ORDER BY time DESC LIMIT 1",
        "SELECT host, time FROM m ORDER BY host NULLS FIRST, time",
    ] {
        let plan = explain(&mut s, sql).await;
        assert!(!plan.contains("SortExec"), "{plan}");
        assert!(plan.contains("sorted by ["), "{plan}");
    }
    // Descending tags are not stored order: sorted by DataFusion.
    let plan = explain(&mut s, "SELECT host, time FROM m ORDER BY host DESC, time").await;
    assert!(plan.contains("SortExec"), "{plan}");
    // Against another column or with a non-constant: filtered above the scan.
    let plan = explain(&mut s, "SELECT count(*) FROM m WHERE usage > usage / 2").await;
    assert!(plan.contains("FilterExec"), "{plan}");
    assert!(!plan.contains("on encoded data"), "{plan}");
}

/// `testdata/slt/statistics.slt` checks the values; this checks that
/// min/max/count over a whole table are answered without a scan, and that
/// filtered or primary-key tables are still scanned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_table_min_max_count_come_from_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Database::open(dir.path()).unwrap());
    let mut s = Engine::new(db).unwrap().session("lynx", None);
    s.run("CREATE TABLE st (time TIMESTAMPTZ NOT NULL, host TEXT, usage DOUBLE PRECISION) WITH (tags = 'host')")
        .await
        .unwrap();
    s.run("CREATE TABLE pk (time TIMESTAMPTZ NOT NULL, host TEXT, v DOUBLE PRECISION, PRIMARY KEY (host, time))")
        .await
        .unwrap();
    s.run("INSERT INTO st VALUES ('2024-01-01 00:00:00+00', 'a', 1), ('2024-01-01 00:01:00+00', 'b', NULL)")
        .await
        .unwrap();
    s.run("INSERT INTO pk VALUES ('2024-01-01 00:00:00+00', 'a', 1)")
        .await
        .unwrap();
    s.run("VACUUM").await.unwrap();
    s.run("INSERT INTO st VALUES ('2024-01-01 00:02:00+00', 'a', 5)")
        .await
        .unwrap();
    for (sql, scans) in [
        (
            "SELECT min(usage), max(usage), count(usage), count(*), max(time) FROM st",
            false,
        ),
        ("SELECT min(usage) FROM st WHERE host = 'a'", true),
        (
            "SELECT max(usage) FROM st WHERE time > '2024-01-01 00:00:30+00'",
            true,
        ),
        ("SELECT max(v), count(*) FROM pk", true),
    ] {
        let plan = explain(&mut s, sql).await;
        assert_eq!(plan.contains("LynxScanExec"), scans, "{sql}\n{plan}");
    }
}
