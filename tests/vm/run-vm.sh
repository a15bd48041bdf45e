#!/usr/bin/env bash
# Boots the test kernel under QEMU (TCG) with the host's root on 9p and runs one guest script.
# Usage: run-vm.sh KERNEL RESULTS_DIR SCRIPT [KERNEL_ARGS...]
# Exit: 0 when the guest script ran to its end (its own exit code is in RESULTS_DIR/rc), 1 when
# QEMU could not start or the guest died before finishing (a kernel crash ends the run at once:
# oops=panic, panic=-1 and -no-reboot).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kernel=$1 results=$2 script=$3
shift 3
cache=${VFIO_DISPLAY_VM_CACHE:-$HOME/.cache/vfio-display-vm}

for tool in qemu-system-x86_64 busybox cpio gzip; do
  if ! command -v "$tool" >/dev/null; then
    echo "run-vm: $tool is missing; .ci/run installs it (qemu-system-x86 from bookworm-backports, busybox-static, cpio)" >&2
    exit 1
  fi
done

# The initramfs is busybox and /init alone; rebuilt when init.sh changes.
initrd="$cache/initramfs-$(sha256sum "$here/init.sh" | cut -c1-16).cpio.gz"
if [ ! -f "$initrd" ]; then
  stage=$(mktemp -d)
  mkdir -p "$stage"/{bin,proc,sys,dev,host}
  cp "$(command -v busybox)" "$stage/bin/busybox"
  cp "$here/init.sh" "$stage/init"
  chmod +x "$stage/init"
  (cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) >"$initrd.tmp"
  mv "$initrd.tmp" "$initrd"
  rm -rf "$stage"
fi

rm -f "$results/rc"
serial="$results/serial.log"
set +e
timeout "${VFIO_DISPLAY_VM_TIMEOUT:-900}" qemu-system-x86_64 \
  -accel tcg -cpu max -m 2G -smp 1 -nographic -no-reboot -nodefaults -serial stdio \
  -kernel "$kernel" -initrd "$initrd" \
  -append "console=ttyS0 oops=panic panic=-1 tsc=reliable vdtest=$script $*" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs "local,path=$results,mount_tag=results,security_model=none,multidevs=remap" \
  </dev/null >"$serial" 2>&1
qemu_rc=$?
set -e
if [ ! -f "$results/rc" ]; then
  echo "run-vm: the guest did not finish (QEMU exit $qemu_rc); last lines of the serial console:" >&2
  tail -n 30 "$serial" >&2
  exit 1
fi
