//! Prometheus remote-write load generator (release build; run by hand or by
//! `benches/remote_write/run.py`, never in CI).
//!
//! Pre-builds node_exporter-like remote-write 1.0 requests (snappy-compressed
//! protobuf `WriteRequest`s of `--per-request` samples, 100 series per
//! instance: CPU seconds by cpu and mode, network, disk, filesystem, memory,
//! load, vmstat, ...), then sends them over `--clients` keep-alive HTTP/1.1
//! connections. Series are sharded over the connections by number, as
//! Prometheus shards by series hash, so each series' samples arrive in time
//! order. Prints one line of `key=value` figures: samples/s (first request
//! to last response), request latency p50/p99/max, and with `--pid` the
//! server's resident memory (VmRSS, VmHWM) after the run.
//!
//! ```sh
//! rw_load 127.0.0.1:9201 --series 100000 --steps 20 --clients 8 --pid 1234
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

struct Args {
    addr: String,
    series: usize,
    steps: usize,
    clients: usize,
    per_request: usize,
    pid: Option<u32>,
}

fn parse_args() -> Args {
    let mut args = Args {
        addr: String::new(),
        series: 100_000,
        steps: 20,
        clients: 8,
        per_request: 2_000,
        pid: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().and_then(|v| v.parse::<usize>().ok());
        match a.as_str() {
            "--series" => args.series = value().expect("--series N"),
            "--steps" => args.steps = value().expect("--steps N"),
            "--clients" => args.clients = value().expect("--clients N").max(1),
            "--per-request" => args.per_request = value().expect("--per-request N").max(1),
            "--pid" => args.pid = value().map(|p| p as u32),
            _ => args.addr = a,
        }
    }
    assert!(!args.addr.is_empty(), "usage: rw_load HOST:PORT [--series N] [--steps N] [--clients K] [--per-request N] [--pid PID]");
    args
}

