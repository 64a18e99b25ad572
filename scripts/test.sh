#!/usr/bin/env bash
# Runs every test: formatting, lints, unit, property and integration tests, then the offline
# checks of the deployment templates.
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

say "layers: the application crate does no I/O (no aws-*, lambda_*, rusqlite), detection runs no async runtime"
tree=$(cargo tree --locked -e normal -p application)
if grep -E 'aws-|lambda_|rusqlite' <<<"$tree"; then
  echo "the application crate depends on an I/O crate (above)" >&2
  exit 1
fi
tree=$(cargo tree --locked -e normal -p detection)
if grep -E 'tokio|async-std|smol' <<<"$tree"; then
  echo "the detection crate depends on an async runtime (above)" >&2
  exit 1
fi

say "the local-store build make demo runs (--no-default-features): no AWS SDK in it, and clippy-clean"
functions=(--package health --package detect --package train --package backup --package keys --package authorizer)
tree=$(cargo tree --locked -e normal --no-default-features "${functions[@]}")
if grep -E 'aws-sdk-|aws-config|aws-lc' <<<"$tree"; then
  echo "the functions built with --no-default-features still depend on the AWS SDK (above)" >&2
  exit 1
fi
cargo clippy --locked --no-default-features "${functions[@]}" -- -D warnings

if [ -d ../shared/datasets ]; then
  say "cargo test (../shared/datasets found: the reference accuracy suites run)"
else
  say "cargo test (../shared/datasets absent: the reference accuracy suites skip)"
fi
cargo test --workspace --locked

say "deployment templates, checked offline (sam validate --lint, cfn-lint, checkov, terraform fmt, SAM/Terraform parity), and the arm64 release build of every function"
# The arm64 build takes about 17 minutes cold on 2 cores (seconds when cached);
# NOMALY_INFRA_BUILD=0 skips it for a quick local run.
bash scripts/check_infra.sh
