#!/usr/bin/env bash
# Runs every test of the workspace: formatting, lints, then unit, property and integration tests.
# Suites that need ../shared/datasets skip with a message when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need_rust

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
