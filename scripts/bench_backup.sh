#!/usr/bin/env bash
# Backup and restore times for 100 models and 10,000 jobs, on a moto server (S3 + DynamoDB,
# started by the example on 127.0.0.1 and stopped at the end) and on the local store.
# The dev profile (dependencies at opt-level 2, shared with `make test`): the time goes to the
# store, not to our code.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need_rust
need_tools scripts/requirements-test.txt
cargo run --locked -p e2e --example backup_timing
