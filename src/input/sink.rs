//! Where input goes: a VMM channel (QMP for QEMU) implements `InputSink`; `RecordingSink`
//! keeps what it is sent, for tests and for the simulator.

use super::InputEvent;
use std::sync::{Arc, Mutex, PoisonError};

/// A channel to the guest's input devices failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The channel could not deliver the events (the VMM went away, or refused them).
    #[error("{what}")]
    Channel {
        /// Which channel and what failed.
        what: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// A channel into the guest's keyboard and pointer.
pub trait InputSink: Send {
    /// Delivers `events`, in order, as one batch (a key and its modifiers arrive together).
    fn send(&mut self, events: &[InputEvent]) -> Result<(), InputError>;

    /// Where the events go, for the overlay and logs ("QMP /run/qemu/vm.qmp").
    fn describe(&self) -> String;
}

/// Keeps every event it is sent.
#[derive(Debug, Default, Clone)]
pub struct RecordingSink {
    events: Arc<Mutex<Vec<InputEvent>>>,
}

impl RecordingSink {
    /// Everything sent so far (all clones share it).
    pub fn events(&self) -> Vec<InputEvent> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl InputSink for RecordingSink {
    fn send(&mut self, events: &[InputEvent]) -> Result<(), InputError> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(events);
        Ok(())
    }

    fn describe(&self) -> String {
        "a recording (no guest)".into()
    }
}
