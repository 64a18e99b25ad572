"""Scoring past one invocation: one synth file of 10M rows (16 features, about 1.1 GB) scored on
the local store by the single-invocation path and by the split path with 1, 2 and 4 range workers
(the local driver: the same planner, range workers and joiner the state machine invokes), side by
side; medians of rows/s and peak RSS, then a projection of 1 billion rows at 1,000 workers from
the measured per-range cost.

    python3 bench/batch_split.py [--rows 10000000] [--runs 3] [--workers 1,2,4]

Builds the `batch` example in release mode. Each run is its own process, so each peak RSS (VmHWM,
reset just before the event) is that run's alone; workers are threads of that process, so the
figure per worker is the process's growth during the event divided by the workers. Data files go
to $BENCH_TMP (default /tmp), never ../shared.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
EXE = os.path.join(TARGET, "release", "examples", "batch")


def run(path: str, workers: int | None) -> dict:
    args = [EXE, "run", "local", path] + ([str(workers)] if workers else [])
    out = subprocess.run(args, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "--locked", "-p", "e2e", "--example", "batch"],
                   check=True, cwd=ROOT)
    tmp = os.environ.get("BENCH_TMP", "/tmp")
    path = os.path.join(tmp, f"nomaly-split-{args.rows}.csv")
    if not os.path.exists(path):
        print(f"generating {args.rows:,} rows into {path}", file=sys.stderr)
        subprocess.run([EXE, "gen", str(args.rows), path], check=True)
    size_mb = os.path.getsize(path) / 1e6
    configs: list[int | None] = [None] + [int(w) for w in args.workers.split(",")]
    results: dict[str, list[dict]] = {}
    for _ in range(args.runs):  # interleaved, so drift in the machine's load hits every config
        for workers in configs:
            name = "single invocation" if workers is None else f"split, {workers} worker(s)"
            result = run(path, workers)
            print(json.dumps(result), file=sys.stderr)
            results.setdefault(name, []).append(result)
    base = statistics.median(r["rows_per_s"] for r in results["single invocation"])
    print(f"\n{args.rows:,} rows, {size_mb:,.0f} MB, local store, medians of {args.runs} run(s)\n")
    print(f"| path | ranges | seconds | rows/s | vs single | peak RSS MiB | growth per worker MiB |")
    print(f"|---|---|---|---|---|---|---|")
    for name, runs in results.items():
        secs = statistics.median(r["event_s"] for r in runs)
        rate = statistics.median(r["rows_per_s"] for r in runs)
        peak = statistics.median(r["peak_rss_mib"] for r in runs)
        growth = statistics.median(r["peak_rss_mib"] - r["rss_before_mib"] for r in runs)
        workers = runs[0]["workers"] or 1
        ranges = runs[0]["ranges"] or 1
        spread = (max(r["rows_per_s"] for r in runs) - min(r["rows_per_s"] for r in runs)) / rate
        print(f"| {name} | {ranges} | {secs:.1f} | {rate:,.0f} (spread {spread:.0%}) | "
              f"{rate / base:.2f}x | {peak:.0f} | {growth / workers:.0f} |")
    one = results.get("split, 1 worker(s)")
    if one:
        secs = statistics.median(r["event_s"] for r in one)
        ranges = one[0]["ranges"]
        per_range = secs / ranges
        rows_per_range = args.rows / ranges
        target_rows, concurrency = 1_000_000_000, 1000
        total_ranges = math.ceil(target_rows / rows_per_range)
        waves = math.ceil(total_ranges / concurrency)
        print(f"\nProjection: 1,000,000,000 rows = {total_ranges:,} ranges of {rows_per_range:,.0f} "
              f"rows; at {concurrency:,} concurrent workers that is {waves} wave(s) of "
              f"{per_range:.1f} s per range (measured, one worker, this machine) = about "
              f"{waves * per_range:.0f} s of scoring, plus the join's {total_ranges:,} server-side "
              f"part copies and the engine's start-up, neither measured here.")


if __name__ == "__main__":
    main()
