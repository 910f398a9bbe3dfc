//! Flush to segments, WAL trimming, recovery, compaction, retention,
//! deletes on segments and corruption reporting.

use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::Float64Type;
use lynx_storage::{
    ColumnDef, ColumnRole, ColumnType, Database, DatabaseOptions, StatusCode, TableOptions,
};

use crate::{batch, cpu_def, rows};

const HOUR: i64 = 3_600_000_000;
const DAY: i64 = 24 * HOUR;

fn files(dir: &Path, sub: &str, ext: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join(sub))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(ext))
        .collect();
    names.sort();
    names
}

fn small_wal() -> DatabaseOptions {
    DatabaseOptions {
        wal_rotate_bytes: 1024,
        ..DatabaseOptions::default()
    }
}

#[test]
fn flush_writes_one_segment_per_partition_trims_the_wal_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let expected;
    {
        let db = Database::open_with(dir.path(), small_wal()).unwrap();
        db.create_table(cpu_def("cpu", false), false).unwrap();
        for i in 0..20i64 {
            // Two days, out of order, several hosts.
            let t = (i % 2) * DAY + (20 - i) * 1_000_000;
            let host = ["a", "b", "c"][i as usize % 3];
            db.write("cpu", &batch(&[(t, host, Some(i as f64))]))
                .unwrap();
        }
        expected = rows(&db, "cpu");
        let wal_before = files(dir.path(), "wal", ".wal").len();
        assert!(wal_before > 2, "the test needs rotated WAL files");
        db.flush().unwrap();
        assert_eq!(files(dir.path(), "segments", ".lseg").len(), 2);
        assert_eq!(db.segment_count(), 2);
        // The flush rotated the log and trimmed every file it covered.
        assert_eq!(files(dir.path(), "wal", ".wal").len(), 1);
        assert_eq!(db.memtable_bytes(), 0);
        assert_eq!(rows(&db, "cpu"), expected);
        // Rows inside a segment are sorted by (tags, time).
        let snap = db.snapshot("cpu").unwrap();
        let seg = &snap.segments()[0];
        let series: Vec<Vec<Option<String>>> = seg
            .footer()
            .series
            .iter()
            .map(|s| {
                s.tags
                    .iter()
                    .map(|t| t.as_deref().map(String::from))
                    .collect()
            })
            .collect();
        assert_eq!(
            series,
            vec![
                vec![Some("a".into())],
                vec![Some("b".into())],
                vec![Some("c".into())]
            ]
        );
        db.write("cpu", &batch(&[(5, "d", None)])).unwrap();
    }
    let db = Database::open(dir.path()).unwrap();
    let mut with_new = expected.clone();
    with_new.push((5, Some("d".into()), None));
    with_new.sort();
    assert_eq!(rows(&db, "cpu"), with_new);
    // Writes after reopening get sequence numbers above the flushed ones.
    db.write("cpu", &batch(&[(6, "e", Some(1.0))])).unwrap();
    db.flush().unwrap();
    drop(db);
    let db = Database::open(dir.path()).unwrap();
    assert_eq!(rows(&db, "cpu").len(), with_new.len() + 1);
}

#[test]
fn primary_key_last_write_wins_across_segments_memtable_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.create_table(cpu_def("m", true), false).unwrap();
    db.write("m", &batch(&[(1, "a", Some(1.0)), (2, "a", Some(2.0))]))
        .unwrap();
    db.flush().unwrap();
    db.write("m", &batch(&[(1, "a", Some(10.0))])).unwrap();
    db.flush().unwrap();
    db.write("m", &batch(&[(2, "a", Some(20.0)), (3, "b", Some(3.0))]))
        .unwrap();
    let want = vec![
        (1, Some("a".into()), Some(10f64.to_bits())),
        (2, Some("a".into()), Some(20f64.to_bits())),
        (3, Some("b".into()), Some(3f64.to_bits())),
    ];
    assert_eq!(rows(&db, "m"), want);
    db.flush().unwrap();
    assert_eq!(db.segment_count(), 3);
    assert_eq!(rows(&db, "m"), want);
    assert_eq!(db.compact(2).unwrap(), 1);
    assert_eq!(db.segment_count(), 1);
    assert_eq!(files(dir.path(), "segments", ".lseg").len(), 1);
    assert_eq!(db.snapshot("m").unwrap().segments()[0].footer().rows, 3);
    assert_eq!(rows(&db, "m"), want);
    drop(db);
    let db = Database::open(dir.path()).unwrap();
    assert_eq!(rows(&db, "m"), want);
}

