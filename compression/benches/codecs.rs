//! Codec throughput and compressed size on deterministic time-series data.
//!
//! For each dataset: `encode_array` and `decode_array` throughput (values/s),
//! side by side with zstd levels 1 and 3 over the same raw Arrow bytes and
//! the arrow-rs Parquet writer/reader (dictionary + zstd-3, the smaller of
//! writer versions 1 and 2) on the same column. `lynx_evaluate` (predicate
//! on encoded data) runs next to `decode_then_compare` (decode_array, then
//! Arrow's compare kernel) for the same predicate.
//! A size table (bits/value) is printed to stderr before the timings.
//!
//! Run: `cargo bench -p lynx-compression --bench codecs -- --quick`

use std::hint::black_box;
use std::sync::Arc;

use arrow::compute::kernels::cmp;
use arrow_array::*;
use bytes::Bytes;
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

use parquet::basic::Encoding;
use parquet::file::properties::WriterVersion;

/// One way of writing the Parquet peer: writer version, dictionary on/off,
/// and a forced column encoding.
type ParquetConfig = (WriterVersion, bool, Option<Encoding>);

/// The column as a one-column Parquet file with zstd-3, or None when the
/// encoding does not apply to the column's type.
fn parquet_file(a: &ArrayRef, (version, dictionary, encoding): ParquetConfig) -> Option<Bytes> {
    use parquet::arrow::ArrowWriter;
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::file::properties::WriterProperties;
    let batch = RecordBatch::try_from_iter([("v", a.clone())]).unwrap();
    let mut props = WriterProperties::builder()
        .set_writer_version(version)
        .set_dictionary_enabled(dictionary)
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap()));
    if let Some(e) = encoding {
        props = props.set_encoding(e);
    }
    let mut out = Vec::new();
    let mut w = ArrowWriter::try_new(&mut out, batch.schema(), Some(props.build())).ok()?;
    w.write(&batch).ok()?;
    w.close().ok()?;
    Some(Bytes::from(out))
}

/// The Parquet configuration that gives the smallest file, so the peer is
/// at its best: dictionary (v1 and v2 pages), no dictionary with the v2
/// fallbacks, or a forced DELTA_BINARY_PACKED (integers), DELTA_BYTE_ARRAY /
/// DELTA_LENGTH_BYTE_ARRAY (strings) or BYTE_STREAM_SPLIT (floats).
fn parquet_best(a: &ArrayRef) -> (ParquetConfig, Bytes) {
    use arrow_schema::DataType;
    // The encodings that apply to the column's physical type (the writer
    // panics on the others).
    let forced: &[Encoding] = match a.data_type() {
        DataType::Utf8 | DataType::Binary => &[
            Encoding::DELTA_BYTE_ARRAY,
            Encoding::DELTA_LENGTH_BYTE_ARRAY,
        ],
        DataType::Float32 | DataType::Float64 => &[Encoding::BYTE_STREAM_SPLIT],
        DataType::Boolean => &[],
        _ => &[Encoding::DELTA_BINARY_PACKED],
    };
    let mut configs: Vec<ParquetConfig> = vec![
        (WriterVersion::PARQUET_1_0, true, None),
        (WriterVersion::PARQUET_2_0, true, None),
        (WriterVersion::PARQUET_2_0, false, None),
    ];
    configs.extend(
        forced
            .iter()
            .map(|&e| (WriterVersion::PARQUET_2_0, false, Some(e))),
    );
    configs
        .into_iter()
        .filter_map(|c| Some((c, parquet_file(a, c)?)))
        .min_by_key(|(_, b)| b.len())
        .unwrap()
}

fn parquet_read(file: &Bytes) -> usize {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file.clone())
        .unwrap()
        .with_batch_size(N)
        .build()
        .unwrap();
    reader.map(|b| b.unwrap().num_rows()).sum()
}

fn print_sizes(sets: &[(&'static str, ArrayRef)]) {
    eprintln!("| dataset | raw bytes | lynx bits/value | zstd-1 bits/value | zstd-3 bits/value | parquet-zstd bits/value |");
    eprintln!("| --- | --- | --- | --- | --- | --- |");
    for (name, a) in sets {
        let raw = raw_bytes(a.as_ref());
        let ours = encode_array(a.as_ref(), &EncodeOptions::default())
            .unwrap()
            .len();
        let z1 = zstd::bulk::compress(&raw, 1).unwrap().len();
        let z3 = zstd::bulk::compress(&raw, 3).unwrap().len();
        let (config, pq) = parquet_best(a);
        let pq = pq.len();
        let bpv = |b: usize| b as f64 * 8.0 / a.len() as f64;
        eprintln!(
            "| {name} | {} | {:.3} | {:.3} | {:.3} | {:.3} ({config:?}) |",
            raw.len(),
            bpv(ours),
            bpv(z1),
            bpv(z3),
            bpv(pq)
        );
    }
}

/// The baseline `evaluate` must beat: decode every value, then Arrow's
/// vectorised compare kernel (NULLs false, as `evaluate` returns).
fn decode_then_compare(blob: &[u8], dt: &arrow_schema::DataType, p: &Predicate) -> usize {
    let values = decode_array(blob, dt).unwrap();
    let scalar = |s: &Scalar| -> ArrayRef {
        match s {
            Scalar::Int(v) => arrow::compute::cast(
                &(Arc::new(Int64Array::from(vec![*v as i64])) as ArrayRef),
                dt,
            )
            .unwrap(),
            Scalar::Float(v) => Arc::new(Float64Array::from(vec![*v])),
            Scalar::Bytes(b) => Arc::new(StringArray::from(vec![std::str::from_utf8(b)
                .unwrap()
                .to_owned()])),
            Scalar::Bool(v) => Arc::new(BooleanArray::from(vec![*v])),
        }
    };
    let datum = |s: &Scalar| arrow_array::Scalar::new(scalar(s));
    let hits = match p {
        Predicate::Between(lo, hi) => {
            let a = cmp::gt_eq(&values, &datum(lo)).unwrap();
            let b = cmp::lt_eq(&values, &datum(hi)).unwrap();
            arrow::compute::and(&a, &b).unwrap()
        }
        Predicate::Gt(s) => cmp::gt(&values, &datum(s)).unwrap(),
        Predicate::Lt(s) => cmp::lt(&values, &datum(s)).unwrap(),
        Predicate::Eq(s) => cmp::eq(&values, &datum(s)).unwrap(),
        other => unimplemented!("bench predicate {other:?}"),
    };
    hits.true_count()
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
        assert_eq!(
            evaluate(&blob, &p).unwrap().count_set_bits(),
            decode_then_compare(&blob, a.data_type(), &p),
            "{name}: evaluate disagrees with decode-then-compare"
        );
        group.bench_function("lynx_evaluate", |b| {
            b.iter(|| evaluate(black_box(&blob), &p).unwrap())
        });
        group.bench_function("decode_then_compare", |b| {
            b.iter(|| decode_then_compare(black_box(&blob), a.data_type(), &p))
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
        let (config, pq) = parquet_best(a);
        assert_eq!(parquet_read(&pq), a.len());
        group.bench_function("parquet_zstd_write", |b| {
            b.iter(|| parquet_file(black_box(a), config))
        });
        group.bench_function("parquet_zstd_read", |b| {
            b.iter(|| parquet_read(black_box(&pq)))
        });
        group.finish();
    }
}

criterion_group!(benches, codecs);
criterion_main!(benches);
