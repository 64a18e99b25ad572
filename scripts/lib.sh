# Shared helpers for the scripts: say what is happening, and make sure the tools are there.
say() { printf '\n==> %s\n' "$*"; }

need_rust() {
  if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is not installed: install Rust with rustup (https://rustup.rs) and retry" >&2
    exit 1
  fi
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt
}

# Python tools from PyPI (pinned in scripts/requirements-*.txt) in .venv-tools (or
# $NOMALY_TOOLS_VENV: CI keeps it outside the clone, so the zig that cargo-lambda links with has
# the same path every run and the arm64 build cache stays valid), put first on PATH.
TOOLS_VENV="${NOMALY_TOOLS_VENV:-$PWD/.venv-tools}"
need_tools() {
  local requirements=$1
  if [ ! -x "$TOOLS_VENV/bin/python" ]; then
    say "creating .venv-tools for the Python tools from PyPI"
    python3 -m venv "$TOOLS_VENV"
  fi
  local dir packages
  dir=$(dirname "$requirements")
  # The pinned packages, with those of any `-r other.txt` it includes.
  packages=$(sed -n 's/^-r //p' "$requirements" | sed "s|^|$dir/|" | xargs -r cat | cat - "$requirements" | grep -v '^[#-]' | tr '\n' ' ')
  say "installing ${packages}into .venv-tools (quick when present)"
  "$TOOLS_VENV/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  export PATH="$TOOLS_VENV/bin:$PATH"
}

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The pinned scikit-learn peers for the benchmarks, in .venv-bench.
need_bench_venv() {
  if [ ! -x .venv-bench/bin/python ]; then
    say "creating .venv-bench with bench/requirements.txt (scikit-learn, numpy, pandas)"
    python3 -m venv .venv-bench
    .venv-bench/bin/pip install --quiet -r bench/requirements.txt
  fi
}
