// Unpacks one guest framebuffer into RGBA8, for every supported DRM fourcc. The raw bytes come
// from `load_word` (a storage buffer aliasing the dma-buf, or an R32Uint texture the CPU path
// uploaded), prepended by the render layer. The integer arithmetic mirrors `fourcc.rs` exactly,
// so the result equals the CPU path bit for bit.

struct Params {
    width: u32,
    height: u32,
    stride: u32,
    offset: u32,
    format: u32,
    // Words the source holds: reads beyond it give 0 (never out of bounds).
    words: u32,
    // For a texture source: its width in words.
    words_per_row: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var dst: texture_storage_2d<rgba8unorm, write>;

fn byte_at(addr: u32) -> u32 {
    return (load_word(addr >> 2u) >> ((addr & 3u) * 8u)) & 0xffu;
}

fn u16_at(addr: u32) -> u32 {
    return byte_at(addr) | (byte_at(addr + 1u) << 8u);
}

fn u32_at(addr: u32) -> u32 {
    if ((addr & 3u) == 0u) {
        return load_word(addr >> 2u);
    }
    return byte_at(addr) | (byte_at(addr + 1u) << 8u) | (byte_at(addr + 2u) << 16u)
        | (byte_at(addr + 3u) << 24u);
}

fn b(v: u32, i: u32) -> u32 {
    return (v >> (i * 8u)) & 0xffu;
}

fn expand5(v: u32) -> u32 {
    return ((v << 3u) | (v >> 2u)) & 0xffu;
}

fn expand6(v: u32) -> u32 {
    return ((v << 2u) | (v >> 4u)) & 0xffu;
}

// Format codes, in the order of `render::formats::SHADER_FORMATS`.
fn decode(addr: u32, format: u32) -> vec4<u32> {
    switch format {
        // XRGB8888, ARGB8888: bytes B G R X/A
        case 0u: { let v = u32_at(addr); return vec4<u32>(b(v, 2u), b(v, 1u), b(v, 0u), 255u); }
        case 1u: { let v = u32_at(addr); return vec4<u32>(b(v, 2u), b(v, 1u), b(v, 0u), b(v, 3u)); }
        // XBGR8888, ABGR8888: bytes R G B X/A
        case 2u: { let v = u32_at(addr); return vec4<u32>(b(v, 0u), b(v, 1u), b(v, 2u), 255u); }
        case 3u: { let v = u32_at(addr); return vec4<u32>(b(v, 0u), b(v, 1u), b(v, 2u), b(v, 3u)); }
        // RGBX8888, RGBA8888: bytes X/A B G R
        case 4u: { let v = u32_at(addr); return vec4<u32>(b(v, 3u), b(v, 2u), b(v, 1u), 255u); }
        case 5u: { let v = u32_at(addr); return vec4<u32>(b(v, 3u), b(v, 2u), b(v, 1u), b(v, 0u)); }
        // BGRX8888, BGRA8888: bytes X/A R G B
        case 6u: { let v = u32_at(addr); return vec4<u32>(b(v, 1u), b(v, 2u), b(v, 3u), 255u); }
        case 7u: { let v = u32_at(addr); return vec4<u32>(b(v, 1u), b(v, 2u), b(v, 3u), b(v, 0u)); }
        // RGB565, BGR565
        case 8u, 9u: {
            let v = u16_at(addr);
            let hi = expand5(v >> 11u);
            let mid = expand6((v >> 5u) & 0x3fu);
            let lo = expand5(v & 0x1fu);
            if (format == 8u) {
                return vec4<u32>(hi, mid, lo, 255u);
            }
            return vec4<u32>(lo, mid, hi, 255u);
        }
        // XRGB2101010, XBGR2101010, ARGB2101010, ABGR2101010
        case 10u, 11u, 12u, 13u: {
            let v = u32_at(addr);
            let hi = ((v >> 20u) & 0x3ffu) >> 2u;
            let mid = ((v >> 10u) & 0x3ffu) >> 2u;
            let lo = (v & 0x3ffu) >> 2u;
            var a = 255u;
            if (format >= 12u) {
                a = (v >> 30u) * 85u;
            }
            if (format == 10u || format == 12u) {
                return vec4<u32>(hi, mid, lo, a);
            }
            return vec4<u32>(lo, mid, hi, a);
        }
        // RGB888: bytes B G R; BGR888: bytes R G B
        case 14u: { return vec4<u32>(byte_at(addr + 2u), byte_at(addr + 1u), byte_at(addr), 255u); }
        case 15u: { return vec4<u32>(byte_at(addr), byte_at(addr + 1u), byte_at(addr + 2u), 255u); }
        default: { return vec4<u32>(255u, 0u, 255u, 255u); }
    }
}

fn bytes_per_pixel(format: u32) -> u32 {
    if (format == 8u || format == 9u) {
        return 2u;
    }
    if (format >= 14u) {
        return 3u;
    }
    return 4u;
}

@compute @workgroup_size(8, 8)
fn unpack(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x >= p.width || id.y >= p.height) {
        return;
    }
    let addr = p.offset + id.y * p.stride + id.x * bytes_per_pixel(p.format);
    let px = decode(addr, p.format);
    textureStore(dst, vec2<u32>(id.x, id.y), vec4<f32>(px) / 255.0);
}