#[test]
fn columns_added_after_a_flush_read_as_null_from_old_segments() {
    use lynx_storage::{FieldFilter, Predicate, Scalar, ScanRequest};
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.create_table(cpu_def("cpu", false), false).unwrap();
    db.write("cpu", &batch(&[(1, "a", Some(1.0))])).unwrap();
    db.flush().unwrap();
    db.add_column(
        "cpu",
        ColumnDef {
            name: "temp".into(),
            column_type: ColumnType::Float64,
            nullable: true,
            role: ColumnRole::Field,
        },
        false,
    )
    .unwrap();
    let snap = db.snapshot("cpu").unwrap();
    let got = snap.scan(Some(&[3, 0]), None, None).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].num_columns(), 2);
    assert_eq!(got[0].column(0).null_count(), 1);
    assert_eq!(got[0].schema().field(0).name(), "temp");

    // A field filter on the new column: the old segment's rows are NULL
    // there and match no comparison; a new row that passes is returned.
    let schema = snap.schema.clone();
    let new_row = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(
                arrow::array::TimestampMicrosecondArray::from(vec![2]).with_timezone("+00:00"),
            ),
            Arc::new(arrow::array::StringArray::from(vec!["b"])),
            Arc::new(arrow::array::Float64Array::from(vec![Some(2.0)])),
            Arc::new(arrow::array::Float64Array::from(vec![Some(-5.0)])),
        ],
    )
    .unwrap();
    db.write("cpu", &new_row).unwrap();
    db.flush().unwrap();
    let snap = db.snapshot("cpu").unwrap();
    for (predicate, want) in [
        (Predicate::Lt(Scalar::Float(0.0)), 1),
        (Predicate::NotEq(Scalar::Float(7.0)), 1),
        (Predicate::Gt(Scalar::Float(0.0)), 0),
    ] {
        let req = ScanRequest {
            projection: Some(vec![0, 3]),
            fields: vec![FieldFilter {
                column: 3,
                predicate: predicate.clone(),
            }],
            ..ScanRequest::default()
        };
        let mut times = Vec::new();
        for unit in snap.units(&req).0 {
            for b in snap.read_unit(&unit, &req).unwrap() {
                let t = b
                    .column(0)
                    .as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
                times.extend(t.values().iter().copied());
            }
        }
        assert_eq!(times.len(), want, "{predicate:?}: {times:?}");
        assert!(
            times.iter().all(|t| *t == 2),
            "{predicate:?}: only the new row"
        );
    }
}

#[test]
fn delete_on_segments_drops_or_rewrites_them_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path()).unwrap();
        db.create_table(cpu_def("cpu", false), false).unwrap();
        // Day 0: three rows; day 1: one row.
        db.write(
            "cpu",
            &batch(&[
                (HOUR, "a", Some(1.0)),
                (2 * HOUR, "a", Some(2.0)),
                (3 * HOUR, "b", Some(3.0)),
                (DAY + HOUR, "a", Some(4.0)),
            ]),
        )
        .unwrap();
        db.flush().unwrap();
        assert_eq!(db.segment_count(), 2);
        // Covers day 1 entirely and two rows of day 0.
        assert_eq!(db.delete_time_range("cpu", 2 * HOUR, 2 * DAY).unwrap(), 3);
        assert_eq!(db.segment_count(), 1);
        assert_eq!(files(dir.path(), "segments", ".lseg").len(), 1);
    }
    let db = Database::open(dir.path()).unwrap();
    let times: Vec<i64> = rows(&db, "cpu").iter().map(|r| r.0).collect();
    assert_eq!(times, vec![HOUR]);
}

#[test]
fn retention_drops_expired_partitions_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let mut def = cpu_def("cpu", false);
    def.options = TableOptions {
        ttl_micros: Some(2 * DAY),
        ..TableOptions::default()
    };
    db.create_table(def, false).unwrap();
    let rows_in = [
        (HOUR, "a", Some(1.0)),
        (DAY + HOUR, "a", Some(2.0)),
        (3 * DAY + HOUR, "a", Some(3.0)),
    ];
    db.write("cpu", &batch(&rows_in[..2])).unwrap();
    db.flush().unwrap();
    db.write("cpu", &batch(&rows_in[2..])).unwrap();
    // "Now" is day 3 + 2h: cutoff day 1 + 2h, so only day 0 has ended before it.
    db.enforce_retention(3 * DAY + 2 * HOUR).unwrap();
    let times: Vec<i64> = rows(&db, "cpu").iter().map(|r| r.0).collect();
    assert_eq!(times, vec![DAY + HOUR, 3 * DAY + HOUR]);
    assert_eq!(db.segment_count(), 1);
    // Nothing more expires at the same instant.
    db.enforce_retention(3 * DAY + 2 * HOUR).unwrap();
    assert_eq!(rows(&db, "cpu").len(), 2);
}

