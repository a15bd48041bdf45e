// Unpacks one guest framebuffer into RGBA8, for every supported DRM fourcc. The raw bytes come
// from `load_word` (a storage buffer aliasing the dma-buf, or an R32Uint texture the CPU path
// uploaded), prepended by the render layer. The integer arithmetic mirrors `fourcc.rs` and
// `tiling.rs` exactly, so the result equals the CPU path bit for bit.

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
    // How the bytes are arranged: 0 linear, 1 X tiles, 2 Y tiles, 3 Yf tiles (`Tiling`).
    tiling: u32,
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

// The byte offset of byte `x` of row `y`: `Tiling::offset` in tiling.rs, line for line. Tiles
// are 4 KiB, laid out row-major, a row of tiles `p.stride` bytes wide.
fn tiled_offset(x: u32, y: u32) -> u32 {
    switch p.tiling {
        // X: 512 bytes by 8 rows, rows one after another.
        case 1u: {
            return (y / 8u) * p.stride * 8u + (x / 512u) * 4096u + (y % 8u) * 512u + x % 512u;
        }
        // Y: 128 bytes by 32 rows, in eight 16-byte columns of 32 rows each.
        case 2u: {
            return (y / 32u) * p.stride * 32u + (x / 128u) * 4096u + ((x % 128u) / 16u) * 512u
                + (y % 32u) * 16u + x % 16u;
        }
        // Yf, 4-byte pixels: address bits x6 y4 x5 y3 x4 y2 y1 y0 x3 x2 x1 x0.
        case 3u: {
            let within = (x & 0xfu) | ((y & 0x3u) << 4u) | ((y & 0x4u) << 4u)
                | ((x & 0x10u) << 3u) | ((y & 0x8u) << 5u) | ((x & 0x20u) << 4u)
                | ((y & 0x10u) << 6u) | ((x & 0x40u) << 5u);
            return (y / 32u) * p.stride * 32u + (x / 128u) * 4096u + within;
        }
        default: {
            return y * p.stride + x;
        }
    }
}

// BT.601 limited range to RGB: `fourcc::yuv_to_rgb`, the same fixed point.
fn yuv_to_rgb(y: u32, u: u32, v: u32) -> vec3<u32> {
    let c = i32(y) - 16;
    let d = i32(u) - 128;
    let e = i32(v) - 128;
    let r = clamp((298 * c + 409 * e + 128) >> 8u, 0, 255);
    let g = clamp((298 * c - 100 * d - 208 * e + 128) >> 8u, 0, 255);
    let b = clamp((298 * c + 516 * d + 128) >> 8u, 0, 255);
    return vec3<u32>(u32(r), u32(g), u32(b));
}

// Format codes, in the order of `render::formats::SHADER_FORMATS`.
// `second` picks the second pixel of a YUV pair (whose bytes start at `addr`).
fn decode(addr: u32, format: u32, second: u32) -> vec4<u32> {
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
        // YUYV, YVYU, UYVY, VYUY: the byte offsets of Y0, Cb, Y1 and Cr in the pair.
        case 16u, 17u, 18u, 19u: {
            let v = u32_at(addr);
            var pos = vec4<u32>(0u, 1u, 2u, 3u);
            if (format == 17u) {
                pos = vec4<u32>(0u, 3u, 2u, 1u);
            } else if (format == 18u) {
                pos = vec4<u32>(1u, 0u, 3u, 2u);
            } else if (format == 19u) {
                pos = vec4<u32>(1u, 2u, 3u, 0u);
            }
            var luma = b(v, pos.x);
            if (second == 1u) {
                luma = b(v, pos.z);
            }
            return vec4<u32>(yuv_to_rgb(luma, b(v, pos.y), b(v, pos.w)), 255u);
        }
        default: { return vec4<u32>(255u, 0u, 255u, 255u); }
    }
}

fn bytes_per_pixel(format: u32) -> u32 {
    if (format == 8u || format == 9u) {
        return 2u;
    }
    if (format == 14u || format == 15u) {
        return 3u;
    }
    if (format >= 16u) {
        return 2u;
    }
    return 4u;
}

@compute @workgroup_size(8, 8)
fn unpack(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x >= p.width || id.y >= p.height) {
        return;
    }
    // A YUV pixel is read from its pair's first byte.
    var x_byte = id.x * bytes_per_pixel(p.format);
    var second = 0u;
    if (p.format >= 16u) {
        x_byte = (id.x >> 1u) * 4u;
        second = id.x & 1u;
    }
    let addr = p.offset + tiled_offset(x_byte, id.y);
    let px = decode(addr, p.format, second);
    textureStore(dst, vec2<u32>(id.x, id.y), vec4<f32>(px) / 255.0);
}
