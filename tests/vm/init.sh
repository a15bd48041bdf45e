#!/bin/busybox sh
# /init of the VM suite's initramfs: mounts the host's root read-only over 9p, chroots into it,
# runs the test script named on the kernel command line (vdtest=PATH; the host's /tmp stays
# visible, read-only, so a clone there works), writes its exit code to
# the results share, and ends the guest.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /host
if ! mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 hostroot /host; then
  echo "vm-init: cannot mount the host root over 9p"
  reboot -f
fi
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
mount -t devtmpfs dev /host/dev
mount -t tmpfs run /host/run
mkdir -p /host/run/results
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 results /host/run/results
script=$(sed -n 's/.*vdtest=\([^ ]*\).*/\1/p' /proc/cmdline)
echo "vm-init: running $script"
chroot /host /bin/sh -c "cd /run && TMPDIR=/run HOME=/run PATH=/usr/sbin:/usr/bin:/sbin:/bin /bin/sh $script" \
  >/host/run/results/log 2>&1
echo $? >/host/run/results/rc
sync
umount /host/run/results
echo "vm-init: done"
reboot -f
