//! Reading a rendered RGBA8 texture back into memory (screenshots, tests).

use super::{GpuContext, RenderError};
use crate::frame::RgbaImage;

/// Copies `texture` (Rgba8Unorm, COPY_SRC) into an image, dropping the row padding the copy
/// needs (rows of a buffer copy are 256-byte aligned).
pub fn read_rgba(ctx: &GpuContext, texture: &wgpu::Texture) -> Result<RgbaImage, RenderError> {
    let (width, height) = (texture.width(), texture.height());
    let row = width as usize * 4;
    let padded = row.next_multiple_of(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT as usize);
    let buffer = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("readback"),
        size: (padded * height as usize) as u64,
        usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
        mapped_at_creation: false,
    });
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    encoder.copy_texture_to_buffer(
        wgpu::TexelCopyTextureInfo {
            texture,
            mip_level: 0,
            origin: wgpu::Origin3d::ZERO,
            aspect: wgpu::TextureAspect::All,
        },
        wgpu::TexelCopyBufferInfo {
            buffer: &buffer,
            layout: wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(padded as u32),
                rows_per_image: Some(height),
            },
        },
        texture.size(),
    );
    ctx.queue.submit([encoder.finish()]);
    let (tx, rx) = std::sync::mpsc::channel();
    buffer.map_async(wgpu::MapMode::Read, .., move |result| {
        let _ = tx.send(result);
    });
    ctx.device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| RenderError::Readback(e.into()))?;
    rx.recv()
        .map_err(|e| RenderError::Readback(Box::new(e)))?
        .map_err(|e| RenderError::Readback(e.into()))?;
    let mut image = RgbaImage::new(width, height);
    {
        let mapped = buffer
            .get_mapped_range(..)
            .map_err(|e| RenderError::Readback(e.into()))?;
        for (dst, src) in image.data.chunks_exact_mut(row).zip(mapped.chunks(padded)) {
            dst.copy_from_slice(&src[..row]);
        }
    }
    buffer.unmap();
    Ok(image)
}
