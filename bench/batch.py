"""Batch scoring through the S3 event path: synth data (16 features) of 1M and 2M rows, scored by
the detect function's S3 handler on moto and on the local store; medians of rows/s and peak RSS.

    python3 bench/batch.py [--runs 3] [--rows 1000000,2000000]

Needs `moto_server` on PATH (make test installs it in .venv-tools) and builds the `batch` example
in release mode. Each run is its own process, so each peak RSS (VmHWM, reset just before the
event) is that run's alone. Data files go to $BENCH_TMP (default /tmp), never ../shared.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
EXE = os.path.join(TARGET, "release", "examples", "batch")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", default="1000000,2000000")
    parser.add_argument("--stores", default="local,moto")
    parser.add_argument("--no-build", action="store_true", help="use the example already built")
    args = parser.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--locked", "-p", "e2e", "--example",
                        "batch"], cwd=ROOT, check=True)
    tmp = tempfile.mkdtemp(dir=os.environ.get("BENCH_TMP", "/tmp"), prefix="nomaly-batch-")
    port = free_port()
    moto = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.2)
        results = []
        for rows in [int(r) for r in args.rows.split(",")]:
            path = os.path.join(tmp, f"synth_{rows}.csv")
            subprocess.run([EXE, "gen", str(rows), path], check=True)
            for store in args.stores.split(","):
                target = "local" if store == "local" else f"http://127.0.0.1:{port}"
                runs = []
                for _ in range(args.runs):
                    out = subprocess.run([EXE, "run", target, path], check=True,
                                         capture_output=True, text=True,
                                         env={**os.environ, "RUST_LOG": "warn", "BENCH_TMP": tmp,
                                              "CARGO_MANIFEST_DIR": os.path.join(ROOT, "functions", "detect")})
                    runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
                    print(json.dumps(runs[-1]), file=sys.stderr)
                med = lambda k: statistics.median(r[k] for r in runs)
                results.append((store, rows, med("rows_per_s"), med("peak_rss_mib"),
                                med("event_s"), med("read_only_s"), med("upload_s"), runs[0]["input_mib"]))
            os.remove(path)
        print(f"{'store':6} {'rows':>9} {'MiB':>6} {'rows/s':>9} {'peak RSS MiB':>13} "
              f"{'event s':>8} {'read-only s':>11} {'upload s':>9}")
        for store, rows, rps, rss, ev, rd, up, mib in results:
            print(f"{store:6} {rows:>9} {mib:>6.0f} {rps:>9.0f} {rss:>13.1f} {ev:>8.2f} {rd:>11.2f} {up:>9.2f}")
    finally:
        os.killpg(moto.pid, 15)
        moto.wait()


if __name__ == "__main__":
    main()
