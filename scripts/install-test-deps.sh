#!/usr/bin/env bash
# Installs what the test command needs on Debian 12 (bookworm) with Rust (rustup) present:
# rustfmt and clippy; QEMU 10 and Mesa's lavapipe from bookworm-backports (bookworm's own are too
# old: QEMU's iommufd fd passing, lavapipe's dma-buf import); busybox and the kernel build tools
# for the VM suite; edid-decode; Xvfb and the X tools of the window tests; VNC clients for
# `serve`; os-autoinst's tinycv (the needle matcher's reference). Idempotent; needs root (or sudo). Usage: scripts/install-test-deps.sh
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

if command -v rustup >/dev/null; then
  rustup component add rustfmt clippy >/dev/null 2>&1 || rustup component add rustfmt clippy
fi

if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null; then
    exec sudo --preserve-env=PATH,DEBIAN_FRONTEND "$0" "$@"
  fi
  echo "install-test-deps: run as root (apt-get installs the test tools)" >&2
  exit 1
fi

# bookworm-backports, from the archive address this machine's apt sources already use.
backports=/etc/apt/sources.list.d/bookworm-backports.sources
if ! grep -qs 'bookworm-backports' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null; then
  uri=$(awk '/^URIs:/ && !/security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  if [ -z "$uri" ]; then
    uri=$(awk '$1=="deb" && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  fi
  if [ -z "$uri" ]; then
    echo "install-test-deps: no Debian archive in this machine's apt sources; add bookworm-backports by hand" >&2
    exit 1
  fi
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$uri" >"$backports"
fi
apt-get update -qq

install() { apt-get install -y -qq "$@" >/dev/null; }
# The VM suite: QEMU, busybox for the initramfs, and what building the small test kernel from
# Debian's linux-source-6.12 needs.
install -t bookworm-backports qemu-system-x86
install busybox-static cpio xz-utils gzip bison flex libelf-dev libssl-dev bc make gcc libc6-dev
# edid-decode --check judges every EDID the generator writes; libdisplay-info's di-edid-decode
# (bookworm-backports) gives its verdict beside it on the structure tests.
install edid-decode
install -t bookworm-backports libdisplay-info-bin
# The GPU tests: lavapipe with VK_EXT_external_memory_dma_buf.
install -t bookworm-backports mesa-vulkan-drivers
# The window tests: Xvfb, xwd, ImageMagick's convert, xdotool, and winit's X11 libraries.
install xvfb xauth x11-apps x11-utils imagemagick xdotool libxkbcommon-x11-0 libxcursor1 libxi6 libxrandr2 \
  libx11-xcb1
# The remote-viewing tests use VNC clients nobody on this project wrote: gtk-vnc's gvnccapture,
# noVNC (served by `serve --web`) in headless Chromium, TigerVNC's viewer (with tigervnc-tools'
# tigervncpasswd for its password file), and vncdotool (with Pillow) from PyPI.
install gvncviewer novnc chromium tigervnc-viewer tigervnc-tools
# `bench` sets TigerVNC's Xvnc beside `serve` for the remote figures.
install tigervnc-standalone-server
# The proxies people put in front of `serve` (tests/it/serve_proxies.rs): websockify with its
# token plugins, as OpenStack's nova-novncproxy maps console tokens to VNC servers.
install websockify
# serve's socket activation is tested under systemd's own systemd-socket-activate.
install systemd
# ffmpeg's swscale judges the packed YUV 4:2:2 conversion (tests/it/gvt.rs).
install ffmpeg
# The needle tests compare the `needle` module with os-autoinst's own matcher, tinycv: the Perl
# XS module in Debian's os-autoinst package, run on the OpenCV libraries it links. The package
# itself would pull in QEMU, Mojolicious and more, so it is only downloaded and unpacked, into
# a directory per version; `current` points at the one the tests use
# (tests/it/common/tinycv.rs; TINYCV_PERL_LIB overrides it).
install perl libopencv-core406 libopencv-imgproc406 libopencv-imgcodecs406
tinycv_cache=/var/cache/vfio-display-tinycv
tinycv_version=$(apt-cache policy os-autoinst | awk '/Candidate:/ {print $2}')
if [ -z "$tinycv_version" ] || [ "$tinycv_version" = "(none)" ]; then
  echo "install-test-deps: no os-autoinst package in this machine's apt sources" >&2
  exit 1
fi
if [ ! -d "$tinycv_cache/$tinycv_version" ]; then
  work=$(mktemp -d)
  chmod 755 "$work" # apt-get download drops to the _apt user
  (cd "$work" && apt-get download -qq "os-autoinst=$tinycv_version" >/dev/null)
  mkdir -p "$tinycv_cache"
  dpkg -x "$work"/os-autoinst_*.deb "$work/root"
  rm -rf "$tinycv_cache/$tinycv_version.tmp"
  mv "$work/root" "$tinycv_cache/$tinycv_version.tmp"
  mv "$tinycv_cache/$tinycv_version.tmp" "$tinycv_cache/$tinycv_version"
  rm -rf "$work"
fi
ln -sfn "$tinycv_version" "$tinycv_cache/current"
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
  'vncdotool==1.4.2' 'pillow>=10'
echo "install-test-deps: done"
