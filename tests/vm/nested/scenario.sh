# Sourced by tests/vm/guest.sh (its run, expect and create functions, $B, $R, $variant,
# $backend).
# A real Linux guest beside us: QEMU runs inside this VM with an mbochs mdev as its display
# (iommufd cdev only: QEMU takes a device fd only with that backend). `run` starts it with the
# EDID set while it is paused and captures a series for the VM's lifetime; `attach` takes the
# device from that QEMU while the guest holds its console still. Fixed drivers only: the stock
# mbochs cannot be read by the CPU at all, and frees pages still in use when an id is exported
# again from another process.

# wait_for_hold DATA PID: waits (up to 10 minutes) until the guest says HOLD on its data line,
# or its QEMU (or our run) ends.
wait_for_hold() {
  i=0
  until grep -q '^HOLD' "$1" 2>/dev/null || [ $i -ge 600 ] || ! kill -0 "$2" 2>/dev/null; do
    sleep 1
    i=$((i + 1))
  done
  echo "nested guest ($1): holding its console after $i s"
}

# wait_for_line DATA TEXT PID: waits (up to 10 minutes) until a line of DATA starts with TEXT,
# or PID ends.
wait_for_line() {
  i=0
  until tr -d '\r' <"$1" 2>/dev/null | grep -q "^$2" || [ $i -ge 600 ] || ! kill -0 "$3" 2>/dev/null; do
    sleep 1
    i=$((i + 1))
  done
  echo "nested guest ($1): $2 after $i s"
}

# vncdo ARGS...: vncdotool's command line, with the host's Python that has it.
py=$(sed -n 's/.*vdpy=\([^ ]*\).*/\1/p' /proc/cmdline)
vncdo() {
  "${py:-python3}" -c 'import sys; from vncdotool.command import vncdo; sys.argv[0] = "vncdo"; vncdo()' "$@"
}

nk=$(sed -n 's/.*vdnk=\([^ ]*\).*/\1/p' /proc/cmdline)
ni=$(sed -n 's/.*vdni=\([^ ]*\).*/\1/p' /proc/cmdline)
if [ "$variant" = fixed ] && [ "$backend" = cdev ] && [ -n "$nk" ]; then
  u=$(create mbochs mbochs-medium) || { echo "cannot create the nested guest's mbochs"; exit 1; }
  N=nested
  # An EDID with more modes than its preferred one, in DisplayID extension blocks: the guest
  # kernel's mode list is the oracle for `edid decode --modes`.
  run nested-edid-generate "$B" edid generate --mode 800x600 \
    --extra-modes 1024x768,1280x720,1280x1024,1920x1080,1440x900@75 -o "$R/nested-edid.bin"
  hold=45
  # Everything the nested guest tells us arrives on its second serial line.
  "$B" run "$u" --edid "$R/nested-edid.bin" screenshot --timeout 600 --count 400 --interval 3000 \
    -o "$R/nested-run.png" -- qemu-system-x86_64 -accel tcg -m 256M -nographic -nodefaults \
    -no-reboot -serial "file:$R/nested-console.log" -serial "file:$R/nested-data.log" \
    -pidfile /run/nested.pid -kernel "$nk" -initrd "$ni" \
    -append "console=ttyS0 quiet vt.global_cursor_default=0 panic=-1 vdhold=$hold" \
    >"$R/nested-run.out" 2>"$R/nested-run.err" &
  runpid=$!
  wait_for_hold "$R/nested-data.log" $runpid
  qpid=$(cat /run/nested.pid 2>/dev/null || echo 0)
  run nested-attach "$B" attach --pid "$qpid" screenshot -o "$R/nested-attach.png"
  run nested-attach-info "$B" attach --pid "$qpid" info --json
  run nested-attach-check "$B" attach --pid "$qpid" check --json
  run nested-attach-drive "$B" attach --pid "$qpid" check --drive bochs
  wait $runpid
  echo $? >"$R/nested-run.rc"
  tr -d '\r' <"$R/nested-data.log" >"$R/nested-data.txt"
  sed -n '/^FB-BEGIN/,/^FB-END/p' "$R/nested-data.txt" | grep -v '^FB-' | base64 -d | gunzip >"$R/nested-fb.raw"
  geometry=$(sed -n 's/^FB-GEOMETRY //p' "$R/nested-data.txt")
  fbw=$(echo "$geometry" | cut -d, -f1)
  fbh=$(echo "$geometry" | cut -d' ' -f1 | cut -d, -f2)
  stride=$(echo "$geometry" | cut -d' ' -f2)
  echo "nested guest: framebuffer $fbw x $fbh, stride $stride"
  expect rc nested-run 0 the VM ended
  expect hexsection nested-guest-edid nested-data.txt EDID nested-edid.bin
  expect firstline nested-guest-preferred nested-data.txt MODES 800x600
  expect linuxmodes nested-guest-modes nested-data.txt MODES nested-edid.bin 16777216
  expect rawfb nested-attach nested-fb.raw 800 600 "${stride:-3200}"
  expect rawfb-any nested-run- nested-fb.raw 800 600 "${stride:-3200}"
  expect kms-any nested-run- 640 480
  expect json nested-attach-info /shared=true /backend/kind=device_fd /backend/bound_here=false \
    /planes/primary/width=800
  expect json nested-attach-check /summary/fail=0 /by_id/device.reset=skip /by_id/irqs.eventfd=skip \
    /by_id/edid.protocol=skip /by_id/dmabuf.cpu-access=pass
  expect rc nested-attach-drive 2 shared with the VMM
fi


