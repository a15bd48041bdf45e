#!/usr/bin/env bash
# The VM suite: the project's release binary against the kernel's sample mdevs (mbochs, mdpy,
# mtty), on the stock drivers and on drivers with the project's fixes, in QEMU (TCG).
# Usage: tests/vm/run.sh            (needs root for nothing; QEMU runs unprivileged TCG)
# Fails, loudly, when QEMU cannot run: this suite is never skipped.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
start=$(date +%s)

if ! command -v qemu-system-x86_64 >/dev/null; then
  echo "vm: qemu-system-x86_64 is not installed; install qemu-system-x86 from bookworm-backports (.ci/run does)" >&2
  exit 1
fi

kdir=$("$here/build-kernel.sh" | tail -n 1)
echo "vm: kernels in $kdir ($(( $(date +%s) - start )) s)"
read -r nested_kernel nested_initrd < <("$here/nested/build.sh" "$kdir" | tail -n 1)
echo "vm: the nested guest's kernel and initramfs are ready ($(( $(date +%s) - start )) s)"
(cd "$root" && cargo build --release --locked -p vfio-display -p vfio-display-vm-helper --bins)
bindir="$root/target/release"

# The Python with vncdotool (the nested guest's keyboard test types with it): the VM sees
# the host's root but starts with a plain PATH.
python=$(python3 -c 'import sys, vncdotool; print(sys.executable)')
status=0
# Every scenario runs on both kernels (stock and fixed sample drivers) and through both device
# paths (the group with the legacy container, and the cdev with iommufd).
for variant in stock fixed; do
  for backend in group cdev; do
    pass=$variant-$backend
    results="$root/target/vm-results/$pass"
    rm -rf "$results"
    mkdir -p "$results"
    t0=$(date +%s)
    echo "vm: booting the $variant kernel, devices through the $backend path"
    if ! "$here/run-vm.sh" "$kdir/bzImage-$variant" "$results" "$here/guest.sh" \
      "vdvariant=$variant" "vdbackend=$backend" "vdbin=$bindir" \
      "vdnk=$nested_kernel" "vdni=$nested_initrd" "vdpy=$python"; then
      echo "vm: $pass: FAILED: the guest did not finish (see $results/serial.log)" >&2
      echo "vm: 0 passed, 1 failed"
      status=1
      continue
    fi
    echo "vm: $pass: guest ran in $(( $(date +%s) - t0 )) s, exit $(cat "$results/rc")"
    if [ "$(cat "$results/rc")" != 0 ]; then
      echo "vm: $pass: the guest script failed; its log:" >&2
      cat "$results/log" >&2
      status=1
    fi
    "$bindir/vm_helper" verify "$results" || status=1
  done
done
echo "vm: suite took $(( $(date +%s) - start )) s"
exit $status
