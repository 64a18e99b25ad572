#!/usr/bin/env bash
# Backup and restore at scale, with time and peak RSS per phase: 1,000 models (3 versions each)
# and 1,000,000 jobs on the local store, and 100 models (3 versions each) and 100,000 jobs on a
# moto server (started by the example on 127.0.0.1 and stopped at the end). Sizes can be set with
# BENCH_LOCAL_MODELS, BENCH_LOCAL_JOBS, BENCH_MOTO_MODELS, BENCH_MOTO_JOBS; `local` or `moto` as
# the first argument runs one site only. Release builds: in the dev profile our own code runs
# unoptimised, and a million jobs' (de)serialisation would dominate the stores' time.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need_rust
need_tools scripts/requirements-test.txt
cargo run --release --locked -p e2e --example backup_timing -- "${1:-both}"
