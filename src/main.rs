//! The `vfio-display` command line.

// First: the output macros are defined in `app` and used by `cli`.
#[macro_use]
mod app;
mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
