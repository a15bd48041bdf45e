//! Keys, text and clicks with os-autoinst's timing: a key combination is pressed key by key and
//! released in reverse (`consoles/VNC.pm`, `map_and_send_key`: half the key's time after each
//! press, at most 8 ms, the rest after each release), typed text goes a key at a time at
//! `TYPING_LIMIT` keys per second (30) and slower still below the default `max_interval`
//! (`consoles/video_base.pm`, `type_string`), and a click holds the button 0.15 s (`testapi`'s
//! `mouse_click`; 0.1 s for each click of a double click, `mouse_dclick`).

use anyhow::{Context, Result};
use std::time::Duration;
use vfio_display::geometry::{Point, Size};
use vfio_display::input::openqa::{press_and_release, typed_char};
use vfio_display::input::{Button, InputEvent, InputSink, QCode, abs_coordinate};

/// os-autoinst's default `max_interval`: no slowing down.
pub const DEFAULT_MAX_INTERVAL: u32 = 250;

/// The longest a key is held down (`map_and_send_key`): longer risks the guest's key repeat.
const MAX_DOWN: Duration = Duration::from_millis(8);

/// How long a click holds its button (`mouse_click`'s default).
const CLICK_TIME: Duration = Duration::from_millis(150);

/// How long each click of a double click holds its button (`mouse_dclick`'s default).
const DOUBLE_CLICK_TIME: Duration = Duration::from_millis(100);

/// Waits for a while; the runner keeps taking pictures meanwhile (and notices signals).
pub type Idle<'a> = dyn FnMut(Duration) -> Result<()> + 'a;

fn send(sink: &mut dyn InputSink, events: &[InputEvent]) -> Result<()> {
    sink.send(events)
        .with_context(|| format!("keys and pointer through {}", sink.describe()))
}

/// Presses `keys` in order and releases them in reverse, taking `time` in all.
pub fn press(
    sink: &mut dyn InputSink,
    keys: &[QCode],
    time: Duration,
    idle: &mut Idle,
) -> Result<()> {
    let down_time = (time / 2).min(MAX_DOWN);
    let up_time = time.saturating_sub(down_time);
    let (down, up) = press_and_release(keys);
    for event in down {
        send(sink, &[event])?;
        idle(down_time)?;
    }
    for event in up {
        send(sink, &[event])?;
        idle(up_time)?;
    }
    Ok(())
}

/// The time one typed key takes: `1 / typing_limit`, plus `1 / sqrt(max_interval)` below the
/// default interval, as `type_string` computes it.
pub fn seconds_per_key(typing_limit: f64, max_interval: u32) -> Duration {
    let mut seconds = 1.0 / typing_limit.max(0.01);
    if max_interval < DEFAULT_MAX_INTERVAL {
        seconds += 1.0 / f64::from(max_interval.max(1)).sqrt();
    }
    Duration::from_secs_f64(seconds)
}

/// Checks that every character of `text` can be typed, before anything is.
pub fn check_typeable(text: &str) -> Result<(), vfio_display::input::openqa::KeyNameError> {
    text.chars().try_for_each(|c| typed_char(c).map(|_| ()))
}

/// Types `text`, a key at a time: half of `per_key` pressing it, half before the next.
pub fn type_text(
    sink: &mut dyn InputSink,
    text: &str,
    per_key: Duration,
    idle: &mut Idle,
) -> Result<()> {
    for c in text.chars() {
        let Some(keys) = typed_char(c)? else { continue };
        press(sink, &keys, per_key / 2, idle)?;
        idle(per_key / 2)?;
    }
    Ok(())
}

