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

# tell SOCKET: says "go" on a nested guest's control line (its third serial port, a socket
# here): the host is done with the stage the guest holds still for.
tell() {
  "${py:-python3}" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"go\n")
s.close()' "$1"
}

# series_count PREFIX [W H]: how many pictures PREFIX*.png a series has written (of W x H).
series_count() {
  "${py:-python3}" -c 'import glob, struct, sys
size = tuple(int(a) for a in sys.argv[2:4])
n = 0
for p in glob.glob(sys.argv[1] + "*.png"):
    with open(p, "rb") as f:
        head = f.read(24)
    if not size or (len(head) == 24 and struct.unpack(">II", head[16:24]) == size):
        n += 1
print(n)' "$@"
}

# series_reaches PREFIX N PID [W H]: waits (up to 5 minutes) until the series has N pictures
# (of W x H), or PID ends.
series_reaches() {
  i=0
  until [ "$(series_count "$1" ${4:-} ${5:-})" -ge "$2" ] || [ $i -ge 300 ] || ! kill -0 "$3" 2>/dev/null; do
    sleep 1
    i=$((i + 1))
  done
  echo "nested guest: $2 pictures of $1 ${4:+at ${4}x$5 }after $i s"
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

# moved_to WINDOW WX WY: moves the X pointer to (WX, WY) in WINDOW and waits until the
# viewer's motion reached the nested QEMU's input layer (its trace has new positions, and no
# more for a second and a half: the viewer renders slowly here and takes its events late).
moved_to() {
  trace="$R/nested-mdpy-input.trace"
  seen=$(grep -c '^input_event_abs' "$trace")
  xdotool mousemove --sync --window "$1" "$2" "$3"
  i=0 last=-1 quiet=0
  while [ $i -lt 120 ] && [ $quiet -lt 3 ]; do
    sleep 0.5
    now=$(grep -c '^input_event_abs' "$trace")
    if [ "$now" -gt "$seen" ] && [ "$now" = "$last" ]; then quiet=$((quiet + 1)); else quiet=0; fi
    last=$now
    i=$((i + 1))
  done
}

# point_at WINDOW WX WY GX GY: moves the X pointer to (WX, WY) in WINDOW until the nested
# QEMU's input layer last received the absolute position of guest pixel (GX, GY) of 640x480:
# the viewer maps a motion with the window size it knows, and a resize it has not taken yet
# maps it elsewhere. Each retry moves away and back, so that the spot is a new motion.
point_at() {
  want=$(printf 'x 0x%x y 0x%x' $(((2 * $4 + 1) * 32767 / 1280)) $(((2 * $5 + 1) * 32767 / 960)))
  tries=0
  while [ $tries -lt 10 ]; do
    [ $tries = 0 ] || moved_to "$1" $(($2 + 7)) $(($3 + 7))
    moved_to "$1" "$2" "$3"
    got=$(grep '^input_event_abs' "$R/nested-mdpy-input.trace" | tail -n 2 |
      sed 's/.*axis \([a-z]*\), value \(0x[0-9a-f]*\).*/\1 \2/' | tr '\n' ' ')
    [ "$got" = "$want " ] && return 0
    tries=$((tries + 1))
  done
  echo "the pointer at $2,$3 never reached guest $4,$5: QEMU's last position: $got"
}

# vncdo ARGS...: vncdotool's command line, with the host's Python that has it.
py=$(sed -n 's/.*vdpy=\([^ ]*\).*/\1/p' /proc/cmdline)
vncdo() {
  "${py:-python3}" -c 'import sys; from vncdotool.command import vncdo; sys.argv[0] = "vncdo"; vncdo()' "$@"
}

# Rounds of the guest test driven by a script (0: that stage is left out).
script_rounds=10
nk=$(sed -n 's/.*vdnk=\([^ ]*\).*/\1/p' /proc/cmdline)
ni=$(sed -n 's/.*vdni=\([^ ]*\).*/\1/p' /proc/cmdline)
if [ "$variant" = fixed ] && [ "$backend" = cdev ] && [ -n "$nk" ]; then
  u=$(create mbochs mbochs-medium) || { echo "cannot create the nested guest's mbochs"; exit 1; }
  N=nested
  # An EDID with more modes than its preferred one, in DisplayID extension blocks: the guest
  # kernel's mode list is the oracle for `edid decode --modes`.
  run nested-edid-generate "$B" edid generate --mode 800x600 \
    --extra-modes 1024x768,1280x720,1280x1024,1920x1080,1440x900@75 -o "$R/nested-edid.bin"
  # The EDID corpus rides in the initramfs, as a second cpio archive after the first (Linux
  # unpacks both): after its other checks the guest builds a mode list from each EDID, the
  # oracle for `edid decode --modes` on every rule of drm_edid the corpus holds.
  "$H" edid-corpus "$R/edid-corpus/edids"
  # The damaged EDIDs stay here (the host writes each into the device when the guest asks);
  # the guest gets their names.
  "$H" edid-ddc "$R/edid-ddc"
  ls "$R/edid-ddc" | sed -n 's/\.bin$//p' >"$R/edid-corpus/ddc.list"
  (cd "$R/edid-corpus" && find edids ddc.list | cpio -o -H newc --quiet | gzip -1) >"$R/edid-corpus.cpio.gz"
  cat "$ni" "$R/edid-corpus.cpio.gz" >"$R/nested-initrd.gz"
  hold=45
  # Everything the nested guest tells us arrives on its second serial line.
  "$B" run "$u" --edid "$R/nested-edid.bin" screenshot --timeout 600 --count 400 --interval 3000 \
    -o "$R/nested-run.png" -- qemu-system-x86_64 -accel tcg -m 256M -nographic -nodefaults \
    -no-reboot -serial "file:$R/nested-console.log" -serial "file:$R/nested-data.log" \
    -chardev socket,id=ctl,path=/run/nested-ctl.sock,server=on,wait=off -serial chardev:ctl \
    -pidfile /run/nested.pid -kernel "$nk" -initrd "$R/nested-initrd.gz" \
    -append "console=ttyS0 quiet vt.global_cursor_default=0 panic=-1 vdhold=$hold vdctl=1" \
    >"$R/nested-run.out" 2>"$R/nested-run.err" &
  runpid=$!
  wait_for_hold "$R/nested-data.log" $runpid
  held=$(series_count "$R/nested-run-")
  qpid=$(cat /run/nested.pid 2>/dev/null || echo 0)
  run nested-attach "$B" attach --pid "$qpid" screenshot -o "$R/nested-attach.png"
  run nested-attach-info "$B" attach --pid "$qpid" info --json
  run nested-attach-check "$B" attach --pid "$qpid" check --json
  run nested-attach-drive "$B" attach --pid "$qpid" check --drive bochs
  # The series must hold the console too (two pictures taken while the guest held it), then
  # the guest goes on to its KMS client's 640x480, which the series must catch twice.
  series_reaches "$R/nested-run-" $((held + 2)) $runpid
  tell /run/nested-ctl.sock
  wait_for_line "$R/nested-data.log" KMS-BEGIN $runpid
  # (The firmware's screen before the guest's driver may be 640x480 too: count from here.)
  series_reaches "$R/nested-run-" $(($(series_count "$R/nested-run-" 640 480) + 2)) $runpid 640 480
  tell /run/nested-ctl.sock
  # The damaged EDIDs, one at a time as the guest asks: written into the device it holds
  # (--force: they do not decode cleanly), then the guest is told on its third serial line.
  while read -r n; do
    wait_for_line "$R/nested-data.log" "DDC-$n-WANT" $runpid
    run "nested-ddc-$n" "$B" attach --pid "$qpid" edid set --file "$R/edid-ddc/$n.bin" --force \
      --link-delay-ms 0 </dev/null
    tell /run/nested-ctl.sock
  done <"$R/edid-corpus/ddc.list"
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
  expect linuxcorpus nested-guest-edid-corpus nested-data.txt
  expect linuxddc nested-guest-edid-ddc nested-data.txt
  while read -r n; do
    expect rc "nested-ddc-$n" 0
  done <"$R/edid-corpus/ddc.list"
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
    -chardev socket,id=ctl,path=/run/nested-mdpy-ctl.sock,server=on,wait=off -serial chardev:ctl \
    -kernel "$nk" -initrd "$ni" \
    -append "console=ttyS0 quiet vt.global_cursor_default=0 panic=-1 vdhold=$hold vdctl=1 vdinput=1 vdscript=$script_rounds" \
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
  # serve makes a password for the run and shows it on stderr: the clients log in with it.
  "$B" attach --pid "$qpid" --qmp /run/nested-mdpy-input.qmp serve --listen 127.0.0.1:5959 \
    >"$R/nested-mdpy-serve.out" 2>"$R/nested-mdpy-serve.err" &
  servepid=$!
  wait_for_line "$R/nested-mdpy-serve.err" "vfio-display: clients log in with the password" $servepid
  pw=$(sed -n 's/.*log in with the password \([^ ]*\) .*/\1/p' "$R/nested-mdpy-serve.err" | head -n 1)
  run nested-mdpy-vnc "$H" vnc 5959 "$R/nested-mdpy-vnc.png" --password "$pw"
  # Done with the console as it was: the guest goes on to take input.
  tell /run/nested-mdpy-ctl.sock
  wait_for_line "$R/nested-mdpy-data.log" INPUT-READY $qemupid
  wait_for_line "$R/nested-mdpy-data.log" POINTER-READY $qemupid
  # Shifted characters as keysyms alone, and a key held with Shift.
  run nested-mdpy-type vncdo -s 127.0.0.1::5959 -p "$pw" type 'Hello,World!' key shift-a key enter
  wait_for_line "$R/nested-mdpy-data.log" TYPED-SHOWN $qemupid
  run nested-mdpy-typed "$B" attach --pid "$qpid" screenshot -o "$R/nested-mdpy-typed.png"
  run nested-mdpy-click vncdo -s 127.0.0.1::5959 -p "$pw" move 100 50 click 1
  wait_for_line "$R/nested-mdpy-data.log" CLICKS-END $qemupid
  # QEMU's QMP socket takes one client at a time: serve lets go of it before the viewer comes.
  kill -TERM $servepid 2>/dev/null
  wait $servepid
  echo $? >"$R/nested-mdpy-serve.rc"
  # Typing latency through the same channel: bench types a letter and erases it with Backspace
  # into the line the guest is reading, so that the line is empty again for the viewer's.
  run nested-mdpy-bench "$B" attach --pid "$qpid" --qmp /run/nested-mdpy-input.qmp bench \
    --keys 10 --seconds 0.2 --json
  # The viewer's window on an Xvfb in this VM (rendered by lavapipe): xdotool types a second
  # line into it, then clicks in each scale mode: fit, 1:1 and integer. The host's root is read-only here, so
  # Xvfb gets its own /tmp and XKB output directory in a mount namespace; its clients reach it
  # by the abstract socket an X server on Linux also listens on.
  unshare -m sh -c 'mount -t tmpfs xtmp /tmp && mount -t tmpfs xkb /var/lib/xkb &&
    exec Xvfb :7 -nolock -nolisten tcp -screen 0 1280x1024x24' >"$R/nested-mdpy-xvfb.log" 2>&1 &
  xvfbpid=$!
  export DISPLAY=:7
  i=0
  until xdotool getdisplaygeometry >/dev/null 2>&1 || [ $i -ge 60 ]; do sleep 1; i=$((i + 1)); done
  "$B" attach --pid "$qpid" --qmp /run/nested-mdpy-input.qmp view --no-overlay \
    >"$R/nested-mdpy-view.out" 2>"$R/nested-mdpy-view.err" &
  viewpid=$!
  wait_for_line "$R/nested-mdpy-view.out" Showing $viewpid
  win=$(xdotool search --sync --name ' - vfio-display' | head -n 1)
  # Fit mode in a 1280x960 window: each guest pixel is 2x2, with no bars.
  xdotool windowsize --sync "$win" 1280 960
  xdotool windowfocus --sync "$win"
  # Shifted characters, and a key held with Shift.
  run nested-mdpy-view-type xdotool type --delay 100 'Viewer{typed}#1?'
  xdotool key --delay 100 shift+z Return
  wait_for_line "$R/nested-mdpy-data.log" TYPED2-SHOWN $qemupid
  run nested-mdpy-typed2 "$B" attach --pid "$qpid" screenshot -o "$R/nested-mdpy-typed2.png"
  point_at "$win" 401 301 200 150
  xdotool click 1
  # F3 is the viewer's own key (1:1): the guest is centred, at (320, 240) in the window.
  xdotool key F3
  point_at "$win" 620 440 300 200
  xdotool click 1
  # F3 again: integer scaling, in a 1400x1000 window 2x centred at (60, 20). A click on the bar
  # beside the picture is not the guest's: the guest's next click must be the one after it.
  xdotool windowsize --sync "$win" 1400 1000
  xdotool key F3
  xdotool mousemove --sync --window "$win" 30 500 click 1
  point_at "$win" 261 821 100 400
  xdotool click 1
  wait_for_line "$R/nested-mdpy-data.log" INPUT-DONE $qemupid
  xwd -root -silent >"$R/nested-mdpy-view.xwd" 2>/dev/null
  kill -TERM $viewpid 2>/dev/null
  wait $viewpid
  viewrc=$?
  echo $viewrc >"$R/nested-mdpy-view.rc"
  # The guest powers off after INPUT-DONE, so either end may come first. SIGTERM closes the
  # window as the user would: the summary is printed, then the process ends by the signal
  # (143). If the VM's end comes first, attach ends the viewer with it: status 4, "the VM
  # ended".
  run nested-mdpy-view-ended sh -c "{ [ $viewrc = 143 ] && grep -q '^Presented' '$R/nested-mdpy-view.out'; } ||
    { [ $viewrc = 4 ] && grep -q 'the VM ended' '$R/nested-mdpy-view.err'; }"
  kill -TERM $xvfbpid 2>/dev/null
  wait $xvfbpid
  unset DISPLAY
  # Guest CI: a script drives ten rounds of the guest by its screen alone, through attach:
  # wait for the prompt needle, type a line, wait for the output needle, click a target (the
  # needles were cut once from this guest's console: tests/vm/needles). The run is recorded;
  # its last picture must be the guest's framebuffer after the last round. Then a needle that
  # is not on the screen fails, leaving its evidence, and a Return lets the guest go on.
  if [ "$script_rounds" -gt 0 ]; then
  wait_for_line "$R/nested-mdpy-data.log" SCRIPT-READY $qemupid
  : >"$R/nested-mdpy-script.txt"
  i=0
  while [ $i -lt "$script_rounds" ]; do
    # From the second round on, the last round's screen still shows the prompt until the
    # guest clears its console: wait for that change first (against the picture from before
    # the click), or the line would be typed before the guest reads it, its echo cleared away.
    if [ $i -gt 0 ]; then
      echo "wait-change --timeout 120" >>"$R/nested-mdpy-script.txt"
    fi
    cat >>"$R/nested-mdpy-script.txt" <<'STEPS'
wait nested-prompt --timeout 300
type "Hello,World!A\n"
wait nested-output --timeout 300
click nested-target --timeout 60
STEPS
    i=$((i + 1))
  done
  needles="$(dirname "$0")/needles"
  run nested-mdpy-script "$B" attach --pid "$qpid" --qmp /run/nested-mdpy-input.qmp script \
    "$R/nested-mdpy-script.txt" --needles "$needles" --refresh-hz 10 --json \
    --record "$R/nested-mdpy-script.apng" --evidence "$R/nested-mdpy-script-evidence"
  wait_for_line "$R/nested-mdpy-data.log" SCRIPT-DONE $qemupid
  run nested-mdpy-wrong "$B" attach --pid "$qpid" wait nested-wrong --timeout 3 \
    --needles "$needles" --refresh-hz 10 --evidence "$R/nested-mdpy-wrong-evidence"
  run nested-mdpy-release "$B" attach --pid "$qpid" --qmp /run/nested-mdpy-input.qmp key ret
  fi
  wait $qemupid
  echo $? >"$R/nested-mdpy-qemu.rc"
  tr -d '\r' <"$R/nested-mdpy-data.log" >"$R/nested-mdpy-data.txt"
  sed -n '/^FB-BEGIN/,/^FB-END/p' "$R/nested-mdpy-data.txt" | grep -v '^FB-' | base64 -d | gunzip >"$R/nested-mdpy-fb.raw"
  sed -n '/^FB2-BEGIN/,/^FB2-END/p' "$R/nested-mdpy-data.txt" | grep -v '^FB2-' | base64 -d | gunzip >"$R/nested-mdpy-fb2.raw"
  sed -n '/^FB3-BEGIN/,/^FB3-END/p' "$R/nested-mdpy-data.txt" | grep -v '^FB3-' | base64 -d | gunzip >"$R/nested-mdpy-fb3.raw"
  sed -n '/^FB4-BEGIN/,/^FB4-END/p' "$R/nested-mdpy-data.txt" | grep -v '^FB4-' | base64 -d | gunzip >"$R/nested-mdpy-fb4.raw"
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
  expect json nested-mdpy-bench /figures/0/unit=ms /figures/0/samples=10
  expect rc nested-mdpy-view-ended 0
  expect rc nested-mdpy-view-type 0
  expect firstline nested-mdpy-view-typed-line nested-mdpy-data.txt TYPED2 'Viewer{typed}#1?Z'
  expect rawfb nested-mdpy-typed2 nested-mdpy-fb3.raw 640 480 "${stride:-2560}"
  expect firstline nested-mdpy-view-clicked-fit nested-mdpy-data.txt CLICKS2 200,150
  expect firstline nested-mdpy-view-clicked-1to1 nested-mdpy-data.txt CLICKS3 300,200
  expect firstline nested-mdpy-view-clicked-integer nested-mdpy-data.txt CLICKS4 100,400
  if [ "$script_rounds" -gt 0 ]; then
  expect rc nested-mdpy-script 0
  expect rounds nested-mdpy-script-rounds nested-mdpy-data.txt "$script_rounds" Hello,World!A 128,8
  expect apnglast nested-mdpy-script nested-mdpy-script.apng nested-mdpy-fb4.raw 640 480 "${stride:-2560}"
  expect evidence nested-mdpy-wrong nested-mdpy-wrong-evidence wrong
  expect rc nested-mdpy-release 0
  fi
fi
