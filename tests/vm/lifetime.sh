# Sourced by tests/vm/guest.sh (its run, expect and create functions, $B, $H, $R, $variant,
# $backend).
# `attach` ends with its VM. A QEMU started by hand, as libvirt starts one, holds an mdpy mdev
# through this pass's backend (its VFIO group, or its cdev with an iommufd object); it is
# paused (-S), which is enough: it has bound the device and mdpy's plane needs no guest. While
# `attach ... serve` (with a VNC client connected) and an `attach ... screenshot` series run,
# QEMU is SIGKILLed, and in a second round asked to quit through QMP: both commands end within a
# second of QEMU's exit with status 4 and "the VM ended", no picture is written after the exit,
# the VNC client is disconnected, and a new QEMU on the same mdev starts at once and is captured
# again, the same picture. Then the permission messages as an unprivileged user, and the
# removal of the mdev, which nothing holds any more.

now_ms() { date +%s%3N; }

# alive PID: the process exists and has not ended (a child of ours that ended is a zombie
# until it is waited for).
alive() {
  [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# start_qemu NAME UUID [ARG...]: a paused QEMU on the mdev through this pass's backend (with
# the extra arguments), its pid in /run/life.pid; returns once it answers on QMP (its devices
# are realized then).
start_qemu() {
  qname=$1 qdev=$2
  shift 2
  case $backend in
    cdev) dev="-object iommufd,id=life-iommufd -device vfio-pci,sysfsdev=/sys/bus/mdev/devices/$qdev,iommufd=life-iommufd,display=off" ;;
    *) dev="-device vfio-pci,sysfsdev=/sys/bus/mdev/devices/$qdev,display=off" ;;
  esac
  rm -f /run/life.pid /run/life.qmp
  # shellcheck disable=SC2086 # $dev is a list of arguments
  qemu-system-x86_64 -accel tcg -m 64M -nodefaults -display none -no-reboot -S \
    -qmp unix:/run/life.qmp,server=on,wait=off -pidfile /run/life.pid $dev "$@" \
    >"$R/$qname-qemu.out" 2>"$R/$qname-qemu.err" &
  i=0
  until "$H" qmp /run/life.qmp '{"execute":"query-status"}' >/dev/null 2>&1 || [ $i -ge 300 ]; do
    sleep 0.1
    i=$((i + 1))
  done
  run "$qname-up" "$H" qmp /run/life.qmp '{"execute":"query-status"}'
  expect rc "$qname-up" 0
}

