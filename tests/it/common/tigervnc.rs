//! TigerVNC's viewer (1.12, Debian's tigervnc-viewer) for the `serve` tests, under Xvfb: started
//! as a client of a server or listening for a server's reverse connection, killed on drop, and
//! its window captured as a picture.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use super::cli::path_str;
use super::read_png;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use vfio_display::frame::RgbaImage;

/// A viewer that is killed (and reaped) on drop, so that a failed assertion leaves none behind.
pub struct Viewer {
    pub child: Child,
    log: PathBuf,
}

impl Viewer {
    /// A viewer on `display` that connects to the server on 127.0.0.1:`port`, with `options`
    /// (security types, certificates, password files); its output goes to `log`.
    pub fn start(display: &str, home: &Path, port: u16, options: &[&str], log: &Path) -> Viewer {
        let server = format!("127.0.0.1::{port}");
        Viewer::spawn(display, home, &[options, &[server.as_str()]].concat(), log)
    }

    /// A viewer on `display` that listens on `port` (every address) for a server that dials
    /// it, with `options`; returns once the viewer says it listens.
    pub fn listen(display: &str, home: &Path, port: u16, options: &[&str], log: &Path) -> Viewer {
        let port = port.to_string();
        let viewer = Viewer::spawn(
            display,
            home,
            &[options, &["-listen", port.as_str()]].concat(),
            log,
        );
        viewer.wait_log(
            &format!("Listening on port {port}"),
            Duration::from_secs(20),
        );
        viewer
    }

    fn spawn(display: &str, home: &Path, args: &[&str], log: &Path) -> Viewer {
        let out = std::fs::File::create(log).unwrap();
        let child = Command::new("xtigervncviewer")
            // The viewer saves its last server under $HOME/.vnc: a home of the test's own.
            .env("HOME", home)
            .env("DISPLAY", display)
            // Errors end the viewer instead of waiting in a dialog nobody can click.
            .args(["-AlertOnFatalError=0", "-ReconnectOnError=0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("xtigervncviewer (Debian tigervnc-viewer; scripts/install-test-deps.sh installs it)");
        Viewer {
            child,
            log: log.to_path_buf(),
        }
    }

    /// What the viewer wrote so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the viewer's output contains `needle`, at most `limit`; a viewer that ends
    /// first or says nothing of the kind fails the test with its output.
    pub fn wait_log(&self, needle: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.log().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "the viewer never said {needle:?} within {limit:?}; it said: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The viewer's window on `display` (its title ends in " - TigerVNC" once the server's
/// ServerInit arrived), as a picture; None while there is no such window.
pub fn viewer_window(display: &str, dir: &Path) -> Option<RgbaImage> {
    let found = Command::new("xdotool")
        .env("DISPLAY", display)
        .args(["search", "--name", " - TigerVNC$"])
        .output()
        .expect("xdotool (scripts/install-test-deps.sh installs it)");
    let id = String::from_utf8_lossy(&found.stdout)
        .lines()
        .next()?
        .trim()
        .to_string();
    let xwd = dir.join("window.xwd");
    let png = dir.join("window.png");
    let shot = Command::new("xwd")
        .env("DISPLAY", display)
        .args(["-silent", "-id", &id, "-out", path_str(&xwd)])
        .status()
        .expect("xwd (x11-apps)");
    if !shot.success() {
        // The window went away between the search and the capture.
        return None;
    }
    // PNG32: RGBA always, never a palette picture the test's PNG reader does not take.
    let converted = Command::new("convert")
        .arg(&xwd)
        .arg(format!("PNG32:{}", png.display()))
        .status()
        .expect("ImageMagick's convert");
    assert!(converted.success(), "convert could not read xwd's capture");
    Some(read_png(&png))
}

/// The guest's picture as `screenshot` takes it with the simulator options `sim`. TigerVNC
/// draws the cursor itself (as an X cursor, which xwd does not capture), so without the cursor.
pub fn guest_picture(dir: &Path, sim: &[&str]) -> RgbaImage {
    let want = dir.join("want.png");
    let out = super::cli::run(&[&["screenshot", "-o", path_str(&want)][..], sim].concat());
    assert!(out.status.success(), "{out:?}");
    read_png(&want)
}

/// The obfuscated password file TigerVNC's viewer reads (`-passwd`), written by TigerVNC's own
/// `tigervncpasswd -f` from `password`, at `dir`/passwd.
pub fn obfuscated_password(dir: &Path, password: &str) -> PathBuf {
    let obfuscated = dir.join("passwd");
    let made = Command::new("sh")
        .arg("-c")
        .arg("printf '%s\\n' \"$1\" | tigervncpasswd -f > \"$2\"")
        .arg("sh")
        .arg(password)
        .arg(&obfuscated)
        .status()
        .expect("sh");
    assert!(
        made.success(),
        "tigervncpasswd -f (Debian tigervnc-tools; scripts/install-test-deps.sh installs it)"
    );
    obfuscated
}