#[test]
fn leftover_files_of_an_interrupted_flush_are_removed_not_read() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path()).unwrap();
        db.create_table(cpu_def("cpu", false), false).unwrap();
        db.write("cpu", &batch(&[(1, "a", Some(1.0))])).unwrap();
        db.flush().unwrap();
        db.write("cpu", &batch(&[(2, "a", Some(2.0))])).unwrap();
    }
    // A crash after writing (and renaming) a segment but before the
    // manifest named it, and another one mid-write.
    let seg = files(dir.path(), "segments", ".lseg").pop().unwrap();
    let segs = dir.path().join("segments");
    std::fs::copy(segs.join(&seg), segs.join("t1_p0_s00000099.lseg")).unwrap();
    std::fs::write(segs.join("t1_p0_s00000100.lseg.tmp"), b"half a segm").unwrap();
    let db = Database::open(dir.path()).unwrap();
    assert_eq!(files(dir.path(), "segments", ""), vec![seg]);
    let times: Vec<i64> = rows(&db, "cpu").iter().map(|r| r.0).collect();
    assert_eq!(times, vec![1, 2]);
}

#[test]
fn a_corrupt_segment_is_reported_by_name_and_other_tables_keep_serving() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path()).unwrap();
        db.create_table(cpu_def("bad", false), false).unwrap();
        db.create_table(cpu_def("good", false), false).unwrap();
        let many: Vec<(i64, &str, Option<f64>)> =
            (0..1000).map(|i| (i, "h", Some(i as f64 * 0.37))).collect();
        db.write("bad", &batch(&many)).unwrap();
        db.write("good", &batch(&many[..10])).unwrap();
        db.flush().unwrap();
    }
    let bad_file = files(dir.path(), "segments", ".lseg")
        .into_iter()
        .find(|f| f.starts_with("t1_"))
        .unwrap();
    let path = dir.path().join("segments").join(&bad_file);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[40] ^= 0xff; // inside the first column blob
    std::fs::write(&path, &bytes).unwrap();
    let db = Database::open(dir.path()).unwrap();
    let snap = db.snapshot("bad").unwrap();
    let err = snap.batches().unwrap_err();
    assert_eq!(err.status_code(), StatusCode::Corrupt);
    assert!(err.to_string().contains(&bad_file), "{err}");
    assert_eq!(rows(&db, "good").len(), 10);
    // A damaged footer is found at open and reported on the table.
    drop(db);
    let len = bytes.len();
    bytes[len - 30] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let db = Database::open(dir.path()).unwrap();
    let err = db.snapshot("bad").unwrap_err();
    assert_eq!(err.status_code(), StatusCode::Corrupt);
    assert!(err.to_string().contains(&bad_file), "{err}");
    assert_eq!(rows(&db, "good").len(), 10);
}

#[test]
fn drop_table_removes_its_segments() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.create_table(cpu_def("cpu", false), false).unwrap();
    db.write("cpu", &batch(&[(1, "a", Some(1.0))])).unwrap();
    db.flush().unwrap();
    assert_eq!(files(dir.path(), "segments", ".lseg").len(), 1);
    db.drop_table("cpu", false).unwrap();
    assert!(files(dir.path(), "segments", ".lseg").is_empty());
    db.create_table(cpu_def("cpu", false), false).unwrap();
    assert!(rows(&db, "cpu").is_empty());
}

