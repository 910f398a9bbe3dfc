//! Model-based test: random sequences of writes, flushes, compactions,
//! deletes and reopenings must leave exactly the rows a simple in-memory
//! model predicts, for an append-only and a primary-key table.

use std::collections::BTreeMap;

use lynx_storage::{Database, DatabaseOptions, Durability};
use proptest::prelude::*;

use crate::{batch, cpu_def, rows};

const HOUR: i64 = 3_600_000_000;

#[derive(Debug, Clone)]
enum Op {
    /// Rows, written this many times (value + 1 each time): a burst of
    /// small writes is coalesced into compact memtable batches.
    Write(Vec<(i64, u8, i32)>, i32),
    Flush,
    Compact,
    Delete(i64, i64),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    // Times span three daily partitions, on a coarse grid so keys repeat.
    let row = (0i64..72, 0u8..3, -5i32..5).prop_map(|(h, host, v)| (h * HOUR, host, v));
    prop_oneof![
        4 => prop::collection::vec(row.clone(), 1..12).prop_map(|rs| Op::Write(rs, 1)),
        1 => prop::collection::vec(row, 1..12).prop_map(|rs| Op::Write(rs, 70)),
        2 => Just(Op::Flush),
        1 => Just(Op::Compact),
        1 => (0i64..72, 1i64..30).prop_map(|(h, len)| Op::Delete(h * HOUR, (h + len) * HOUR)),
        1 => Just(Op::Reopen),
    ]
}

type Row = (i64, Option<String>, Option<u64>);

fn open(dir: &std::path::Path) -> Database {
    Database::open_with(
        dir,
        DatabaseOptions {
            durability: Durability::Relaxed,
            wal_rotate_bytes: 4096,
            ..DatabaseOptions::default()
        },
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_the_model(ops in prop::collection::vec(op(), 1..24)) {
        let dir = tempfile::tempdir().unwrap();
        let mut db = open(dir.path());
        db.create_table(cpu_def("append", false), false).unwrap();
        db.create_table(cpu_def("keyed", true), false).unwrap();
        let mut append: Vec<Row> = Vec::new();
        let mut keyed: BTreeMap<(String, i64), u64> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Write(rs, times) => {
                    let hosts = ["h0", "h1", "h2"];
                    for k in 0..times {
                        let rs: Vec<(i64, &str, Option<f64>)> = rs
                            .iter()
                            .map(|(t, h, v)| (*t, hosts[*h as usize], Some(f64::from(*v + k))))
                            .collect();
                        db.write("append", &batch(&rs)).unwrap();
                        db.write("keyed", &batch(&rs)).unwrap();
                        for (t, h, v) in rs {
                            let bits = v.unwrap().to_bits();
                            append.push((t, Some(h.to_string()), Some(bits)));
                            keyed.insert((h.to_string(), t), bits);
                        }
                    }
                }
                Op::Flush => db.flush().unwrap(),
                Op::Compact => {
                    db.compact(2).unwrap();
                }
                Op::Delete(lo, hi) => {
                    db.delete_time_range("append", lo, hi).unwrap();
                    db.delete_time_range("keyed", lo, hi).unwrap();
                    append.retain(|r| r.0 < lo || r.0 >= hi);
                    keyed.retain(|(_, t), _| *t < lo || *t >= hi);
                }
                Op::Reopen => {
                    drop(db);
                    db = open(dir.path());
                }
            }
            append.sort();
            let want_keyed: Vec<Row> = {
                let mut v: Vec<Row> = keyed
                    .iter()
                    .map(|((h, t), bits)| (*t, Some(h.clone()), Some(*bits)))
                    .collect();
                v.sort();
                v
            };
            prop_assert_eq!(rows(&db, "append"), append.clone());
            prop_assert_eq!(rows(&db, "keyed"), want_keyed);
        }
    }
}

fn filtered(rows: Vec<Row>, lo: i64, hi: i64, hosts: &[String]) -> Vec<Row> {
    rows.into_iter()
        .filter(|r| r.0 >= lo && r.0 <= hi && r.1.as_ref().is_some_and(|h| hosts.contains(h)))
        .collect()
}

/// Rows whose usage satisfies `predicate` (floats by total order, NULL never).
fn usage_matches(rows: Vec<Row>, predicate: &lynx_storage::Predicate) -> Vec<Row> {
    use lynx_storage::{Predicate, Scalar};
    use std::cmp::Ordering::{self, Equal, Greater, Less};
    let c = |u: f64, s: &Scalar| match s {
        Scalar::Float(v) => u.total_cmp(v),
        other => panic!("float filter with {other:?}"),
    };
    let holds = |u: f64| -> bool {
        match predicate {
            Predicate::Eq(v) => c(u, v) == Equal,
            Predicate::NotEq(v) => c(u, v) != Equal,
            Predicate::Lt(v) => c(u, v) == Less,
            Predicate::LtEq(v) => c(u, v) != Greater,
            Predicate::Gt(v) => c(u, v) == Greater,
            Predicate::GtEq(v) => c(u, v) != Less,
            Predicate::Between(a, b) => c(u, a) != Less && c(u, b) != Greater,
            Predicate::In(vs) => vs.iter().any(|v| c(u, v) == Ordering::Equal),
        }
    };
    rows.into_iter()
        .filter(|r| r.2.map(f64::from_bits).is_some_and(holds))
        .collect()
}

