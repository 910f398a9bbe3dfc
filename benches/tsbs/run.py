#!/usr/bin/env python3
"""TSBS devops cpu-only, side by side: LynxStore (over the PostgreSQL protocol)
vs DuckDB and ClickHouse (chdb), same data, same machine, same thread count.

Usage (release binary built first; run by hand, never in CI):
    cargo build --release -p lynxstore
    python3 benches/tsbs/run.py --hosts 1000 --hours 24 --runs 5 [--out results.md]

Steps: generate the data deterministically (seed 42, 10 s interval, TSBS's
ten tags and ten usage fields as clamped random walks of integers) into a
Parquet file; load it into LynxStore with `lynxstore import`, into DuckDB
(native table) and into chdb (MergeTree ORDER BY (hostname, time) with
DoubleDelta / Gorilla / LowCardinality / ZSTD codecs); run each TSBS query
type `--runs` times per system; check that the three result sets are equal
(floats rounded to 6 digits, rows sorted when the query has no total order);
print per-query medians in ms and the ratios LynxStore/DuckDB and
LynxStore/ClickHouse (< 1 means LynxStore is faster).
"""
import argparse
import datetime as dt
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

FIELDS = ["usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait",
          "usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"]
TAGS = ["hostname", "region", "datacenter", "rack", "os", "arch", "team", "service",
        "service_version", "service_environment"]
START = dt.datetime(2016, 1, 1, tzinfo=dt.timezone.utc)
THREADS = 2


def clickhouse_cpu_table(name="cpu"):
    """CREATE TABLE for the cpu data in ClickHouse (chdb): tags as
    LowCardinality strings, time and fields with their time-series codecs."""
    tag_cols = ", ".join(f"{t} LowCardinality(String)" for t in TAGS)
    field_cols = ", ".join(f"{f} Float64 CODEC(Gorilla, ZSTD(1))" for f in FIELDS)
    return (f"CREATE TABLE {name} (time DateTime64(6, 'UTC') CODEC(DoubleDelta, ZSTD(1)), {tag_cols}, "
            f"{field_cols}) ENGINE = MergeTree ORDER BY (hostname, time)")