#[test]
fn back_pressure_flushes_instead_of_dropping_writers() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_with(
        dir.path(),
        DatabaseOptions {
            max_memtable_bytes: 4096,
            ..DatabaseOptions::default()
        },
    )
    .unwrap();
    db.create_table(cpu_def("cpu", false), false).unwrap();
    let mut sum = 0.0;
    for i in 0..50i64 {
        let many: Vec<(i64, &str, Option<f64>)> = (0..20)
            .map(|j| (i * 100 + j, "h", Some(j as f64)))
            .collect();
        sum += many.iter().map(|r| r.2.unwrap()).sum::<f64>();
        db.write("cpu", &batch(&many)).unwrap();
    }
    assert!(
        db.metrics()
            .write_stalls
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    );
    assert!(db.segment_count() > 1);
    let total: f64 = db
        .snapshot("cpu")
        .unwrap()
        .scan(Some(&[2]), None, None)
        .unwrap()
        .iter()
        .map(|b: &RecordBatch| {
            b.column(0)
                .as_primitive::<Float64Type>()
                .iter()
                .flatten()
                .sum::<f64>()
        })
        .sum();
    assert_eq!(total, sum);
    assert_eq!(rows(&db, "cpu").len(), 1000);
}

#[test]
fn a_damaged_manifest_or_catalog_is_a_clear_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path()).unwrap();
        db.create_table(cpu_def("cpu", false), false).unwrap();
        db.write("cpu", &batch(&[(1, "a", Some(1.0))])).unwrap();
        db.flush().unwrap();
    }
    for name in ["manifest.json", "catalog.json"] {
        let path = dir.path().join(name);
        let good = std::fs::read(&path).unwrap();
        let mut bad = good.clone();
        // A digit inside the JSON body: still valid JSON, wrong content.
        let at = bad.iter().rposition(|b| b.is_ascii_digit()).unwrap();
        bad[at] = if bad[at] == b'9' { b'8' } else { bad[at] + 1 };
        std::fs::write(&path, &bad).unwrap();
        let err = Database::open(dir.path()).unwrap_err();
        assert_eq!(err.status_code(), StatusCode::Corrupt, "{name}");
        assert!(err.to_string().contains(name), "{err}");
        assert!(err.to_string().contains("checksum mismatch"), "{err}");
        std::fs::write(&path, &good).unwrap();
    }
    let db = Database::open(dir.path()).unwrap();
    assert_eq!(rows(&db, "cpu").len(), 1);
}

#[test]
fn compaction_is_size_tiered_so_old_data_is_not_rewritten_every_time() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.create_table(cpu_def("cpu", true), false).unwrap();
    let mut counts = Vec::new();
    for i in 0..9i64 {
        db.write("cpu", &batch(&[(i, "a", Some(i as f64))]))
            .unwrap();
        db.flush().unwrap();
        db.compact(4).unwrap();
        counts.push(db.segment_count());
    }
    // Four 1-row segments merge into one of 4 rows; later 1-row segments do
    // not drag it along until they add up to its size.
    assert_eq!(counts, vec![1, 2, 3, 1, 2, 3, 4, 1, 2]);
    assert_eq!(rows(&db, "cpu").len(), 9);
    assert_eq!(db.compact_all().unwrap(), 1);
    assert_eq!(db.segment_count(), 1);
}

#[test]
fn memtables_are_kept_per_partition_for_flush_and_scans() {
    use lynx_storage::ScanRequest;
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.create_table(cpu_def("cpu", true), false).unwrap();
    // One request spans three days and writes one key twice (the later
    // row wins); a second request replaces a key of day 2.
    db.write(
        "cpu",
        &batch(&[
            (2 * DAY + 1, "a", Some(1.0)),
            (5, "a", Some(2.0)),
            (DAY + 7, "b", Some(3.0)),
            (5, "a", Some(4.0)),
        ]),
    )
    .unwrap();
    db.write("cpu", &batch(&[(2 * DAY + 1, "a", Some(5.0))]))
        .unwrap();
    let want = vec![
        (5, Some("a".to_string()), Some(4f64.to_bits())),
        (DAY + 7, Some("b".to_string()), Some(3f64.to_bits())),
        (2 * DAY + 1, Some("a".to_string()), Some(5f64.to_bits())),
    ];
    assert_eq!(rows(&db, "cpu"), want);
    // A primary-key scan de-duplicates each partition on its own: one unit
    // per day, and a time range reads only its day's memtable rows.
    let snap = db.snapshot("cpu").unwrap();
    let all = ScanRequest::default();
    assert_eq!(snap.units(&all).0.len(), 3);
    let day1 = ScanRequest {
        lo: Some(DAY),
        hi: Some(2 * DAY - 1),
        ..ScanRequest::default()
    };
    let units = snap.units(&day1).0;
    assert_eq!(units.len(), 1);
    assert_eq!(units[0].rows, 1);
    // The flush writes one segment per day; the rows are unchanged, also
    // once a day holds both a segment and newer memtable rows.
    db.flush().unwrap();
    assert_eq!(db.segment_count(), 3);
    assert_eq!(rows(&db, "cpu"), want);
    db.write("cpu", &batch(&[(5, "a", Some(6.0))])).unwrap();
    let mut want = want;
    want[0].2 = Some(6f64.to_bits());
    assert_eq!(rows(&db, "cpu"), want);
    assert_eq!(db.snapshot("cpu").unwrap().units(&all).0.len(), 3);
}

