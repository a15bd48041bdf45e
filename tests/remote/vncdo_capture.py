#!/usr/bin/env python3
"""Captures a VNC server's screen with vncdotool (a client nobody on this project wrote), in a
chosen encoding and pixel format, and compares it with a reference PNG.

Usage: vncdo_capture.py PORT OUT.png ENCODING FORMAT [REFERENCE.png] [--password P] [--pause S]
  ENCODING: raw | zrle
  FORMAT:   server (keeps the server's 32-bit BGRX) | rgb32 | bgr16 (16-bit 5-6-5)
With a reference, exits 0 when every pixel equals the reference as the client shows it in
FORMAT (16-bit: each channel rounded to its nearest level, then expanded as PIL expands
BGR;16), else prints the differing box and count and exits 1.
"""
import sys
import time

from PIL import Image, ImageChops
from vncdotool import api, client, rfb


def main() -> int:
    args = sys.argv[1:]
    password = None
    pause = 0.0
    if "--password" in args:
        i = args.index("--password")
        password = args[i + 1]
        del args[i : i + 2]
    if "--pause" in args:
        i = args.index("--pause")
        pause = float(args[i + 1])
        del args[i : i + 2]
    port, out, encoding, fmt = args[:4]
    reference = args[4] if len(args) > 4 else None
    client.VNCDoToolClient.encoding = {"raw": rfb.Encoding.RAW, "zrle": rfb.Encoding.ZRLE}[encoding]
    wanted = {"server": None, "rgb32": client.RGB32, "bgr16": client.BGR16}[fmt]
    if wanted is not None:
        original = client.VNCDoToolClient.setImageMode

        def set_image_mode(self):
            self.setPixelFormat(wanted)
            self._image_mode = client.PF2IM[wanted]

        client.VNCDoToolClient.setImageMode = set_image_mode
        assert original is not None
    with api.connect(f"127.0.0.1::{port}", password=password, timeout=30) as c:
        if pause:
            time.sleep(pause)
        c.captureScreen(out)
    if reference is None:
        return 0
    got = Image.open(out).convert("RGB")
    ref = Image.open(reference).convert("RGB")
    if fmt == "bgr16":
        packed = bytearray()
        for r, g, b in ref.getdata():
            v = ((r * 31 + 127) // 255) << 11 | ((g * 63 + 127) // 255) << 5 | ((b * 31 + 127) // 255)
            packed += v.to_bytes(2, "little")
        ref = Image.frombytes("RGB", ref.size, bytes(packed), "raw", "BGR;16")
    if got.size != ref.size:
        print(f"size {got.size} differs from the reference's {ref.size}")
        return 1
    box = ImageChops.difference(got, ref).getbbox()
    if box is not None:
        diff = sum(1 for p in ImageChops.difference(got, ref).getdata() if p != (0, 0, 0))
        print(f"{diff} pixels differ, within {box}")
        return 1
    print(f"{got.size[0]}x{got.size[1]} {encoding} {fmt}: equal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
