#!/usr/bin/env python3
"""A client that does what OpenStack nova-novncproxy does with a compute host's VNC server
when [vnc] auth_schemes = vencrypt, step by step and with nova's own checks, then what the
tenant's viewer does after nova hands it the secured connection.

nova's side comes from the repository openstack/nova:
  nova/console/securityproxy/rfb.py   RFBSecurityProxy.connect
  nova/console/rfb/auths.py           RFBAuthSchemeList.find_scheme
  nova/console/rfb/authvencrypt.py    RFBAuthSchemeVeNCrypt.security_handshake
  nova/console/rfb/auth.py            AuthType, VERSION_LENGTH, SUBTYPE_LENGTH

Usage: nova_vencrypt.py HOST PORT CA_CERTS CLIENT_CERT CLIENT_KEY OUT.ppm

Exit status 0 with the first framebuffer update's picture in OUT.ppm (binary PPM, RGB); 1 with
"nova check failed: ..." on stderr naming the check and where nova makes it; every step that
passed is on stdout. Python's standard library only.
"""

import enum
import socket
import ssl
import struct
import sys

# nova/console/rfb/auth.py: the lengths and the security types nova knows by name.
VERSION_LENGTH = 12
SUBTYPE_LENGTH = 4


class AuthType(enum.IntEnum):
    INVALID = 0
    NONE = 1
    VNC = 2
    RA2 = 5
    RA2NE = 6
    TIGHT = 16
    ULTRA = 17
    TLS = 18
    VENCRYPT = 19
    SASL = 20
    ARD = 30
    MSLOGON = 0xFFFFFFFA


# nova/console/rfb/authvencrypt.py: the VeNCrypt subtypes nova knows by name.
class AuthVeNCryptSubtype(enum.IntEnum):
    PLAIN = 256
    TLSNONE = 257
    TLSVNC = 258
    TLSPLAIN = 259
    X509NONE = 260
    X509VNC = 261
    X509PLAIN = 262
    X509SASL = 263
    TLSSASL = 264


# [vnc] auth_schemes = vencrypt: the schemes RFBAuthSchemeList holds, by security type.
AUTH_SCHEMES = [AuthType.VENCRYPT]
# The ServerInit name and one update may not exceed these (a bound, not a nova check).
MAX_NAME = 4096
MAX_PIXELS = 4096 * 4096

RFB_PY = "nova/console/securityproxy/rfb.py RFBSecurityProxy.connect"
AUTHS_PY = "nova/console/rfb/auths.py RFBAuthSchemeList.find_scheme"
VENCRYPT_PY = "nova/console/rfb/authvencrypt.py RFBAuthSchemeVeNCrypt.security_handshake"


class Failed(Exception):
    pass


def check(ok, where, what):
    """A check nova makes: `what` failed in `where`, as nova would fail the console."""
    if not ok:
        raise Failed(f"{what} ({where})")


def passed(step):
    print("ok:", step, flush=True)


def nova_recv(sock, num, where):
    """nova's recv: one socket.recv(num) that must return exactly num bytes."""
    b = sock.recv(num)
    check(
        len(b) == num,
        where,
        f"one recv({num}) returned {len(b)} bytes ({b!r}); nova reads each message in one recv",
    )
    return b


def parse_version(version_str):
    """RFBSecurityProxy._parse_version: 'RFB 003.008\\n' -> 3.8."""
    return float("%d.%d" % (int(version_str[4:7]), int(version_str[8:11])))


