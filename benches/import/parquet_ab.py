#!/usr/bin/env python3
"""Parquet import, LynxStore against ClickHouse (chdb), alternately.

Usage (release binary; run by hand, never in CI):
    python3 benches/import/parquet_ab.py BINARY FILE.parquet [ROUNDS]

FILE is the TSBS-like cpu file that benches/import/run.py writes. Each round
imports it with `lynxstore import` into a fresh data directory, then loads it
into a fresh chdb MergeTree (`INSERT INTO ... SELECT * FROM file(..., Parquet)`,
2 threads), and prints both times. Rounds alternate so that the host's drift
hits both alike (docs/benchmarks.md, "Bulk load").
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tsbs"))
from run import TAGS, clickhouse_cpu_table  # noqa: E402


def main():
    import chdb

    binary, parquet = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    for n in range(rounds):
        work = tempfile.mkdtemp(prefix="parquet-ab-", dir="/var/tmp")
        try:
            t0 = time.time()
            subprocess.run([binary, "import", parquet, "--table", "cpu", "--create", "--time-column", "time",
                            "--tags", ",".join(TAGS), "--data-dir", os.path.join(work, "data"), "--quiet"],
                           check=True, capture_output=True)
            lynx = time.time() - t0
            ch = chdb.session.Session(os.path.join(work, "ch"))
            ch.query(clickhouse_cpu_table())
            t0 = time.time()
            ch.query(f"INSERT INTO cpu SELECT * FROM file('{parquet}', Parquet) SETTINGS max_threads=2")
            clickhouse = time.time() - t0
            ch.close()
        finally:
            shutil.rmtree(work)
        print(f"round {n}: lynxstore {lynx:.2f} s, chdb {clickhouse:.2f} s, ratio {lynx / clickhouse:.2f}", flush=True)


if __name__ == "__main__":
    main()
