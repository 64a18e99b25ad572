#!/usr/bin/env bash
# Cold start, peak RSS and warm latency of the detect function, side by side with a Python
# scikit-learn function doing the same job (bench/functions.py), in .venv-bench.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need_rust
need_bench_venv
say "building the release function binaries (the first build takes minutes)"
cargo build --release --locked --bin detect --bin train
OMP_NUM_THREADS=1 .venv-bench/bin/python bench/functions.py "$@"
