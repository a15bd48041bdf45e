//! Key to echo: the time from a key sent to the guest, through the same input channel the
//! viewer and `serve` use, until the guest's screen shows its echo, read from the device. A
//! letter is typed and then erased with Backspace, so the guest's screen (and the line it is
//! reading) ends as it began; both keys are samples. This is what a user feels as typing
//! latency, less the viewer's own refresh and present, which other figures measure.

use super::figure::Figure;
use crate::app::guest_input::{GuestInput, InputState};
use crate::app::stats::Stats;
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::time::{Duration, Instant};
use vfio_display::device::DisplayDevice;
use vfio_display::frame::FrameReader;
use vfio_display::input::{InputEvent, QCode};
use vfio_display::vfio::PlaneType;

/// How long a still screen is watched before the first key: a screen that changes by itself
/// (a blinking cursor, a clock) would be taken for an echo.
const STILL_FOR: Duration = Duration::from_secs(1);
/// How long the screen must stay the same after an echo before the next key: the echo is
/// drawn in full, and the input channel's key spacing is over.
const SETTLE: Duration = Duration::from_millis(50);
/// The longest wait for one echo: a guest under emulation on a loaded machine is slow.
const ECHO_TIMEOUT: Duration = Duration::from_secs(10);
/// The pause between two reads of the screen while waiting: short beside any echo, long
/// enough that the reads do not take the CPU the guest needs to answer.
const POLL: Duration = Duration::from_millis(1);

/// The guest's screen as the device shows it: the primary plane's bytes and layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    layout: (u32, u32, u32, u32),
    bytes: Vec<u8>,
}

/// Reads the primary plane, whatever buffer it is in now (a double-buffered guest draws its
/// echo into the other buffer and flips). One copy, straight into the screen's own bytes.
fn read_screen(reader: &FrameReader<'_>) -> Result<Screen> {
    let plane = reader
        .query(PlaneType::Primary)
        .context("querying the primary plane")?;
    if plane.width == 0 || plane.height == 0 {
        bail!("the guest shows no picture (its display is off)");
    }
    let mut bytes = Vec::new();
    reader
        .read_raw_into(&plane, plane.stride as usize, &mut bytes)
        .context("reading the primary plane")?;
    Ok(Screen {
        layout: (plane.width, plane.height, plane.stride, plane.drm_format),
        bytes,
    })
}

