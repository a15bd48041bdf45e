// Draws a frame texture into a rectangle of the target: the primary plane (replacing what is
// there) and the cursor (alpha blended by the pipeline).

struct Quad {
    // Target rectangle in normalised device coordinates: x0, y0 (top left), x1, y1.
    rect: vec4<f32>,
}

@group(0) @binding(0) var<uniform> quad: Quad;
@group(0) @binding(1) var tex: texture_2d<f32>;
@group(0) @binding(2) var samp: sampler;

struct VertexOut {
    @builtin(position) position: vec4<f32>,
    @location(0) uv: vec2<f32>,
}

@vertex
fn vs(@builtin(vertex_index) i: u32) -> VertexOut {
    // Two triangles covering the rectangle.
    var corners = array<vec2<f32>, 6>(
        vec2<f32>(0.0, 0.0), vec2<f32>(1.0, 0.0), vec2<f32>(0.0, 1.0),
        vec2<f32>(0.0, 1.0), vec2<f32>(1.0, 0.0), vec2<f32>(1.0, 1.0),
    );
    let c = corners[i];
    var out: VertexOut;
    out.position = vec4<f32>(mix(quad.rect.x, quad.rect.z, c.x), mix(quad.rect.y, quad.rect.w, c.y), 0.0, 1.0);
    out.uv = c;
    return out;
}

@fragment
fn fs(in: VertexOut) -> @location(0) vec4<f32> {
    return textureSample(tex, samp, in.uv);
}
