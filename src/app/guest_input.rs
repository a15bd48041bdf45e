//! The guest's input channel as the viewer and `serve` use it: events go to the VMM on a
//! thread of their own, so that a slow or wedged VMM never stalls a window or a client; the
//! channel's state (live, off and why, failed) is what the overlay and logs show.

use crate::app::vmm::qmp_input::QmpInput;
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use vfio_display::input::{InputEvent, InputSink};

/// Batches waiting for the VMM. Input comes in at human speed (and pointer motion is one event
/// per window event), so this is seconds of input: a VMM that stops answering for that long
/// loses input rather than memory.
const QUEUE: usize = 1024;

/// The least time between two key events. A PC keyboard is a slow device: QEMU's PS/2 keyboard
/// holds 16 bytes of scancodes and drops the rest, so keys sent in a burst (a VNC client typing
/// a string, a paste) are lost in a guest that drains them slowly. QEMU's own VNC server spaces
/// keys by the same 10 ms (its `key-delay-ms`); a person typing never waits for it.
const KEY_SPACING: Duration = Duration::from_millis(10);

/// Where input goes, or why it goes nowhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputState {
    /// Events go to the guest through this channel.
    Live(String),
    /// Input is off, for this reason.
    Off(String),
    /// The channel failed: the error.
    Failed(String),
}

impl InputState {
    /// One line for the overlay and logs.
    pub fn describe(&self) -> String {
        match self {
            InputState::Live(to) => format!("input: live, to {to}"),
            InputState::Off(why) => format!("input: off ({why})"),
            InputState::Failed(err) => format!("input: failed ({err})"),
        }
    }
}

/// A handle on the guest's input; clones share the channel.
#[derive(Clone)]
pub struct GuestInput {
    queue: Option<SyncSender<Vec<InputEvent>>>,
    state: Arc<Mutex<InputState>>,
}

impl GuestInput {
    /// No channel: input is dropped, for `why`.
    pub fn off(why: impl Into<String>) -> Self {
        GuestInput {
            queue: None,
            state: Arc::new(Mutex::new(InputState::Off(why.into()))),
        }
    }

    /// QMP at `qmp` when there is one, else off for `why_not`.
    pub fn connect(qmp: Option<&std::path::Path>, why_not: &str) -> anyhow::Result<Self> {
        Ok(match qmp {
            Some(path) => Self::start(Box::new(QmpInput::connect(path)?)),
            None => Self::off(why_not),
        })
    }

    /// Starts the thread that feeds `sink`.
    pub fn start(mut sink: Box<dyn InputSink>) -> Self {
        let (queue, batches) = mpsc::sync_channel::<Vec<InputEvent>>(QUEUE);
        let state = Arc::new(Mutex::new(InputState::Live(sink.describe())));
        let shared = Arc::clone(&state);
        let feeder = std::thread::Builder::new().name("guest input".into());
        let started = feeder.spawn(move || {
            let mut last_key: Option<Instant> = None;
            for batch in batches.iter().flat_map(|b| one_key_each(&b)) {
                let has_key = batch.iter().any(|e| matches!(e, InputEvent::Key { .. }));
                if has_key && let Some(at) = last_key {
                    std::thread::sleep(KEY_SPACING.saturating_sub(at.elapsed()));
                }
                let sent = sink.send(&batch);
                if has_key {
                    last_key = Some(Instant::now());
                }
                if let Err(err) = sent {
                    let text = error_chain(&err);
                    let mut state = shared.lock().unwrap_or_else(PoisonError::into_inner);
                    if !matches!(*state, InputState::Failed(_)) {
                        errln!("vfio-display: guest input stopped: {text}");
                    }
                    *state = InputState::Failed(text);
                }
            }
        });
        if let Err(err) = started {
            // Without the thread nothing would ever reach the guest: say so instead.
            return Self::off(format!("cannot start the input thread: {err}"));
        }
        GuestInput {
            queue: Some(queue),
            state,
        }
    }

    /// Queues `events` for the guest, as one batch; nothing when input is off.
    pub fn send(&self, events: Vec<InputEvent>) {
        let Some(queue) = &self.queue else { return };
        if events.is_empty() {
            return;
        }
        match queue.try_send(events) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                tracing::warn!("the VMM is not taking input: events dropped");
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    /// True while events go somewhere.
    pub fn is_live(&self) -> bool {
        matches!(self.state(), InputState::Live(_))
    }

    /// The channel's state now.
    pub fn state(&self) -> InputState {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Why input goes nowhere without a QMP socket, for the target at hand.
pub fn no_input_because(target: &crate::app::target::Target) -> &'static str {
    match target {
        crate::app::target::Target::Sim(_) => "the simulator has no guest",
        _ => "no VMM channel: run gives one; attach --qmp PATH or --qmp PATH names QEMU's",
    }
}

/// `batch` cut so that each part holds at most one key event, as its last event (pointer events
/// go with the key after them, in order).
fn one_key_each(batch: &[InputEvent]) -> Vec<Vec<InputEvent>> {
    let mut parts = Vec::new();
    let mut part = Vec::new();
    for event in batch {
        part.push(*event);
        if matches!(event, InputEvent::Key { .. }) {
            parts.push(std::mem::take(&mut part));
        }
    }
    if !part.is_empty() {
        parts.push(part);
    }
    parts
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use vfio_display::input::{InputError, QCode, RecordingSink};

    struct Failing;

    impl InputSink for Failing {
        fn send(&mut self, _: &[InputEvent]) -> Result<(), InputError> {
            Err(InputError::Channel {
                what: "QMP input-send-event on /x".into(),
                source: "QEMU closed the QMP connection".into(),
            })
        }
        fn describe(&self) -> String {
            "QMP /x".into()
        }
    }

    fn wait_for(mut done: impl FnMut() -> bool) {
        let start = std::time::Instant::now();
        while !done() {
            assert!(start.elapsed().as_secs() < 10, "timed out");
            std::thread::yield_now();
        }
    }

    #[test]
    fn batches_are_cut_to_one_key_each() {
        let a = QCode::from_name("a").unwrap();
        let key = |down| InputEvent::Key { key: a, down };
        let moved = InputEvent::Move { x: 1, y: 2 };
        assert_eq!(
            one_key_each(&[moved, key(true), key(false), moved]),
            vec![vec![moved, key(true)], vec![key(false)], vec![moved]]
        );
        assert!(one_key_each(&[]).is_empty());
    }

    #[test]
    fn batches_arrive_in_order_and_failures_show() {
        let sink = RecordingSink::default();
        let input = GuestInput::start(Box::new(sink.clone()));
        assert_eq!(
            input.state().describe(),
            "input: live, to a recording (no guest)"
        );
        let a = QCode::from_name("a").unwrap();
        for down in [true, false] {
            input.send(vec![InputEvent::Key { key: a, down }]);
        }
        wait_for(|| sink.events().len() == 2);
        assert_eq!(
            sink.events(),
            vec![
                InputEvent::Key { key: a, down: true },
                InputEvent::Key {
                    key: a,
                    down: false
                }
            ]
        );
        let failing = GuestInput::start(Box::new(Failing));
        failing.send(vec![InputEvent::Move { x: 1, y: 1 }]);
        wait_for(|| !failing.is_live());
        assert_eq!(
            failing.state().describe(),
            "input: failed (QMP input-send-event on /x: QEMU closed the QMP connection)"
        );
        let off = GuestInput::off("no VMM channel");
        off.send(vec![InputEvent::Move { x: 1, y: 1 }]);
        assert_eq!(off.state().describe(), "input: off (no VMM channel)");
    }
}
