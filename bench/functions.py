#!/usr/bin/env python3
"""The functions' figures, side by side with a Python/scikit-learn function doing the same job:

- cold start: process start to the first 200 from `detect` (model in the local store), through a
  minimal Lambda Runtime API served here on 127.0.0.1, vs a fresh Python process importing
  scikit-learn, loading a pickled IsolationForest and scoring one row;
- peak RSS while scoring 10,000 rows in one request, vs the Python process doing the same;
- warm latency of the handler in-process for 1 and 1,000 rows (the `latency` example), vs
  json.loads + decision_function + json.dumps in Python.

    python bench/functions.py [--rounds 15]      (make bench-functions)
"""

import argparse
import json
import os
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RELEASE = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"


class RuntimeApi:
    """The Lambda Runtime API's invocation endpoints, enough for one function process."""

    def __init__(self):
        self.events = queue.Queue()
        self.responses = queue.Queue()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if not self.path.endswith("/runtime/invocation/next"):
                    self.send_error(404)
                    return
                request_id, event = api.events.get()
                body = json.dumps(event).encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 900_000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length) if length else b""
                arrived = time.perf_counter()
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                api.responses.put((arrived, self.path, body))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def function_env(api, data_dir, name):
    env = dict(os.environ)
    env.update({
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api.port}",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_LOG_GROUP_NAME": "bench",
        "NOMALY_DATA_DIR": str(data_dir),
        "RUST_LOG": "warn",
    })
    return env


def apigw_event(fixture, body):
    event = json.loads((ROOT / "events" / fixture).read_text())
    event["body"] = json.dumps(body)
    return event