/// Moves the pointer to pixel `at` of a `size` screen and clicks `button` (twice for a double
/// click).
pub fn click(
    sink: &mut dyn InputSink,
    at: Point,
    size: Size,
    button: Button,
    double: bool,
    idle: &mut Idle,
) -> Result<()> {
    // A pointer already at the spot would not move: QEMU and the guest's input layer drop an
    // unchanged position, and a guest that moved its pointer itself would take the click
    // elsewhere. So the pointer goes to a neighbouring pixel first, as os-autoinst wiggles it
    // (`consoles/video_base.pm`, `_mouse_move`).
    let beside = |p: u32, size: u32| {
        if p + 1 < size {
            p + 1
        } else {
            p.saturating_sub(1)
        }
    };
    let wiggle = InputEvent::Move {
        x: abs_coordinate(beside(at.x, size.width), size.width),
        y: abs_coordinate(beside(at.y, size.height), size.height),
    };
    let to = InputEvent::Move {
        x: abs_coordinate(at.x, size.width),
        y: abs_coordinate(at.y, size.height),
    };
    send(sink, &[wiggle, to])?;
    let (times, hold) = if double {
        (2, DOUBLE_CLICK_TIME)
    } else {
        (1, CLICK_TIME)
    };
    for n in 0..times {
        if n > 0 {
            idle(hold)?;
        }
        send(sink, &[InputEvent::Button { button, down: true }])?;
        idle(hold)?;
        send(
            sink,
            &[InputEvent::Button {
                button,
                down: false,
            }],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vfio_display::input::RecordingSink;
    use vfio_display::input::openqa::key_combo;

    fn names(events: &[InputEvent]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                InputEvent::Key { key, down } => {
                    format!("{}{}", if *down { "+" } else { "-" }, key.name())
                }
                InputEvent::Button { button, down } => {
                    format!("{}{}", if *down { "+" } else { "-" }, button.name())
                }
                InputEvent::Move { x, y } => format!("@{x},{y}"),
            })
            .collect()
    }

    #[test]
    fn a_combination_is_pressed_in_order_and_released_in_reverse_with_openqas_timing() {
        let sink = RecordingSink::default();
        let mut waits = Vec::new();
        press(
            &mut sink.clone(),
            &key_combo("ctrl-alt-delete").unwrap(),
            Duration::from_millis(100),
            &mut |d| {
                waits.push(d);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(
            names(&sink.events()),
            ["+ctrl", "+alt", "+delete", "-delete", "-alt", "-ctrl"]
        );
        let ms: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [8, 8, 8, 92, 92, 92]);
    }

    #[test]
    fn typing_follows_type_string() {
        let sink = RecordingSink::default();
        let mut total = Duration::ZERO;
        let per_key = seconds_per_key(30.0, DEFAULT_MAX_INTERVAL);
        type_text(&mut sink.clone(), "Hi\r\n", per_key, &mut |d| {
            total += d;
            Ok(())
        })
        .unwrap();
        assert_eq!(
            names(&sink.events()),
            ["+shift", "+h", "-h", "-shift", "+i", "-i", "+ret", "-ret"]
        );
        // Three characters typed (the carriage return types nothing), each 1/30 s, half
        // pressing and half after; as in map_and_send_key, each key of a character takes its
        // half, so the shifted H (Shift and h) takes it twice: 4.5 halves of 1/30 s in all.
        let half = 1.0 / 60.0;
        assert!((total.as_secs_f64() - 7.0 * half).abs() < 1e-6, "{total:?}");
        assert!((seconds_per_key(30.0, 4).as_secs_f64() - (1.0 / 30.0 + 0.5)).abs() < 1e-9);
        assert!(check_typeable("root\n").is_ok());
        assert!(check_typeable("grüß").is_err());
    }

    #[test]
    fn a_click_goes_to_the_pixel_and_holds_the_button() {
        let sink = RecordingSink::default();
        let mut waits = Vec::new();
        click(
            &mut sink.clone(),
            Point::new(100, 50),
            Size::new(640, 480),
            Button::Left,
            true,
            &mut |d| {
                waits.push(d.as_millis());
                Ok(())
            },
        )
        .unwrap();
        let (x, y) = (abs_coordinate(100, 640), abs_coordinate(50, 480));
        let (wx, wy) = (abs_coordinate(101, 640), abs_coordinate(51, 480));
        assert_eq!(
            names(&sink.events()),
            [
                format!("@{wx},{wy}"),
                format!("@{x},{y}"),
                "+left".into(),
                "-left".into(),
                "+left".into(),
                "-left".into()
            ]
        );
        assert_eq!(waits, [100, 100, 100]);
    }
}
