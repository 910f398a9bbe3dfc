"""Interleaved A/B of two LynxStore builds on one query.

    python3 benches/tsbs/ab.py BIN_A BIN_B QUERY.sql ROUNDS [N] --dirs DIR_A DIR_B

Starts BIN_A on DIR_A and BIN_B on DIR_B (two copies of one data
directory, e.g. loaded by benches/tsbs/run.py), warms both up, then runs
the query N times per round on each server, alternating which goes first,
and prints the median server CPU per query (from /proc/PID/stat) and the
median wall time per query as the client sees it, with B/A ratios.
"""
import argparse
import os
import statistics
import subprocess
import time

import psycopg

ap = argparse.ArgumentParser()
ap.add_argument("a")
ap.add_argument("b")
ap.add_argument("sql")
ap.add_argument("rounds", type=int)
ap.add_argument("n", type=int, nargs="?", default=3)
ap.add_argument("--dirs", nargs=2, required=True)
args = ap.parse_args()
q = open(args.sql).read()
procs = []
for i, (binary, d) in enumerate([(args.a, args.dirs[0]), (args.b, args.dirs[1])]):
    procs.append(subprocess.Popen([
        binary, "serve", "--data-dir", d, "--pg-addr", f"127.0.0.1:{15433 + i}",
        "--http-addr", f"127.0.0.1:{18080 + i}", "--log", "warn"]))


def cpu_seconds(p):
    f = open(f"/proc/{p.pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


try:
    conns = []
    for i in range(2):
        for _ in range(100):
            try:
                conns.append(psycopg.connect(
                    f"host=127.0.0.1 port={15433 + i} user=postgres dbname=postgres", autocommit=True))
                break
            except psycopg.OperationalError:
                time.sleep(0.1)
        else:
            raise SystemExit(f"server {i} did not accept connections")
    for c in conns:
        c.execute(q).fetchall()
        c.execute(q).fetchall()
    cpu, wall = [[], []], [[], []]
    for r in range(args.rounds):
        for i in (0, 1) if r % 2 == 0 else (1, 0):
            c0, t0 = cpu_seconds(procs[i]), time.perf_counter()
            for _ in range(args.n):
                conns[i].execute(q).fetchall()
            wall[i].append((time.perf_counter() - t0) * 1000 / args.n)
            cpu[i].append((cpu_seconds(procs[i]) - c0) * 1000 / args.n)
finally:
    for p in procs:
        p.kill()
for i, name in enumerate((args.a, args.b)):
    print(f"{os.path.basename(name):12s} cpu median {statistics.median(cpu[i]):7.1f} ms"
          f"  wall median {statistics.median(wall[i]):7.1f} ms")
print(f"B/A cpu {statistics.median(cpu[1]) / statistics.median(cpu[0]):.3f}"
      f"  wall {statistics.median(wall[1]) / statistics.median(wall[0]):.3f}")
