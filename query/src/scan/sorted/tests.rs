//! Sorted scans against DataFusion's own sort: every query gives the rows
//! of the same query sorted by DataFusion, in an order that satisfies the
//! ORDER BY, over segments, memtable batches and primary-key
//! de-duplication, with NULL tags; the sorts stored order gives leave no
//! SortExec in the plan.

use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, TimestampMicrosecondType};
use datafusion::prelude::SessionContext;
use lynx_storage::{Database, TableDef};
use proptest::prelude::*;

use crate::test_support::{host_batch, host_table};

/// One row: (minute, host (4 is NULL), v).
type Row = (i64, u8, i16);

fn batch(def: &TableDef, rows: &[Row]) -> RecordBatch {
    let host = |h: u8| (h != 4).then(|| format!("h{h}"));
    host_batch(def, rows, host, |v| Some(f64::from(v)))
}

/// (host, time, v) of each output row, in output order.
type Out = (Option<String>, i64, i64);

async fn query(ctx: &SessionContext, sql: &str) -> (String, Vec<Out>) {
    let df = ctx.sql(sql).await.unwrap();
    let plan = datafusion::physical_plan::displayable(
        df.clone().create_physical_plan().await.unwrap().as_ref(),
    )
    .indent(false)
    .to_string();
    let mut out = Vec::new();
    for b in df.collect().await.unwrap() {
        let h = b.column(0).as_string::<i32>();
        let t = b.column(1).as_primitive::<TimestampMicrosecondType>();
        let v = b.column(2).as_primitive::<Float64Type>();
        for i in 0..b.num_rows() {
            let host = h.is_valid(i).then(|| h.value(i).to_string());
            out.push((host, t.value(i), v.value(i) as i64));
        }
    }
    (plan, out)
}

/// `ORDER BY` clause, the key of a row under it, and whether stored order
/// always gives it (no SortExec may remain).
struct Case {
    filter: &'static str,
    order: &'static str,
    key: fn(&Out) -> (Option<Option<String>>, i64),
    always_sorted: bool,
}

fn host_nulls_first(r: &Out) -> (Option<Option<String>>, i64) {
    (Some(r.0.clone()), r.1)
}

fn host_nulls_last(r: &Out) -> (Option<Option<String>>, i64) {
    // No host text sorts after this one.
    (Some(r.0.clone().or_else(|| Some("\u{10ffff}".into()))), r.1)
}

fn time_desc(r: &Out) -> (Option<Option<String>>, i64) {
    (None, -r.1)
}

fn time_only(r: &Out) -> (Option<Option<String>>, i64) {
    (None, r.1)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn sorted_scans_return_sorted_rows(
        writes in prop::collection::vec((prop::collection::vec((0i64..300, 0u8..5, -50i16..50), 0..150), any::<bool>()), 1..4),
        primary_key in any::<bool>(),
        partitions in 1usize..4,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Database::open(dir.path()).unwrap());
        let ctx = host_table(&db, primary_key, true, partitions, &writes, batch);
        let cases = [
            Case { filter: "", order: "host NULLS FIRST, time", key: host_nulls_first, always_sorted: true },
            Case { filter: "WHERE host = 'h1'", order: "time", key: time_only, always_sorted: true },
            Case { filter: "WHERE host IN ('h1', 'h2') AND v > 0", order: "host NULLS FIRST, time", key: host_nulls_first, always_sorted: true },
            Case { filter: "", order: "host, time", key: host_nulls_last, always_sorted: false },
            Case { filter: "WHERE host IN ('h1', 'h3')", order: "time", key: time_only, always_sorted: false },
            Case { filter: "", order: "time", key: time_only, always_sorted: false },
            Case { filter: "WHERE host = 'h2'", order: "time DESC", key: time_desc, always_sorted: true },
            Case { filter: "WHERE host IN ('h0', 'h3')", order: "time DESC", key: time_desc, always_sorted: false },
        ];
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        for case in cases {
            let sql = format!("SELECT host, time, v FROM t {} ORDER BY {}", case.filter, case.order);
            // The same rows sorted by DataFusion (a sort on expressions).
            let reference = format!(
                "SELECT host, time, v FROM t {} ORDER BY host || '' NULLS FIRST, time + INTERVAL '0 seconds', v",
                case.filter
            );
            let (plan, got) = rt.block_on(query(&ctx, &sql));
            let (_, want) = rt.block_on(query(&ctx, &reference));
            let keys: Vec<_> = got.iter().map(case.key).collect();
            prop_assert!(keys.is_sorted(), "{}\n{}\n{:?}", sql, plan, got);
            let mut got_sorted = got.clone();
            got_sorted.sort();
            let mut want_sorted = want.clone();
            want_sorted.sort();
            prop_assert_eq!(got_sorted, want_sorted, "{}", sql);
            if case.always_sorted {
                prop_assert!(!plan.contains("SortExec"), "{}\n{}", sql, plan);
                prop_assert!(plan.contains("sorted by ["), "{}\n{}", sql, plan);
            }
        }
    }
}