/// One metric family of the node_exporter-like instance: a name, the
/// extra label sets of its series, and whether it is a counter.
struct Family {
    name: String,
    labels: Vec<Vec<(&'static str, String)>>,
    counter: bool,
}

fn families() -> Vec<Family> {
    let one = |name: &str, counter| Family {
        name: name.to_string(),
        labels: vec![Vec::new()],
        counter,
    };
    let by = |name: &str, label: &'static str, values: &[&str], counter| Family {
        name: name.to_string(),
        labels: values
            .iter()
            .map(|v| vec![(label, v.to_string())])
            .collect(),
        counter,
    };
    let mut out = Vec::new();
    let modes = [
        "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user",
    ];
    out.push(Family {
        name: "node_cpu_seconds_total".into(),
        labels: (0..4)
            .flat_map(|cpu| {
                modes
                    .iter()
                    .map(move |m| vec![("cpu", cpu.to_string()), ("mode", m.to_string())])
            })
            .collect(),
        counter: true,
    });
    for m in [
        "receive_bytes",
        "transmit_bytes",
        "receive_packets",
        "transmit_packets",
    ] {
        let name = format!("node_network_{m}_total");
        out.push(by(&name, "device", &["eth0", "eth1", "lo"], true));
    }
    for m in [
        "read_bytes_total",
        "written_bytes_total",
        "io_time_seconds_total",
    ] {
        let name = format!("node_disk_{m}");
        out.push(by(&name, "device", &["nvme0n1", "sda", "sdb"], true));
    }
    for m in ["avail", "free", "size"] {
        out.push(Family {
            name: format!("node_filesystem_{m}_bytes"),
            labels: [
                ("/dev/sda1", "ext4", "/"),
                ("/dev/sdb1", "xfs", "/data"),
                ("tmpfs", "tmpfs", "/run"),
            ]
            .iter()
            .map(|(d, f, p)| {
                vec![
                    ("device", d.to_string()),
                    ("fstype", f.to_string()),
                    ("mountpoint", p.to_string()),
                ]
            })
            .collect(),
            counter: false,
        });
    }
    for m in [
        "MemTotal",
        "MemFree",
        "MemAvailable",
        "Buffers",
        "Cached",
        "SwapTotal",
        "SwapFree",
        "Active",
        "Inactive",
        "Dirty",
    ] {
        out.push(one(&format!("node_memory_{m}_bytes"), false));
    }
    for m in ["node_load1", "node_load5", "node_load15"] {
        out.push(one(m, false));
    }
    for m in [
        "node_context_switches_total",
        "node_intr_total",
        "node_forks_total",
    ] {
        out.push(one(m, true));
    }
    for m in [
        "ActiveOpens",
        "PassiveOpens",
        "CurrEstab",
        "InSegs",
        "OutSegs",
        "RetransSegs",
    ] {
        out.push(one(&format!("node_netstat_Tcp_{m}"), m != "CurrEstab"));
    }
    for m in [
        "pgfault",
        "pgmajfault",
        "pgpgin",
        "pgpgout",
        "pswpin",
        "pswpout",
    ] {
        out.push(one(&format!("node_vmstat_{m}"), true));
    }
    for m in [
        "node_filefd_allocated",
        "node_procs_running",
        "node_procs_blocked",
        "node_entropy_available_bits",
        "node_time_seconds",
        "node_boot_time_seconds",
        "node_sockstat_TCP_inuse",
        "node_sockstat_UDP_inuse",
        "node_timex_offset_seconds",
        "node_sockstat_sockets_used",
    ] {
        out.push(one(m, false));
    }
    out
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn length_delimited(out: &mut Vec<u8>, tag: u32, data: &[u8]) {
    varint(out, u64::from(tag << 3 | 2));
    varint(out, data.len() as u64);
    out.extend_from_slice(data);
}

/// The encoded `Label` fields (tag 1 of `TimeSeries`) of one series,
/// sorted by name as the protocol requires.
fn series_labels(family: &Family, extra: &[(&'static str, String)], instance: usize) -> Vec<u8> {
    let mut labels: Vec<(&str, String)> = vec![
        ("__name__", family.name.clone()),
        ("instance", format!("host-{instance}:9100")),
        ("job", "node".to_string()),
    ];
    labels.extend(extra.iter().cloned());
    labels.sort();
    let mut out = Vec::new();
    for (k, v) in labels {
        let mut label = Vec::new();
        length_delimited(&mut label, 1, k.as_bytes());
        length_delimited(&mut label, 2, v.as_bytes());
        length_delimited(&mut out, 1, &label);
    }
    out
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Per client: its snappy-compressed request bodies, in send order.
fn build(args: &Args) -> (Vec<Vec<Vec<u8>>>, usize) {
    let families = families();
    let per_instance: Vec<(&Family, &Vec<(&'static str, String)>)> = families
        .iter()
        .flat_map(|f| f.labels.iter().map(move |l| (f, l)))
        .collect();
    let mut series = Vec::with_capacity(args.series);
    for s in 0..args.series {
        let (family, extra) = per_instance[s % per_instance.len()];
        series.push((
            series_labels(family, extra, s / per_instance.len()),
            family.counter,
        ));
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let start = now_ms - args.steps as i64 * 15_000;
    let mut rng = Rng(42);
    let mut values: Vec<f64> = (0..args.series)
        .map(|_| (rng.next() % 100_000) as f64)
        .collect();
    let mut clients: Vec<Vec<Vec<u8>>> = vec![Vec::new(); args.clients];
    let mut pending: Vec<(Vec<u8>, usize)> = vec![(Vec::new(), 0); args.clients];
    let mut encoder = snap::raw::Encoder::new();
    let mut samples = 0;
    for step in 0..args.steps {
        let t = start + step as i64 * 15_000;
        for (s, (labels, counter)) in series.iter().enumerate() {
            let walk = (rng.next() % 2001) as f64 - 1000.0;
            values[s] = match counter {
                true => values[s] + (rng.next() % 1000) as f64,
                false => ((values[s] + walk / 100.0).max(0.0) * 100.0).round() / 100.0,
            };
            let mut sample = vec![0x09];
            sample.extend_from_slice(&values[s].to_le_bytes());
            sample.push(0x10);
            varint(&mut sample, t as u64);
            let mut ts = labels.clone();
            length_delimited(&mut ts, 2, &sample);
            let c = s % args.clients;
            length_delimited(&mut pending[c].0, 1, &ts);
            pending[c].1 += 1;
            samples += 1;
            if pending[c].1 == args.per_request {
                let body = encoder.compress_vec(&pending[c].0).expect("snappy");
                clients[c].push(body);
                pending[c] = (Vec::new(), 0);
            }
        }
    }
    for (c, (raw, n)) in pending.into_iter().enumerate() {
        if n > 0 {
            clients[c].push(encoder.compress_vec(&raw).expect("snappy"));
        }
    }
    (clients, samples)
}

/// Sends `bodies` in order over one keep-alive connection; returns each
/// request's latency.
fn send(addr: &str, bodies: &[Vec<u8>]) -> Vec<Duration> {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut writer = stream.try_clone().expect("clone stream");
    let mut reader = BufReader::new(stream);
    let mut latencies = Vec::with_capacity(bodies.len());
    let mut line = String::new();
    for body in bodies {
        let started = Instant::now();
        let head = format!(
            "POST /api/v1/write HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: lynx-rw-load\r\n\
             Content-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\n\
             X-Prometheus-Remote-Write-Version: 0.1.0\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        writer.write_all(head.as_bytes()).expect("send head");
        writer.write_all(body).expect("send body");
        line.clear();
        reader.read_line(&mut line).expect("status line");
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {line:?}"));
        let mut length = 0usize;
        loop {
            line.clear();
            reader.read_line(&mut line).expect("header");
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let name = name.to_ascii_lowercase();
                assert!(
                    name != "transfer-encoding",
                    "chunked responses are not read"
                );
                if name == "content-length" {
                    length = value.trim().parse().expect("content-length");
                }
            }
        }
        let mut response = vec![0u8; length];
        reader.read_exact(&mut response).expect("body");
        assert!(
            status == 200 || status == 204,
            "status {status}: {}",
            String::from_utf8_lossy(&response)
        );
        latencies.push(started.elapsed());
    }
    latencies
}

fn memory_mib(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let args = parse_args();
    let built = Instant::now();
    let (clients, samples) = build(&args);
    let requests: usize = clients.iter().map(Vec::len).sum();
    let bytes: usize = clients.iter().flatten().map(Vec::len).sum();
    eprintln!(
        "{requests} requests, {samples} samples, {:.1} MB on the wire, built in {:.1} s",
        bytes as f64 / 1e6,
        built.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let mut latencies: Vec<Duration> = std::thread::scope(|scope| {
        let workers: Vec<_> = clients
            .iter()
            .map(|bodies| scope.spawn(|| send(&args.addr, bodies)))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("client thread"))
            .collect()
    });
    let secs = started.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    let mut line = format!(
        "samples={samples} series={} seconds={secs:.3} samples_per_s={:.0} p50_ms={:.2} p99_ms={:.2} max_ms={:.2}",
        args.series,
        samples as f64 / secs,
        pct(0.5),
        pct(0.99),
        pct(1.0),
    );
    if let Some(pid) = args.pid {
        line += &format!(
            " rss_mib={:.1} hwm_mib={:.1}",
            memory_mib(pid, "VmRSS:"),
            memory_mib(pid, "VmHWM:")
        );
    }
    println!("{line}");
}
