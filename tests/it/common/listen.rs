//! Support for `serve`'s listener tests: a minimal RFB client that runs on any stream (a unix
//! socket, or a connection a listening test viewer accepted), vncdotool on a unix socket, and
//! free ports and paths.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use vfio_display::frame::RgbaImage;

/// Plays the client's side of RFB 3.8 without a password on `s`, asks for the whole screen in
/// Raw, and returns the picture (the server's pixel format: 32-bit little-endian BGRX).
pub fn rfb_capture(s: &mut (impl Read + Write)) -> RgbaImage {
    let mut version = [0u8; 12];
    s.read_exact(&mut version).unwrap();
    assert_eq!(&version, b"RFB 003.008\n");
    s.write_all(b"RFB 003.008\n").unwrap();
    let mut count = [0u8; 1];
    s.read_exact(&mut count).unwrap();
    let mut types = vec![0u8; usize::from(count[0])];
    s.read_exact(&mut types).unwrap();
    assert_eq!(types, [1], "one security type: None");
    s.write_all(&[1]).unwrap();
    let mut result = [0u8; 4];
    s.read_exact(&mut result).unwrap();
    assert_eq!(result, [0; 4], "security result OK");
    s.write_all(&[1]).unwrap();
    let mut init = [0u8; 24];
    s.read_exact(&mut init).unwrap();
    let (w, h) = (
        u16::from_be_bytes([init[0], init[1]]),
        u16::from_be_bytes([init[2], init[3]]),
    );
    let name_len = u32::from_be_bytes([init[20], init[21], init[22], init[23]]);
    let mut name = vec![0u8; name_len as usize];
    s.read_exact(&mut name).unwrap();
    // SetEncodings: Raw only; then a full FramebufferUpdateRequest.
    s.write_all(&[2, 0, 0, 1, 0, 0, 0, 0]).unwrap();
    let mut request = vec![3, 0, 0, 0, 0, 0];
    request.extend_from_slice(&w.to_be_bytes());
    request.extend_from_slice(&h.to_be_bytes());
    s.write_all(&request).unwrap();
    let mut screen = RgbaImage::new(u32::from(w), u32::from(h));
    let mut head = [0u8; 4];
    s.read_exact(&mut head).unwrap();
    assert_eq!(head[0], 0, "a FramebufferUpdate");
    for _ in 0..u16::from_be_bytes([head[2], head[3]]) {
        let mut r = [0u8; 12];
        s.read_exact(&mut r).unwrap();
        let v = |i: usize| usize::from(u16::from_be_bytes([r[i], r[i + 1]]));
        let encoding = i32::from_be_bytes([r[8], r[9], r[10], r[11]]);
        assert_eq!(encoding, 0, "only Raw rectangles were asked for");
        let (x, y, rw, rh) = (v(0), v(2), v(4), v(6));
        let mut px = vec![0u8; rw * rh * 4];
        s.read_exact(&mut px).unwrap();
        for row in 0..rh {
            for col in 0..rw {
                let p = &px[(row * rw + col) * 4..][..4];
                let i = ((y + row) * screen.width as usize + x + col) * 4;
                screen.data[i..i + 4].copy_from_slice(&[p[2], p[1], p[0], 255]);
            }
        }
    }
    screen
}

/// vncdotool (a client nobody on this project wrote) captures the screen served on the unix
/// socket `path` into `out`.
pub fn vncdo_unix(path: &Path, out: &Path) {
    let script = "import sys\nfrom vncdotool import api\n\
                  with api.connect(sys.argv[1], timeout=30) as c:\n    c.captureScreen(sys.argv[2])\n\
                  api.shutdown()\n";
    let result = Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .arg(out)
        .output()
        .expect("python3 with vncdotool (scripts/install-test-deps.sh installs it)");
    assert!(
        result.status.success(),
        "vncdotool on unix:{}: {}{}",
        path.display(),
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
}

/// vncdotool as a listening viewer (`vncviewer -listen` as a script): it listens on
/// 127.0.0.1:`port`, captures the screen of the first server that connects into `out`, and
/// exits 0. Returns once it listens.
pub fn vncdo_listen(port: u16, out: &Path) -> std::process::Child {
    let script = "import sys\n\
from twisted.internet import reactor\n\
from vncdotool.client import VNCDoToolFactory\n\
factory = VNCDoToolFactory()\n\
ok = []\n\
def done(_):\n    ok.append(1)\n    reactor.stop()\n\
def failed(err):\n    print(err, file=sys.stderr)\n    reactor.stop()\n\
factory.deferred.addCallback(lambda c: c.captureScreen(sys.argv[2]).addCallbacks(done, failed))\n\
reactor.listenTCP(int(sys.argv[1]), factory, interface='127.0.0.1')\n\
print('listening', flush=True)\n\
reactor.callLater(60, reactor.stop)\n\
reactor.run()\n\
sys.exit(0 if ok else 1)\n";
    let mut child = Command::new("python3")
        .args(["-c", script, &port.to_string()])
        .arg(out)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 with vncdotool (scripts/install-test-deps.sh installs it)");
    let line = crate::common::cli::first_line(&mut child);
    assert_eq!(
        line.trim(),
        "listening",
        "vncdotool's listener did not start"
    );
    child
}

/// A loopback TCP port that was free a moment ago (for tools that take a fixed port).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Waits (at most 30 s) until `done` holds.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
