#!/usr/bin/env bash
# Speed benchmark side by side with scikit-learn, single-threaded, in a pinned virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need_rust
if [ ! -x .venv-bench/bin/python ]; then
  say "creating .venv-bench with bench/requirements.txt (scikit-learn, numpy, pandas)"
  python3 -m venv .venv-bench
  .venv-bench/bin/pip install --quiet -r bench/requirements.txt
fi
OMP_NUM_THREADS=1 .venv-bench/bin/python bench/compare.py "$@"
