//! The GPU the tests share: Mesa's lavapipe in CI, opened once per test binary.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use std::sync::OnceLock;
use vfio_display::render::GpuContext;

/// The headless GPU context, opened on first use.
pub fn gpu() -> &'static GpuContext {
    static GPU: OnceLock<GpuContext> = OnceLock::new();
    GPU.get_or_init(|| {
        GpuContext::headless().unwrap_or_else(|e| {
            panic!("{e} (CI installs mesa-vulkan-drivers from bookworm-backports)")
        })
    })
}
