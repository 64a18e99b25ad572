#!/usr/bin/env bash
# Offline checks of the two deployments (template.yaml and infra/terraform/), no AWS account:
#   1. sam validate --lint                       5. terraform fmt -check -recursive infra/terraform
#   2. SAM transform (aws-sam-translator) + cfn-lint on the generated CloudFormation (the state
#      machine's definition included)
#   3. checkov --skip-download on template.yaml   6. infra/parity.py, and infra/test_parity.py
#   4. checkov --skip-download on infra/terraform 7. the jobs state machine's definition
#      (infra/statemachine/jobs.asl.json, placeholders filled with sample values) through
#      asl-validator, and its shape (infra/test_statemachine.py)
#   8. cargo lambda arm64 release build of every function
# Tools come from PyPI into .venv-infra (infra/requirements.txt), .venv-checkov
# (infra/requirements-checkov.txt) and .venv-tools (cargo-lambda + zig), and from npm into
# infra/node_modules (infra/package-lock.json: asl-validator). NOMALY_INFRA_BUILD=0 skips step 8.
# Prints how long each step took.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

# SAM and the translator need a region and credentials to exist, never to be valid: nothing here
# calls AWS.
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-offline}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-offline}"
export SAM_CLI_TELEMETRY=0 SAM_CLI_BETA_RUST_CARGO_LAMBDA=1 CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false BC_SKIP_MAPPING=TRUE

TIMES=()
step() {  # step NAME COMMAND...: run, time, remember
  local name=$1; shift
  say "$name"
  local started=$SECONDS
  "$@"
  TIMES+=("$(printf '%4ss  %s' $((SECONDS - started)) "$name")")
}

venv() {  # venv DIR REQUIREMENTS: create DIR from the pinned REQUIREMENTS unless already current
  local dir=$1 requirements=$2
  if [ ! -x "$dir/bin/python" ]; then
    say "creating $dir from $requirements (a few minutes the first time)"
    python3 -m venv "$dir"
  fi
  if ! cmp -s "$requirements" "$dir/.requirements"; then
    "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$dir/.requirements"
  fi
}

tools() {
  venv .venv-infra infra/requirements.txt
  venv .venv-checkov infra/requirements-checkov.txt
  # npm ci (exactly the lock) unless infra/node_modules already holds this lock's packages.
  if ! cmp -s infra/package-lock.json infra/node_modules/.nomaly-package-lock.json; then
    (cd infra && npm ci --no-audit --no-fund --loglevel=error)
    cp infra/package-lock.json infra/node_modules/.nomaly-package-lock.json
  fi
}

cfn_lint_transformed() {
  mkdir -p .aws-sam
  .venv-infra/bin/python infra/sam_transform.py template.yaml > .aws-sam/transformed.json
  .venv-infra/bin/cfn-lint .aws-sam/transformed.json
  .venv-infra/bin/python -c 'import json; r = json.load(open(".aws-sam/transformed.json"))["Resources"]; print(f"cfn-lint: {len(r)} resources after the SAM transform, no finding")'

}

checkov_run() {  # checkov_run FRAMEWORK ARGS...: every skip is justified inline in the template
  local framework=$1; shift
  .venv-checkov/bin/checkov --skip-download --framework "$framework" --compact --quiet "$@"
}

state_machine() {  # the definition as Step Functions gets it, through the ASL validator; then its shape
  mkdir -p .aws-sam
  .venv-infra/bin/python infra/test_statemachine.py --render > .aws-sam/jobs.asl.json
  infra/node_modules/.bin/asl-validator --json-path .aws-sam/jobs.asl.json
  # The validator must refuse a broken definition (a Map without its items' states), or its
  # success above means nothing.
  .venv-infra/bin/python -c 'import json, sys; d = json.load(open(sys.argv[1])); del d["States"]["ScoreRanges"]["ItemProcessor"]["StartAt"]; json.dump(d, open(sys.argv[2], "w"))' \
    .aws-sam/jobs.asl.json .aws-sam/jobs-broken.asl.json
  if infra/node_modules/.bin/asl-validator --silent --json-path .aws-sam/jobs-broken.asl.json; then
    echo "asl-validator accepted a definition whose Distributed Map has no StartAt" >&2
    return 1
  fi
  echo "asl-validator $(infra/node_modules/.bin/asl-validator --version): the broken copy refused"
  .venv-infra/bin/python infra/test_statemachine.py
}

parity() {
  .venv-infra/bin/python infra/parity.py
  .venv-infra/bin/python infra/test_parity.py
}

arm64_build() {
  need_rust
  need_tools scripts/requirements-lambda.txt
  rustup target list --installed | grep -q '^aarch64-unknown-linux-gnu$' || rustup target add aarch64-unknown-linux-gnu
  local packages=()
  for fn in health detect train backup keys authorizer; do
    if [ -f "functions/$fn/Cargo.toml" ]; then
      packages+=(--package "$fn")
    else
      echo "functions/$fn does not exist yet: not built (both templates already deploy it)"
    fi
  done
  cargo lambda build --release --arm64 --output-format zip --lambda-dir target/lambda-arm64 --locked "${packages[@]}"
  for fn in health detect train backup keys authorizer; do
    [ -f "target/lambda-arm64/$fn/bootstrap.zip" ] && ls -l "target/lambda-arm64/$fn/bootstrap.zip"
  done
  return 0
}

step "tools: .venv-infra and .venv-checkov from infra/requirements*.txt" tools
step "sam validate --lint" .venv-infra/bin/sam validate --lint --template template.yaml
step "SAM transform (aws-sam-translator) + cfn-lint" cfn_lint_transformed
step "checkov --skip-download on template.yaml" checkov_run cloudformation -f template.yaml
step "checkov --skip-download on infra/terraform" checkov_run terraform -d infra/terraform
step "terraform fmt -check -recursive infra/terraform" .venv-infra/bin/terraform fmt -check -recursive -diff infra/terraform
step "parity of template.yaml and infra/terraform (infra/parity.py, infra/test_parity.py)" parity
step "jobs state machine: asl-validator and infra/test_statemachine.py" state_machine
if [ "${NOMALY_INFRA_BUILD:-1}" != 0 ]; then
  step "cargo lambda build --release --arm64 (every function)" arm64_build
else
  say "NOMALY_INFRA_BUILD=0: arm64 build skipped"
fi

say "infrastructure checks passed; seconds per step:"
printf '%s\n' "${TIMES[@]}"
