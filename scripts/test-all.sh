#!/usr/bin/env bash
# The full test command: formatting, lints, and every test tier this machine can run.
# Usage: scripts/test-all.sh
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
echo "== cargo test (unit, uAPI layout, simulator, CLI, doc)"
cargo test --locked 2>&1 | tee "$log"
echo "== example"
cargo run --quiet --locked --example capture >/dev/null

# cargo prints one result line per test binary; add them up into one closing line.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "cargo-test: %d passed, %d failed\n", p, f; exit (p == 0 || f != 0) }' "$log"
