//! Exact filter pushdown against DataFusion's own filtering: the same
//! predicate in a form the scan takes (no FilterExec left above it) and in a
//! form it cannot take (DataFusion filters every row) must give the same
//! rows, over sorted segments, unsorted memtable batches and primary-key
//! de-duplication, for time bounds, tag lists and field comparisons (with
//! NaN, -0.0 and NULL among the values).

use std::sync::Arc;

use arrow::array::RecordBatch;
use lynx_storage::{Database, TableDef};
use proptest::prelude::*;

use crate::test_support::{host_batch, host_table, run, BASE_MICROS};

/// One row: (minute, host, v).
type Row = (i64, u8, i16);

fn batch(def: &TableDef, rows: &[Row]) -> RecordBatch {
    host_batch(def, rows, |h| Some(format!("h{h}")), value)
}

/// The stored `v` of a row: mostly the number itself, with NaN, -0.0, 0.0
/// and NULL mixed in (the values where float semantics differ).
fn value(v: i16) -> Option<f64> {
    match v {
        -50 => Some(f64::NAN),
        -49 => Some(-0.0),
        -48 => None,
        v => Some(f64::from(v)),
    }
}

/// A `v` constant as SQL text.
fn float_constant(v: i16) -> String {
    match value(v) {
        Some(f) if f.is_nan() => "'NaN'::double precision".into(),
        Some(f) if f == 0.0 && f.is_sign_negative() => "-0.0::double precision".into(),
        Some(f) => format!("{f:?}::double precision"),
        None => "0.5::double precision".into(),
    }
}

/// A field predicate of one of ten kinds on `v` (any expression).
fn field_predicate(kind: u8, a: i16, b: i16, v: &str) -> String {
    let (a, b) = (float_constant(a), float_constant(b));
    match kind {
        0 => format!("{v} < {a}"),
        1 => format!("{v} <= {a}"),
        2 => format!("{v} > {a}"),
        3 => format!("{v} >= {a}"),
        4 => format!("{v} = {a}"),
        5 => format!("{v} <> {a}"),
        6 => format!("{a} < {v}"),
        7 => format!("{v} BETWEEN {a} AND {b}"),
        // DataFusion turns a short IN list on a column into ORs of `=`,
        // which equate -0.0 and 0.0 (its IN on an expression does not).
        8 if v == "v" => format!("{v} IN ({a}, {b}, 'NaN'::double precision)"),
        8 => format!("({v} = {a} OR {v} = {b} OR {v} = 'NaN'::double precision)"),
        _ => format!("{v} IN ({a}, {b}, 1.0::double precision, 2.0::double precision, 3.0::double precision)"),
    }
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
        let ctx = host_table(&db, primary_key, false, 2, &writes, batch);

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
        // Field comparisons, alone and with a time bound and hosts.
        let values: Vec<i16> = writes.iter().flat_map(|(rows, _)| rows.iter().map(|r| r.2)).collect();
        let a = if values.is_empty() { 0 } else { values[pick.index(values.len())] } + shift as i16;
        for kind in 0..10 {
            for timed in [false, true] {
                let time = if timed { format!(" AND time >= {}", constant(minute, 0)) } else { String::new() };
                let pushed = format!(
                    "SELECT time, host, v FROM t WHERE {}{time}{} ORDER BY host, time, v",
                    field_predicate(kind, a, a + width as i16, "v"),
                    host_list("host"),
                );
                let filtered = format!(
                    "SELECT time, host, v FROM t WHERE {}{time}{} ORDER BY host, time, v",
                    field_predicate(kind, a, a + width as i16, "coalesce(v, v)"),
                    host_list("host"),
                );
                let (plan, got) = rt.block_on(run(&ctx, &pushed));
                let (other_plan, want) = rt.block_on(run(&ctx, &filtered));
                // `<> 0` and IN lists holding a zero are left to DataFusion.
                let is_zero = |v: i16| matches!(value(v), Some(f) if f == 0.0);
                let left_over = (kind == 5 && is_zero(a)) || (kind == 9 && (is_zero(a) || is_zero(a + width as i16)));
                prop_assert_eq!(plan.contains("FilterExec"), left_over, "{}\n{}", pushed, plan);
                prop_assert_eq!(plan.contains("(on encoded data)"), !left_over, "{}\n{}", pushed, plan);
                prop_assert!(other_plan.contains("FilterExec"), "{}\n{}", filtered, other_plan);
                prop_assert_eq!(got, want, "{}", pushed);
            }
        }
    }
}

/// Scans use the cores: the segments of three hour partitions are split
/// over the session's target partitions, and the rows are the same.
/// Only the selected columns are read.
#[test]
fn scans_split_segments_over_the_target_partitions() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let writes = vec![(vec![(0, 1, 1), (90, 2, 2), (200, 3, 3)], true)];
    for partitions in [1, 2, 3] {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Database::open(dir.path()).unwrap());
        let ctx = host_table(&db, false, false, partitions, &writes, batch);
        let (plan, rows) = rt.block_on(run(&ctx, "SELECT host, v FROM t ORDER BY v"));
        let scan = plan.lines().find(|l| l.contains("LynxScanExec")).unwrap();
        assert!(scan.contains(&format!("partitions={partitions}")), "{plan}");
        // Projection pushdown: the scan reads the two selected columns only.
        assert!(scan.contains("projection=[host, v],"), "{plan}");
        assert_eq!(rows.lines().count(), 3 + 4, "{rows}");
        assert!(rows.contains("| h3   | 3.0 |"), "{rows}");
    }
}
