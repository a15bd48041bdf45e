#!/usr/bin/env bash
# The viewer's CPU cost while the guest is idle (no new frames), over 30 s: refreshed by the
# device's interrupt, and by a 30 ms polling timer (QEMU's default refresh). Runs the release
# binary under Xvfb on lavapipe. Usage: scripts/bench-viewer-idle.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
cargo build --release --quiet
bin=target/release/vfio-display
export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/share/vulkan/icd.d/lvp_icd.json}
unset WAYLAND_DISPLAY
display=:$(( 300 + $$ % 300 ))
Xvfb "$display" -screen 0 1280x1024x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null' EXIT
sleep 1
export DISPLAY=$display

# CPU seconds (user + system) of one viewer run; an idle guest is a frozen simulator.
measure() {
  local out
  out=$( { /usr/bin/time -f 'cpu %U %S' "$bin" demo --sim-frame 1 --no-overlay --exit-after "$secs" "$@" >/dev/null; } 2>&1 | tail -1)
  awk -v s="$secs" '{ printf "%.2f%% of one core (%.2f s CPU in %d s)\n", ($2 + $3) / s * 100, $2 + $3, s }' <<<"$out"
}
echo "idle guest, IRQ refresh:            $(measure --irq auto)"
echo "idle guest, 30 ms polling timer:    $(measure --irq none --refresh-hz 33.3 --no-idle-backoff)"
echo "idle guest, our timer (backs off):  $(measure --irq none --refresh-hz 33.3)"
