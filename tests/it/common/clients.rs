//! Clients nobody on this project wrote, driven for the `serve` tests: vncdotool, headless
//! Chromium (noVNC), openssl for certificates; and the reference pictures they are compared
//! with.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use super::cli::{path_str, run};
use std::path::Path;
use std::process::Command;
use vfio_display::frame::RgbaImage;

/// The reference picture: `screenshot` of the same simulated guest, cursor composited.
pub fn reference(dir: &Path, name: &str, sim: &[&str]) -> std::path::PathBuf {
    let out = dir.join(name);
    let mut args = vec!["screenshot", "--cursor", "-o", path_str(&out)];
    args.extend_from_slice(sim);
    let result = run(&args);
    assert!(result.status.success(), "{result:?}");
    out
}

pub fn script() -> String {
    format!(
        "{}/tests/remote/vncdo_capture.py",
        env!("CARGO_MANIFEST_DIR")
    )
}

pub fn vncdo(
    port: u16,
    out: &Path,
    encoding: &str,
    format: &str,
    reference: &Path,
    extra: &[&str],
) {
    let result = Command::new("python3")
        .arg(script())
        .args([
            &port.to_string(),
            path_str(out),
            encoding,
            format,
            path_str(reference),
        ])
        .args(extra)
        .output()
        .expect("python3 with vncdotool (scripts/install-test-deps.sh installs it)");
    assert!(
        result.status.success(),
        "vncdotool {encoding} {format}: {}{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
}

/// `big` cut at (x, y) to `small`'s size.
pub fn crop(big: &RgbaImage, x: u32, y: u32, width: u32, height: u32) -> RgbaImage {
    let mut out = RgbaImage::new(width, height);
    for row in 0..height {
        let src = (((y + row) * big.width + x) * 4) as usize;
        let dst = (row * width * 4) as usize;
        out.data[dst..dst + width as usize * 4]
            .copy_from_slice(&big.data[src..src + width as usize * 4]);
    }
    out
}

/// A page screenshot of noVNC (Debian's novnc, served by `--web`) in headless Chromium.
pub fn chromium_shot(port: u16, query: &str, out: &Path, profile: &Path) {
    let url = format!("http://127.0.0.1:{port}/vnc.html?autoconnect=1&{query}");
    chromium_page(&url, out, profile);
}

/// A screenshot of the page at `url` in a 1000x700 headless Chromium (self-signed
/// certificates accepted).
pub fn chromium_page(url: &str, out: &Path, profile: &Path) {
    let result = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--ignore-certificate-errors",
            "--window-size=1000,700",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", out.display()))
        .arg(url)
        .output()
        .expect("chromium (scripts/install-test-deps.sh installs it)");
    assert!(result.status.success(), "chromium: {result:?}");
}

/// A self-signed certificate for 127.0.0.1 and its key, made by openssl.
pub fn certificate(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(made.status.success(), "{made:?}");
    (cert, key)
}
