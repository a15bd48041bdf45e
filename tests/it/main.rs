//! The integration tests that run the program (or need its features): one test binary, so that
//! the program and the library are linked once for all of them. Each module is one subject;
//! `cargo test --test it serve::` runs one. The library-only tests (`tests/pump.rs`,
//! `tests/session.rs`, `tests/uapi_layout.rs`, `tests/shaders.rs`) stay binaries of their own,
//! so that `cargo test --no-default-features` still runs them.
#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failure

mod common;

mod attach_lifetime;
mod bench;
mod check;
mod cli;
mod cli_usability;
mod edid;
mod edid_ddc;
mod edid_fields;
mod edid_linux;
mod edid_rules;
mod edid_structure;
mod faults;
mod gpu;
mod guest_ci;
mod gvt;
mod input;
mod json_outputs;
mod needle_tinycv;
mod record;
mod removal;
mod safe_io;
mod serve;
mod serve_control;
mod serve_fleet;
mod serve_fleet_attacks;
mod serve_limits;
mod serve_listen;
mod serve_proxies;
mod serve_security;
mod serve_tigervnc;
mod shared;
mod sim_frames;
mod soak;
mod viewer;
