//! Parquet import paths (single pass in memory, two passes for large
//! files), request splitting, and schema mapping.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Float64Array, RecordBatch, StringArray, TimestampNanosecondArray, UInt64Array,
};
use datafusion::arrow::datatypes::DataType;
use lynx_storage::{ColumnRole, ColumnType, Database};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use super::parquet_in::ParquetSource;
use super::schema_map::{compatible, table_from_schema};

/// A file of three 2-row row groups; `bad_last` puts a NULL time in the last.
fn write_file(path: &std::path::Path, bad_last: bool) {
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(2))
        .build();
    let mut times: Vec<Option<i64>> = (0..6).map(|i| Some(i * 1_000_000_000)).collect();
    if bad_last {
        times[5] = None;
    }
    let batch = RecordBatch::try_from_iter([
        (
            "time",
            Arc::new(TimestampNanosecondArray::from(times).with_timezone("UTC")) as ArrayRef,
        ),
        (
            "host",
            Arc::new(StringArray::from(vec!["a", "b", "a", "b", "a", "b"])) as ArrayRef,
        ),
        (
            "v",
            Arc::new(Float64Array::from(vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0])) as ArrayRef,
        ),
        ("n", Arc::new(UInt64Array::from(vec![1u64; 6])) as ArrayRef),
    ])
    .unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn rows(db: &Database) -> usize {
    db.snapshot("t").unwrap().num_rows().unwrap()
}

#[test]
fn small_and_large_files_import_all_rows_and_bad_ones_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Database::open(dir.path().join("db")).unwrap());
    let good = dir.path().join("good.parquet");
    let bad = dir.path().join("bad.parquet");
    write_file(&good, false);
    write_file(&bad, true);
    let source = ParquetSource::open(&good).unwrap();
    assert_eq!(source.num_row_groups(), 3);
    let def = table_from_schema("t", source.schema(), None, None).unwrap();
    assert_eq!(def.columns[0].role, ColumnRole::Time);
    assert_eq!(def.columns[1].role, ColumnRole::Tag);
    assert_eq!(
        def.columns[3].column_type,
        ColumnType::Numeric {
            precision: 20,
            scale: 0
        }
    );
    db.create_table(def, false).unwrap();

    // A table without a primary key loads straight to segments, in one
    // pass with progress after each row group, without a WAL write.
    let mut phases = Vec::new();
    let requests = |db: &Database| {
        db.metrics()
            .write_requests
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let n = source
        .import(&db, "t", &mut |p| phases.push((p.phase, p.rows)))
        .unwrap();
    assert_eq!(n, 6);
    assert_eq!(phases, vec![("loading", 2), ("loading", 4), ("loading", 6)]);
    assert_eq!(rows(&db), 6);
    assert_eq!(requests(&db), 0);
    let segment_files = |db: &Database| {
        std::fs::read_dir(db.dir().join("segments"))
            .unwrap()
            .count()
    };
    assert_eq!(segment_files(&db), 1);

    // Runs of one row group each: three segments, committed together.
    let load = db.bulk_load("t").unwrap().unwrap().with_run_bytes(1);
    assert_eq!(source.import_bulk(&db, "t", load, &mut |_| {}).unwrap(), 6);
    assert_eq!(segment_files(&db), 4);
    assert_eq!(rows(&db), 12);
    db.compact_all().unwrap();
    assert_eq!(rows(&db), 12);

    // The WAL path (primary-key tables), larger than the single-write
    // limit: validate, then write row groups.
    let mut phases = Vec::new();
    let n = source
        .import_in(&db, "t", 1, &mut |p| phases.push((p.phase, p.rows)))
        .unwrap();
    assert_eq!(n, 6);
    assert_eq!(phases.len(), 6);
    assert_eq!(phases[5], ("writing", 6));
    assert_eq!(rows(&db), 18);

    // A bad last row group stores nothing, on every path; the bulk path
    // removes the segments it already wrote for the earlier row groups.
    let source = ParquetSource::open(&bad).unwrap();
    let files_before = segment_files(&db);
    for limit in [usize::MAX, 1] {
        let e = source.import_in(&db, "t", limit, &mut |_| {}).unwrap_err();
        assert!(e.message.contains("row group 2"), "{}", e.message);
        assert_eq!(rows(&db), 18);
    }
    let load = db.bulk_load("t").unwrap().unwrap().with_run_bytes(1);
    let e = source.import_bulk(&db, "t", load, &mut |_| {}).unwrap_err();
    assert!(
        e.message.contains("row group 2") && e.message.contains("null value in column \"time\""),
        "{}",
        e.message
    );
    assert_eq!(rows(&db), 18);
    assert_eq!(segment_files(&db), files_before);

    // Request splitting: 6 one-row batches with a tiny limit = 6 writes.
    let batches: Vec<RecordBatch> = db.snapshot("t").unwrap().batches().unwrap();
    let all = datafusion::arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    let one_row: Vec<RecordBatch> = (0..6).map(|i| all.slice(i, 1)).collect();
    let before = db
        .metrics()
        .write_requests
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(super::write_validated_in(&db, "t", &one_row, 1).unwrap(), 6);
    let after = db
        .metrics()
        .write_requests
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(after - before, 6);
    assert_eq!(super::write_validated(&db, "t", &one_row).unwrap(), 6);
    assert_eq!(
        db.metrics()
            .write_requests
            .load(std::sync::atomic::Ordering::Relaxed)
            - after,
        1
    );
}

#[test]
fn type_compatibility() {
    let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    assert!(compatible(&dict, ColumnType::Text));
    assert!(compatible(&DataType::UInt64, ColumnType::Int64));
    assert!(compatible(&DataType::Date32, ColumnType::TimestampTz));
    assert!(compatible(
        &DataType::Decimal128(10, 2),
        ColumnType::Float64
    ));
    assert!(!compatible(&DataType::Utf8, ColumnType::Float64));
    assert!(!compatible(&DataType::Float64, ColumnType::Int32));
    assert!(!compatible(&DataType::Int64, ColumnType::Text));
}

#[test]
fn staged_rows_spill_to_a_temporary_file_that_is_always_removed() {
    use super::staged::Staged;
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Database::open(dir.path().join("db")).unwrap());
    let file = dir.path().join("f.parquet");
    write_file(&file, false);
    let source = ParquetSource::open(&file).unwrap();
    db.create_table(
        table_from_schema("t", source.schema(), None, None).unwrap(),
        false,
    )
    .unwrap();
    source.import(&db, "t", &mut |_| {}).unwrap();
    let batches = db.snapshot("t").unwrap().batches().unwrap();
    let tmp = dir.path().join("db/tmp");
    let files = || std::fs::read_dir(&tmp).map_or(0, |d| d.count());

    let mut staged = Staged::with_limit(&db, 1);
    for b in &batches {
        staged.push(b.clone()).unwrap();
    }
    assert!(staged.spilled());
    assert_eq!(files(), 1);
    assert_eq!(staged.write_to(&db, "t").unwrap(), 6);
    assert_eq!(files(), 0);
    assert_eq!(rows(&db), 12);

    let mut abandoned = Staged::with_limit(&db, 1);
    abandoned.push(batches[0].clone()).unwrap();
    assert_eq!(files(), 1);
    drop(abandoned);
    assert_eq!(files(), 0);
    assert_eq!(rows(&db), 12);

    std::fs::write(tmp.join("copy-1-1.arrows"), b"left by a crash").unwrap();
    super::staged::remove_stale(&db);
    assert_eq!(files(), 0);

    let mut small = Staged::new(&db);
    small.push(batches[0].clone()).unwrap();
    assert!(!small.spilled());
}
