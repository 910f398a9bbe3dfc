//! Data generators shared by the macro benchmarks in `benches/src/bin/`.
//!
//! `tsbs_cpu` reproduces the shape of TSBS devops cpu-only data: per host ten
//! tags that identify it and ten usage fields following clamped random walks
//! (integer percentages stored as DOUBLE PRECISION, as TSBS writes them),
//! one row per host every 10 s.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

pub const TAGS: [&str; 10] = [
    "hostname",
    "region",
    "datacenter",
    "rack",
    "os",
    "arch",
    "team",
    "service",
    "service_version",
    "service_environment",
];
pub const FIELDS: [&str; 10] = [
    "usage_user",
    "usage_system",
    "usage_idle",
    "usage_nice",
    "usage_iowait",
    "usage_irq",
    "usage_softirq",
    "usage_steal",
    "usage_guest",
    "usage_guest_nice",
];
/// 2016-01-01T00:00:00Z, TSBS's default start.
pub const START_MICROS: i64 = 1_451_606_400_000_000;
pub const INTERVAL_MICROS: i64 = 10_000_000;

pub fn schema() -> SchemaRef {
    let mut fields = vec![Field::new(
        "time",
        DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into())),
        false,
    )];
    fields.extend(TAGS.iter().map(|t| Field::new(*t, DataType::Utf8, true)));
    fields.extend(
        FIELDS
            .iter()
            .map(|f| Field::new(*f, DataType::Float64, true)),
    );
    Arc::new(Schema::new(fields))
}

/// xorshift64*: deterministic and fast; the data only needs a shape.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Generates TSBS-like cpu rows, one batch per time step (all hosts).
pub struct TsbsCpu {
    hosts: usize,
    tags: Vec<Vec<String>>,
    state: Vec<[f64; 10]>,
    rng: Rng,
    step: i64,
}

impl TsbsCpu {
    pub fn new(hosts: usize) -> TsbsCpu {
        let mut rng = Rng::new(42);
        let regions = [
            "us-east-1",
            "us-west-1",
            "us-west-2",
            "eu-west-1",
            "eu-central-1",
            "ap-southeast-1",
            "ap-southeast-2",
            "ap-northeast-1",
            "sa-east-1",
        ];
        let tags = (0..hosts)
            .map(|h| {
                let region = regions[rng.below(regions.len() as u64) as usize];
                vec![
                    format!("host_{h}"),
                    region.to_string(),
                    format!("{region}{}", ["a", "b", "c"][rng.below(3) as usize]),
                    rng.below(100).to_string(),
                    ["Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"][rng.below(3) as usize]
                        .to_string(),
                    ["x64", "x86"][rng.below(2) as usize].to_string(),
                    ["SF", "NYC", "LON", "CHI"][rng.below(4) as usize].to_string(),
                    rng.below(20).to_string(),
                    rng.below(2).to_string(),
                    ["production", "staging", "test"][rng.below(3) as usize].to_string(),
                ]
            })
            .collect();
        let state = (0..hosts)
            .map(|_| std::array::from_fn(|_| rng.below(101) as f64))
            .collect();
        TsbsCpu {
            hosts,
            tags,
            state,
            rng,
            step: 0,
        }
    }

    /// The next time step for `hosts[range]`.
    pub fn batch(&mut self, step: i64, hosts: std::ops::Range<usize>) -> RecordBatch {
        let n = hosts.len();
        let time = START_MICROS + step * INTERVAL_MICROS;
        let mut columns: Vec<ArrayRef> = vec![Arc::new(
            TimestampMicrosecondArray::from(vec![time; n]).with_timezone("+00:00"),
        )];
        for t in 0..TAGS.len() {
            columns.push(Arc::new(StringArray::from_iter_values(
                hosts.clone().map(|h| self.tags[h][t].as_str()),
            )));
        }
        let mut values = vec![Vec::with_capacity(n); FIELDS.len()];
        for h in hosts {
            for (f, out) in values.iter_mut().enumerate() {
                let step = self.rng.below(3) as f64 - 1.0;
                let v = (self.state[h][f] + step).clamp(0.0, 100.0);
                self.state[h][f] = v;
                out.push(v);
            }
        }
        for v in values {
            columns.push(Arc::new(Float64Array::from(v)));
        }
        self.step = step;
        RecordBatch::try_new(schema(), columns).expect("generated batch matches the schema")
    }

    pub fn hosts(&self) -> usize {
        self.hosts
    }
}

/// A scan of whole columns of a table (positions in its schema): no time
/// bounds, no tag or field filters.
pub fn column_scan(columns: Vec<usize>) -> lynx_storage::ScanRequest {
    lynx_storage::ScanRequest {
        projection: Some(columns),
        lo: None,
        hi: None,
        tags: Vec::new(),
        fields: Vec::new(),
        latest_per_series: false,
    }
}
