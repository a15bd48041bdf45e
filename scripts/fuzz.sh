#!/usr/bin/env bash
# Bounded fuzz runs of every cargo-fuzz target (fuzz/fuzz_targets), as CI runs them.
#
# Each target starts from its committed seeds (fuzz/seeds/TARGET) and from a corpus kept outside
# the clone ($VFIO_DISPLAY_FUZZ_CACHE, default ~/.cache/vfio-display-fuzz/TARGET), which every run
# grows, so CI's fuzzing accumulates across runs. A crash, a panic, an overflow (debug assertions
# are on), a timeout or a memory blow-up fails the run; the input that caused it is kept under
# fuzz/artifacts/TARGET and printed as a hex dump.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default 40 s, every target)
# Prints one line per target and "fuzz: N passed, M failed" at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-40}
shift || true
cache=${VFIO_DISPLAY_FUZZ_CACHE:-$HOME/.cache/vfio-display-fuzz}
# The fuzz build (the whole library, instrumented) is kept beside the corpus, so a fresh clone
# rebuilds only what changed.
target_dir="$cache/target"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz (once per machine)"
  cargo install --locked --quiet cargo-fuzz
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi

# cargo-fuzz passes nightly-only flags to rustc; RUSTC_BOOTSTRAP lets the stable toolchain take
# them. No sanitizer: the targets are safe Rust, where bounds and overflow checks (debug
# assertions) already catch what AddressSanitizer would.
export RUSTC_BOOTSTRAP=1
echo "fuzz: building ${targets[*]}"
build_log=$(mktemp)
if ! cargo fuzz build --sanitizer none --debug-assertions --target-dir "$target_dir" >"$build_log" 2>&1; then
  tail -n 40 "$build_log" >&2
  echo "fuzz: the targets do not build"
  echo "fuzz: 0 passed, ${#targets[@]} failed"
  exit 1
fi
rm -f "$build_log"

passed=0 failed=0
for target in "${targets[@]}"; do
  corpus="$cache/$target"
  mkdir -p "$corpus" "fuzz/artifacts/$target"
  log=$(mktemp)
  # New inputs go to the first directory (the kept corpus); the seeds are only read.
  if cargo fuzz run --sanitizer none --debug-assertions --target-dir "$target_dir" \
    "$target" "$corpus" "fuzz/seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    echo "fuzz: $target: ok, ${runs:-?} runs in $seconds s, corpus $(find "$corpus" -type f | wc -l) inputs"
    passed=$((passed + 1))
  else
    echo "fuzz: $target: FAILED; what it found:" >&2
    grep -A 8 -m 1 -E "panicked|ERROR: libFuzzer" "$log" >&2 || tail -n 40 "$log" >&2
    for crash in "fuzz/artifacts/$target"/*; do
      [ -f "$crash" ] || continue
      echo "fuzz: $target: input $crash:" >&2
      od -A x -t x1z "$crash" | head -n 20 >&2
    done
    failed=$((failed + 1))
  fi
  rm -f "$log"
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]
