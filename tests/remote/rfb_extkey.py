#!/usr/bin/env python3
"""A minimal RFB 3.8 client that speaks QEMU's extended key event: it asks for the
pseudo-encoding, waits for the server's acknowledgement (an empty rectangle of encoding -258)
and then sends keys as (keysym, XT scancode) pairs, as noVNC and gvncviewer do.

Usage: rfb_extkey.py PORT KEYSYM:SCANCODE...   (hex numbers; each key is pressed and released)
Prints "acknowledged" and exits 0 once every key was sent; exits 1 if the server never
acknowledged the extension."""

import socket
import struct
import sys


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise SystemExit("the server closed the connection")
        data += chunk
    return data


def main():
    port = int(sys.argv[1])
    keys = [tuple(int(part, 16) for part in arg.split(":")) for arg in sys.argv[2:]]
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    read_exact(sock, 12)
    sock.sendall(b"RFB 003.008\n")
    count = read_exact(sock, 1)[0]
    types = read_exact(sock, count)
    if 1 not in types:
        raise SystemExit(f"no None security among {list(types)}")
    sock.sendall(b"\x01")
    if struct.unpack(">I", read_exact(sock, 4))[0] != 0:
        raise SystemExit("security failed")
    sock.sendall(b"\x01")  # shared
    width, height = struct.unpack(">HH", read_exact(sock, 4))
    read_exact(sock, 16)  # pixel format: 32 bpp true colour
    name_len = struct.unpack(">I", read_exact(sock, 4))[0]
    read_exact(sock, name_len)
    encodings = [0, -258]
    sock.sendall(struct.pack(">BxH", 2, len(encodings)) + b"".join(struct.pack(">i", e) for e in encodings))
    sock.sendall(struct.pack(">BBHHHH", 3, 0, 0, 0, width, height))
    acknowledged = False
    while not acknowledged:
        kind = read_exact(sock, 1)[0]
        if kind != 0:
            raise SystemExit(f"unexpected server message {kind}")
        read_exact(sock, 1)
        rects = struct.unpack(">H", read_exact(sock, 2))[0]
        for _ in range(rects):
            _, _, w, h, enc = struct.unpack(">HHHHi", read_exact(sock, 12))
            if enc == -258:
                acknowledged = True
            elif enc == 0:
                read_exact(sock, w * h * 4)
            else:
                raise SystemExit(f"unexpected encoding {enc}")
        if not acknowledged:
            raise SystemExit("the first update did not acknowledge extended key events")
    print("acknowledged", flush=True)
    for keysym, scancode in keys:
        for down in (1, 0):
            sock.sendall(struct.pack(">BBHII", 255, 0, down, keysym, scancode))
    # Let the server read everything before the connection closes.
    sock.shutdown(socket.SHUT_WR)
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass


if __name__ == "__main__":
    main()
