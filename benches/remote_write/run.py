#!/usr/bin/env python3
"""Prometheus remote-write ingest, side by side: LynxStore vs VictoriaMetrics
(Debian package `victoria-metrics`), same pre-encoded requests, same client,
same machine, one server at a time.

Usage (release binary built first; run by hand, never in CI):
    cargo build --release -p lynxstore
    python3 benches/remote_write/run.py --instances 1000 --steps 360 --clients 8

Data: 10 metrics x `instances` series (labels __name__, instance, job,
region), one sample per series every 15 s for `steps` steps; counters grow,
gauges walk with two decimals. Requests carry 2,000 samples (Prometheus'
max_samples_per_send default), snappy-compressed protobuf WriteRequest 1.0,
encoded before timing. Reports samples/s (wall time from first request to
last 204), the samples each server reports stored, and bytes on disk after
each server's flush.
"""
import argparse
import concurrent.futures
import http.client
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

import cramjam

METRICS = ["bench_cpu_seconds_total", "bench_memory_bytes", "bench_disk_read_bytes_total",
           "bench_disk_written_bytes_total", "bench_net_rx_bytes_total", "bench_net_tx_bytes_total",
           "bench_load1", "bench_filesystem_free_bytes", "bench_context_switches_total", "bench_temperature_celsius"]


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(tag, wire, payload):
    return varint((tag << 3) | wire) + payload


def ld(tag, data):
    return field(tag, 2, varint(len(data)) + data)


def series(labels, samples):
    body = b"".join(ld(1, ld(1, k.encode()) + ld(2, v.encode())) for k, v in labels)
    body += b"".join(ld(2, field(1, 1, struct.pack("<d", v)) + field(2, 0, varint(t))) for t, v in samples)
    return body


def requests(instances, steps):
    rng = random.Random(42)
    keys = [(m, i) for i in range(instances) for m in METRICS]
    state = {k: rng.random() * 1000 for k in keys}
    start_ms = int(time.time() * 1000) - steps * 15_000
    out, batch, n = [], [], 0
    for s in range(steps):
        t = start_ms + s * 15_000
        for (m, i) in keys:
            if m.endswith("_total"):
                state[(m, i)] += rng.random() * 100
            else:
                state[(m, i)] = round(max(0.0, state[(m, i)] + rng.uniform(-1, 1)), 2)
            labels = [("__name__", m), ("instance", f"host-{i}:9100"), ("job", "node"), ("region", f"r{i % 7}")]
            batch.append(ld(1, series(labels, [(t, state[(m, i)])])))
            n += 1
            if len(batch) == 2000:
                out.append(bytes(cramjam.snappy.compress_raw(b"".join(batch))))
                batch = []
    if batch:
        out.append(bytes(cramjam.snappy.compress_raw(b"".join(batch))))
    return out, n


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


def post_all(port, path, bodies, clients):
    headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
               "X-Prometheus-Remote-Write-Version": "0.1.0"}
    chunks = [bodies[i::clients] for i in range(clients)]

    def worker(chunk):
        conn = http.client.HTTPConnection("127.0.0.1", port)
        for b in chunk:
            conn.request("POST", path, body=b, headers=headers)
            r = conn.getresponse()
            r.read()
            if r.status not in (200, 204):
                raise SystemExit(f"status {r.status} from port {port}")
        conn.close()

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as ex:
        list(ex.map(worker, chunks))
    return time.perf_counter() - t0


def du(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=360)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--binary", default="target/release/lynxstore")
    args = ap.parse_args()
    bodies, samples = requests(args.instances, args.steps)
    print(f"{len(bodies)} requests, {samples} samples, {sum(map(len, bodies)) / 1e6:.1f} MB on the wire", file=sys.stderr)
    work = tempfile.mkdtemp(prefix="rw-", dir="/var/tmp")
    rows = []
    try:
        # LynxStore
        data = os.path.join(work, "lynx")
        pg, http_port = free_port(), free_port()
        srv = subprocess.Popen([args.binary, "serve", "--data-dir", data, "--pg-addr", f"127.0.0.1:{pg}",
                                "--http-addr", f"127.0.0.1:{http_port}", "--log", "warn"])
        wait_http(http_port, "/health")
        secs = post_all(http_port, "/api/v1/write", bodies, args.clients)
        import psycopg
        with psycopg.connect(f"host=127.0.0.1 port={pg} user=lynx dbname=lynx", autocommit=True) as c:
            stored = sum(c.execute(f"SELECT count(*) FROM {m}").fetchone()[0] for m in METRICS)
            c.execute("VACUUM")
        srv.terminate()
        srv.wait()
        rows.append(("LynxStore (fsync), whole data dir", secs, stored, du(data)))
        # The WAL's current file stays until it rotates (64 MiB); the
        # flushed data itself is in segments/.
        rows.append(("LynxStore segments/ only", secs, stored, du(os.path.join(data, "segments"))))
        # VictoriaMetrics
        vm_data = os.path.join(work, "vm")
        vm_port = free_port()
        vm = subprocess.Popen(["/usr/bin/victoria-metrics", f"-storageDataPath={vm_data}",
                               f"-httpListenAddr=127.0.0.1:{vm_port}", "-loggerLevel=ERROR",
                               "-retentionPeriod=100y", "-search.latencyOffset=0s"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(vm_port, "/health")
        secs = post_all(vm_port, "/api/v1/write", bodies, args.clients)
        urllib.request.urlopen(f"http://127.0.0.1:{vm_port}/internal/force_flush").read()
        q = urllib.parse.quote('sum(count_over_time({__name__=~"bench_.*"}[%ds]))' % (args.steps * 15 + 600))
        import json
        res = json.load(urllib.request.urlopen(f"http://127.0.0.1:{vm_port}/api/v1/query?query={q}"))
        vm_stored = int(float(res["data"]["result"][0]["value"][1])) if res["data"]["result"] else 0
        vm.terminate()
        vm.wait()
        rows.append(("VictoriaMetrics", secs, vm_stored, du(vm_data)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("| server | samples/s | seconds | samples stored | bytes on disk | bytes/sample |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, secs, stored, size in rows:
        print(f"| {name} | {samples / secs:,.0f} | {secs:.1f} | {stored:,} | {size:,} | {size / max(stored, 1):.2f} |")
    print(f"LynxStore samples/s divided by VictoriaMetrics samples/s: {rows[-1][1] / rows[0][1]:.2f}")


if __name__ == "__main__":
    import urllib.parse
    main()