#[test]
fn compacting_more_segments_than_one_merge_takes_keeps_the_newest_rows() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.create_table(cpu_def("cpu", true), false).unwrap();
    // 40 segments in one partition (more than one merge reads at once);
    // each rewrites one of five keys of host "a" and adds a row of "b".
    for i in 0..40i64 {
        db.write(
            "cpu",
            &batch(&[(i % 5, "a", Some(i as f64)), (i, "b", Some(0.0))]),
        )
        .unwrap();
        db.flush().unwrap();
    }
    assert_eq!(db.segment_count(), 40);
    assert_eq!(db.compact_all().unwrap(), 1);
    assert_eq!(db.segment_count(), 1);
    let mut want: Vec<(i64, Option<String>, Option<u64>)> = (35..40i64)
        .map(|i| (i % 5, Some("a".to_string()), Some((i as f64).to_bits())))
        .chain((0..40).map(|i| (i, Some("b".to_string()), Some(0f64.to_bits()))))
        .collect();
    want.sort();
    assert_eq!(rows(&db, "cpu"), want);
    drop(db);
    let db = Database::open(dir.path()).unwrap();
    assert_eq!(db.segment_count(), 1);
    assert_eq!(rows(&db, "cpu"), want);
}

#[test]
fn bulk_loads_commit_all_runs_at_once_or_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = std::sync::Arc::new(Database::open(dir.path()).unwrap());
    db.create_table(cpu_def("cpu", false), false).unwrap();
    db.create_table(cpu_def("pk", true), false).unwrap();
    assert!(
        db.bulk_load("pk").unwrap().is_none(),
        "primary keys need the WAL order"
    );
    db.write("cpu", &batch(&[(5, "a", Some(0.5))])).unwrap();

    // Every row is its own run: two days -> segments for each run and day,
    // none visible before the commit.
    let mut load = db.bulk_load("cpu").unwrap().unwrap().with_run_bytes(1);
    for i in 0..6i64 {
        let host = ["b", "a"][i as usize % 2];
        load.push(&batch(&[((i % 2) * DAY + i, host, Some(i as f64))]))
            .unwrap();
    }
    assert_eq!(load.rows(), 6);
    assert!(files(dir.path(), "segments", ".lseg").len() >= 5);
    assert_eq!(rows(&db, "cpu").len(), 1);
    assert_eq!(load.commit().unwrap(), 6);
    assert_eq!(files(dir.path(), "segments", ".lseg").len(), 6);
    assert_eq!(rows(&db, "cpu").len(), 7);
    assert_eq!(db.segment_count(), 6);

    // Dropped without commit (an error part-way): its files are removed.
    let mut load = db.bulk_load("cpu").unwrap().unwrap().with_run_bytes(1);
    load.push(&batch(&[(100, "c", Some(1.0))])).unwrap();
    let bad = load.push(&batch(&[(101, "c", None)]).project(&[1, 2]).unwrap());
    assert_eq!(bad.unwrap_err().status_code(), StatusCode::NotNullViolation);
    drop(load);
    assert_eq!(files(dir.path(), "segments", ".lseg").len(), 6);

    // A table dropped during the load: the commit fails, nothing is left.
    let mut load = db.bulk_load("cpu").unwrap().unwrap().with_run_bytes(1);
    load.push(&batch(&[(200, "d", Some(2.0))])).unwrap();
    db.drop_table("cpu", false).unwrap();
    db.create_table(cpu_def("cpu", false), false).unwrap();
    assert_eq!(
        load.commit().unwrap_err().status_code(),
        StatusCode::TableNotFound
    );
    assert!(files(dir.path(), "segments", ".lseg").is_empty());
    assert!(rows(&db, "cpu").is_empty());

    // Committed loads survive a reopen without any WAL record.
    let mut load = db.bulk_load("cpu").unwrap().unwrap();
    load.push(&batch(&[(300, "e", Some(3.0)), (301, "e", Some(4.0))]))
        .unwrap();
    load.commit().unwrap();
    drop(db);
    let db = std::sync::Arc::new(Database::open(dir.path()).unwrap());
    assert_eq!(
        rows(&db, "cpu"),
        vec![
            (300, Some("e".into()), Some(3.0f64.to_bits())),
            (301, Some("e".into()), Some(4.0f64.to_bits()))
        ]
    );
}

