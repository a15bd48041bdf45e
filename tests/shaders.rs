//! Every WGSL module the renderer compiles (from the top-level `shaders/` folder) parses and
//! validates with naga on its own, without a GPU: a shader error is a test failure with naga's
//! message and position, not a pipeline failure on the user's machine.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is a failure

use vfio_display::render::shader_modules;
use wgpu::naga;

#[test]
fn every_shader_module_validates() {
    let modules = shader_modules();
    assert_eq!(modules.len(), 4, "a module was added: validate it here too");
    for (name, source) in modules {
        let module = naga::front::wgsl::parse_str(&source)
            .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(&source)));
        let mut validator = naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::default(),
        );
        if let Err(e) = validator.validate(&module) {
            panic!("{name}: {}", e.emit_to_string(&source));
        }
        assert!(!module.entry_points.is_empty(), "{name} has no entry point");
    }
}

#[test]
fn a_broken_shader_is_caught() {
    // The check above can fail: a type error is reported, not accepted.
    let broken = "@compute @workgroup_size(1) fn main() { let x: u32 = 1.5; }";
    let module = naga::front::wgsl::parse_str(broken);
    let invalid = match module {
        Err(_) => true,
        Ok(m) => naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::default(),
        )
        .validate(&m)
        .is_err(),
    };
    assert!(invalid);
}