def generate(path, hosts, hours):
    rng = np.random.default_rng(42)
    steps = hours * 360
    regions = ["us-east-1", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1",
               "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "sa-east-1"]
    host_tags = []
    for h in range(hosts):
        r = regions[rng.integers(len(regions))]
        host_tags.append([f"host_{h}", r, r + "abc"[rng.integers(3)], str(rng.integers(100)),
                          ["Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"][rng.integers(3)],
                          ["x64", "x86"][rng.integers(2)], ["SF", "NYC", "LON", "CHI"][rng.integers(4)],
                          str(rng.integers(20)), str(rng.integers(2)),
                          ["production", "staging", "test"][rng.integers(3)]])
    # Random walks per (host, field), clamped to [0, 100]; rows in time order.
    start_us = int(START.timestamp() * 1_000_000)
    times = np.repeat(start_us + np.arange(steps, dtype=np.int64) * 10_000_000, hosts)
    cols = {"time": pa.array(times, type=pa.timestamp("us", tz="UTC"))}
    host_idx = np.tile(np.arange(hosts), steps)
    for t, name in enumerate(TAGS):
        values = pa.array([host_tags[h][t] for h in range(hosts)])
        cols[name] = pa.DictionaryArray.from_arrays(pa.array(host_idx, type=pa.int32()), values).cast(pa.string())
    for f in FIELDS:
        walk = rng.integers(-1, 2, size=(steps, hosts)).astype(np.float64)
        walk[0] = rng.integers(0, 101, size=hosts)
        acc = np.empty_like(walk)
        acc[0] = walk[0]
        for s in range(1, steps):
            acc[s] = np.clip(acc[s - 1] + walk[s], 0, 100)
        cols[f] = pa.array(acc.reshape(-1))
    pq.write_table(pa.table(cols), path, compression="zstd", row_group_size=1 << 20)
    return hosts * steps


def ts(minutes):
    return (START + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M:%S")


def queries(hosts, hours):
    """(name, sql per system: lynx/duckdb/clickhouse, ordered?)"""
    rng = np.random.default_rng(7)
    span = hours * 60

    def pick(n):
        return ", ".join(f"'host_{h}'" for h in rng.choice(hosts, size=n, replace=False))

    def window(minutes):
        start = int(rng.integers(0, max(1, span - minutes)))
        return ts(start), ts(start + minutes)

    out = []

    def single(m, h, t):
        lo, hi = window(t * 60)
        hs = pick(h)
        aggs = ", ".join(f"max({f}) AS {f}" for f in FIELDS[:m])
        where = f"hostname IN ({hs}) AND time >= '{lo}+00' AND time < '{hi}+00'"
        ch_where = f"hostname IN ({hs}) AND time >= toDateTime64('{lo}', 6, 'UTC') AND time < toDateTime64('{hi}', 6, 'UTC')"
        out.append((f"single-groupby-{m}-{h}-{t}", {
            "lynx": f"SELECT time_bucket(INTERVAL '1 minute', time) AS minute, {aggs} FROM cpu WHERE {where} GROUP BY minute ORDER BY minute",
            "duckdb": f"SELECT time_bucket(INTERVAL '1 minute', time) AS minute, {aggs} FROM cpu WHERE {where} GROUP BY minute ORDER BY minute",
            "clickhouse": f"SELECT toDateTime64(toStartOfMinute(time), 6, 'UTC') AS minute, {aggs} FROM cpu WHERE {ch_where} GROUP BY minute ORDER BY minute",
        }))

    for m, h, t in [(1, 1, 1), (1, 1, 12), (1, 8, 1), (5, 1, 1), (5, 1, 12), (5, 8, 1)]:
        single(m, h, t)
    for h in (1, 8):
        lo, hi = window(8 * 60)
        hs = pick(h)
        aggs = ", ".join(f"max({f}) AS {f}" for f in FIELDS)
        out.append((f"cpu-max-all-{h}", {
            "lynx": f"SELECT time_bucket(INTERVAL '1 hour', time) AS hour, {aggs} FROM cpu WHERE hostname IN ({hs}) AND time >= '{lo}+00' AND time < '{hi}+00' GROUP BY hour ORDER BY hour",
            "duckdb": f"SELECT time_bucket(INTERVAL '1 hour', time) AS hour, {aggs} FROM cpu WHERE hostname IN ({hs}) AND time >= '{lo}+00' AND time < '{hi}+00' GROUP BY hour ORDER BY hour",
            "clickhouse": f"SELECT toDateTime64(toStartOfHour(time), 6, 'UTC') AS hour, {aggs} FROM cpu WHERE hostname IN ({hs}) AND time >= toDateTime64('{lo}', 6, 'UTC') AND time < toDateTime64('{hi}', 6, 'UTC') GROUP BY hour ORDER BY hour",
        }))
    for m, label in [(1, "1"), (5, "5"), (10, "all")]:
        lo, hi = window(12 * 60)
        aggs = ", ".join(f"avg({f}) AS {f}" for f in FIELDS[:m])
        out.append((f"double-groupby-{label}", {
            "lynx": f"SELECT time_bucket(INTERVAL '1 hour', time) AS hour, hostname, {aggs} FROM cpu WHERE time >= '{lo}+00' AND time < '{hi}+00' GROUP BY hour, hostname ORDER BY hour, hostname",
            "duckdb": f"SELECT time_bucket(INTERVAL '1 hour', time) AS hour, hostname, {aggs} FROM cpu WHERE time >= '{lo}+00' AND time < '{hi}+00' GROUP BY hour, hostname ORDER BY hour, hostname",
            "clickhouse": f"SELECT toDateTime64(toStartOfHour(time), 6, 'UTC') AS hour, hostname, {aggs} FROM cpu WHERE time >= toDateTime64('{lo}', 6, 'UTC') AND time < toDateTime64('{hi}', 6, 'UTC') GROUP BY hour, hostname ORDER BY hour, hostname",
        }))
    cols = ", ".join(["time", "hostname"] + FIELDS)
    for label, hosts_clause in [("1", f"hostname IN ({pick(1)}) AND "), ("all", "")]:
        lo, hi = window(12 * 60)
        out.append((f"high-cpu-{label}", {
            "lynx": f"SELECT {cols} FROM cpu WHERE {hosts_clause}usage_user > 90.0 AND time >= '{lo}+00' AND time < '{hi}+00'",
            "duckdb": f"SELECT {cols} FROM cpu WHERE {hosts_clause}usage_user > 90.0 AND time >= '{lo}+00' AND time < '{hi}+00'",
            "clickhouse": f"SELECT {cols} FROM cpu WHERE {hosts_clause}usage_user > 90.0 AND time >= toDateTime64('{lo}', 6, 'UTC') AND time < toDateTime64('{hi}', 6, 'UTC')",
        }))
    out.append(("lastpoint", {
        "lynx": f"SELECT DISTINCT ON (hostname) {cols} FROM cpu ORDER BY hostname, time DESC",
        "duckdb": f"SELECT DISTINCT ON (hostname) {cols} FROM cpu ORDER BY hostname, time DESC",
        "clickhouse": f"SELECT {cols} FROM cpu ORDER BY hostname, time DESC LIMIT 1 BY hostname",
    }))
    lo, hi = window(span // 2)
    out.append(("groupby-orderby-limit", {
        "lynx": f"SELECT time_bucket(INTERVAL '1 minute', time) AS minute, max(usage_user) FROM cpu WHERE time < '{hi}+00' GROUP BY minute ORDER BY minute DESC LIMIT 5",
        "duckdb": f"SELECT time_bucket(INTERVAL '1 minute', time) AS minute, max(usage_user) FROM cpu WHERE time < '{hi}+00' GROUP BY minute ORDER BY minute DESC LIMIT 5",
        "clickhouse": f"SELECT toDateTime64(toStartOfMinute(time), 6, 'UTC') AS minute, max(usage_user) FROM cpu WHERE time < toDateTime64('{hi}', 6, 'UTC') GROUP BY minute ORDER BY minute DESC LIMIT 5",
    }))
    return out


def norm(rows):
    out = []
    for r in rows:
        vals = []
        for v in r:
            if isinstance(v, float):
                vals.append(round(v, 6))
            elif isinstance(v, dt.datetime):
                if v.tzinfo is None:
                    v = v.replace(tzinfo=dt.timezone.utc)
                vals.append(v.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"))
            else:
                vals.append(v)
        out.append(tuple(vals))
    return sorted(out, key=repr)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--binary", default="target/release/lynxstore")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    import chdb
    import duckdb
    import psycopg

    work = tempfile.mkdtemp(prefix="tsbs-", dir="/var/tmp")
    parquet = os.path.join(work, "cpu.parquet")
    t0 = time.time()
    rows = generate(parquet, args.hosts, args.hours)
    print(f"generated {rows} rows in {time.time() - t0:.1f}s -> {parquet}", file=sys.stderr)

    # LynxStore: import into a stopped data dir, then serve.
    data = os.path.join(work, "lynx")
    t0 = time.time()
    subprocess.run([args.binary, "import", parquet, "--table", "cpu", "--create", "--time-column", "time",
                    "--tags", ",".join(TAGS), "--data-dir", data], check=True)
    lynx_load = time.time() - t0
    pg, http = free_port(), free_port()
    server = subprocess.Popen([args.binary, "serve", "--data-dir", data, "--pg-addr", f"127.0.0.1:{pg}",
                               "--http-addr", f"127.0.0.1:{http}", "--log", "warn"])
    try:
        for _ in range(600):
            try:
                conn = psycopg.connect(f"host=127.0.0.1 port={pg} user=lynx dbname=lynx", autocommit=True)
                break
            except psycopg.OperationalError:
                time.sleep(0.1)
        conn.execute("VACUUM")
        lynx_bytes = sum(os.path.getsize(os.path.join(data, "segments", f)) for f in os.listdir(os.path.join(data, "segments")))

        duck = duckdb.connect(os.path.join(work, "duck.db"))
        duck.execute(f"SET threads={THREADS}")
        duck.execute("SET TimeZone='UTC'")
        t0 = time.time()
        duck.execute(f"CREATE TABLE cpu AS SELECT * FROM read_parquet('{parquet}')")
        duck.execute("CHECKPOINT")
        duck_load = time.time() - t0
        duck_bytes = os.path.getsize(os.path.join(work, "duck.db"))

        ch = chdb.session.Session(os.path.join(work, "ch"))
        ch.query(clickhouse_cpu_table())
        t0 = time.time()
        ch.query(f"INSERT INTO cpu SELECT * FROM file('{parquet}', Parquet) SETTINGS max_threads={THREADS}")
        ch.query("OPTIMIZE TABLE cpu FINAL")
        ch_load = time.time() - t0
        ch_bytes = int(str(ch.query("SELECT sum(bytes_on_disk) FROM system.parts WHERE table = 'cpu' AND active", "CSV")).strip())

        def run_lynx(sql):
            return conn.execute(sql).fetchall()

        def run_duck(sql):
            return duck.execute(sql).fetchall()

        def run_ch(sql):
            res = ch.query(sql + f" SETTINGS max_threads={THREADS}, session_timezone='UTC'", "ArrowTable")
            return [tuple(r.values()) for r in res.to_pylist()]

        lines = []
        ratios_duck, ratios_ch = [], []
        header = "| query | LynxStore ms | DuckDB ms | ClickHouse ms | Lynx/DuckDB | Lynx/ClickHouse | results |"
        lines += [header, "| --- | --- | --- | --- | --- | --- | --- |"]
        for name, sql in queries(args.hosts, args.hours):
            times = {}
            results = {}
            for system, fn in (("lynx", run_lynx), ("duckdb", run_duck), ("clickhouse", run_ch)):
                samples = []
                for _ in range(args.runs):
                    t0 = time.perf_counter()
                    res = fn(sql[system])
                    samples.append((time.perf_counter() - t0) * 1000)
                results[system] = norm(res)
                times[system] = statistics.median(samples)
            same = results["lynx"] == results["duckdb"] == results["clickhouse"]
            if not same:
                for system in ("lynx", "duckdb", "clickhouse"):
                    print(f"  {name} {system}: {results[system][:2]}", file=sys.stderr)
            rd = times["lynx"] / times["duckdb"]
            rc = times["lynx"] / times["clickhouse"]
            ratios_duck.append(rd)
            ratios_ch.append(rc)
            lines.append(f"| {name} | {times['lynx']:.1f} | {times['duckdb']:.1f} | {times['clickhouse']:.1f} | "
                         f"{rd:.2f} | {rc:.2f} | {'equal' if same else 'DIFFER'} ({len(results['lynx'])} rows) |")
            print(lines[-1], file=sys.stderr)
        gm = lambda xs: float(np.exp(np.mean(np.log(xs))))
        lines.append(f"| geometric mean | | | | {gm(ratios_duck):.2f} | {gm(ratios_ch):.2f} | |")
        lines.append("")
        lines.append(f"Load: LynxStore import {lynx_load:.1f}s, DuckDB {duck_load:.1f}s, chdb {ch_load:.1f}s. "
                     f"Bytes per row on disk: LynxStore {lynx_bytes / rows:.2f}, DuckDB {duck_bytes / rows:.2f}, "
                     f"ClickHouse {ch_bytes / rows:.2f}, Parquet-zstd {os.path.getsize(parquet) / rows:.2f}.")
        text = "\n".join(lines)
        print(text)
        if args.out:
            with open(args.out, "w") as f:
                f.write(text + "\n")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