# fleet_round: `serve --all` beside a running VM. The paused QEMU's mdpy (adopted, named after
# QEMU's -name, its input through the QMP socket on QEMU's command line with --take-qmp) and
# an idle mdpy (opened, named by its UUID) are served on sockets of their own, each showing its
# own picture. QEMU is SIGKILLed: that device's client is told and disconnected, the server and
# the other device's clients go on, and at the end every socket it made is gone.
fleet_round() {
  n=fleet-$backend
  u2=$(create mdpy mdpy-vga) || { echo "cannot create the fleet's second mdpy"; exit 1; }
  "$H" mdpy-draw "$u2" --frame 9
  start_qemu "$n" "$u" -name fleetvm
  qpid=$(cat /run/life.pid)
  rm -rf /run/vd && mkdir -m 700 /run/vd
  "$B" serve --all --socket-dir /run/vd --no-auth --take-qmp --scan-interval 0.5 \
    >"$R/$n-serve.out" 2>"$R/$n-serve.err" &
  servepid=$!
  "$H" vnc unix:/run/vd/fleetvm "$R/$n-vm.png" --until-closed >"$R/$n-vm.out" 2>"$R/$n-vm.err" &
  vmclient=$!
  run "$n-idle" "$H" vnc "unix:/run/vd/$u2" "$R/$n-idle.png"
  expect rc "$n-idle" 0
  expect png "$n-idle" 640 480 9
  i=0
  until grep -q rectangles "$R/$n-vm.out" || [ $i -ge 600 ]; do
    sleep 0.1
    i=$((i + 1))
  done
  expect png "$n-vm" 640 480 5
  kill -KILL "$qpid"
  wait "$qpid"
  i=0
  until grep -q 'device fleetvm: no longer served: the VM ended' "$R/$n-serve.err" || [ $i -ge 300 ]; do
    sleep 0.1
    i=$((i + 1))
  done
  wait $vmclient
  echo $? >"$R/$n-vm.rc"
  expect rc "$n-vm" 0
  # The server and the other device go on: a new client of the idle mdpy is served.
  run "$n-idle-after" "$H" vnc "unix:/run/vd/$u2" "$R/$n-idle-after.png"
  expect rc "$n-idle-after" 0
  expect png "$n-idle-after" 640 480 9
  run "$n-alive" kill -0 $servepid
  expect rc "$n-alive" 0
  kill -TERM $servepid
  wait $servepid
  echo $? >"$R/$n-serve.rc"
  # Ended by the SIGTERM (143, the signal raised again), having said what it served and why
  # each device ended.
  expect rc "$n-serve" 143 device fleetvm: serving at /vm/fleetvm, unix:/run/vd/fleetvm
  expect rc "$n-serve" 143 device fleetvm: input through QMP at /run/life.qmp
  expect rc "$n-serve" 143 device fleetvm: no longer served: the VM ended
  expect rc "$n-serve" 143 "device $u2: serving at /vm/$u2"
  expect rc "$n-serve" 143 "device $u2: no longer served: the server stopped (SIGTERM)"
  expect absent "$n-serve" panicked
  run "$n-sockets-gone" sh -c '[ -z "$(ls -A /run/vd)" ]'
  expect rc "$n-sockets-gone" 0
  run "$n-remove-idle" timeout 5 sh -c "echo 1 >/sys/bus/mdev/devices/$u2/remove"
  expect rc "$n-remove-idle" 0
  rm -rf /run/vd
}

