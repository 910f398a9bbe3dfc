//! Codec throughput and compressed size on deterministic time-series data.
//!
//! For each dataset: `encode_array` and `decode_array` throughput (values/s),
//! plus zstd levels 1 and 3 over the same raw Arrow bytes for comparison.
//! A size table (bits/value) is printed to stderr before the timings.
//! TODO(lead): add the Parquet comparison (same data, arrow-rs `parquet` writer
//! with dictionary + zstd) once the workspace wires `parquet` in.
//!
//! Run: `cargo bench -p lynx-compression --bench codecs -- --quick`

use std::hint::black_box;
use std::sync::Arc;

use arrow_array::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lynx_compression::{
    aggregate, decode_array, decode_blocks, encode_array, evaluate, EncodeOptions, Predicate,
    Scalar,
};

const N: usize = 65_536;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn datasets() -> Vec<(&'static str, ArrayRef)> {
    let start = 1_700_000_000_000i64;
    let mut r = Rng(42);
    let regular =
        TimestampMillisecondArray::from_iter_values((0..N as i64).map(|i| start + i * 10_000));
    let jittered = TimestampMillisecondArray::from_iter_values(
        (0..N as i64).map(|i| start + i * 10_000 + (r.next() % 21) as i64 - 10),
    );
    let mut acc = 5_000i64;
    let cpu = Float64Array::from_iter_values((0..N).map(|_| {
        acc = (acc + (r.next() % 201) as i64 - 100).clamp(0, 10_000);
        acc as f64 / 100.0
    }));
    let mut c = 1_234_567.0f64;
    let counter = Float64Array::from_iter_values((0..N).map(|i| {
        c += (r.next() % 100) as f64;
        if i % 4096 == 4095 {
            f64::from_bits(0x7ff0_0000_0000_0002) // staleness marker
        } else {
            c
        }
    }));
    let mut g = 0.5f64;
    let gauge = Float64Array::from_iter_values((0..N).map(|_| {
        g = (g + ((r.next() % 1000) as f64 - 500.0) / 1e5).clamp(0.0, 1.0);
        g
    }));
    let tags = StringArray::from(
        (0..1000)
            .flat_map(|h| std::iter::repeat_n(format!("host_{h}"), 66))
            .take(N)
            .collect::<Vec<_>>(),
    );
    let unique = StringArray::from(
        (0..N)
            .map(|i| format!("req-{:08x}-{i}", r.next() as u32))
            .collect::<Vec<_>>(),
    );
    let bools = BooleanArray::from_iter(
        (0..N).map(|i| Some((i / 3000) % 2 == 0 || r.next().is_multiple_of(50))),
    );
    vec![
        ("timestamps_regular", Arc::new(regular)),
        ("timestamps_jittered", Arc::new(jittered)),
        ("cpu_gauge_2dec", Arc::new(cpu)),
        ("prom_counter", Arc::new(counter)),
        ("prom_gauge", Arc::new(gauge)),
        ("tags_sorted_1000", Arc::new(tags)),
        ("strings_unique", Arc::new(unique)),
        ("booleans", Arc::new(bools)),
    ]
}

/// The Arrow bytes of the values (buffers of the array data, validity excluded).
fn raw_bytes(a: &dyn Array) -> Vec<u8> {
    let data = a.to_data();
    data.buffers()
        .iter()
        .flat_map(|b| b.as_slice().to_vec())
        .collect()
}

fn print_sizes(sets: &[(&'static str, ArrayRef)]) {
    eprintln!("| dataset | raw bytes | lynx bits/value | zstd-1 bits/value | zstd-3 bits/value |");
    eprintln!("| --- | --- | --- | --- | --- |");
    for (name, a) in sets {
        let raw = raw_bytes(a.as_ref());
        let ours = encode_array(a.as_ref(), &EncodeOptions::default())
            .unwrap()
            .len();
        let z1 = zstd::bulk::compress(&raw, 1).unwrap().len();
        let z3 = zstd::bulk::compress(&raw, 3).unwrap().len();
        let bpv = |b: usize| b as f64 * 8.0 / a.len() as f64;
        eprintln!(
            "| {name} | {} | {:.3} | {:.3} | {:.3} |",
            raw.len(),
            bpv(ours),
            bpv(z1),
            bpv(z3)
        );
    }
}

/// A typical filter for each dataset (time range, threshold, tag equality).
fn predicate(name: &str) -> Predicate {
    let start = 1_700_000_000_000i128;
    match name {
        "timestamps_regular" | "timestamps_jittered" => Predicate::Between(
            Scalar::Int(start + 20_000 * 10_000),
            Scalar::Int(start + 26_000 * 10_000),
        ),
        "cpu_gauge_2dec" => Predicate::Gt(Scalar::Float(90.0)),
        "prom_counter" | "prom_gauge" => Predicate::Lt(Scalar::Float(0.5)),
        "tags_sorted_1000" => Predicate::Eq(Scalar::Bytes(b"host_500".to_vec())),
        "strings_unique" => Predicate::Lt(Scalar::Bytes(b"req-1".to_vec())),
        _ => Predicate::Eq(Scalar::Bool(true)),
    }
}

fn codecs(c: &mut Criterion) {
    let sets = datasets();
    print_sizes(&sets);
    for (name, a) in &sets {
        let mut group = c.benchmark_group(*name);
        group.throughput(Throughput::Elements(a.len() as u64));
        let opts = EncodeOptions::default();
        let blob = encode_array(a.as_ref(), &opts).unwrap();
        let raw = raw_bytes(a.as_ref());
        let z1 = zstd::bulk::compress(&raw, 1).unwrap();
        let z3 = zstd::bulk::compress(&raw, 3).unwrap();
        group.bench_function("lynx_encode", |b| {
            b.iter(|| encode_array(black_box(a.as_ref()), &opts).unwrap())
        });
        group.bench_function("lynx_decode", |b| {
            b.iter(|| decode_array(black_box(&blob), a.data_type()).unwrap())
        });
        let p = predicate(name);
        group.bench_function("lynx_evaluate", |b| {
            b.iter(|| evaluate(black_box(&blob), &p).unwrap())
        });
        group.bench_function("lynx_aggregate", |b| {
            b.iter(|| aggregate(black_box(&blob)).unwrap())
        });
        group.bench_function("lynx_decode_one_block", |b| {
            b.iter(|| decode_blocks(black_box(&blob), a.data_type(), 30..31).unwrap())
        });
        group.bench_function("zstd1_compress", |b| {
            b.iter(|| zstd::bulk::compress(black_box(&raw), 1).unwrap())
        });
        group.bench_function("zstd1_decompress", |b| {
            b.iter(|| zstd::bulk::decompress(black_box(&z1), raw.len()).unwrap())
        });
        group.bench_function("zstd3_compress", |b| {
            b.iter(|| zstd::bulk::compress(black_box(&raw), 3).unwrap())
        });
        group.bench_function("zstd3_decompress", |b| {
            b.iter(|| zstd::bulk::decompress(black_box(&z3), raw.len()).unwrap())
        });
        group.finish();
    }
}

criterion_group!(benches, codecs);
criterion_main!(benches);
