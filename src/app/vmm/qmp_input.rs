//! Input into the guest through QEMU's QMP `input-send-event`: keys by qcode, absolute pointer
//! positions and buttons, into the guest's emulated keyboard and tablet.

use super::qmp::Qmp;
use anyhow::{Context, Result};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use vfio_display::input::{InputError, InputEvent, InputSink};

/// A QMP connection used for input only.
pub struct QmpInput {
    qmp: Qmp,
    path: PathBuf,
}

impl QmpInput {
    /// Connects to QEMU's QMP socket at `path`.
    pub fn connect(path: &Path) -> Result<Self> {
        let qmp = Qmp::connect(path)
            .with_context(|| format!("cannot open the input channel (QMP) {}", path.display()))?;
        Ok(QmpInput {
            qmp,
            path: path.to_path_buf(),
        })
    }
}

/// One event as `input-send-event` takes it.
pub fn event_json(event: &InputEvent) -> Value {
    match *event {
        InputEvent::Key { key, down } => json!({
            "type": "key",
            "data": { "down": down, "key": { "type": "qcode", "data": key.name() } }
        }),
        InputEvent::Button { button, down } => json!({
            "type": "btn",
            "data": { "down": down, "button": button.name() }
        }),
        InputEvent::Move { x, y } => json!([
            { "type": "abs", "data": { "axis": "x", "value": x } },
            { "type": "abs", "data": { "axis": "y", "value": y } }
        ]),
    }
}

/// The `input-send-event` arguments for `events`, in order.
pub fn arguments(events: &[InputEvent]) -> Value {
    let mut list = Vec::new();
    for event in events {
        match event_json(event) {
            Value::Array(both) => list.extend(both),
            one => list.push(one),
        }
    }
    json!({ "events": list })
}

impl InputSink for QmpInput {
    fn send(&mut self, events: &[InputEvent]) -> Result<(), InputError> {
        if events.is_empty() {
            return Ok(());
        }
        self.qmp
            .execute("input-send-event", Some(arguments(events)))
            .map(|_| ())
            .map_err(|e| InputError::Channel {
                what: format!("QMP input-send-event on {}", self.path.display()),
                source: e.into(),
            })
    }

    fn describe(&self) -> String {
        format!("QMP {}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vfio_display::input::{Button, QCode};

    #[test]
    fn events_become_qmp_input_events() {
        let a = QCode::from_name("a").unwrap();
        let args = arguments(&[
            InputEvent::Key { key: a, down: true },
            InputEvent::Move { x: 10, y: 20 },
            InputEvent::Button {
                button: Button::WheelUp,
                down: false,
            },
        ]);
        assert_eq!(
            args.to_string(),
            "{\"events\":[\
             {\"data\":{\"down\":true,\"key\":{\"data\":\"a\",\"type\":\"qcode\"}},\"type\":\"key\"},\
             {\"data\":{\"axis\":\"x\",\"value\":10},\"type\":\"abs\"},\
             {\"data\":{\"axis\":\"y\",\"value\":20},\"type\":\"abs\"},\
             {\"data\":{\"button\":\"wheel-up\",\"down\":false},\"type\":\"btn\"}]}"
        );
    }
}