def security_proxy(sock):
    """RFBSecurityProxy.connect, nova's side towards the compute host."""
    compute_version = nova_recv(sock, VERSION_LENGTH, RFB_PY)
    try:
        version = parse_version(compute_version)
    except ValueError:
        version = None
    check(
        version == 3.8,
        RFB_PY,
        f"Security proxying requires RFB protocol version 3.8, but server sent {compute_version!r}",
    )
    sock.sendall(compute_version)
    passed(f"version {compute_version!r} is 3.8 and was echoed")

    permitted_auth_types_cnt = nova_recv(sock, 1, RFB_PY)[0]
    if permitted_auth_types_cnt == 0:
        reason_len = struct.unpack("!I", nova_recv(sock, 4, RFB_PY))[0]
        reason = nova_recv(sock, reason_len, RFB_PY) if reason_len <= 256 else b"(long)"
        check(False, RFB_PY, f"the server offered no security types: {reason!r}")
    permitted_auth_types = list(nova_recv(sock, permitted_auth_types_cnt, RFB_PY))
    # nova names each type in a debug line, built whatever the log level: AuthType(t) raises
    # ValueError for a type nova does not know, which ends the console.
    unknown = [t for t in permitted_auth_types if t not in AuthType._value2member_map_]
    check(not unknown, RFB_PY, f"security types unknown to nova's AuthType: {unknown}")
    passed(f"security types {permitted_auth_types}, each one nova knows")

    # RFBAuthSchemeList.find_scheme: the first of the server's types that auth_schemes holds.
    scheme = next((t for t in permitted_auth_types if t in AUTH_SCHEMES), None)
    check(
        scheme is not None,
        AUTHS_PY,
        f"No compute auth available: allowed {[int(t) for t in AUTH_SCHEMES]}, "
        f"desired {permitted_auth_types}",
    )
    sock.sendall(bytes((scheme,)))
    passed(f"security type {scheme} (VeNCrypt) chosen")
    return vencrypt_handshake(sock)


def vencrypt_handshake(sock):
    """RFBAuthSchemeVeNCrypt.security_handshake."""
    maj_ver = ord(nova_recv(sock, 1, VENCRYPT_PY))
    min_ver = ord(nova_recv(sock, 1, VENCRYPT_PY))
    check(
        maj_ver == 0 and min_ver == 2,
        VENCRYPT_PY,
        f"Only VeNCrypt version 0.2 is supported by this proxy, but the server wanted to use "
        f"version {maj_ver}.{min_ver}",
    )
    sock.sendall(b"\x00\x02")
    can_use_version = ord(nova_recv(sock, 1, VENCRYPT_PY))
    check(can_use_version == 0, VENCRYPT_PY, "Server could not use VeNCrypt version 0.2")
    passed("VeNCrypt version 0.2 offered and accepted")

    sub_types_cnt = ord(nova_recv(sock, 1, VENCRYPT_PY))
    sub_types_raw = nova_recv(sock, sub_types_cnt * SUBTYPE_LENGTH, VENCRYPT_PY)
    sub_types = struct.unpack("!" + str(sub_types_cnt) + "I", sub_types_raw)
    # As for the security types: AuthVeNCryptSubtype(t) in a debug line raises for an unknown
    # subtype.
    unknown = [t for t in sub_types if t not in AuthVeNCryptSubtype._value2member_map_]
    check(not unknown, VENCRYPT_PY, f"VeNCrypt subtypes unknown to nova: {unknown}")
    check(
        AuthVeNCryptSubtype.X509NONE in sub_types,
        VENCRYPT_PY,
        f"Server does not support the 260 (X509NONE) VeNCrypt auth subtype: {list(sub_types)}",
    )
    passed(f"VeNCrypt subtypes {list(sub_types)} include X509None (260)")

    sock.sendall(struct.pack("!I", AuthVeNCryptSubtype.X509NONE))
    auth_accepted = ord(nova_recv(sock, 1, VENCRYPT_PY))
    check(
        auth_accepted != 0,
        VENCRYPT_PY,
        "Server didn't accept the requested VeNCrypt auth subtype",
    )
    passed("X509None accepted (the U8 1 that QEMU and gtk-vnc send)")
    return sock


def wrap(sock, ca_certs, client_cert, client_key):
    """The TLS part of security_handshake: nova's SSLContext, exactly."""
    try:
        ssl_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ssl_ctx.load_cert_chain(keyfile=client_key, certfile=client_cert)
        ssl_ctx.load_verify_locations(cafile=ca_certs)
        ssl_ctx.verify_mode = ssl.CERT_REQUIRED
        ssl_ctx.check_hostname = False
        wrapped = ssl_ctx.wrap_socket(sock, server_side=False)
    except ssl.SSLError as e:
        check(False, VENCRYPT_PY, f"Error establishing TLS connection to server: {e}")
    passed(
        f"TLS {wrapped.version()} verified against {ca_certs}, client certificate "
        f"{client_cert} offered"
    )
    return wrapped


