//! Engine macro benchmark (issue #4): TSBS-like cpu ingest through the
//! `Database` API with concurrent writers, bytes on disk after flush and
//! compaction, full-scan and single-series scan speed, peak RSS; the same rows written to Parquet
//! (arrow-rs, zstd) for the size ratio.
//!
//! `cargo run --release -p lynx-bench --bin storage_ingest -- [hosts] [steps] [writers]`
//! (defaults 1000 hosts, 864 steps of 10 s = 864,000 rows, 8 writers).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::AsArray;
use arrow::datatypes::Float64Type;
use lynx_bench::{schema, TsbsCpu, FIELDS, TAGS};
use lynx_storage::{
    ColumnDef, ColumnRole, ColumnType, Database, DatabaseOptions, Durability, ScanRequest,
    TableDef, TableOptions, TagFilter,
};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

/// The server's allocator (see server/src/main.rs), so the engine runs as
/// it does in the product.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn table_def() -> TableDef {
    let mut columns = vec![ColumnDef {
        name: "time".into(),
        column_type: ColumnType::TimestampTz,
        nullable: false,
        role: ColumnRole::Time,
    }];
    columns.extend(TAGS.iter().map(|t| ColumnDef {
        name: t.to_string(),
        column_type: ColumnType::Text,
        nullable: true,
        role: ColumnRole::Tag,
    }));
    columns.extend(FIELDS.iter().map(|f| ColumnDef {
        name: f.to_string(),
        column_type: ColumnType::Float64,
        nullable: true,
        role: ColumnRole::Field,
    }));
    TableDef {
        name: "cpu".into(),
        columns,
        options: TableOptions::default(),
    }
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|it| {
            it.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

/// A memory figure of /proc/self/status (VmRSS:, VmHWM:) in MiB.
fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn run(mode: Durability, hosts: usize, steps: i64, writers: usize) {
    let dir = tempfile::tempdir_in("/var/tmp").expect("temp dir");
    // LYNX_BENCH_KEEP=DIR keeps the relaxed run's data in DIR (for
    // `storage_scan`, which A/Bs scans of one data set).
    let keep = std::env::var_os("LYNX_BENCH_KEEP").filter(|_| mode == Durability::Relaxed);
    let path = keep.map_or_else(|| dir.path().to_path_buf(), std::path::PathBuf::from);
    let db = Arc::new(
        Database::open_with(
            &path,
            DatabaseOptions {
                durability: mode,
                ..DatabaseOptions::default()
            },
        )
        .expect("open"),
    );
    let maintenance = db.start_maintenance(std::time::Duration::from_secs(1));
    db.create_table(table_def(), false).expect("create");
    // Pre-generate so the measurement is the engine, not the generator.
    let mut generator = TsbsCpu::new(hosts);
    let batches: Vec<_> = (0..steps).map(|s| generator.batch(s, 0..hosts)).collect();
    let next = Arc::new(AtomicI64::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..writers)
        .map(|_| {
            let db = db.clone();
            let next = next.clone();
            let batches = batches.clone();
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= batches.len() as i64 {
                    return;
                }
                db.write("cpu", &batches[i as usize]).expect("write");
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer");
    }
    let ingest = started.elapsed().as_secs_f64();
    let rows = hosts as f64 * steps as f64;
    drop(maintenance);
    let flush_started = Instant::now();
    db.flush().expect("flush");
    // Memory compaction adds: resident MiB above what the process held
    // before it (the peak is reset through clear_refs).
    let before = status_mib("VmRSS:");
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let segments_before = db.segment_count();
    db.compact_all().expect("compact");
    let compact_mib = status_mib("VmHWM:") - before;
    let flush = flush_started.elapsed().as_secs_f64();
    let seg_bytes = dir_bytes(&path.join("segments"));
    let snap = db.snapshot("cpu").expect("snapshot");
    let col = snap.schema.index_of("usage_user").expect("column");
    // Full scan of one field column, five times (or LYNX_SCAN_REPEAT, to
    // profile it); the median is reported.
    let repeat = std::env::var("LYNX_SCAN_REPEAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5usize);
    let mut full_rates = Vec::new();
    let mut sum = 0.0;
    for _ in 0..repeat {
        let scan_started = Instant::now();
        sum = 0.0;
        let mut n = 0usize;
        // As the query layer reads: unit by unit (a unit is at most one
        // chunk), each consumed before the next is decoded.
        let req = lynx_bench::column_scan(vec![col]);
        for unit in snap.units(&req).0 {
            for b in snap.read_unit(&unit, &req).expect("scan") {
                let a = b.column(0).as_primitive::<Float64Type>();
                n += a.len();
                sum += arrow::compute::sum(a).unwrap_or(0.0);
            }
        }
        assert_eq!(n as f64, rows, "scan returned every row");
        full_rates.push(n as f64 / scan_started.elapsed().as_secs_f64());
    }
    full_rates.sort_by(f64::total_cmp);
    // Single-series scans: every column of one host over the whole day, for
    // 20 hosts spread over the table (series directory lookup, row-range
    // reads of each column).
    let host_col = snap.schema.index_of("hostname").expect("hostname");
    let names = batches[0].column(1).as_string::<i32>();
    let series_started = Instant::now();
    let mut series_rows = 0usize;
    for h in (0..hosts).step_by(hosts.div_ceil(20)) {
        let req = ScanRequest {
            projection: None,
            tags: vec![TagFilter {
                column: host_col,
                values: vec![names.value(h).to_string()],
            }],
            ..lynx_bench::column_scan(Vec::new())
        };
        let mut n = 0usize;
        for unit in snap.units(&req).0 {
            for b in snap.read_unit(&unit, &req).expect("series scan") {
                n += b.num_rows();
            }
        }
        assert_eq!(n as i64, steps, "a series holds one row per step");
        series_rows += n;
    }
    let series_rate = series_rows as f64 / series_started.elapsed().as_secs_f64();
    println!(
        "| {mode:?} | {writers} | {rows:.0} | {:.0} | {flush:.2} | {:.2} | {segments_before} -> {} | {compact_mib:.0} | {:.0} | {series_rate:.0} | {:.0} | sum={sum:.0}",
        rows / ingest,
        seg_bytes as f64 / rows,
        db.segment_count(),
        full_rates[full_rates.len() / 2],
        peak_rss_mib(),
    );
    let _ = batches;
}

fn parquet_bytes_per_row(hosts: usize, steps: i64) -> f64 {
    let dir = tempfile::tempdir_in("/var/tmp").expect("temp dir");
    let path = dir.path().join("cpu.parquet");
    let file = std::fs::File::create(&path).expect("create parquet");
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).expect("level")))
        .set_max_row_group_row_count(Some(1 << 20))
        .build();
    let mut writer = ArrowWriter::try_new(file, schema(), Some(props)).expect("writer");
    let mut generator = TsbsCpu::new(hosts);
    for s in 0..steps {
        writer
            .write(&generator.batch(s, 0..hosts))
            .expect("write parquet");
    }
    writer.close().expect("close parquet");
    std::fs::metadata(&path).expect("stat").len() as f64 / (hosts as f64 * steps as f64)
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let hosts = args.first().copied().unwrap_or(1000);
    let steps = args.get(1).copied().unwrap_or(864) as i64;
    let writers = args.get(2).copied().unwrap_or(8);
    println!("| durability | writers | rows | ingest rows/s | flush+compact s | segment bytes/row | segments (before -> after compaction) | compaction RSS increase MiB | full-scan values/s (1 col, median) | single-series scan rows/s (all columns) | peak RSS MiB |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    run(Durability::Relaxed, hosts, steps, writers);
    run(Durability::Fsync, hosts, steps, writers);
    println!(
        "Parquet (arrow-rs, zstd level 3, generation order): {:.2} bytes/row",
        parquet_bytes_per_row(hosts, steps)
    );
}
