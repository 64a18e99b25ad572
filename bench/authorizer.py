#!/usr/bin/env python3
"""What authentication costs:

- the authorizer's cold start: process start to its first answer (an `Allow` policy for a real
  API key in the local store), through a minimal Lambda Runtime API on 127.0.0.1 (the one
  `bench/functions.py` uses), median of `--rounds` fresh processes;
- the warm check in-process, and the functions' admission of a request in each mode, and the
  detect handler's warm latency for one row in each mode (the `auth_latency` example).

    python bench/authorizer.py [--rounds 15]      (make bench-auth)
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from functions import RELEASE, ROOT, median, run_fresh  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    for binary in ("authorizer", "keys", "examples/auth_latency"):
        if not (RELEASE / binary).exists():
            sys.exit(f"{RELEASE / binary} is missing: make bench-auth builds it")
    work = Path(tempfile.mkdtemp(prefix="nomaly-auth-bench-"))
    _, _, body, _ = run_fresh(RELEASE / "keys", work, {"action": "issue_key", "tenant": "bench", "scopes": ["read"]})
    issued = json.loads(body)
    if "key" not in issued:
        sys.exit(f"issue_key answered {issued}")
    event = json.loads((ROOT / "events" / "authorizer-request.json").read_text())
    event["headers"]["Authorization"] = f"Bearer {issued['key']}"
    cold = []
    for _ in range(args.rounds):
        seconds, path, body, _ = run_fresh(RELEASE / "authorizer", work, event)
        answer = json.loads(body)
        if "/response" not in path or answer["policyDocument"]["Statement"][0]["Effect"] != "Allow":
            sys.exit(f"the authorizer answered {path}: {answer}")
        cold.append(seconds * 1000)
    warm = subprocess.run([str(RELEASE / "examples" / "auth_latency")],
                          cwd=ROOT, check=True, capture_output=True, text=True).stdout
    print(f"\n{'measure':<48} {'median':>10} {'p95':>10}")
    print(f"{'authorizer cold start to first Allow (%d runs)' % args.rounds:<48} {median(cold):>7.2f} ms "
          f"{sorted(cold)[int(round((len(cold) - 1) * 0.95))]:>7.2f} ms")
    for line in warm.splitlines():
        r = json.loads(line)
        print(f"{r['measure']:<48} {r['median_us']:>7.2f} us {r['p95_us']:>7.2f} us")
    print(f"\ncold start min/max {min(cold):.2f}/{max(cold):.2f} ms; local store (SQLite) in a temp dir; "
          "in AWS the key read is one DynamoDB GetItem instead, and API Gateway caches the answer per credential.")


if __name__ == "__main__":
    main()
