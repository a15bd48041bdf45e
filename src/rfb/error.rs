//! The RFB layer's error.

/// What went wrong with a peer's bytes. Every variant names what was wrong, so that the server
/// can log one line and drop the connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RfbError {
    /// A message or field the protocol does not allow.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A length beyond what this server accepts.
    #[error("{what} of {len} bytes is over the limit of {max}")]
    TooLong {
        /// What carried the length.
        what: &'static str,
        /// The length the peer gave.
        len: u64,
        /// The most accepted.
        max: u64,
    },
    /// A pixel format the server cannot produce.
    #[error("unsupported pixel format: {0}")]
    PixelFormat(String),
    /// A compression stream failed (it never should on valid input).
    #[error("zlib stream: {0}")]
    Zlib(String),
}

impl RfbError {
    pub(crate) fn protocol(what: impl Into<String>) -> Self {
        RfbError::Protocol(what.into())
    }
}
