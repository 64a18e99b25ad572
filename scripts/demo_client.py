#!/usr/bin/env python3
"""The demo's API caller (standard library only): bootstraps a tenant (its first admin key, by
direct invocation of the keys function, as an operator does), creates a working key with it
through POST /api/v1/keys, then with that key trains a model on a CSV through POST /api/v1/models,
scores another CSV through POST /api/v1/detect (text/csv), and prints the anomalies with their
top features, then the job recorded for the scoring. Secrets are never printed.

    python3 scripts/demo_client.py http://127.0.0.1:9000 [--algorithm ensemble] [--tenant demo]
"""

import argparse
import csv
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


def call(method, url, body=None, content_type="application/json", timeout=600, token=None):
    """One HTTP call, with `Authorization: Bearer {token}` when given; returns (status, parsed
    JSON body)."""
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", content_type)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], [[float(v) for v in row] for row in rows[1:]]


def expect(status, body, wanted, what):
    if status != wanted:
        sys.exit(f"{what} answered {status}, expected {wanted}: {json.dumps(body)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="base URL of the functions, e.g. http://127.0.0.1:9000")
    parser.add_argument("--algorithm", default="ensemble")
    parser.add_argument("--name", default="demo-payments")
    parser.add_argument("--tenant", default="demo")
    parser.add_argument("--train", default=SAMPLE / "train.csv", type=Path)
    parser.add_argument("--detect", default=SAMPLE / "detect.csv", type=Path)
    parser.add_argument("--planted", type=Path, default=SAMPLE / "detect_anomalies.txt",
                        help="rows (1-based) with planted anomalies: marked, and missing one fails")
    args = parser.parse_args()
    base = args.url.rstrip("/")

    print(f"tenant '{args.tenant}': its first admin key, by direct invocation of the keys function")
    status, admin = call("POST", f"{base}/2015-03-31/functions/keys/invocations",
                         {"action": "issue_key", "tenant": args.tenant, "name": "demo admin", "scopes": ["admin"]})
    expect(status, admin, 200, "issue_key")
    if "key" not in admin:
        sys.exit(f"issue_key refused: {json.dumps(admin)}")
    print(f"  -> admin key {admin['id']} (the secret is shown once, to this script, and stored only as a hash)")
    status, worker = call("POST", f"{base}/api/v1/keys", {"name": "demo pipeline", "scopes": ["read", "detect", "train"]},
                          token=admin["key"])
    expect(status, worker, 201, "POST /api/v1/keys")
    token = worker["key"]
    print(f"POST /api/v1/keys: -> 201 key {worker['id']} with scopes {', '.join(worker['scopes'])}")
    status, refused = call("GET", f"{base}/api/v1/models")
    expect(status, refused, 401, "a request without a key")
    print(f"GET /api/v1/models without a key: -> 401 {refused['error']['code']}")

    columns, rows = read_csv(args.train)
    print(f"POST /api/v1/models: {args.algorithm} on {len(rows)} rows x {len(columns)} features ({args.train.name})")
    started = time.perf_counter()
    status, model = call("POST", f"{base}/api/v1/models", {
        "name": args.name,
        "algorithm": args.algorithm,
        "contamination": 0.01,
        "data": {"columns": columns, "rows": rows},
    }, token=token)
    expect(status, model, 201, "training")
    print(f"  -> 201 model '{model['name']}' version {model['version']}, threshold {model['threshold']:.4f}, "
          f"fitted in {model['training']['duration_ms']} ms ({(time.perf_counter() - started) * 1000:.0f} ms round trip)")

    csv_body = args.detect.read_bytes()
    print(f"POST /api/v1/detect?model={args.name}&explain=true: {args.detect.name} as text/csv")
    started = time.perf_counter()
    status, result = call("POST", f"{base}/api/v1/detect?model={args.name}&explain=true",
                          csv_body, content_type="text/csv", token=token)
    expect(status, result, 200, "scoring")
    summary = result["summary"]
    print(f"  -> 200 scored {summary['rows']} rows in {summary['duration_ms']:.2f} ms "
          f"({(time.perf_counter() - started) * 1000:.0f} ms round trip); {summary['anomalies']} anomalies:")
    _, detect_rows = read_csv(args.detect)
    planted = {int(r) for r in args.planted.read_text().split()} if args.planted else set()
    for anomaly in result["anomalies"]:
        row = anomaly["row"]
        features = ", ".join(
            f"{c['feature']}={detect_rows[row][columns.index(c['feature'])]:g} ({c['contribution'] * 100:.0f}%)"
            for c in anomaly["top_features"]
        )
        mark = "  <- planted" if row + 1 in planted else ""
        print(f"     row {row + 1:>3}  score {anomaly['score']:>9.4f}  {anomaly['severity']:<6}  {features}{mark}")

    status, job = call("GET", f"{base}/api/v1/jobs/{result['job_id']}", token=token)
    expect(status, job, 200, "the job lookup")
    print(f"GET /api/v1/jobs/{job['id']}: {job['kind']} {job['status']}, "
          f"{job['counts']['rows']} rows, {job['counts']['anomalies']} anomalies")
    found = {a["row"] + 1 for a in result["anomalies"]}
    missed = sorted(planted - found)
    if missed:
        sys.exit(f"planted rows {missed} were not flagged")
    if planted:
        print(f"all {len(planted)} planted anomalies found (rows {', '.join(map(str, sorted(planted)))}); "
              f"the others are the sample's natural tail at contamination 0.01")
    for key in (worker, admin):
        status, revoked = call("DELETE", f"{base}/api/v1/keys/{key['id']}", token=admin["key"])
        expect(status, revoked, 200, f"revoking key {key['id']}")
    status, refused = call("GET", f"{base}/api/v1/jobs/{result['job_id']}", token=token)
    expect(status, refused, 401, "a revoked key")
    print(f"DELETE /api/v1/keys/{{id}}: the demo's two keys revoked; the working key now gets 401")


if __name__ == "__main__":
    main()
