//! Exit codes beyond success and failure.

/// An error that carries its own exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// The primary plane is off, or stayed off until --timeout expired.
    NoPlane = 3,
}

/// The "no plane" outcome, as an error with a message.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct NoPlane {
    pub message: String,
}

/// The exit code for an error: its own where it has one, else 1.
pub fn code_for(err: &anyhow::Error) -> u8 {
    if err.downcast_ref::<NoPlane>().is_some() {
        ExitStatus::NoPlane as u8
    } else {
        1
    }
}
