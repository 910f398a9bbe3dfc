//! Engine-level tests through the public `Database` API: writes, deletes,
//! restarts and recovery. One test binary for the crate.

mod model;
mod segments;

use std::sync::Arc;

use arrow::array::{Array, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use lynx_storage::{
    ColumnDef, ColumnRole, ColumnType, Database, StatusCode, TableDef, TableOptions,
};

pub fn cpu_def(name: &str, primary_key: bool) -> TableDef {
    let col = |name: &str, column_type, nullable, role| ColumnDef {
        name: name.into(),
        column_type,
        nullable,
        role,
    };
    TableDef {
        name: name.into(),
        columns: vec![
            col("time", ColumnType::TimestampTz, false, ColumnRole::Time),
            col("host", ColumnType::Text, true, ColumnRole::Tag),
            col("usage", ColumnType::Float64, true, ColumnRole::Field),
        ],
        options: TableOptions {
            primary_key,
            ..TableOptions::default()
        },
    }
}

pub fn batch(rows: &[(i64, &str, Option<f64>)]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "time",
            DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into())),
            false,
        ),
        Field::new("host", DataType::Utf8, true),
        Field::new("usage", DataType::Float64, true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(
                TimestampMicrosecondArray::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())
                    .with_timezone("+00:00"),
            ),
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            )),
            Arc::new(Float64Array::from(
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            )),
        ],
    )
    .unwrap()
}

/// All rows of a table as (time, host, usage) sorted by (time, host).
pub fn rows(db: &Database, table: &str) -> Vec<(i64, Option<String>, Option<u64>)> {
    let snap = db.snapshot(table).unwrap();
    let mut out = Vec::new();
    for b in &snap.batches().unwrap() {
        let t = b
            .column(0)
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .unwrap();
        let h = b.column(1).as_any().downcast_ref::<StringArray>().unwrap();
        let u = b.column(2).as_any().downcast_ref::<Float64Array>().unwrap();
        for i in 0..b.num_rows() {
            out.push((
                t.value(i),
                h.is_valid(i).then(|| h.value(i).to_string()),
                u.is_valid(i).then(|| u.value(i).to_bits()),
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn write_many_is_all_or_nothing_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path()).unwrap();
        db.create_table(cpu_def("a", false), false).unwrap();
        db.create_table(cpu_def("b", true), false).unwrap();
        let n = db
            .write_many(&[
                ("a", batch(&[(1, "h1", Some(1.5)), (2, "h2", None)])),
                (
                    "b",
                    batch(&[(3, "h3", Some(f64::from_bits(0x7ff0_0000_0000_0002)))]),
                ),
            ])
            .unwrap();
        assert_eq!(n, 3);
        // The second part names a missing table: nothing of the request lands.
        let err = db
            .write_many(&[
                ("a", batch(&[(9, "h9", Some(9.0))])),
                ("missing", batch(&[(9, "h9", Some(9.0))])),
            ])
            .unwrap_err();
        assert_eq!(err.status_code(), StatusCode::TableNotFound);
        assert_eq!(rows(&db, "a").len(), 2);
    }
    let db = Database::open(dir.path()).unwrap();
    assert_eq!(
        rows(&db, "a"),
        vec![
            (1, Some("h1".into()), Some(1.5f64.to_bits())),
            (2, Some("h2".into()), None)
        ]
    );
    // The staleness-style NaN payload comes back bit-exact.
    assert_eq!(
        rows(&db, "b"),
        vec![(3, Some("h3".into()), Some(0x7ff0_0000_0000_0002))]
    );
}

#[test]
fn delete_time_range_removes_only_that_range_and_is_replayed() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path()).unwrap();
        db.create_table(cpu_def("cpu", false), false).unwrap();
        db.write(
            "cpu",
            &batch(&[
                (10, "a", Some(1.0)),
                (20, "a", Some(2.0)),
                (30, "a", Some(3.0)),
            ]),
        )
        .unwrap();
        assert_eq!(db.delete_time_range("cpu", 20, 30).unwrap(), 1);
        db.write("cpu", &batch(&[(25, "b", Some(4.0))])).unwrap();
    }
    let db = Database::open(dir.path()).unwrap();
    let times: Vec<i64> = rows(&db, "cpu").iter().map(|r| r.0).collect();
    assert_eq!(times, vec![10, 25, 30]);
}

static RELEASES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn count_release() {
    RELEASES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

/// The server hands freed pages back to the OS after each flush and each
/// compaction that merged something.
#[test]
fn memory_is_released_after_flushes_and_compactions() {
    let released = || RELEASES.load(std::sync::atomic::Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let options = lynx_storage::DatabaseOptions {
        release_memory: Some(count_release),
        ..Default::default()
    };
    let db = Database::open_with(dir.path(), options).unwrap();
    db.create_table(cpu_def("a", false), false).unwrap();
    assert_eq!(released(), 0);
    db.write("a", &batch(&[(1, "h1", Some(1.0))])).unwrap();
    db.flush().unwrap();
    assert_eq!(released(), 1);
    db.write("a", &batch(&[(2, "h1", Some(2.0))])).unwrap();
    db.flush().unwrap();
    assert_eq!(db.compact(2).unwrap(), 1);
    assert_eq!(released(), 3);
    assert_eq!(db.compact(2).unwrap(), 0);
    assert_eq!(released(), 3);
    assert_eq!(rows(&db, "a").len(), 2);
}
