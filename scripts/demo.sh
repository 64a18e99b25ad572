#!/usr/bin/env bash
# Trains a model on data/sample/train.csv and prints the anomalies found in data/sample/detect.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need_rust
say "building the demo (release; the first build compiles dependencies and takes a few minutes)"
cargo build --release --locked -p detection --example demo
say "training and detecting on data/sample (planted anomalies: rows $(paste -sd, data/sample/detect_anomalies.txt))"
cargo run --quiet --release --locked -p detection --example demo -- "${1:-ensemble}"
