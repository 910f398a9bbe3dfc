"""Prometheus remote-write ingest, side by side: LynxStore vs VictoriaMetrics
(Debian package `victoria-metrics`), same pre-encoded requests, same client,
same machine, one server at a time.

Usage (release binaries built first; run by hand, never in CI):
    cargo build --release -p lynxstore -p lynx-bench
    python3 benches/remote_write/run.py --series 100000 --steps 20 --clients 8

The load generator is `rw_load` (benches/src/bin/rw_load.rs, Rust): it
pre-builds node_exporter-like remote-write 1.0 requests (100 series per
instance, 2,000 samples per request, one sample per series every 15 s,
snappy-compressed protobuf), shards the series over `--clients` keep-alive
connections as Prometheus shards by series, and reports samples/s (first
request to last 204) with p50/p99 request latency and the server's resident
memory after the run (VmRSS, and VmHWM, the peak). This script then reads the
samples each server stored and the bytes on disk after each server's flush.
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_http(port, path):
    for _ in range(600):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1).read()
            return
        except Exception:
            time.sleep(0.1)
    raise SystemExit(f"server on {port} did not start")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def start(argv, log_path):
    """Starts a server with its output in a log file (never in our pipe)."""
    log = open(log_path, "wb")
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def load(binary, port, pid, args):
    out = subprocess.run([binary, f"127.0.0.1:{port}", "--series", str(args.series), "--steps", str(args.steps),
                          "--clients", str(args.clients), "--pid", str(pid)],
                         check=True, capture_output=True, text=True)
    sys.stderr.write(out.stderr)
    return {k: float(v) for k, v in (kv.split("=") for kv in out.stdout.split())}


def du(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=100_000)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--binary", default="target/release/lynxstore")
    ap.add_argument("--load", default="target/release/rw_load")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="rw-", dir="/var/tmp")
    rows = []
    procs = []
    try:
        # LynxStore
        data = os.path.join(work, "lynx")
        pg, http_port = free_port(), free_port()
        srv = start([args.binary, "serve", "--data-dir", data, "--pg-addr", f"127.0.0.1:{pg}",
                     "--http-addr", f"127.0.0.1:{http_port}", "--log", "warn"], os.path.join(work, "lynx.log"))
        procs.append(srv)
        wait_http(http_port, "/health")
        idle = rss_mib(srv.pid)
        r = load(args.load, http_port, srv.pid, args)
        r["idle_mib"] = idle
        import psycopg
        with psycopg.connect(f"host=127.0.0.1 port={pg} user=lynx dbname=lynx", autocommit=True) as c:
            tables = [t for (t,) in c.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'").fetchall()]
            stored = sum(c.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables)
            c.execute("VACUUM")
        stop(srv)
        rows.append(("LynxStore (fsync), whole data dir", r, stored, du(data)))
        # The WAL's current file stays until it rotates (64 MiB); the
        # flushed data itself is in segments/.
        rows.append(("LynxStore segments/ only", r, stored, du(os.path.join(data, "segments"))))
        # VictoriaMetrics
        vm_data = os.path.join(work, "vm")
        vm_port = free_port()
        vm = start(["/usr/bin/victoria-metrics", f"-storageDataPath={vm_data}",
                    f"-httpListenAddr=127.0.0.1:{vm_port}", "-loggerLevel=ERROR",
                    "-retentionPeriod=100y", "-search.latencyOffset=0s",
                    "-search.maxUniqueTimeseries=100000000", "-search.maxSamplesPerQuery=10000000000"], os.path.join(work, "vm.log"))
        procs.append(vm)
        wait_http(vm_port, "/health")
        idle = rss_mib(vm.pid)
        r = load(args.load, vm_port, vm.pid, args)
        r["idle_mib"] = idle
        urllib.request.urlopen(f"http://127.0.0.1:{vm_port}/internal/force_flush").read()
        q = urllib.parse.quote('sum(count_over_time({__name__=~"node_.*"}[%ds]))' % (args.steps * 15 + 600))
        res = json.load(urllib.request.urlopen(f"http://127.0.0.1:{vm_port}/api/v1/query?query={q}"))
        vm_stored = int(float(res["data"]["result"][0]["value"][1])) if res["data"]["result"] else 0
        stop(vm)
        rows.append(("VictoriaMetrics", r, vm_stored, du(vm_data)))
    finally:
        for p in procs:
            stop(p)
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.series:,} series x {args.steps} steps, {args.clients} clients")
    print("| server | samples/s | seconds | p50 ms | p99 ms | samples stored | bytes on disk | bytes/sample "
          "| idle RSS MiB | RSS after MiB | peak RSS MiB | (RSS after - idle) bytes/series |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, r, stored, size in rows:
        print(f"| {name} | {r['samples_per_s']:,.0f} | {r['seconds']:.1f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} "
              f"| {stored:,} | {size:,} | {size / max(stored, 1):.2f} | {r['idle_mib']:.0f} | {r['rss_mib']:.0f} "
              f"| {r['hwm_mib']:.0f} | {(r['rss_mib'] - r['idle_mib']) * 1048576 / args.series:,.0f} |")
    print(f"LynxStore samples/s divided by VictoriaMetrics samples/s: "
          f"{rows[0][1]['samples_per_s'] / rows[-1][1]['samples_per_s']:.2f}")


if __name__ == "__main__":
    main()
