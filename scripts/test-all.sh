#!/usr/bin/env bash
# The full test command: formatting, lints, and every test tier this machine can run.
# Usage: scripts/test-all.sh
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
echo "== cargo test (unit, uAPI layout, simulator, CLI)"
cargo test --all-targets --locked
echo "== example"
cargo run --quiet --locked --example capture >/dev/null