/// A usage value for row `i`: mostly `i / 2`, with NULLs, NaNs and
/// negative zeros mixed in.
fn usage_value(i: usize) -> Option<f64> {
    match i % 97 {
        0 => None,
        13 => Some(f64::NAN),
        29 => Some(-0.0),
        41 => Some(0.0),
        _ => Some(i as f64 / 2.0),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Time bounds, tag filters and field filters are applied exactly: a
    /// scan returns exactly the full scan filtered by them, from segments,
    /// the memtable and (primary-key tables) after de-duplication, NaN,
    /// signed zeros and NULLs included.
    #[test]
    fn filtered_scans_return_exactly_the_matching_rows(
        flushes in 1usize..4,
        per_flush in 500usize..6000,
        lo in 0i64..6000,
        len in 0i64..3000,
        hosts in prop::collection::btree_set(0u8..6, 1..4),
        pk in any::<bool>(),
        field in prop::option::of((0usize..8, -10i32..3100, 0i32..400)),
    ) {
        use lynx_storage::{FieldFilter, Predicate, Scalar, ScanRequest, TagFilter};
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path());
        db.create_table(cpu_def("t", pk), false).unwrap();
        let names = ["h0", "h1", "h2", "h3", "h4", "h5"];
        for f in 0..flushes {
            let rs: Vec<(i64, &str, Option<f64>)> = (0..per_flush)
                .map(|i| ((i * 7 + f * 13) as i64 % 6000, names[(i * 5 + f) % 6], usage_value(i + f)))
                .collect();
            db.write("t", &batch(&rs)).unwrap();
            if f + 1 < flushes {
                db.flush().unwrap();
            }
        }
        let hosts: Vec<String> = hosts.iter().map(|h| names[*h as usize].to_string()).collect();
        let hi = lo + len;
        let snap = db.snapshot("t").unwrap();
        let req = ScanRequest {
            projection: Some(vec![0, 1, 2]),
            lo: Some(lo),
            hi: Some(hi),
            tags: vec![TagFilter { column: 1, values: hosts.clone() }],
            fields: Vec::new(),
            latest_per_series: false,
        };
        let predicate = field.map(|(op, v, w)| {
            let v = Scalar::Float(match v {
                -10 => f64::NAN,
                -9 => -0.0,
                v => f64::from(v) / 2.0,
            });
            let w = Scalar::Float(f64::from(w) * 3.0);
            match op {
                0 => Predicate::Lt(v),
                1 => Predicate::LtEq(v),
                2 => Predicate::Gt(v),
                3 => Predicate::GtEq(v),
                4 => Predicate::Eq(v),
                5 => Predicate::NotEq(v),
                6 => Predicate::Between(v, w),
                _ => Predicate::In(vec![v, w, Scalar::Float(f64::NAN)]),
            }
        });
        let req = ScanRequest {
            fields: predicate
                .iter()
                .map(|p| FieldFilter { column: 2, predicate: p.clone() })
                .collect(),
            ..req
        };
        let mut pruned = Vec::new();
        for unit in snap.units(&req).0 {
            for b in snap.read_unit(&unit, &req).unwrap() {
                pruned.push(b);
            }
        }
        let to_rows = |batches: &[arrow::array::RecordBatch]| -> Vec<Row> {
            use arrow::array::{Array, AsArray};
            use arrow::datatypes::{Float64Type, TimestampMicrosecondType};
            let mut out = Vec::new();
            for b in batches {
                let t = b.column(0).as_primitive::<TimestampMicrosecondType>();
                let h = b.column(1).as_string::<i32>();
                let u = b.column(2).as_primitive::<Float64Type>();
                for i in 0..b.num_rows() {
                    out.push((t.value(i), h.is_valid(i).then(|| h.value(i).to_string()), u.is_valid(i).then(|| u.value(i).to_bits())));
                }
            }
            out.sort();
            out
        };
        let want = filtered(rows(&db, "t"), lo, hi, &hosts);
        match predicate {
            None => prop_assert_eq!(to_rows(&pruned), want),
            Some(p) => prop_assert_eq!(to_rows(&pruned), usage_matches(want, &p)),
        }
    }
}