# life_round END: QEMU ends by END (kill or quit) under serve and a screenshot series.
life_round() {
  n=life-$backend-$1
  start_qemu "$n" "$u"
  qpid=$(cat /run/life.pid)
  "$B" attach --pid "$qpid" serve --no-auth --listen 127.0.0.1:5961 >"$R/$n-serve.out" 2>"$R/$n-serve.err" &
  servepid=$!
  "$H" vnc 5961 "$R/$n-vnc.png" --until-closed >"$R/$n-vnc.out" 2>"$R/$n-vnc.err" &
  vncpid=$!
  mkdir -p "$R/$n-shots"
  "$B" attach --pid "$qpid" screenshot --count 1000 --interval 200 -o "$R/$n-shots/shot.png" \
    >"$R/$n-shots.out" 2>"$R/$n-shots.err" &
  shotpid=$!
  i=0
  until { [ "$(grep -c '^wrote' "$R/$n-shots.out")" -ge 3 ] && grep -q rectangles "$R/$n-vnc.out"; } ||
    [ $i -ge 600 ]; do
    sleep 0.1
    i=$((i + 1))
  done
  # "wrote PATH (640x480 XR24 (XRGB8888) from region 16)": the path is the first word.
  first=$(sed -n '1s/^wrote \([^ ]*\) .*/\1/p' "$R/$n-shots.out")
  cp "$first" "$R/$n-first.png"
  case $1 in
    kill) kill -KILL "$qpid" ;;
    quit) "$H" qmp /run/life.qmp '{"execute":"quit"}' >/dev/null 2>&1 & ;;
  esac
  # When QEMU, the series and serve are seen gone, polled every 20 ms (at most 10 s).
  exited='' shots_gone='' serve_gone='' at_exit=''
  i=0
  while [ $i -lt 500 ] && { [ -z "$exited" ] || [ -z "$shots_gone" ] || [ -z "$serve_gone" ]; }; do
    t=$(now_ms)
    if [ -z "$exited" ] && ! alive "$qpid"; then
      exited=$t
      at_exit=$(ls "$R/$n-shots" | wc -l)
    fi
    [ -z "$shots_gone" ] && ! alive $shotpid && shots_gone=$t
    [ -z "$serve_gone" ] && ! alive $servepid && serve_gone=$t
    sleep 0.02
    i=$((i + 1))
  done
  wait "$qpid"
  wait $shotpid
  echo $? >"$R/$n-shots.rc"
  wait $servepid
  echo $? >"$R/$n-serve.rc"
  wait $vncpid
  echo $? >"$R/$n-vnc.rc"
  final=$(ls "$R/$n-shots" | wc -l)
  echo "$n: QEMU gone at ${exited:-never}, the series at ${shots_gone:-never}, serve at ${serve_gone:-never}; $at_exit pictures at the exit, $final at the end"
  run "$n-shots-within-1s" test "$((${shots_gone:-999999} - ${exited:-0}))" -le 1000
  run "$n-serve-within-1s" test "$((${serve_gone:-999999} - ${exited:-0}))" -le 1000
  run "$n-no-late-picture" test "$final" -eq "${at_exit:--1}"
  expect rc "$n-shots" 4 the VM ended
  expect rc "$n-serve" 4 gone: the VM ended
  expect rc "$n-vnc" 0
  expect rc "$n-shots-within-1s" 0
  expect rc "$n-serve-within-1s" 0
  expect rc "$n-no-late-picture" 0
  # The device is free: a new QEMU on the same mdev binds it, and its picture is the same.
  start_qemu "$n-again" "$u"
  run "$n-again" "$B" attach --pid "$(cat /run/life.pid)" screenshot -o "$R/$n-again.png"
  expect rc "$n-again" 0
  expect samepng "$n-again" "$n-first"
  "$H" qmp /run/life.qmp '{"execute":"quit"}' >/dev/null 2>&1
  wait
}

if [ "$variant" = fixed ]; then
  ip link set lo up 2>/dev/null || busybox ip link set lo up
  u=$(create mdpy mdpy-vga) || { echo "cannot create the lifetime test's mdpy"; exit 1; }
  "$H" mdpy-draw "$u" --frame 5
  # The sample drivers have no request callback: removal waits for the last fd, and check says
  # that the driver has no request path.
  run "life-$backend-check" "$B" check "$u" --json --only device.info,irqs.request
  expect json "life-$backend-check" /by_id/irqs.request=skip
  life_round kill
  life_round quit
  fleet_round

  # Without ptrace rights over QEMU (as nobody): the messages name the rights and the pid file.
  n=life-$backend-perm
  start_qemu "$n" "$u"
  qpid=$(cat /run/life.pid)
  cp "$B" /run/life-vfio-display && chmod 755 /run/life-vfio-display
  mkdir -p /run/libvirt/qemu
  echo "$qpid" >/run/libvirt/qemu/life.pid
  chmod 600 /run/libvirt/qemu/life.pid
  run "$n-pid" setpriv --reuid=65534 --regid=65534 --clear-groups \
    /run/life-vfio-display attach --pid "$qpid" info
  run "$n-vm" setpriv --reuid=65534 --regid=65534 --clear-groups \
    /run/life-vfio-display attach --vm life info
  expect rc "$n-pid" 1 no ptrace rights over process
  expect rc "$n-pid" 1 kernel.yama.ptrace_scope 0
  expect rc "$n-vm" 1 readable by root alone
  "$H" qmp /run/life.qmp '{"execute":"quit"}' >/dev/null 2>&1
  wait
  rm -rf /run/libvirt /run/life-vfio-display

  # Nothing holds the mdev now: its removal returns at once.
  run "life-$backend-remove" timeout 5 sh -c "echo 1 >/sys/bus/mdev/devices/$u/remove"
  expect rc "life-$backend-remove" 0
fi
