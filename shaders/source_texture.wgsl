// The raw framebuffer as an R32Uint texture, uploaded by the CPU path (one texel per word,
// one texture row per framebuffer row).
@group(0) @binding(2) var src: texture_2d<u32>;

fn load_word(i: u32) -> u32 {
    if (i >= p.words) {
        return 0u;
    }
    return textureLoad(src, vec2<u32>(i % p.words_per_row, i / p.words_per_row), 0).r;
}
