#!/usr/bin/env python3
"""Bulk load, side by side: the TSBS-like cpu data (benches/tsbs) as Parquet
and as CSV, loaded into LynxStore, DuckDB, ClickHouse (chdb) and
PostgreSQL on the same machine in the same run.

Usage (release binary built first; run by hand, never in CI):
    cargo build --release -p lynxstore
    python3 benches/import/run.py --hosts 1000 --hours 24 [--out results.md]

Loads, each timed from start until the data is durable and queryable:
- Parquet: `lynxstore import` into a stopped data directory (bulk path:
  segments + one manifest commit); DuckDB `CREATE TABLE AS SELECT * FROM
  read_parquet` + CHECKPOINT into a database file; chdb `INSERT INTO` a
  MergeTree `SELECT * FROM file(..., Parquet)`. PostgreSQL has no Parquet
  reader.
- CSV: `\\copy ... FROM file (FORMAT csv, HEADER)` through the real psql
  into a running LynxStore on a fresh data directory (fsync durability) and into PostgreSQL 15
  (Debian package, fresh cluster, fsync on); DuckDB `COPY ... FROM` csv;
  chdb `INSERT ... SELECT FROM file(..., CSVWithNames)`.
- Peak RSS of `lynxstore import` (from /usr/bin/time) with --memory-limit-bytes at
  the default and at a tenth of the file's Arrow size.
Every system is checked to hold the same row count and sum(usage_user).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tsbs"))
from run import FIELDS, TAGS, THREADS, clickhouse_cpu_table, free_port, generate  # noqa: E402


def timed(cmd, **kw):
    """Runs cmd under /usr/bin/time -v; returns (seconds, peak RSS in MiB)."""
    t0 = time.time()
    out = subprocess.run(["/usr/bin/time", "-v"] + cmd, check=True, capture_output=True, text=True, **kw)
    secs = time.time() - t0
    rss = next(int(line.split()[-1]) for line in out.stderr.splitlines() if "Maximum resident" in line)
    return secs, rss / 1024


def wait_pg(port, user, db):
    for _ in range(600):
        if subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", user, "-d", db, "-c", "select 1"],
                          capture_output=True).returncode == 0:
            return
        time.sleep(0.1)
    raise SystemExit(f"server on {port} did not start")


def psql(port, user, db, sql, **kw):
    return subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", user, "-d", db, "-v", "ON_ERROR_STOP=1",
                           "-A", "-t", "-c", sql], check=True, capture_output=True, text=True, **kw).stdout.strip()


DDL_PG = ("CREATE TABLE cpu (time TIMESTAMPTZ NOT NULL, "
          + ", ".join(f"{t} TEXT" for t in TAGS) + ", "
          + ", ".join(f"{f} DOUBLE PRECISION" for f in FIELDS) + ")")
CHECK = "SELECT count(*), round(sum(usage_user)::numeric, 3) FROM cpu"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--binary", default="target/release/lynxstore")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)

    import chdb
    import duckdb

    work = tempfile.mkdtemp(prefix="import-", dir="/var/tmp")
    os.chmod(work, 0o755)
    parquet = os.path.join(work, "cpu.parquet")
    csv = os.path.join(work, "cpu.csv")
    rows = generate(parquet, args.hosts, args.hours)
    table = pq.read_table(parquet)
    arrow_mb = table.nbytes / 2**20
    pacsv.write_csv(table, csv)
    os.chmod(csv, 0o644)
    del table
    # Write the generated files back first, so that no load's fsyncs wait
    # behind the kernel flushing them.
    os.sync()
    print(f"{rows} rows; Parquet {os.path.getsize(parquet) / 2**20:.0f} MiB, CSV {os.path.getsize(csv) / 2**20:.0f} MiB, "
          f"Arrow {arrow_mb:.0f} MiB", file=sys.stderr)
    results = {}
    checks = {}

    # LynxStore, Parquet: the CLI into a stopped data directory.
    for label, mem in [("default", 512), ("tenth", max(4, int(arrow_mb / 10)))]:
        data = os.path.join(work, f"lynx-{label}")
        secs, rss = timed([binary, "import", parquet, "--table", "cpu", "--create", "--time-column", "time",
                           "--tags", ",".join(TAGS), "--data-dir", data, "--quiet", "--memory-limit-bytes", str(mem << 20)])
        results[f"lynx_parquet_{label}"] = (secs, rss, mem)
    # The Parquet import, checked through a server; then the CSV through
    # psql \copy into a second server on a fresh data directory (so that
    # compaction of the imported table does not share the cores).
    for label in ["default", "csv"]:
        pg_port, http_port = free_port(), free_port()
        data = os.path.join(work, f"lynx-{label}")
        server = subprocess.Popen([binary, "serve", "--data-dir", data, "--pg-addr", f"127.0.0.1:{pg_port}",
                                   "--http-addr", f"127.0.0.1:{http_port}", "--log", "warn"])
        try:
            wait_pg(pg_port, "lynx", "lynx")
            if label == "default":
                checks["LynxStore (Parquet)"] = psql(pg_port, "lynx", "lynx", CHECK)
                continue
            psql(pg_port, "lynx", "lynx", DDL_PG.replace("TABLE cpu", "TABLE cpu_csv")
                 + f" WITH (tags = '{','.join(TAGS)}')")
            t0 = time.time()
            psql(pg_port, "lynx", "lynx", f"\\copy cpu_csv FROM '{csv}' (FORMAT csv, HEADER)")
            results["lynx_csv"] = time.time() - t0
            checks["LynxStore (CSV)"] = psql(pg_port, "lynx", "lynx", CHECK.replace("cpu", "cpu_csv"))
        finally:
            server.terminate()
            server.wait()

    # DuckDB.
    duck = duckdb.connect(os.path.join(work, "duck.db"))
    duck.execute(f"SET threads={THREADS}")
    t0 = time.time()
    duck.execute(f"CREATE TABLE cpu AS SELECT * FROM read_parquet('{parquet}')")
    duck.execute("CHECKPOINT")
    results["duck_parquet"] = time.time() - t0
    duck.execute(DDL_PG.replace("TABLE cpu", "TABLE cpu_csv"))
    t0 = time.time()
    duck.execute(f"COPY cpu_csv FROM '{csv}' (FORMAT csv, HEADER)")
    duck.execute("CHECKPOINT")
    results["duck_csv"] = time.time() - t0
    checks["DuckDB"] = "|".join(str(v) for v in duck.execute(
        "SELECT count(*), round(sum(usage_user), 3) FROM cpu").fetchone())
    duck.close()

    # ClickHouse in-process.
    ch = chdb.session.Session(os.path.join(work, "ch"))
    for name in ["cpu", "cpu_csv"]:
        ch.query(clickhouse_cpu_table(name))
    t0 = time.time()
    ch.query(f"INSERT INTO cpu SELECT * FROM file('{parquet}', Parquet) SETTINGS max_threads={THREADS}")
    results["ch_parquet"] = time.time() - t0
    t0 = time.time()
    ch.query(f"INSERT INTO cpu_csv SELECT * FROM file('{csv}', CSVWithNames) SETTINGS max_threads={THREADS}")
    results["ch_csv"] = time.time() - t0
    checks["ClickHouse"] = str(ch.query("SELECT count(), round(sum(usage_user), 3) FROM cpu", "CSV")).strip().replace(",", "|")

    # PostgreSQL 15 (Debian package): a fresh cluster owned by `postgres`.
    pgdata = os.path.join(work, "pg")
    os.makedirs(pgdata)
    shutil.chown(pgdata, "postgres", "postgres")
    bindir = "/usr/lib/postgresql/15/bin"
    port = free_port()
    as_pg = ["runuser", "-u", "postgres", "--"]
    subprocess.run(as_pg + [f"{bindir}/initdb", "-D", pgdata, "-A", "trust", "-U", "postgres"], check=True,
                   capture_output=True)
    subprocess.run(as_pg + [f"{bindir}/pg_ctl", "-D", pgdata, "-o", f"-p {port} -k /tmp -c max_wal_size=4GB",
                            "-l", os.path.join(pgdata, "log"), "-w", "start"], check=True, capture_output=True)
    try:
        psql(port, "postgres", "postgres", DDL_PG)
        t0 = time.time()
        psql(port, "postgres", "postgres", f"\\copy cpu FROM '{csv}' (FORMAT csv, HEADER)")
        results["pg_csv"] = time.time() - t0
        checks["PostgreSQL"] = psql(port, "postgres", "postgres", CHECK)
    finally:
        subprocess.run(as_pg + [f"{bindir}/pg_ctl", "-D", pgdata, "-m", "fast", "stop"], capture_output=True)

    rate = lambda secs: f"{rows / secs / 1e6:.2f} M rows/s ({secs:.1f} s)"  # noqa: E731
    lp, lrss, _ = results["lynx_parquet_default"]
    tp, trss, tmem = results["lynx_parquet_tenth"]
    lines = [
        f"Bulk load, {rows} rows ({args.hosts} hosts x {args.hours} h, 10 tags + 10 float fields), "
        f"{THREADS} threads for DuckDB/chdb:",
        "",
        "| system | Parquet | CSV |",
        "| --- | --- | --- |",
        f"| LynxStore | {rate(lp)} | {rate(results['lynx_csv'])} |",
        f"| DuckDB | {rate(results['duck_parquet'])} | {rate(results['duck_csv'])} |",
        f"| ClickHouse (chdb) | {rate(results['ch_parquet'])} | {rate(results['ch_csv'])} |",
        f"| PostgreSQL 15 | - | {rate(results['pg_csv'])} |",
        "",
        f"Parquet ratio LynxStore/DuckDB time {lp / results['duck_parquet']:.2f}, "
        f"LynxStore/ClickHouse {lp / results['ch_parquet']:.2f}; CSV LynxStore/PostgreSQL time "
        f"{results['lynx_csv'] / results['pg_csv']:.2f} (< 1: LynxStore faster).",
        f"lynxstore import peak RSS: {lrss:.0f} MiB with --memory-limit-bytes 512 MiB; {trss:.0f} MiB with {tmem} MiB "
        f"(the file is {arrow_mb:.0f} MiB as Arrow).",
        "Checks (rows|sum(usage_user)): " + "; ".join(f"{k} {v}" for k, v in checks.items()),
    ]
    report = "\n".join(lines)
    print(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report + "\n")
    if len({(int(v.split("|")[0]), round(float(v.split("|")[1]), 1)) for v in checks.values()}) != 1:
        raise SystemExit("row counts / sums differ between systems")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
