// The raw framebuffer as a storage buffer: the GPU's copy of the imported dma-buf's frame.
@group(0) @binding(2) var<storage, read> src: array<u32>;

fn load_word(i: u32) -> u32 {
    if (i >= p.words) {
        return 0u;
    }
    return src[i];
}