def run_fresh(binary, data_dir, event):
    """Starts the function against its own Runtime API, sends one event; returns (seconds to the
    answer, the path it was posted to, its body, peak RSS KiB)."""
    api = RuntimeApi()
    api.events.put(("req-1", event))
    started = time.perf_counter()
    proc = subprocess.Popen([str(binary)], env=function_env(api, data_dir, binary.name),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    arrived, path, body = api.responses.get(timeout=120)
    peak_kib = vm_hwm_kib(proc.pid)
    os.kill(proc.pid, signal.SIGTERM)
    os.wait4(proc.pid, 0)
    api.server.shutdown()
    api.server.server_close()
    return arrived - started, path, body, peak_kib


def invoke_fresh(binary, data_dir, event):
    """[`run_fresh`] for an API Gateway event; returns (seconds to the response, response, peak
    RSS KiB), and stops the benchmark on anything but a 200 or 201."""
    seconds, path, body, peak_kib = run_fresh(binary, data_dir, event)
    response = json.loads(body)
    if "/response" not in path or response.get("statusCode") not in (200, 201):
        sys.exit(f"{binary.name} answered {path}: {body[:300]!r}")
    return seconds, response, peak_kib


def vm_hwm_kib(pid):
    """Peak resident set of a live process (VmHWM). Not ru_maxrss: after fork + exec, Linux
    reports the forking parent's peak there, which here is a Python holding scikit-learn."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmHWM for {pid}")


def sample(name):
    lines = (ROOT / "data" / "sample" / name).read_text().split()
    return lines[0].split(","), [[float(v) for v in l.split(",")] for l in lines[1:]]


def python_function(model_path, rows_json):
    """A Python 'function' in a fresh process: import, load, score; prints its own timings."""
    code = f"""
import time, json, resource
t0 = time.perf_counter()
import joblib, numpy as np
from sklearn.ensemble import IsolationForest
model = joblib.load({str(model_path)!r})
rows = json.loads(open({str(rows_json)!r}).read())
x = np.asarray(rows["rows"], dtype=float)
scores = -model.score_samples(x)
out = json.dumps({{"scores": scores.tolist(), "labels": (model.predict(x) == -1).astype(int).tolist()}})
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
print(json.dumps({{"in_process_s": time.perf_counter() - t0, "vm_hwm_kib": int(hwm)}}))
"""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    out = json.loads(proc.stdout.read())
    elapsed = time.perf_counter() - started
    proc.wait()
    return elapsed, out["vm_hwm_kib"], out


def median(values):
    return statistics.median(values)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    for binary in ("detect", "train"):
        if not (RELEASE / binary).exists():
            sys.exit(f"{RELEASE / binary} is missing: cargo build --release --bin detect --bin train")

    import joblib
    import numpy as np
    from sklearn.ensemble import IsolationForest

    columns, train_rows = sample("train.csv")
    _, detect_rows = sample("detect.csv")
    work = Path(tempfile.mkdtemp(prefix="nomaly-bench-"))

    seconds, response, _ = invoke_fresh(RELEASE / "train", work / "store", apigw_event("train.json", {
        "name": "payments", "algorithm": "isolation_forest",
        "data": {"columns": columns, "rows": train_rows}}))
    print(f"trained payments v{json.loads(response['body'])['version']} through the train binary ({seconds * 1000:.0f} ms incl. start)")
    sk_model = IsolationForest(random_state=0).fit(np.asarray(train_rows))
    joblib.dump(sk_model, work / "iforest.joblib")

    one = {"model": "payments", "data": {"columns": columns, "rows": detect_rows[:1]}}
    ten_k = {"model": "payments", "data": {"columns": columns,
             "rows": [detect_rows[i % len(detect_rows)] for i in range(10_000)]}}
    (work / "one.json").write_text(json.dumps(one["data"]))
    (work / "ten_k.json").write_text(json.dumps(ten_k["data"]))

    # Interleaved rounds, so machine noise hits both sides alike.
    rust_cold, py_cold, rust_rss, py_rss = [], [], [], []
    for _ in range(args.rounds):
        seconds, _, _ = invoke_fresh(RELEASE / "detect", work / "store", apigw_event("detect-json.json", one))
        rust_cold.append(seconds * 1000)
        seconds, _, _ = python_function(work / "iforest.joblib", work / "one.json")
        py_cold.append(seconds * 1000)
    for _ in range(3):
        _, _, rss = invoke_fresh(RELEASE / "detect", work / "store", apigw_event("detect-json.json", ten_k))
        rust_rss.append(rss / 1024)
        _, rss, _ = python_function(work / "iforest.joblib", work / "ten_k.json")
        py_rss.append(rss / 1024)

    latency = subprocess.run(["cargo", "run", "--quiet", "--release", "--locked", "-p", "e2e", "--example", "latency"],
                             cwd=ROOT, check=True, capture_output=True, text=True).stdout
    rust_warm = {r["rows"]: r for r in map(json.loads, latency.split("\n")[:-1])}
    py_warm = {}
    for rows, iterations in ((1, 2000), (1000, 300)):
        body = json.dumps({"model": "payments", "data": {"columns": columns,
                           "rows": [detect_rows[i % len(detect_rows)] for i in range(rows)]}})
        times = []
        for i in range(iterations + 50):
            t = time.perf_counter()
            request = json.loads(body)
            x = np.asarray(request["data"]["rows"], dtype=float)
            scores = -sk_model.score_samples(x)
            json.dumps({"scores": scores.tolist(), "labels": (scores > 0.6).astype(int).tolist()})
            if i >= 50:
                times.append((time.perf_counter() - t) * 1e6)
        py_warm[rows] = median(times)

    print(f"\n{'measure':<44} {'nomaly':>12} {'python/sklearn':>15} {'ratio':>8}")
    def row(name, ours, theirs, unit):
        print(f"{name:<44} {ours:>9.2f} {unit:<2} {theirs:>12.2f} {unit:<2} {theirs / ours:>7.1f}x")
    row(f"cold start to first 200 (median of {args.rounds})", median(rust_cold), median(py_cold), "ms")
    row("peak RSS scoring 10,000 rows (median of 3)", median(rust_rss), median(py_rss), "MB")
    row("warm latency, 1 row (median)", rust_warm[1]["median_us"], py_warm[1], "us")
    row("warm latency, 1,000 rows (median)", rust_warm[1000]["median_us"], py_warm[1000], "us")
    print(f"\nnomaly p95: 1 row {rust_warm[1]['p95_us']:.0f} us, 1,000 rows {rust_warm[1000]['p95_us']:.0f} us; "
          f"cold start min/max {min(rust_cold):.1f}/{max(rust_cold):.1f} ms; python cold min/max {min(py_cold):.0f}/{max(py_cold):.0f} ms")
    print("nomaly: the detect binary through the Runtime API (JSON event -> response), local store; "
          "python: a fresh interpreter importing scikit-learn, loading a joblib IsolationForest and scoring "
          "(no runtime client, no HTTP), so its figure is a lower bound.")


if __name__ == "__main__":
    main()