/// A segment of several 64 Ki-row chunks, whose series start and end in
/// the middle of chunks: scan units (one chunk each) and a read of the
/// whole segment return exactly the matching rows for every time window,
/// tag filter and field filter.
#[test]
fn multi_chunk_segments_return_exactly_the_matching_rows() {
    use lynx_storage::{FieldFilter, Predicate, Scalar, ScanRequest, TagFilter};

    const PER_HOST: i64 = 50_000;
    const SECOND: i64 = 1_000_000;
    const BASE: i64 = 1_704_067_200_000_000; // 2024-01-01 00:00 UTC
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.create_table(cpu_def("t", false), false).unwrap();
    let hosts = ["a", "b", "c"];
    for (h, host) in hosts.iter().enumerate() {
        let rs: Vec<(i64, &str, Option<f64>)> = (0..PER_HOST)
            .map(|i| (BASE + i * SECOND, *host, Some((i * 3 + h as i64) as f64)))
            .collect();
        db.write("t", &batch(&rs)).unwrap();
    }
    db.flush().unwrap();
    db.compact(2).unwrap();
    let segments = db.snapshot("t").unwrap().segments().to_vec();
    assert_eq!(segments.len(), 1, "one segment");
    assert_eq!(
        segments[0].footer().chunks.len(),
        3,
        "150,000 rows in 64 Ki-row chunks"
    );

    /// (first second, last second, hosts, filter on `usage`: `>` or `<=`)
    type Case = (i64, i64, &'static [&'static str], Option<(bool, f64)>);
    let cases: [Case; 6] = [
        (0, PER_HOST, &["a", "b", "c"], None),
        (10_000, 40_000, &["b"], None),
        (20_000, 20_000, &["a", "c"], None),
        (30_000, 49_999, &["a", "b", "c"], Some((true, 120_000.0))),
        (1_000, 45_000, &["c"], Some((false, 30_000.0))),
        (PER_HOST + 5, PER_HOST + 10, &["a"], None),
    ];
    let snap = db.snapshot("t").unwrap();
    for (lo, hi, wanted, filter) in cases {
        let req = ScanRequest {
            projection: Some(vec![0, 1, 2]),
            lo: Some(BASE + lo * SECOND),
            hi: Some(BASE + hi * SECOND),
            tags: vec![TagFilter {
                column: 1,
                values: wanted.iter().map(|h| h.to_string()).collect(),
            }],
            fields: filter
                .iter()
                .map(|&(gt, v)| FieldFilter {
                    column: 2,
                    predicate: if gt {
                        Predicate::Gt(Scalar::Float(v))
                    } else {
                        Predicate::LtEq(Scalar::Float(v))
                    },
                })
                .collect(),
            latest_per_series: false,
        };
        let mut got = Vec::new();
        for unit in snap.units(&req).0 {
            let batches = snap.read_unit(&unit, &req).unwrap();
            for b in &batches {
                let t = b
                    .column(0)
                    .as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
                let h = b.column(1).as_string::<i32>();
                let u = b.column(2).as_primitive::<Float64Type>();
                for i in 0..b.num_rows() {
                    got.push((
                        (t.value(i) - BASE) / SECOND,
                        h.value(i).to_string(),
                        u.value(i),
                    ));
                }
            }
        }
        got.sort_by(|x, y| x.partial_cmp(y).unwrap());
        // The segment read whole (one cursor across its three chunks).
        let whole = segments[0]
            .read(&snap.schema, &[0, 1, 2], req.lo, req.hi)
            .unwrap();
        let in_window = (lo.max(0)..=hi.min(PER_HOST - 1)).count() * hosts.len();
        let times: Vec<i64> = whole
            .iter()
            .flat_map(|b| {
                let t = b
                    .column(0)
                    .as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
                let u = b.column(2).as_primitive::<Float64Type>();
                (0..b.num_rows()).map(move |i| {
                    let s = (t.value(i) - BASE) / SECOND;
                    assert_eq!(u.value(i) as i64 / 3, s, "value of the row at second {s}");
                    s
                })
            })
            .collect();
        assert_eq!(times.len(), in_window, "whole-segment read of {lo}..={hi}");
        assert!(times.iter().all(|s| (lo..=hi).contains(s)));
        let mut want = Vec::new();
        for (h, host) in hosts.iter().enumerate() {
            if !wanted.contains(host) {
                continue;
            }
            for i in lo.max(0)..=hi.min(PER_HOST - 1) {
                let v = (i * 3 + h as i64) as f64;
                let passes = match filter {
                    Some((true, x)) => v > x,
                    Some((false, x)) => v <= x,
                    None => true,
                };
                if passes {
                    want.push((i, host.to_string(), v));
                }
            }
        }
        want.sort_by(|x, y| x.partial_cmp(y).unwrap());
        assert_eq!(
            got, want,
            "window {lo}..={hi} hosts {wanted:?} filter {filter:?}"
        );
    }
}

