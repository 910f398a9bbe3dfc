//! `RunAggregateExec` (its kernels and its groups accumulators) against
//! DataFusion's own hash aggregation on the same data: random rows (NULLs,
//! unsorted times, several partitions) written in batches with flushes in
//! between, so scans mix sorted segments and unsorted memtable batches.

use std::sync::Arc;

use arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use lynx_storage::{ColumnRole, ColumnType, Database, TableDef, TableOptions};
use proptest::prelude::*;

use super::RunAggregation;
use crate::test_support::{column, load, minutes, run};
use crate::LynxTable;

/// One row: (minute, host, dc, v in quarters or NULL, n or NULL).
type Row = (i64, u8, u8, Option<i8>, Option<i16>);

fn batch(def: &TableDef, rows: &[Row]) -> RecordBatch {
    RecordBatch::try_new(
        def.arrow_schema(),
        vec![
            minutes(rows.iter().map(|r| r.0)),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| format!("h{}", r.1)),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| format!("dc{}", r.2)),
            )),
            Arc::new(Float64Array::from_iter(
                rows.iter().map(|r| r.3.map(|q| q as f64 / 4.0)),
            )),
            Arc::new(Int64Array::from_iter(
                rows.iter().map(|r| r.4.map(i64::from)),
            )),
        ],
    )
    .unwrap()
}

fn context(db: &Arc<Database>, def: &TableDef, runs: bool) -> SessionContext {
    let config = SessionConfig::new().with_target_partitions(2);
    let mut state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features();
    if runs {
        state = state.with_physical_optimizer_rule(Arc::new(RunAggregation));
    }
    let ctx = SessionContext::new_with_state(state.build());
    let table = LynxTable::new(db.clone(), "t".into(), def.arrow_schema());
    ctx.register_table("t", Arc::new(table)).unwrap();
    ctx
}

const QUERIES: [&str; 4] = [
    "SELECT date_bin(INTERVAL '1 hour', time) AS h, host, avg(v), min(v), max(v), sum(n), count(*), count(v) \
     FROM t GROUP BY h, host ORDER BY h, host",
    "SELECT host, dc, max(v), sum(v), min(n) FROM t WHERE time >= '2024-01-01T02:00:00Z' GROUP BY host, dc ORDER BY host, dc",
    "SELECT dc, count(*), avg(n), max(time) FROM t GROUP BY dc ORDER BY dc",
    "SELECT date_bin(INTERVAL '20 minutes', time) AS b, dc, sum(v) FROM t WHERE host <> 'h1' GROUP BY b, dc ORDER BY b, dc",
];

fn rows() -> impl Strategy<Value = Vec<Row>> {
    prop::collection::vec(
        (
            0i64..600,
            0u8..4,
            0u8..2,
            prop::option::weighted(0.8, -40i8..40),
            prop::option::weighted(0.8, -1000i16..1000),
        ),
        0..300,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn run_aggregation_equals_hash_aggregation(
        writes in prop::collection::vec((rows(), any::<bool>()), 1..4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Database::open(dir.path()).unwrap());
        let def = TableDef {
            name: "t".into(),
            columns: vec![
                column("time", ColumnType::TimestampTz, ColumnRole::Time),
                column("host", ColumnType::Text, ColumnRole::Tag),
                column("dc", ColumnType::Text, ColumnRole::Tag),
                column("v", ColumnType::Float64, ColumnRole::Field),
                column("n", ColumnType::Int64, ColumnRole::Field),
            ],
            options: TableOptions {
                partition_micros: 3_600_000_000 * 3,
                ..TableOptions::default()
            },
        };
        load(&db, &def, &writes, batch);
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let with_runs = context(&db, &def, true);
        let hashed = context(&db, &def, false);
        for sql in QUERIES {
            let (plan, got) = rt.block_on(run(&with_runs, sql));
            let (_, want) = rt.block_on(run(&hashed, sql));
            // Every Partial aggregate is replaced. A scan of one partition
            // with a small exact row count is aggregated by DataFusion in a
            // single phase (no repartition pays), with no Partial to replace.
            let partial = plan.lines().any(|l| l.trim_start().starts_with("AggregateExec: mode=Partial,"));
            prop_assert!(!partial, "{}\n{}", sql, plan);
            if !plan.contains("AggregateExec: mode=Single") {
                prop_assert!(plan.contains("RunAggregateExec"), "{}\n{}", sql, plan);
                prop_assert!(plan.contains("kernels for ["), "{}\n{}", sql, plan);
            }
            prop_assert_eq!(got, want, "{}", sql);
        }
    }
}

#[test]
fn constant_string_columns_are_recognised_without_row_comparisons() {
    use super::constant_string;
    let strings = |v: &[&str]| StringArray::from_iter_values(v.iter().copied());
    assert!(constant_string(&strings(&["host_1"; 5])));
    assert!(constant_string(&strings(&["a"])));
    assert!(constant_string(&strings(&["", "", ""])));
    assert!(!constant_string(&strings(&["ab", "ab", "ba"])));
    assert!(!constant_string(&strings(&["a", "aa"])));
    assert!(!constant_string(&strings(&["aa", "a", "a"])));
    assert!(!constant_string(&strings(&["ab", "ab", "abab"])));
    assert!(!constant_string(&strings(&[])));
    assert!(!constant_string(&StringArray::from(vec![Some("a"), None])));
    // A slice starts at a non-zero offset.
    let mixed = strings(&["x", "yy", "yy", "yy", "z"]);
    assert!(constant_string(&mixed.slice(1, 3)));
    assert!(!constant_string(&mixed.slice(0, 3)));
    assert!(!constant_string(&Int64Array::from(vec![1, 1])));
}
