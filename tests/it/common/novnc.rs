//! noVNC in headless Chromium, asked while it runs what it shows (tests/it/scripts/
//! novnc_canvas.py over Chromium's DevTools pipe): its state and its screen canvas's pixels.
//! Tests poll these until a deadline instead of betting on one screenshot's timing.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use super::read_png;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use vfio_display::frame::RgbaImage;

/// One Chromium on one page; ended on drop.
pub struct Browser {
    child: Child,
    input: Option<ChildStdin>,
    output: BufReader<ChildStdout>,
}

impl Browser {
    /// Opens `url` in a headless Chromium with the profile directory `profile`.
    pub fn open(url: &str, profile: &Path) -> Browser {
        use std::os::unix::process::CommandExt;
        let script = format!(
            "{}/tests/it/scripts/novnc_canvas.py",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut child = Command::new("python3")
            .arg(script)
            .arg(url)
            .arg(profile)
            // A group of its own: Chromium and its helpers end with the script on drop.
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 and chromium (scripts/install-test-deps.sh installs chromium)");
        let input = child.stdin.take();
        let output = BufReader::new(child.stdout.take().unwrap());
        Browser {
            child,
            input,
            output,
        }
    }

    /// Sends one command; its one-line answer. The script bounds each of Chromium's answers
    /// (30 s), so this read ends.
    fn ask(&mut self, command: &str) -> String {
        writeln!(self.input.as_mut().unwrap(), "{command}").unwrap();
        let mut line = String::new();
        self.output.read_line(&mut line).unwrap();
        assert!(
            !line.is_empty(),
            "the browser script ended (its reason is on the test's stderr)"
        );
        line.trim_end().to_string()
    }

    /// noVNC's state: its state classes on <html>, its status line, its canvas size (JSON).
    pub fn state(&mut self) -> String {
        self.ask("state")
    }

    /// The screen canvas's pixels (through `scratch`, a PNG file), or None while noVNC has no
    /// canvas of a size.
    pub fn canvas(&mut self, scratch: &Path) -> Option<RgbaImage> {
        let answer = self.ask(&format!("canvas {}", scratch.display()));
        (answer == "ok").then(|| read_png(scratch))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // End of input: the script closes Chromium itself; the group's SIGKILL then takes
        // whatever did not end (a hung Chromium, its helpers).
        drop(self.input.take());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let group = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}
