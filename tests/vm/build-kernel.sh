#!/usr/bin/env bash
# Builds the small test kernel for the VM suite from Debian's linux-source-6.12, twice: with the
# stock sample drivers (mbochs, mdpy, mtty) and with the project's fixes (fix-samples.patch).
# Everything is built in (no modules), so the initramfs is busybox alone.
#
# Cached outside the clone, keyed by the source package version (and the patch's hash for the
# fixed kernel): $VFIO_DISPLAY_VM_CACHE, default ~/.cache/vfio-display-vm.
# Prints the cache directory holding bzImage-stock and bzImage-fixed on its last line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${VFIO_DISPLAY_VM_CACHE:-$HOME/.cache/vfio-display-vm}
pkg=linux-source-6.12
jobs=$(nproc)

log() { echo "build-kernel: $*" >&2; }

version=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}')
if [ -z "$version" ] || [ "$version" = "(none)" ]; then
  log "apt knows no $pkg; run apt-get update (the package comes from Debian's archive)"
  exit 1
fi
dir="$cache/$version"
mkdir -p "$dir"
patch_hash=$(sha256sum "$here/fix-samples.patch" | cut -c1-16)
config_hash=$(sha256sum "$0" | cut -c1-16)
stock="$dir/bzImage-stock-$config_hash"
fixed="$dir/bzImage-fixed-$config_hash-$patch_hash"

if [ -f "$stock" ] && [ -f "$fixed" ]; then
  ln -sf "$(basename "$stock")" "$dir/bzImage-stock"
  ln -sf "$(basename "$fixed")" "$dir/bzImage-fixed"
  log "cached kernels for $pkg $version"
  echo "$dir"
  exit 0
fi

src="$dir/src"
if [ ! -f "$src/Makefile" ]; then
  log "fetching $pkg $version"
  (cd "$dir" && rm -f ./*.deb && apt-get download "$pkg=$version" >&2)
  rm -rf "$dir/deb" "$src"
  dpkg -x "$dir"/${pkg}_*.deb "$dir/deb"
  mkdir -p "$src"
  tar -xaf "$dir"/deb/usr/src/${pkg}.tar.* -C "$src" --strip-components=1
  rm -rf "$dir/deb" "$dir"/*.deb
fi

options=(64BIT PRINTK PRINTK_TIME EARLY_PRINTK BUG TTY SERIAL_8250 SERIAL_8250_CONSOLE BLK_DEV_INITRD
  RD_GZIP PROC_FS SYSFS TMPFS SHMEM DEVTMPFS BINFMT_ELF BINFMT_SCRIPT FUTEX EPOLL EVENTFD SIGNALFD
  TIMERFD MEMFD_CREATE MULTIUSER POSIX_TIMERS FILE_LOCKING ADVISE_SYSCALLS MEMBARRIER RSEQ FHANDLE
  INOTIFY_USER NET UNIX PCI PCI_MSI VIRTIO_MENU VIRTIO VIRTIO_PCI NETWORK_FILESYSTEMS NET_9P
  NET_9P_VIRTIO 9P_FS NETFS_SUPPORT IOMMU_SUPPORT IOMMUFD VFIO VFIO_GROUP VFIO_CONTAINER
  VFIO_DEVICE_CDEV VFIO_MDEV SAMPLES SAMPLE_VFIO_MDEV_MBOCHS SAMPLE_VFIO_MDEV_MDPY
  SAMPLE_VFIO_MDEV_MTTY DMA_SHARED_BUFFER UDMABUF DMABUF_HEAPS DMABUF_HEAPS_SYSTEM KERNEL_GZIP
  VFIO_IOMMU_TYPE1)
disabled=(MODULES ACPI DEBUG_INFO DEBUG_INFO_BTF IPV6 INPUT VT HID KERNEL_XZ)

build() { # build <output> : configures and builds the tree as it is now
  local out=$1
  (
    cd "$src"
    make -s ARCH=x86_64 tinyconfig >/dev/null
    for o in "${options[@]}"; do scripts/config --enable "$o"; done
    for o in "${disabled[@]}"; do scripts/config --disable "$o"; done
    make -s ARCH=x86_64 olddefconfig >/dev/null
    # olddefconfig can only enable what dependencies allow: check each option really is on.
    for o in "${options[@]}"; do
      if [ "$o" = VFIO_IOMMU_TYPE1 ]; then continue; fi
      grep -q "^CONFIG_$o=y" .config || { echo "build-kernel: CONFIG_$o is not =y" >&2; exit 1; }
    done
    make -s ARCH=x86_64 -j"$jobs" bzImage >&2
  )
  cp "$src/arch/x86/boot/bzImage" "$out"
}

if [ ! -f "$stock" ]; then
  log "building the stock kernel (a few minutes on 2 cores)"
  (cd "$src" && { patch -R -p1 --dry-run -s <"$here/fix-samples.patch" >/dev/null 2>&1 && patch -R -p1 -s <"$here/fix-samples.patch"; } || true)
  build "$stock"
fi
if [ ! -f "$fixed" ]; then
  log "building the fixed kernel"
  (cd "$src" && patch -p1 -s --forward <"$here/fix-samples.patch")
  build "$fixed"
  (cd "$src" && patch -R -p1 -s <"$here/fix-samples.patch")
fi
ln -sf "$(basename "$stock")" "$dir/bzImage-stock"
ln -sf "$(basename "$fixed")" "$dir/bzImage-fixed"
echo "$dir"
