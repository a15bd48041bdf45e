#!/usr/bin/env bash
# The full test command: first what the tests need (scripts/install-test-deps.sh: apt packages,
# rustfmt and clippy; VFIO_DISPLAY_NO_INSTALL=1 leaves that out), then formatting, lints, the
# library alone and with each feature alone, every cargo test tier, the API docs, bounded fuzz runs of every
# fuzz target (scripts/fuzz.sh, VFIO_DISPLAY_FUZZ_SECONDS each, default 30), and the VM suite
# against the kernel's sample mdevs (tests/vm/run.sh). Set VFIO_DISPLAY_SKIP_VM=1 to leave the VM suite out
# on a machine without QEMU; it is never skipped otherwise, and CI always runs it.
# Usage: scripts/test-all.sh
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if [ "${VFIO_DISPLAY_NO_INSTALL:-0}" != 1 ]; then
  echo "== installing what the tests need"
  scripts/install-test-deps.sh
fi
# The GPU tests run on Mesa's lavapipe (software Vulkan) unless told otherwise: the same
# adapter everywhere, so pictures compare the same on every machine.
lvp=/usr/share/vulkan/icd.d/lvp_icd.json
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$lvp" ]; then
  export VK_DRIVER_FILES=$lvp
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== the library alone (no GPU, window or CLI crate)"
cargo build --lib --no-default-features --locked
heavy=$(cargo tree --no-default-features --locked -e normal --prefix none | grep -E '^(wgpu|ash|winit|egui|clap|anyhow) ' || true)
if [ -n "$heavy" ]; then
  echo "the library without default features pulls in: $heavy" >&2
  exit 1
fi
echo "== each feature alone (what an embedder turns on builds without the rest)"
for feature in gpu viewer remote needle; do
  cargo check --lib --no-default-features --features "$feature" --locked --quiet
done
# The headless program: every command but view and demo, without the window crates.
cargo check --bin vfio-display --no-default-features --features cli --locked --quiet
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy --lib --no-default-features --locked -- -D warnings
echo "== cargo test (unit, uAPI layout, simulator, CLI, EDID, GPU on ${VK_DRIVER_FILES:-the default Vulkan driver}, doc)"
cargo test --locked 2>&1 | tee "$log"
echo "== API docs (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --locked --quiet
echo "== example"
cargo run --quiet --locked --example capture >/dev/null

echo "== fuzz (bounded runs of every target, corpus kept in ~/.cache/vfio-display-fuzz)"
fuzz_status=0
scripts/fuzz.sh "${VFIO_DISPLAY_FUZZ_SECONDS:-20}" 2>&1 | tee -a "$log" || fuzz_status=1

vm_status=0
if [ "${VFIO_DISPLAY_SKIP_VM:-0}" = 1 ] && [ "${CI:-}" != true ]; then
  echo "== VM suite left out (VFIO_DISPLAY_SKIP_VM=1)"
else
  echo "== VM suite (real kernel drivers in QEMU)"
  tests/vm/run.sh 2>&1 | tee -a "$log" || vm_status=1
fi

# cargo prints one result line per test binary and the VM suite one per kernel; add them up.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     /^(vm|fuzz): [0-9]+ passed, [0-9]+ failed$/ { p += $2; f += $4 }
     END { printf "all-tests: %d passed, %d failed\n", p, f; exit (p == 0 || f != 0) }' "$log"
[ "$fuzz_status" = 0 ] || exit 1
exit $vm_status
