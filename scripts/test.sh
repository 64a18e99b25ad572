#!/usr/bin/env bash
# Runs every test of the workspace: formatting, lints, then unit, property and integration tests.
# Suites that need ../shared/datasets skip with a message when it is absent. The Python tools the
# tests drive (cargo-lambda, schemathesis, moto) are installed into .venv-tools from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need_rust
need_tools scripts/requirements-test.txt
# The end-to-end and AWS suites fail, rather than skip, when a tool is missing.
export NOMALY_REQUIRE_TOOLS=1

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy (warnings are errors); the first build compiles dependencies and takes a few minutes"
cargo clippy --workspace --all-targets --locked -- -D warnings

if [ -d ../shared/datasets ]; then
  say "cargo test (../shared/datasets found: the reference accuracy suites run)"
else
  say "cargo test (../shared/datasets absent: the reference accuracy suites skip)"
fi
cargo test --workspace --locked
