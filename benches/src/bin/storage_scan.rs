//! Full-scan speed of one column of a data directory written by
//! `storage_ingest` (`LYNX_BENCH_KEEP=DIR`), so two builds can be compared
//! on the same data, one after the other in the same minute.
//!
//! `storage_scan DIR [table] [column] [rounds]` prints the median and best
//! values/s over `rounds` (default 21) scans. Each scan reads unit by unit
//! as the query layer does and sums the column (text: its bytes).

use std::time::Instant;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use lynx_storage::Database;

/// The server's allocator (see server/src/main.rs): a scan allocates and
/// frees decode buffers of hundreds of kilobytes per chunk.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args
        .first()
        .expect("usage: storage_scan DIR [table] [column] [rounds]");
    let table = args.get(1).map_or("cpu", String::as_str);
    let column = args.get(2).map_or("usage_user", String::as_str);
    let rounds: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(21);
    let db = Database::open(std::path::Path::new(dir)).expect("open");
    let snap = db.snapshot(table).expect("snapshot");
    let col = snap.schema.index_of(column).expect("column");
    let req = lynx_bench::column_scan(vec![col]);
    let mut rates = Vec::with_capacity(rounds);
    let mut check = 0.0;
    for _ in 0..rounds {
        let started = Instant::now();
        let mut n = 0usize;
        let mut sum = 0.0;
        for unit in snap.units(&req).0 {
            for b in snap.read_unit(&unit, &req).expect("scan") {
                let a = b.column(0);
                n += a.len();
                sum += match a.data_type() {
                    DataType::Float64 => {
                        arrow::compute::sum(a.as_primitive::<Float64Type>()).unwrap_or(0.0)
                    }
                    DataType::Utf8 => a.as_string::<i32>().values().len() as f64,
                    _ => {
                        let a = arrow::compute::cast(a, &DataType::Int64).expect("cast");
                        arrow::compute::sum(a.as_primitive::<Int64Type>()).unwrap_or(0) as f64
                    }
                };
            }
        }
        rates.push(n as f64 / started.elapsed().as_secs_f64());
        check = sum;
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "{column}: median {:.1} M values/s, best {:.1} M values/s ({rounds} scans, sum {check})",
        rates[rounds / 2] / 1e6,
        rates[rounds - 1] / 1e6
    );
}