/// What ends a wait for the screen.
enum Until<'s> {
    /// The screen differs from this one.
    Differs(&'s Screen),
    /// The screen equals this one again.
    Equals(&'s Screen),
}

/// Calls `read` until the screen meets `until`; returns the time since `since` and the screen
/// then, or an error after `timeout`.
fn wait_for(
    read: &mut dyn FnMut() -> Result<Screen>,
    until: Until<'_>,
    since: Instant,
    timeout: Duration,
) -> Result<(Duration, Screen)> {
    loop {
        let screen = read()?;
        let met = match until {
            Until::Differs(before) => screen != *before,
            Until::Equals(want) => screen == *want,
        };
        let elapsed = since.elapsed();
        if met {
            return Ok((elapsed, screen));
        }
        if elapsed > timeout {
            bail!(match until {
                Until::Differs(_) => format!(
                    "the guest's screen did not change within {} s of a key: it shows no \
                     echo (give a text prompt the focus in the guest: a console, a terminal, an \
                     editor)",
                    timeout.as_secs()
                ),
                Until::Equals(_) => format!(
                    "the guest's screen did not return to what it was within {} s of Backspace",
                    timeout.as_secs()
                ),
            });
        }
        std::thread::sleep(POLL);
    }
}

/// Reads until the screen has stayed the same for `settle`; returns it.
fn settled(
    read: &mut dyn FnMut() -> Result<Screen>,
    settle: Duration,
    timeout: Duration,
) -> Result<Screen> {
    let start = Instant::now();
    let mut last = read()?;
    let mut since = Instant::now();
    while since.elapsed() < settle {
        if start.elapsed() > timeout {
            bail!(
                "the guest's screen did not settle within {} s of a key",
                timeout.as_secs()
            );
        }
        std::thread::sleep(POLL);
        let now = read()?;
        if now != last {
            last = now;
            since = Instant::now();
        }
    }
    Ok(last)
}

/// A key pressed and released.
fn tap(key: &str) -> Result<Vec<InputEvent>> {
    let key = QCode::from_name(key).with_context(|| format!("{key} is a known qcode"))?;
    Ok(vec![
        InputEvent::Key { key, down: true },
        InputEvent::Key { key, down: false },
    ])
}

/// Types a letter and erases it `keys / 2` times into the guest through `input`, reading the
/// screen with `read`; returns the latency of each key, in milliseconds.
pub fn echo_samples(
    read: &mut dyn FnMut() -> Result<Screen>,
    input: &GuestInput,
    keys: usize,
    timeouts: (Duration, Duration),
) -> Result<Vec<f64>> {
    let (still_for, echo_timeout) = timeouts;
    let start = Instant::now();
    let before = read()?;
    while start.elapsed() < still_for {
        std::thread::sleep(Duration::from_millis(20));
        if read()? != before {
            bail!(
                "the guest's screen changed by itself with no input (a blinking cursor, a \
                 clock?): key-to-echo needs a screen that changes only when typed into, such as \
                 a text console with its cursor off (vt.global_cursor_default=0)"
            );
        }
    }
    let letter = tap("a")?;
    let backspace = tap("backspace")?;
    let mut samples = Vec::with_capacity(keys);
    while samples.len() < keys {
        let sent = Instant::now();
        input.send(letter.clone());
        let (latency, _) = wait_for(read, Until::Differs(&before), sent, echo_timeout)?;
        check_live(input)?;
        samples.push(latency.as_secs_f64() * 1000.0);
        settled(read, SETTLE, echo_timeout)?;
        let sent = Instant::now();
        input.send(backspace.clone());
        let (latency, _) = wait_for(read, Until::Equals(&before), sent, echo_timeout)?;
        samples.push(latency.as_secs_f64() * 1000.0);
        settled(read, SETTLE, echo_timeout)?;
    }
    samples.truncate(keys);
    Ok(samples)
}

/// An error once the input channel failed: the wait for an echo would say less.
fn check_live(input: &GuestInput) -> Result<()> {
    match input.state() {
        InputState::Failed(err) => bail!("the input channel failed: {err}"),
        _ => Ok(()),
    }
}

/// The figure: `keys` keys into the guest of `dev` through QMP at `qmp`.
pub fn key_to_echo(dev: &dyn DisplayDevice, qmp: &Path, keys: usize) -> Result<Figure> {
    let reader = FrameReader::new(dev)?;
    let input = GuestInput::connect(Some(qmp), "")?;
    let mut reads = Vec::new();
    let mut read = || {
        let t0 = Instant::now();
        let screen = read_screen(&reader);
        reads.push(t0.elapsed().as_secs_f64() * 1000.0);
        screen
    };
    let samples = echo_samples(&mut read, &input, keys, (STILL_FOR, ECHO_TIMEOUT))
        .and_then(|s| {
            check_live(&input)?;
            Ok(s)
        })
        .context("measuring key to echo")?;
    let count = samples.len();
    let stats = Stats::of(samples).context("no keys were timed")?;
    let read_ms = Stats::of(reads).map_or(0.0, |s| s.median_ms);
    Ok(Figure::new("key to guest echo", stats.median_ms, "ms")
        .samples(count)
        .detail(format!(
            "p95 {:.1} ms, max {:.1} ms over {count} keys (a letter, then Backspace); a key \
             sent through QMP until the device's picture changes, read every {:.1} ms \
             (one read takes {read_ms:.2} ms)",
            stats.p95_ms,
            stats.max_ms,
            POLL.as_secs_f64() * 1000.0 + read_ms
        )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use vfio_display::input::{InputError, InputSink};

    /// A guest that echoes: the screen is one byte per typed letter, Backspace takes one off.
    #[derive(Default)]
    struct Echoing {
        line: Vec<u8>,
        sent: Vec<String>,
    }

    struct Keyboard(Arc<Mutex<Echoing>>);

    impl InputSink for Keyboard {
        fn send(&mut self, events: &[InputEvent]) -> Result<(), InputError> {
            let mut guest = self.0.lock().unwrap();
            for e in events {
                if let InputEvent::Key { key, down: true } = e {
                    guest.sent.push(key.name().to_string());
                    match key.name() {
                        "backspace" => {
                            guest.line.pop();
                        }
                        _ => guest.line.push(b'a'),
                    }
                }
            }
            Ok(())
        }

        fn describe(&self) -> String {
            "an echoing guest".into()
        }
    }

    fn screen_of(guest: &Arc<Mutex<Echoing>>) -> Screen {
        Screen {
            layout: (640, 480, 2560, 0),
            bytes: guest.lock().unwrap().line.clone(),
        }
    }

    #[test]
    fn a_letter_and_backspace_are_timed_and_the_line_ends_empty() {
        let guest = Arc::new(Mutex::new(Echoing::default()));
        let input = GuestInput::start(Box::new(Keyboard(Arc::clone(&guest))));
        let mut read = || Ok(screen_of(&guest));
        let samples = echo_samples(
            &mut read,
            &input,
            5,
            (Duration::from_millis(50), Duration::from_secs(10)),
        )
        .unwrap();
        assert_eq!(samples.len(), 5);
        assert!(samples.iter().all(|ms| *ms >= 0.0 && *ms < 10_000.0));
        let guest = guest.lock().unwrap();
        assert_eq!(
            guest.sent,
            ["a", "backspace", "a", "backspace", "a", "backspace"]
        );
        assert!(guest.line.is_empty());
    }

    #[test]
    fn a_guest_that_does_not_echo_is_an_error_not_a_hang() {
        struct Deaf;
        impl InputSink for Deaf {
            fn send(&mut self, _: &[InputEvent]) -> Result<(), InputError> {
                Ok(())
            }
            fn describe(&self) -> String {
                "nothing".into()
            }
        }
        let input = GuestInput::start(Box::new(Deaf));
        let still = Screen {
            layout: (1, 1, 4, 0),
            bytes: vec![0; 4],
        };
        let mut read = || Ok(still.clone());
        let err = echo_samples(
            &mut read,
            &input,
            2,
            (Duration::ZERO, Duration::from_millis(100)),
        )
        .unwrap_err();
        assert!(err.to_string().contains("shows no echo"), "{err}");
    }

    #[test]
    fn a_screen_that_changes_by_itself_is_refused() {
        let input = GuestInput::off("no guest");
        let mut frame = 0u8;
        let mut read = || {
            frame = frame.wrapping_add(1);
            Ok(Screen {
                layout: (1, 1, 4, 0),
                bytes: vec![frame; 4],
            })
        };
        let err = echo_samples(
            &mut read,
            &input,
            2,
            (Duration::from_millis(100), Duration::from_secs(1)),
        )
        .unwrap_err();
        assert!(err.to_string().contains("changed by itself"), "{err}");
    }
}
