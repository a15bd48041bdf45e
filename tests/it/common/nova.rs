//! Runs tests/it/scripts/nova_vencrypt.py, a client that does what OpenStack's
//! nova-novncproxy does with a compute host's VNC server (see the script's own comment), and
//! reads the picture it wrote.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use super::pki::Pki;
use std::path::Path;
use std::process::Command;
use vfio_display::frame::RgbaImage;

/// What the client said: the checks that passed (stdout) and why it stopped (stderr).
pub struct Run {
    pub ok: bool,
    pub said: String,
}

/// Runs nova's handshake against 127.0.0.1:`port`, trusting `trust`'s CA and offering
/// `offer`'s client certificate; on success the picture of the first update is at `out`.
pub fn nova_client(port: u16, trust: &Pki, offer: &Pki, out: &Path) -> Run {
    let script = format!(
        "{}/tests/it/scripts/nova_vencrypt.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let result = Command::new("python3")
        .arg(script)
        .args(["127.0.0.1", &port.to_string()])
        .args([&trust.ca, &offer.client_cert, &offer.client_key])
        .arg(out)
        .output()
        .expect("python3");
    Run {
        ok: result.status.success(),
        said: format!(
            "{}{}",
            String::from_utf8_lossy(&result.stdout),
            String::from_utf8_lossy(&result.stderr)
        ),
    }
}

/// Reads the binary PPM (P6, maxval 255) the script writes, as RGBA.
pub fn read_ppm(path: &Path) -> RgbaImage {
    let bytes = std::fs::read(path).unwrap();
    // The script's header is always "P6\n<w> <h>\n255\n": three lines, then the pixels.
    let mut fields = Vec::new();
    let mut at = 0;
    while fields.len() < 4 {
        let end = at
            + bytes[at..]
                .iter()
                .position(|b| b.is_ascii_whitespace())
                .unwrap();
        fields.push(std::str::from_utf8(&bytes[at..end]).unwrap().to_string());
        at = end + 1;
    }
    assert_eq!(
        (fields[0].as_str(), fields[3].as_str()),
        ("P6", "255"),
        "a P6 header"
    );
    let (w, h): (u32, u32) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
    let rgb = &bytes[at..];
    assert_eq!(rgb.len(), (w * h * 3) as usize, "the PPM's pixel bytes");
    let mut image = RgbaImage::new(w, h);
    for (src, dst) in rgb.chunks_exact(3).zip(image.data.chunks_exact_mut(4)) {
        dst.copy_from_slice(&[src[0], src[1], src[2], 255]);
    }
    image
}
