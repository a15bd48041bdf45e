//! Standard output that never panics.
//!
//! `println!` panics when stdout is a closed pipe (`info | head -1`) or a full disk. Every line
//! this program prints goes through `outln!` instead, which returns a `StdoutError`; `main`
//! turns a closed pipe into the quiet death by SIGPIPE that `head` and shells expect, and any
//! other failure into one error line and exit status 1.

use std::fmt;
use std::io::Write;

/// Writing to standard output failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot write to standard output")]
pub struct StdoutError(#[source] pub std::io::Error);

impl StdoutError {
    /// The reader went away (a closed pipe): not worth an error message.
    pub fn is_broken_pipe(&self) -> bool {
        self.0.kind() == std::io::ErrorKind::BrokenPipe
    }
}

/// Writes formatted text to standard output.
pub fn write_out(args: fmt::Arguments<'_>) -> Result<(), StdoutError> {
    std::io::stdout()
        .lock()
        .write_fmt(args)
        .map_err(StdoutError)
}

/// Flushes standard output (it is line-buffered; text without a final newline waits there).
pub fn flush_out() -> Result<(), StdoutError> {
    std::io::stdout().lock().flush().map_err(StdoutError)
}

/// A line on stderr; a failure there has nowhere to be reported, so it is ignored.
pub fn write_err(args: fmt::Arguments<'_>) {
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// `println!` that returns `Err(StdoutError)` (converted with `?`) instead of panicking.
macro_rules! outln {
    () => {
        $crate::app::output::stdio::write_out(format_args!("\n"))?
    };
    ($($arg:tt)*) => {
        $crate::app::output::stdio::write_out(format_args!("{}\n", format_args!($($arg)*)))?
    };
}

/// `print!` that returns `Err(StdoutError)` instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::app::output::stdio::write_out(format_args!($($arg)*))?
    };
}

/// `eprintln!` that never panics.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::app::output::stdio::write_err(format_args!("{}\n", format_args!($($arg)*)))
    };
}
