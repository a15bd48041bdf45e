// The dmabuf path: the framebuffer imported as a texture the GPU samples natively; `convert`
// copies it into the frame texture, forcing alpha opaque for the X formats (p.format == 1).
@group(0) @binding(2) var src_image: texture_2d<f32>;

fn load_word(i: u32) -> u32 {
    return 0u;
}

@compute @workgroup_size(8, 8)
fn convert(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x >= p.width || id.y >= p.height) {
        return;
    }
    var px = textureLoad(src_image, vec2<u32>(id.x, id.y), 0);
    if (p.format == 1u) {
        px.a = 1.0;
    }
    textureStore(dst, vec2<u32>(id.x, id.y), px);
}