/// A field filter that does not fit its column (text against a float) is
/// the caller's mistake, not a damaged segment: an internal error, and the
/// segment stays readable.
#[test]
fn a_misfit_field_filter_is_an_internal_error_not_a_corrupt_segment() {
    use lynx_storage::{FieldFilter, Predicate, Scalar, ScanRequest, StorageError};

    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.create_table(cpu_def("t", false), false).unwrap();
    let rs: Vec<(i64, &str, Option<f64>)> = (0..3000)
        .map(|i| (i * 1_000_000, "a", Some(i as f64)))
        .collect();
    db.write("t", &batch(&rs)).unwrap();
    db.flush().unwrap();
    let snap = db.snapshot("t").unwrap();
    let req = ScanRequest {
        fields: vec![FieldFilter {
            column: 2,
            predicate: Predicate::Eq(Scalar::Bytes(b"x".to_vec())),
        }],
        ..ScanRequest::default()
    };
    let (units, _) = snap.units(&req);
    assert!(!units.is_empty());
    let err = snap.read_unit(&units[0], &req).unwrap_err();
    assert!(matches!(err, StorageError::Internal(_)), "{err:?}");
    assert_eq!(rows(&db, "t").len(), 3000);
}

/// A batch of `cpu_def` rows whose `host` column is a dictionary (values
/// out of order and one of them twice, NULL hosts as NULL keys), or plain
/// strings.
fn host_batch(rows: &[(i64, Option<&str>, f64)], dictionary: bool) -> RecordBatch {
    use arrow::array::{
        ArrayRef, DictionaryArray, Float64Array, Int32Array, StringArray, TimestampMicrosecondArray,
    };
    use std::sync::Arc;
    let values = ["c", "b", "a", "b"];
    let host: ArrayRef = if dictionary {
        let keys: Int32Array = rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                r.1.map(|h| match h {
                    "b" => [1, 3][i % 2],
                    other => values.iter().position(|v| *v == other).unwrap() as i32,
                })
            })
            .collect();
        let values = Arc::new(StringArray::from(values.to_vec()));
        Arc::new(DictionaryArray::try_new(keys, values).unwrap())
    } else {
        Arc::new(StringArray::from_iter(rows.iter().map(|r| r.1)))
    };
    let time = TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.0))
        .with_timezone("+00:00");
    let usage = Float64Array::from_iter_values(rows.iter().map(|r| r.2));
    RecordBatch::try_from_iter(vec![
        ("time", Arc::new(time) as ArrayRef),
        ("host", host),
        ("usage", Arc::new(usage)),
    ])
    .unwrap()
}