def recv_exact(sock, num, what):
    """The tenant's viewer reads through nova's plain proxy: bytes may come in any pieces."""
    out = bytearray()
    while len(out) < num:
        b = sock.recv(min(num - len(out), 1 << 20))
        if not b:
            raise Failed(f"the server closed the connection in {what}")
        out += b
    return bytes(out)


def tenant(sock):
    """What the tenant's viewer does once nova proxies: nova told it security None, and nova
    passes the server's SecurityResult on (rfb.py: "we can just proxy the security result")."""
    result = struct.unpack("!I", recv_exact(sock, 4, "the SecurityResult"))[0]
    check(
        result == 0,
        RFB_PY,
        f"SecurityResult {result}: the tenant would be refused after nova's handshake",
    )
    passed("SecurityResult 0 (OK) through TLS")
    sock.sendall(b"\x01")  # ClientInit: shared, as noVNC asks by default.
    init = recv_exact(sock, 24, "ServerInit")
    width, height = struct.unpack("!HH", init[:4])
    bpp, depth, big_endian, true_colour = init[4:8]
    rmax, gmax, bmax, rshift, gshift, bshift = struct.unpack("!HHHBBB", init[8:17])
    name_len = struct.unpack("!I", init[20:24])[0]
    if name_len > MAX_NAME:
        raise Failed(f"ServerInit names a {name_len}-byte desktop name")
    name = recv_exact(sock, name_len, "the desktop name").decode("utf-8", "replace")
    if bpp not in (8, 16, 32) or not true_colour or 0 in (rmax, gmax, bmax) \
            or width * height > MAX_PIXELS:
        raise Failed(f"ServerInit: {width}x{height}, {bpp} bpp, true colour {true_colour}")
    passed(f"ServerInit {width}x{height} {bpp} bpp depth {depth}, name {name!r}")

    # SetEncodings Raw only, then a full, non-incremental FramebufferUpdateRequest.
    sock.sendall(struct.pack("!BxHi", 2, 1, 0))
    sock.sendall(struct.pack("!BBHHHH", 3, 0, 0, 0, width, height))
    rgb = bytearray(width * height * 3)
    kind = recv_exact(sock, 1, "the first server message")[0]
    if kind != 0:
        raise Failed(f"server message type {kind} before the first FramebufferUpdate")
    (rects,) = struct.unpack("!xH", recv_exact(sock, 3, "the FramebufferUpdate"))
    order = ">" if big_endian else "<"
    code = {8: "B", 16: "H", 32: "I"}[bpp]
    size = bpp // 8
    for _ in range(rects):
        x, y, w, h, encoding = struct.unpack("!HHHHi", recv_exact(sock, 12, "a rectangle"))
        if encoding != 0:
            raise Failed(f"rectangle encoding {encoding}: only Raw (0) was asked for")
        if x + w > width or y + h > height:
            raise Failed(f"rectangle {w}x{h}+{x}+{y} outside {width}x{height}")
        raw = recv_exact(sock, w * h * size, "Raw pixels")
        values = struct.unpack(f"{order}{w * h}{code}", raw)
        for row in range(h):
            for col in range(w):
                v = values[row * w + col]
                i = ((y + row) * width + x + col) * 3
                rgb[i] = ((v >> rshift) & rmax) * 255 // rmax
                rgb[i + 1] = ((v >> gshift) & gmax) * 255 // gmax
                rgb[i + 2] = ((v >> bshift) & bmax) * 255 // bmax
    passed(f"FramebufferUpdate with {rects} Raw rectangle(s)")
    return width, height, bytes(rgb)


def main():
    if len(sys.argv) != 7:
        print(__doc__, file=sys.stderr)
        return 2
    host, port, ca_certs, client_cert, client_key, out = sys.argv[1:]
    try:
        sock = socket.create_connection((host, int(port)), timeout=30)
        sock = security_proxy(sock)
        sock = wrap(sock, ca_certs, client_cert, client_key)
        width, height, rgb = tenant(sock)
    except Failed as e:
        print(f"nova check failed: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"nova check failed: socket error: {e}", file=sys.stderr)
        return 1
    with open(out, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (width, height))
        f.write(rgb)
    return 0


if __name__ == "__main__":
    sys.exit(main())
