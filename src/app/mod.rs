//! The applications: the viewer, the benchmark, and what every command shares (the output
//! writer, bounded input, signals, statistics). They take plain option structs and never import
//! `cli`, which parses arguments into those structs and prints results.

// Without the viewer (the headless program) a few helpers only it uses are left unused.
#![cfg_attr(not(feature = "viewer"), allow(dead_code, unused_imports))]

// First: the output macros (`outln!`, `errln!`) are used by every module below and by `cli`.
#[macro_use]
pub mod output;
pub mod bench;
pub mod check;
pub mod cpu_time;
pub mod edid;
pub mod guest_input;
pub mod input;
pub mod removal;
pub mod screenshot;
pub mod serve;
// unsafe: installing signal handlers, re-raising signals
#[allow(unsafe_code)]
pub mod signals;
pub mod stats;
pub mod target;
pub mod watch;
#[cfg(feature = "viewer")]
pub mod viewer;
pub mod vmm;
