#!/usr/bin/env python3
"""Side-by-side speed benchmark: Nomaly's detectors vs scikit-learn's IsolationForest.

Both run single-threaded on the same CSV in one run, in alternating rounds (scikit-learn, then
Nomaly, then again) so that a slow phase of a shared machine hits both; prints the median of each
measurement over the rounds, the median of the per-round ratios, and the targets of the
detection core. Usage (from the repository root):

    python bench/compare.py [--sets synth_100k,shuttle] [--rounds 5] [--repeats 3]

synth_* sets are generated (seeded) into bench/data/; shuttle is read from
../shared/datasets/adbench/ and skipped with a message when that folder is absent.
"""
from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import pickle  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.ensemble import IsolationForest  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import synth  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "datasets"


def median_time(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def med(values):
    return statistics.median(values)


def dataset(name: str) -> Path | None:
    if name in synth.SPECS:
        path = ROOT / "bench" / "data" / f"{name}.csv"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            print(f"generating {path} ...", flush=True)
            synth.write(name, str(path))
        return path
    for sub in ("adbench", "odds"):
        path = SHARED / sub / f"{name}.csv"
        if path.exists():
            return path
    print(f"skipping {name}: not found under {SHARED} (the shared folder is absent)")
    return None


def sklearn_measure(path: Path, repeats: int) -> dict:
    frame = pd.read_csv(path)
    x = frame.drop(columns=["label"], errors="ignore").to_numpy(dtype=np.float64)
    params = dict(n_estimators=100, max_samples=256, random_state=1, n_jobs=1)
    with threadpool_limits(1):
        fit_s = median_time(repeats, lambda: IsolationForest(**params).fit(x))
        model = IsolationForest(**params).fit(x)
        score_s = median_time(repeats, lambda: model.score_samples(x))
        one = x[:1]
        calls = 200
        one_row_s = median_time(repeats, lambda: [model.predict(one) for _ in range(calls)]) / calls
        blob = pickle.dumps(model)
        load_s = median_time(21, lambda: pickle.loads(blob))
    return {
        "rows": x.shape[0], "features": x.shape[1], "fit_s": fit_s,
        "score_rows_per_s": x.shape[0] / score_s, "one_row_us": one_row_s * 1e6,
        "artifact_bytes": len(blob), "load_ms": load_s * 1e3,
    }


def nomaly_measure(path: Path, repeats: int) -> dict:
    cmd = ["cargo", "run", "--quiet", "--release", "-p", "detection", "--example", "bench", "--",
           str(path), "--repeats", str(repeats)]
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return {row["algorithm"]: row for row in map(json.loads, out.splitlines()) if row}



def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default="synth_100k,shuttle")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print("building the Rust benchmark (release) ...", flush=True)
    subprocess.run(["cargo", "build", "--quiet", "--release", "-p", "detection", "--example", "bench"],
                   cwd=ROOT, check=True)
    failures = []
    for name in args.sets.split(","):
        path = dataset(name)
        if path is None:
            continue
        rounds = []
        for r in range(args.rounds):
            print(f"  {name}: round {r + 1}/{args.rounds}", flush=True)
            rounds.append((sklearn_measure(path, args.repeats), nomaly_measure(path, args.repeats)))
        sk = {k: med([s[k] for s, _ in rounds]) for k in rounds[0][0]}
        ours = {a: {k: med([o[a][k] for _, o in rounds]) for k in rounds[0][1][a] if k != "algorithm"}
                for a in rounds[0][1]}
        forest = ours["isolation_forest"]

        def ratio(fn):
            return med([fn(s, o["isolation_forest"]) for s, o in rounds])

        print(f"\n== {name}: {sk['rows']} rows x {sk['features']} features, single thread, "
              f"medians of {args.rounds} rounds x {args.repeats} repeats")
        print(f"{'measure':<28}{'scikit-learn':>16}{'nomaly':>16}{'ratio':>10}  target")
        rows = [
            ("IF fit (s)", sk["fit_s"], forest["fit_s"], ratio(lambda s, o: s["fit_s"] / o["fit_s"]), ">= 10x", 10.0),
            ("IF fit + calibration (s)", sk["fit_s"], forest["model_fit_s"],
             ratio(lambda s, o: s["fit_s"] / o["model_fit_s"]), "", None),
            ("IF score (rows/s)", sk["score_rows_per_s"], forest["score_rows_per_s"],
             ratio(lambda s, o: o["score_rows_per_s"] / s["score_rows_per_s"]), ">= 5x", 5.0),
            ("IF one row (us)", sk["one_row_us"], forest["one_row_us"],
             ratio(lambda s, o: s["one_row_us"] / o["one_row_us"]), "<= 20 us", None),
            ("IF model load (ms)", sk["load_ms"], forest["load_ms"],
             ratio(lambda s, o: s["load_ms"] / o["load_ms"]), "<= 1 ms", None),
            ("IF model size (bytes)", sk["artifact_bytes"], forest["artifact_bytes"],
             ratio(lambda s, o: s["artifact_bytes"] / o["artifact_bytes"]), "<= 1 MB", None),
        ]
        for label, a, b, ratio, target, minimum in rows:
            print(f"{label:<28}{a:>16.4g}{b:>16.4g}{ratio:>9.1f}x  {target}")
            if minimum is not None and ratio < minimum:
                failures.append(f"{name}: {label} ratio {ratio:.1f}x below {target}")
        if forest["one_row_us"] > 20:
            failures.append(f"{name}: one row {forest['one_row_us']:.1f} us > 20 us")
        if forest["load_ms"] > 1:
            failures.append(f"{name}: model load {forest['load_ms']:.2f} ms > 1 ms")
        if forest["artifact_bytes"] > 1_000_000:
            failures.append(f"{name}: artifact {forest['artifact_bytes']} bytes > 1 MB")
        for algo in ("ecod", "hbos"):
            if algo in ours:
                r = ours[algo]
                print(f"{algo.upper() + ' score (rows/s)':<28}{'':>16}{r['score_rows_per_s']:>16.4g}"
                      f"{r['score_rows_per_s'] / sk['score_rows_per_s']:>9.1f}x  >= 1M rows/s "
                      f"(model {r['artifact_bytes']} bytes, fit {r['fit_s'] * 1e3:.1f} ms)")
                if r["score_rows_per_s"] < 1e6:
                    failures.append(f"{name}: {algo} {r['score_rows_per_s']:.3g} rows/s < 1M")
                if r["artifact_bytes"] > 1_000_000:
                    failures.append(f"{name}: {algo} artifact {r['artifact_bytes']} bytes > 1 MB")
    print()
    if failures:
        print("targets missed:\n  " + "\n  ".join(failures))
        return 1
    print("all speed targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