/// Bulk loads whose tag columns arrive as dictionaries (Parquet imports)
/// store their rows in the order string tags give, (host, time) with NULL
/// first, and one series directory entry per host: when every batch is a
/// dictionary (series interned by codes) and when dictionary and plain
/// batches mix (interned by strings).
#[test]
fn bulk_loads_of_dictionary_tags_store_the_order_strings_give() {
    let dir = tempfile::tempdir().unwrap();
    let db = std::sync::Arc::new(Database::open(dir.path()).unwrap());
    let hosts = [Some("b"), None, Some("a"), Some("c"), Some("b"), Some("a")];
    let all: Vec<(i64, Option<&str>, f64)> = (0..3000i64)
        .map(|i| {
            (
                (i * 7919) % 3000 * 1_000_000,
                hosts[i as usize % 6],
                i as f64,
            )
        })
        .collect();
    let mut want: Vec<(i64, Option<String>, f64)> = all
        .iter()
        .map(|r| (r.0, r.1.map(str::to_string), r.2))
        .collect();
    want.sort_by_key(|r| (r.1.clone(), r.0));
    for (table, mixed) in [("dict", false), ("mixed", true)] {
        db.create_table(cpu_def(table, false), false).unwrap();
        let mut load = db.bulk_load(table).unwrap().unwrap();
        for (k, part) in all.chunks(700).enumerate() {
            load.push(&host_batch(part, !(mixed && k % 2 == 1)))
                .unwrap();
        }
        assert_eq!(load.commit().unwrap(), 3000);
        let snap = db.snapshot(table).unwrap();
        let segments = snap.segments().to_vec();
        assert_eq!(segments.len(), 1, "{table}: one partition, one run");
        let mut got = Vec::new();
        for b in segments[0]
            .read(&snap.schema, &[0, 1, 2], None, None)
            .unwrap()
        {
            let t = b
                .column(0)
                .as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
            let h = b.column(1).as_string::<i32>();
            let u = b.column(2).as_primitive::<Float64Type>();
            for i in 0..b.num_rows() {
                got.push((
                    t.value(i),
                    h.is_valid(i).then(|| h.value(i).to_string()),
                    u.value(i),
                ));
            }
        }
        assert_eq!(got, want, "{table}: rows in (host, time) order");
        let directory: Vec<(Option<String>, u64, u64)> = segments[0]
            .footer()
            .series
            .iter()
            .map(|s| (s.tags[0].as_deref().map(str::to_string), s.start, s.end))
            .collect();
        assert_eq!(
            directory,
            vec![
                (None, 0, 500),
                (Some("a".into()), 500, 1500),
                (Some("b".into()), 1500, 2500),
                (Some("c".into()), 2500, 3000),
            ],
            "{table}: series directory"
        );
    }
}

/// Dictionary tags are checked like text in a bulk load: a `varchar(n)` tag
/// longer than `n` (beyond trailing spaces) is refused, trailing spaces
/// over the limit are cut, a NULL key in a NOT NULL tag is refused, and a
/// refused load stores nothing.
#[test]
fn bulk_loads_check_dictionary_tags_like_text() {
    let dir = tempfile::tempdir().unwrap();
    let db = std::sync::Arc::new(Database::open(dir.path()).unwrap());
    let mut def = cpu_def("short", false);
    def.columns[1].column_type = ColumnType::Varchar(Some(1));
    db.create_table(def, false).unwrap();
    let mut def = cpu_def("required", false);
    def.columns[1].nullable = false;
    db.create_table(def, false).unwrap();

    // Entries "c", "b", "a", "b": "cc" is too long for varchar(1).
    let too_long = |rows: &[(i64, Option<&str>, f64)]| {
        let b = host_batch(rows, true);
        let host = b.column(1).as_any_dictionary();
        let entries = arrow::array::StringArray::from(vec!["cc", "b", "a  ", "b"]);
        let host = host.with_values(std::sync::Arc::new(entries));
        RecordBatch::try_new(
            b.schema(),
            vec![b.column(0).clone(), host, b.column(2).clone()],
        )
        .unwrap()
    };
    let mut load = db.bulk_load("short").unwrap().unwrap();
    load.push(&too_long(&[(1, Some("a"), 1.0), (2, Some("b"), 2.0)]))
        .unwrap();
    let err = load.push(&too_long(&[(3, Some("c"), 3.0)])).unwrap_err();
    assert_eq!(err.status_code(), StatusCode::StringTooLong, "{err}");
    drop(load);
    assert!(rows(&db, "short").is_empty());
    assert!(files(dir.path(), "segments", ".lseg").is_empty());

    let mut load = db.bulk_load("short").unwrap().unwrap();
    load.push(&too_long(&[(1, Some("a"), 1.0), (2, Some("b"), 2.0)]))
        .unwrap();
    assert_eq!(load.commit().unwrap(), 2);
    assert_eq!(
        rows(&db, "short"),
        vec![
            (1, Some("a".into()), Some(1.0f64.to_bits())),
            (2, Some("b".into()), Some(2.0f64.to_bits())),
        ]
    );

    let mut load = db.bulk_load("required").unwrap().unwrap();
    let err = load
        .push(&host_batch(&[(1, Some("a"), 1.0), (2, None, 2.0)], true))
        .unwrap_err();
    assert_eq!(err.status_code(), StatusCode::NotNullViolation, "{err}");
    assert_eq!(load.commit().unwrap(), 0);
    assert!(rows(&db, "required").is_empty());
}