# QEMU's own display of a region vGPU beside ours: a guest with the mdpy-fb sample driver on an
# mdpy mdev, QEMU started with display=on through the legacy group path (so attach takes an
# anon_inode:[vfio-device] fd), QEMU's screendump against our capture, pixel for pixel, and
# against what `attach ... serve` gives a VNC client. The fixed mdpy answers QEMU's plane type 0
# with the primary plane. Then keyboard and pointer: vncdotool types a line and clicks through
# `attach --qmp ... serve`; the guest's console reads the line, its tablet reports the click, and
# our next screenshot shows the typed text as the guest's framebuffer holds it.
if [ "$variant" = fixed ] && [ "$backend" = cdev ] && [ -n "$nk" ]; then
  u=$(create mdpy mdpy-vga) || { echo "cannot create the nested guest's mdpy"; exit 1; }
  hold=45
  qemu-system-x86_64 -accel tcg -m 256M -nographic -nodefaults -display none -no-reboot \
    -serial "file:$R/nested-mdpy-console.log" -serial "file:$R/nested-mdpy-data.log" \
    -qmp unix:/run/nested-mdpy.qmp,server=on,wait=off -pidfile /run/nested-mdpy.pid \
    -qmp unix:/run/nested-mdpy-input.qmp,server=on,wait=off -device virtio-tablet-pci \
    -trace 'input_event_*' -D "$R/nested-mdpy-input.trace" \
    -device "vfio-pci,sysfsdev=/sys/bus/mdev/devices/$u,display=on" \
    -kernel "$nk" -initrd "$ni" \
    -append "console=ttyS0 quiet vt.global_cursor_default=0 panic=-1 vdhold=$hold vdinput=1" \
    >"$R/nested-mdpy-qemu.out" 2>"$R/nested-mdpy-qemu.err" &
  qemupid=$!
  wait_for_hold "$R/nested-mdpy-data.log" $qemupid
  qpid=$(cat /run/nested-mdpy.pid 2>/dev/null || echo 0)
  run nested-mdpy-attach "$B" attach --pid "$qpid" screenshot -o "$R/nested-mdpy-attach.png"
  run nested-mdpy-screendump "$H" qmp /run/nested-mdpy.qmp \
    "{\"execute\":\"screendump\",\"arguments\":{\"filename\":\"$R/nested-mdpy-screendump.png\",\"format\":\"png\"}}"
  run nested-mdpy-info "$B" attach --pid "$qpid" info --json
  # `serve` on the same device, read by a plain RFB client; then stopped by SIGTERM. The VM
  # boots with no network at all: loopback is brought up for it.
  ip link set lo up 2>/dev/null || busybox ip link set lo up
  "$B" attach --pid "$qpid" --qmp /run/nested-mdpy-input.qmp serve --listen 127.0.0.1:5959 \
    >"$R/nested-mdpy-serve.out" 2>"$R/nested-mdpy-serve.err" &
  servepid=$!
  run nested-mdpy-vnc "$H" vnc 5959 "$R/nested-mdpy-vnc.png"
  wait_for_line "$R/nested-mdpy-data.log" INPUT-READY $qemupid
  wait_for_line "$R/nested-mdpy-data.log" POINTER-READY $qemupid
  # Shifted characters as keysyms alone, and a key held with Shift.
  run nested-mdpy-type vncdo -s 127.0.0.1::5959 type 'Hello,World!' key shift-a key enter
  wait_for_line "$R/nested-mdpy-data.log" TYPED-SHOWN $qemupid
  run nested-mdpy-typed "$B" attach --pid "$qpid" screenshot -o "$R/nested-mdpy-typed.png"
  run nested-mdpy-click vncdo -s 127.0.0.1::5959 move 100 50 click 1
  wait_for_line "$R/nested-mdpy-data.log" INPUT-DONE $qemupid
  kill -TERM $servepid 2>/dev/null
  wait $servepid
  echo $? >"$R/nested-mdpy-serve.rc"
  wait $qemupid
  echo $? >"$R/nested-mdpy-qemu.rc"
  tr -d '\r' <"$R/nested-mdpy-data.log" >"$R/nested-mdpy-data.txt"
  sed -n '/^FB-BEGIN/,/^FB-END/p' "$R/nested-mdpy-data.txt" | grep -v '^FB-' | base64 -d | gunzip >"$R/nested-mdpy-fb.raw"
  sed -n '/^FB2-BEGIN/,/^FB2-END/p' "$R/nested-mdpy-data.txt" | grep -v '^FB2-' | base64 -d | gunzip >"$R/nested-mdpy-fb2.raw"
  stride=$(sed -n 's/^FB-GEOMETRY [^ ]* //p' "$R/nested-mdpy-data.txt")
  expect rc nested-mdpy-qemu 0
  expect rc nested-mdpy-screendump 0
  expect samepng nested-mdpy-attach nested-mdpy-screendump
  expect rawfb nested-mdpy-attach nested-mdpy-fb.raw 640 480 "${stride:-2560}"
  expect samepng nested-mdpy-vnc nested-mdpy-screendump
  expect rawfb nested-mdpy-vnc nested-mdpy-fb.raw 640 480 "${stride:-2560}"
  expect json nested-mdpy-info /shared=true /planes/region=true /planes/primary/width=640
  expect rc nested-mdpy-type 0
  expect firstline nested-mdpy-typed-line nested-mdpy-data.txt TYPED Hello,World!A
  expect rawfb nested-mdpy-typed nested-mdpy-fb2.raw 640 480 "${stride:-2560}"
  expect rc nested-mdpy-click 0
  expect firstline nested-mdpy-clicked-at nested-mdpy-data.txt CLICKS 100,50
fi
