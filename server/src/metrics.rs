//! The server's own metrics, rendered in the Prometheus text format at
//! `GET /metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use lynx_storage::Database;

const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A latency histogram with fixed buckets (seconds).
#[derive(Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.counts[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{b}\"}} {}",
                self.counts[i].load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {count}");
    }
}

#[derive(Default)]
pub struct Metrics {
    pub connections_total: AtomicU64,
    pub connections_active: AtomicU64,
    pub queries_total: AtomicU64,
    pub http_requests_total: AtomicU64,
    /// Remote-write requests stored (204) or HA-dropped (202).
    pub prom_write_requests: AtomicU64,
    /// Remote-write requests refused (4xx/5xx).
    pub prom_write_rejected: AtomicU64,
    pub prom_samples_written: AtomicU64,
    /// Native histograms and exemplars received and dropped.
    pub prom_dropped: AtomicU64,
    pub prom_read_requests: AtomicU64,
    errors_by_sqlstate: Mutex<BTreeMap<String, u64>>,
    pub query_latency: Histogram,
    pub wal_fsync_latency: Histogram,
}

impl Metrics {
    pub fn error(&self, sqlstate: &str) {
        *self
            .errors_by_sqlstate
            .lock()
            .entry(sqlstate.to_string())
            .or_default() += 1;
    }

    pub fn render(&self, db: &Database) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        let gauge = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        counter(
            &mut out,
            "lynx_pg_connections_total",
            "PostgreSQL connections accepted.",
            load(&self.connections_total),
        );
        gauge(
            &mut out,
            "lynx_pg_connections_active",
            "PostgreSQL connections open now.",
            load(&self.connections_active),
        );
        counter(
            &mut out,
            "lynx_queries_total",
            "Statements executed (all protocols).",
            load(&self.queries_total),
        );
        counter(
            &mut out,
            "lynx_http_requests_total",
            "HTTP requests served.",
            load(&self.http_requests_total),
        );
        for (name, help, v) in [
            (
                "lynx_prom_write_requests_total",
                "Remote-write requests accepted.",
                &self.prom_write_requests,
            ),
            (
                "lynx_prom_write_rejected_total",
                "Remote-write requests refused.",
                &self.prom_write_rejected,
            ),
            (
                "lynx_prom_samples_written_total",
                "Remote-write samples stored.",
                &self.prom_samples_written,
            ),
            (
                "lynx_prom_dropped_total",
                "Remote-write native histograms and exemplars dropped.",
                &self.prom_dropped,
            ),
            (
                "lynx_prom_read_requests_total",
                "Remote-read requests.",
                &self.prom_read_requests,
            ),
        ] {
            counter(&mut out, name, help, load(v));
        }
        let _ = writeln!(out, "# HELP lynx_query_errors_total Statements that failed, by SQLSTATE.\n# TYPE lynx_query_errors_total counter");
        for (code, n) in self.errors_by_sqlstate.lock().iter() {
            let _ = writeln!(out, "lynx_query_errors_total{{sqlstate=\"{code}\"}} {n}");
        }
        let m = db.metrics();
        counter(
            &mut out,
            "lynx_rows_written_total",
            "Rows written to the engine.",
            load(&m.rows_written),
        );
        counter(
            &mut out,
            "lynx_write_requests_total",
            "Write requests acknowledged by the engine.",
            load(&m.write_requests),
        );
        gauge(
            &mut out,
            "lynx_memtable_bytes",
            "Bytes held by memtables.",
            db.memtable_bytes() as u64,
        );
        self.query_latency.render(
            &mut out,
            "lynx_query_duration_seconds",
            "Statement latency.",
        );
        self.wal_fsync_latency.render(
            &mut out,
            "lynx_wal_fsync_duration_seconds",
            "WAL group commit write+fsync latency.",
        );
        out
    }
}
