#!/bin/busybox sh
# /init of the VM suite's real guest: a Linux guest whose display is the mdev (bochs-drm with
# fbcon on mbochs, or the mdpy-fb sample driver on mdpy). It reports on its second serial line
# (ttyS1, a file outside) what the host side checks: the EDID and modes its DRM driver read, a
# dump of its framebuffer console, with vdinput=1 two lines typed on its console and four
# clicks of its tablet (keyboard and pointer from the host), (with DRM) a KMS mode change
# drawn with a known pattern, and the mode list its kernel builds for each EDID of a corpus the
# host appended to the initramfs; then it powers off.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
data=/dev/ttyS1
stty -F "$data" raw -echo 2>/dev/null
say() { echo "$*" >"$data"; }
arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
hold=$(arg vdhold)
# With a control line (vdctl=1: a third serial port, a socket outside) the host says when it is
# done with each stage, and vdhold is only the longest wait; without one the guest holds for
# vdhold seconds.
ctl=$(arg vdctl)
[ "$ctl" = 1 ] && stty -F /dev/ttyS2 raw -echo 2>/dev/null
hold_for() {
  if [ "$ctl" = 1 ]; then
    read -r -t "$1" go </dev/ttyS2 || true
  else
    sleep "$1"
  fi
}
say BOOTED
conn=/sys/class/drm/card0-Virtual-1
# The framebuffer console comes once the driver probed its display (a DRM driver's connector
# with its modes filled, or mdpy-fb's fixed mode).
i=0
while [ ! -e /dev/fb0 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
if [ -e "$conn" ]; then
  while [ ! -s "$conn/modes" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
  say EDID-BEGIN
  od -An -tx1 -v "$conn/edid" >"$data"
  say EDID-END
  say MODES-BEGIN
  cat "$conn/modes" >"$data"
  say MODES-END
fi
say "FB-DRIVER $(cat /sys/class/graphics/fb0/name)"
# Known text on the framebuffer console, without a cursor (vt.global_cursor_default=0).
printf '\033[2J\033[H' >/dev/tty1
printf 'vfio-display nested guest\nconsole text drawn by fbcon on %s\n' \
  "$(cat /sys/class/graphics/fb0/name)" >/dev/tty1
sleep 2
say "FB-GEOMETRY $(cat /sys/class/graphics/fb0/virtual_size) $(cat /sys/class/graphics/fb0/stride)"
say FB-BEGIN
gzip -c /dev/fb0 | base64 >"$data"
say FB-END
# The host captures the console now (attach); then a mode change by a KMS client.
say HOLD
hold_for "${hold:-20}"
if [ "$(arg vdinput)" = 1 ]; then
  # The tty echoes what is typed onto the framebuffer console, and each line comes back on the
  # data line. Nothing else is drawn: the host may still be capturing the console as it was at
  # HOLD (a slow run outlasts the hold) and only its typing changes the screen. The console is
  # dumped again once a line is in, for the host's next screenshot to equal. Two lines come:
  # the first from a VNC client through `serve`, the second from the viewer's window. The
  # pointer program reports four clicks of the tablet: one from the VNC client, then the
  # viewer's in fit, 1:1 and integer mode.
  pointer 640 480 4 >"$data" 2>&1 &
  ptr=$!
  say INPUT-DEVICES-BEGIN
  grep '^N: ' /proc/bus/input/devices >"$data"
  say INPUT-DEVICES-END
  say INPUT-READY
  for n in 1 2; do
    typed=TYPED fb=FB$((n + 1))
    [ $n = 1 ] || typed=TYPED$n
    line=
    read -r -t 400 line </dev/tty1 || true
    say "$typed-BEGIN"
    say "$line"
    say "$typed-END"
    sleep 1
    say "$fb-BEGIN"
    gzip -c /dev/fb0 | base64 >"$data"
    say "$fb-END"
    say "$typed-SHOWN"
  done
  i=0
  while kill -0 $ptr 2>/dev/null && [ $i -lt 400 ]; do sleep 1; i=$((i + 1)); done
  kill $ptr 2>/dev/null
  say INPUT-DONE
fi
# Guest CI (vdscript=N): the host drives N rounds by the screen alone. Each round clears the
# console to its banner (the prompt), reads the line the host's script types, prints it again
# below its echo (the output), and takes one click of the tablet; the line and the click's
# pixel come back as "ROUND i LINE X,Y". The console after the last round is dumped (FB4),
# then the guest waits for one more Return: the host first checks that a needle which is not
# on the screen fails with its evidence.
rounds=$(arg vdscript)
if [ "${rounds:-0}" -gt 0 ] 2>/dev/null; then
  # The console stays open for all the rounds, as a getty holds it: keys that come while no
  # process has a tty open are dropped (no line discipline takes them), and the host types as
  # soon as it sees the prompt, which may be before this shell reads.
  exec 3<>/dev/tty1
  i=1
  while [ "$i" -le "$rounds" ]; do
    printf '\033[2J\033[H' >&3
    printf 'vfio-display nested guest\nconsole text drawn by fbcon on %s\n' \
      "$(cat /sys/class/graphics/fb0/name)" >&3
    pointer 640 480 1 >/click 2>&1 &
    ptr=$!
    # The tablet is open before the host can click (the root of the initramfs is writable).
    j=0
    while ! grep -q '^POINTER-' /click 2>/dev/null && [ $j -lt 100 ]; do sleep 0.1; j=$((j + 1)); done
    [ "$i" = 1 ] && say SCRIPT-READY
    line=
    read -r -t 400 line <&3 || true
    printf '%s\n' "$line" >&3
    j=0
    while kill -0 $ptr 2>/dev/null && [ $j -lt 2000 ]; do sleep 0.2; j=$((j + 1)); done
    kill $ptr 2>/dev/null
    say "ROUND $i $line $(sed -n '/^CLICKS-BEGIN/{n;p;}' /click)"
    i=$((i + 1))
  done
  say FB4-BEGIN
  gzip -c /dev/fb0 | base64 >"$data"
  say FB4-END
  say SCRIPT-DONE
  read -r -t 400 line <&3 || true
  exec 3>&-
fi
if [ -e /dev/dri/card0 ]; then
  say KMS-BEGIN
  kms 640 480 "${hold:-20}" >"$data" 2>&1 &
  kmspid=$!
  if [ "$ctl" = 1 ]; then
    hold_for "${hold:-20}"
    kill $kmspid 2>/dev/null
  fi
  wait $kmspid
  say KMS-END
fi
# The EDID corpus: each EDID in /edids becomes the connector's EDID firmware and bochs-drm is
# bound again, so that drm_edid builds the mode list from it as for a monitor plugged in. The
# list comes back with full timings (modes), and so do the modes the driver rejected (interlaced
# ones, those its VRAM cannot hold), from drm's debug log of the same probe, with the EDID the
# kernel kept and what its firmware loader said (it refuses a damaged file whole, and the
# kernel then reads the EDID window, where the host put the EDID it started the guest with).
if [ -d /edids ] && [ -e "$conn" ]; then
  dev=$(basename "$(readlink -f /sys/class/drm/card0/device)")
  drv=/sys/bus/pci/drivers/bochs-drm
  mkdir -p /lib/firmware/edid
  echo 4 >/sys/module/drm/parameters/debug
  # Binds bochs-drm again and sets $card to the card it made (a card freed late gets a new
  # number: take the one bound now, once its connector has modes).
  rebind() {
    echo "$dev" >"$drv/unbind"
    echo "$dev" >"$drv/bind"
    card= i=0
    while [ -z "$card" ] && [ $i -lt 300 ]; do
      for c in /sys/bus/pci/devices/"$dev"/drm/card*; do
        [ -e "$c" ] && [ -s "$c/$(basename "$c")-Virtual-1/modes" ] && card=$(basename "$c")
      done
      [ -n "$card" ] || sleep 0.1
      i=$((i + 1))
    done
  }
  # probes: the probe helper's debug line that opens each probe of the connector (it ends
  # with the connector's tag), so that the host can see one GETCONNECTOR made one probe.
  probes() { dmesg | grep -o '\] \[CONNECTOR:[0-9]*:[^]]*\]$' | sed 's/^\] //'; }
  for f in /edids/*.bin; do
    n=$(basename "$f" .bin)
    cp "$f" "/lib/firmware/edid/$n.bin"
    echo "edid/$n.bin" >/sys/module/drm/parameters/edid_firmware
    dmesg -c >/dev/null
    rebind
    # The bind loads the firmware: what the loader said of it (a file it refuses sends the
    # kernel to the EDID window instead) is kept; the rest of the bind's log is not.
    fwlog=$(dmesg -c | grep -o -e 'Loaded external firmware EDID.*' -e 'Invalid firmware EDID.*')
    say "CORPUS-$n-BEGIN"
    modes "/dev/dri/$card" >"$data" 2>&1
    say "CORPUS-$n-END"
    say "REJECTED-$n-BEGIN"
    dmesg | grep 'Rejected mode' | sed 's/.*Rejected mode: //' >"$data"
    say "REJECTED-$n-END"
    say "EDID-$n-BEGIN"
    od -An -tx1 -v "/sys/bus/pci/devices/$dev/drm/$card/$card-Virtual-1/edid" >"$data"
    say "EDID-$n-END"
    say "LOG-$n-BEGIN"
    { [ -z "$fwlog" ] || echo "$fwlog"; probes; } >"$data"
    say "LOG-$n-END"
  done
  say CORPUS-DONE
  # The damaged EDIDs, read as from a monitor: for each name in /ddc.list the guest asks the
  # host (DDC-NAME-WANT), the host writes that EDID into the device's EDID region and answers
  # on ttyS2, and bochs-drm, bound again with no firmware EDID (the only one named is for a
  # connector that does not exist), reads the EDID window through drm_edid_read_custom, with
  # the kernel's repairs and refusals. The EDID the kernel kept and its mode list come back.
  if [ -s /ddc.list ] && [ "$ctl" = 1 ]; then
    echo "none:x" >/sys/module/drm/parameters/edid_firmware
    while read -r n; do
      say "DDC-$n-WANT"
      hold_for 600
      rebind
      dmesg -c >/dev/null
      say "DDC-$n-BEGIN"
      modes "/dev/dri/$card" >"$data" 2>&1
      say "DDC-$n-END"
      say "DDC-$n-EDID-BEGIN"
      od -An -tx1 -v "/sys/bus/pci/devices/$dev/drm/$card/$card-Virtual-1/edid" >"$data"
      say "DDC-$n-EDID-END"
      say "DDCREJ-$n-BEGIN"
      dmesg | grep 'Rejected mode' | sed 's/.*Rejected mode: //' >"$data"
      say "DDCREJ-$n-END"
      say "DDCLOG-$n-BEGIN"
      probes >"$data"
      say "DDCLOG-$n-END"
    done </ddc.list
    say DDC-DONE
  fi
fi
say DONE
reboot -f
