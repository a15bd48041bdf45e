#!/usr/bin/env bash
# Builds what the VM suite's real guest runs on: a second small kernel (bochs-drm, fbcon, the
# mdpy-fb sample, EDIDs loaded as firmware; no modules) from the kernel source build-kernel.sh fetched (after it: they
# share the tree), and an initramfs
# of busybox, init.sh and three small static programs: kms.c (a KMS mode change), modes.c (prints
# a connector's mode list) and pointer.c (reports the tablet's clicks).
# Usage: build.sh KERNEL_CACHE_DIR (the directory build-kernel.sh prints)
# Cached in that directory, keyed by this script's, init.sh's and the programs' hashes. Prints the
# paths of the kernel and the initramfs on its last line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$1
src="$dir/src"
jobs=$(nproc)
log() { echo "nested/build: $*" >&2; }

config_hash=$(sha256sum "$0" | cut -c1-16)
init_hash=$(cat "$here/init.sh" "$here/kms.c" "$here/modes.c" "$here/pointer.c" | sha256sum | cut -c1-16)
kernel="$dir/bzImage-guest-$config_hash"
initrd="$dir/initramfs-guest-$init_hash.cpio.gz"

options=(64BIT PRINTK PRINTK_TIME TTY SERIAL_8250 SERIAL_8250_CONSOLE BLK_DEV_INITRD RD_GZIP
  PROC_FS SYSFS TMPFS SHMEM DEVTMPFS BINFMT_ELF BINFMT_SCRIPT FUTEX EPOLL POSIX_TIMERS MULTIUSER
  PCI PCI_MSI X86_MPPARSE DRM DRM_BOCHS DRM_FBDEV_EMULATION FB FRAMEBUFFER_CONSOLE VT VT_CONSOLE
  SAMPLES SAMPLE_VFIO_MDEV_MDPY_FB KERNEL_GZIP
  INPUT INPUT_KEYBOARD KEYBOARD_ATKBD SERIO SERIO_I8042 INPUT_EVDEV VIRTIO_MENU VIRTIO VIRTIO_PCI
  VIRTIO_INPUT FW_LOADER DRM_LOAD_EDID_FIRMWARE)
disabled=(MODULES ACPI NET HID VGA_CONSOLE DEBUG_INFO DEBUG_INFO_BTF KERNEL_XZ)

if [ ! -f "$kernel" ]; then
  [ -f "$src/Makefile" ] || { log "no kernel source in $src; run build-kernel.sh first"; exit 1; }
  log "building the guest kernel (a few minutes on 2 cores)"
  # In the tree build-kernel.sh builds in (which reconfigures it for every build of its own):
  # a tree built in place cannot also build out of tree.
  (
    cd "$src"
    make -s ARCH=x86_64 tinyconfig >/dev/null
    for o in "${options[@]}"; do scripts/config --enable "$o"; done
    for o in "${disabled[@]}"; do scripts/config --disable "$o"; done
    make -s ARCH=x86_64 olddefconfig >/dev/null
    for o in "${options[@]}"; do
      grep -q "^CONFIG_$o=y" .config || { log "CONFIG_$o is not =y"; exit 1; }
    done
    make -s ARCH=x86_64 -j"$jobs" bzImage >&2
  )
  cp "$src/arch/x86/boot/bzImage" "$kernel.tmp"
  mv "$kernel.tmp" "$kernel"
fi

if [ ! -f "$initrd" ]; then
  stage=$(mktemp -d)
  mkdir -p "$stage"/{bin,proc,sys,dev}
  cp "$(command -v busybox)" "$stage/bin/busybox"
  cp "$here/init.sh" "$stage/init"
  chmod +x "$stage/init"
  # The DRM uAPI headers are not in Debian's /usr/include: the kernel tree's, with its
  # __user annotation defined away.
  gcc -static -O2 -Wall -D__user= -I"$src/include/uapi/drm" \
    -o "$stage/bin/kms" "$here/kms.c"
  gcc -static -O2 -Wall -D__user= -I"$src/include/uapi/drm" \
    -o "$stage/bin/modes" "$here/modes.c"
  gcc -static -O2 -Wall -o "$stage/bin/pointer" "$here/pointer.c"
  (cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) >"$initrd.tmp"
  mv "$initrd.tmp" "$initrd"
  rm -rf "$stage"
fi
echo "$kernel $initrd"
