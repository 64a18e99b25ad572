#!/usr/bin/env bash
# The main job on the embedded local store: cargo lambda watch serves the health, keys, train and
# detect functions on 127.0.0.1; a tenant and its first admin key are created by direct invocation,
# a working key through POST /api/v1/keys, and with it a model is trained on data/sample/train.csv
# through POST /api/v1/models,
# data/sample/detect.csv is scored through POST /api/v1/detect, and the anomalies are printed with
# their top features. Everything is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need_rust
need_tools scripts/requirements-lambda.txt

say "building the functions as cargo lambda watch runs them, local store only (--no-default-features: no AWS SDK; the first build compiles dependencies: a few minutes on 2 cores)"
cargo build --locked --profile demo --no-default-features --bin health --bin detect --bin train --bin keys

port=$(free_port)
mkdir -p .nomaly
say "starting cargo lambda watch on http://127.0.0.1:$port (store: .nomaly/, log: .nomaly/watch.log)"
setsid cargo lambda watch --profile demo --no-default-features --ignore-changes --invoke-address 127.0.0.1 --invoke-port "$port" \
  > .nomaly/watch.log 2>&1 &
watch_pid=$!
stop() {
  kill -TERM -- "-$watch_pid" 2>/dev/null || true
  sleep 1
  kill -KILL -- "-$watch_pid" 2>/dev/null || true
}
trap stop EXIT

printf 'waiting for GET /health '
for _ in $(seq 1 240); do
  if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$watch_pid" 2>/dev/null; then
    echo; cat .nomaly/watch.log; echo "cargo lambda watch exited" >&2; exit 1
  fi
  printf '.'; sleep 0.5
done
curl -fsS "http://127.0.0.1:$port/health" && echo

say "training and detecting through the functions (planted anomalies: rows $(paste -sd, data/sample/detect_anomalies.txt))"
python3 scripts/demo_client.py "http://127.0.0.1:$port" --algorithm "${1:-ensemble}"

say "stopping cargo lambda watch (each request's log line and EMF metrics are in .nomaly/watch.log)"
