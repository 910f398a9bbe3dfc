//! Exact filter pushdown against DataFusion's own filtering: the same
//! predicate in a form the scan takes (no FilterExec left above it) and in a
//! form it cannot take (DataFusion filters every row) must give the same
//! rows, over sorted segments, unsorted memtable batches and primary-key
//! de-duplication.

use std::sync::Arc;

use arrow::array::{Float64Array, RecordBatch, StringArray};
use datafusion::prelude::{SessionConfig, SessionContext};
use lynx_storage::{ColumnRole, ColumnType, Database, TableDef, TableOptions};
use proptest::prelude::*;

use crate::test_support::{column, load, minutes, run, BASE_MICROS};
use crate::LynxTable;

/// One row: (minute, host, v).
type Row = (i64, u8, i16);

fn batch(def: &TableDef, rows: &[Row]) -> RecordBatch {
    RecordBatch::try_new(
        def.arrow_schema(),
        vec![
            minutes(rows.iter().map(|r| r.0)),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| format!("h{}", r.1)),
            )),
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|r| f64::from(r.2)),
            )),
        ],
    )
    .unwrap()
}

/// A timestamp constant `minute` minutes and `nanos` nanoseconds after the
/// base, typed as a nanosecond timestamp so rounding to microseconds matters.
fn constant(minute: i64, nanos: i64) -> String {
    let ns = (BASE_MICROS + minute * 60_000_000) * 1_000 + nanos;
    format!("arrow_cast({ns}, 'Timestamp(Nanosecond, Some(\"+00:00\"))')")
}

/// A time predicate of one of seven kinds; BETWEEN spans `width` minutes.
fn time_predicate(kind: u8, minute: i64, nanos: i64, width: i64, time: &str) -> String {
    let c = constant(minute, nanos);
    match kind {
        0 => format!("{time} < {c}"),
        1 => format!("{time} <= {c}"),
        2 => format!("{time} > {c}"),
        3 => format!("{time} >= {c}"),
        4 => format!("{time} = {c}"),
        5 => format!("{c} > {time}"),
        _ => format!("{time} BETWEEN {c} AND {}", constant(minute + width, nanos)),
    }
}

fn rows() -> impl Strategy<Value = Vec<Row>> {
    prop::collection::vec((0i64..300, 0u8..4, -50i16..50), 0..200)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn exact_pushdown_keeps_the_same_rows_as_filtering(
        writes in prop::collection::vec((rows(), any::<bool>()), 1..4),
        primary_key in any::<bool>(),
        pick in any::<prop::sample::Index>(),
        shift in -1i64..=1,
        nanos in prop::sample::select(vec![0i64, 1, 500, 999, 30_000_000_000]),
        width in 0i64..60,
        hosts in prop::collection::btree_set(0u8..5, 0..3),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Database::open(dir.path()).unwrap());
        let def = TableDef {
            name: "t".into(),
            columns: vec![
                column("time", ColumnType::TimestampTz, ColumnRole::Time),
                column("host", ColumnType::Text, ColumnRole::Tag),
                column("v", ColumnType::Float64, ColumnRole::Field),
            ],
            options: TableOptions {
                partition_micros: 3_600_000_000,
                primary_key,
                ..TableOptions::default()
            },
        };
        load(&db, &def, &writes, batch);
        let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2));
        let table = LynxTable::new(db.clone(), "t".into(), def.arrow_schema());
        ctx.register_table("t", Arc::new(table)).unwrap();

        let host_list = |host: &str| {
            if hosts.is_empty() {
                String::new()
            } else {
                let names: Vec<String> = hosts.iter().map(|h| format!("'h{h}'")).collect();
                format!(" AND {host} IN ({})", names.join(", "))
            }
        };
        // Constants at, next to and between stored times hit every boundary.
        let minutes: Vec<i64> = writes.iter().flat_map(|(rows, _)| rows.iter().map(|r| r.0)).collect();
        let minute = if minutes.is_empty() { 0 } else { minutes[pick.index(minutes.len())] } + shift;
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        for kind in 0..7 {
            let pushed = format!(
                "SELECT time, host, v FROM t WHERE {}{} ORDER BY host, time, v",
                time_predicate(kind, minute, nanos, width, "time"),
                host_list("host"),
            );
            // The same predicate over expressions the scan does not recognise.
            let filtered = format!(
                "SELECT time, host, v FROM t WHERE {}{} ORDER BY host, time, v",
                time_predicate(kind, minute, nanos, width, "(time + INTERVAL '0 seconds')"),
                host_list("(host || '')"),
            );
            let (plan, got) = rt.block_on(run(&ctx, &pushed));
            let (other_plan, want) = rt.block_on(run(&ctx, &filtered));
            prop_assert!(!plan.contains("FilterExec"), "{}\n{}", pushed, plan);
            prop_assert!(other_plan.contains("FilterExec"), "{}\n{}", filtered, other_plan);
            prop_assert_eq!(got, want, "{}", pushed);
        }
    }
}
