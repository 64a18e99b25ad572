#!/usr/bin/env bash
# Speed benchmark side by side with scikit-learn, single-threaded, in a pinned virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need_rust
need_bench_venv
OMP_NUM_THREADS=1 .venv-bench/bin/python bench/compare.py "$@"
