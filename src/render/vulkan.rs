//! The Vulkan-only imports wgpu has no API for: a dma-buf fd as a storage buffer
//! (VK_EXT_external_memory_dma_buf), and as a texture with a DRM modifier (wgpu-hal's
//! `texture_from_dmabuf_fd`). This is the only file of the render layer with `unsafe`.

use super::GpuContext;
use super::error::ImportFailure;
use crate::geometry::Size;
use ash::vk;
use std::os::fd::{AsRawFd, BorrowedFd, IntoRawFd};
use wgpu::hal::api::Vulkan;

/// Imports the dma-buf behind `fd` (`size` bytes) as a storage buffer that aliases its memory:
/// what the guest writes is what the GPU reads, without a copy.
pub fn import_buffer(
    ctx: &GpuContext,
    fd: BorrowedFd<'_>,
    size: u64,
) -> Result<wgpu::Buffer, ImportFailure> {
    // Storage buffers are read in 4-byte words.
    let size = size & !3;
    if size == 0 {
        return Err(ImportFailure::Empty);
    }
    // Vulkan takes ownership of the fd it imports: give it a duplicate.
    let fd = fd.try_clone_to_owned().map_err(ImportFailure::Dup)?;
    let handle = vk::ExternalMemoryHandleTypeFlags::DMA_BUF_EXT;
    let (buffer, memory) = {
        // SAFETY: the hal device guard is held only for these Vulkan calls; every handle created
        // here is either handed to wgpu below or destroyed by `Unbound` on the error path.
        let hal = unsafe { ctx.device.as_hal::<Vulkan>() }.ok_or(ImportFailure::NotVulkan)?;
        let raw = hal.raw_device();
        let instance = hal.shared_instance().raw_instance();
        let ext_fd = ash::khr::external_memory_fd::Device::new(instance, raw);
        let mut external = vk::ExternalMemoryBufferCreateInfo::default().handle_types(handle);
        let info = vk::BufferCreateInfo::default()
            .size(size)
            .usage(vk::BufferUsageFlags::STORAGE_BUFFER | vk::BufferUsageFlags::TRANSFER_SRC)
            .sharing_mode(vk::SharingMode::EXCLUSIVE)
            .push_next(&mut external);
        // SAFETY: a valid create info on a live device.
        let buffer =
            unsafe { raw.create_buffer(&info, None) }.map_err(|result| ImportFailure::Vulkan {
                call: "vkCreateBuffer",
                result,
            })?;
        let unbound = Unbound { raw, buffer };
        // SAFETY: the buffer is live.
        let requirements = unsafe { raw.get_buffer_memory_requirements(buffer) };
        if requirements.size > size.next_multiple_of(4096) {
            return Err(ImportFailure::TooSmall {
                needed: requirements.size,
                size,
            });
        }
        let mut fd_props = vk::MemoryFdPropertiesKHR::default();
        // SAFETY: fd is an open dma-buf fd; the call only inspects it.
        unsafe { ext_fd.get_memory_fd_properties(handle, fd.as_raw_fd(), &mut fd_props) }.map_err(
            |result| ImportFailure::Vulkan {
                call: "vkGetMemoryFdPropertiesKHR",
                result,
            },
        )?;
        // SAFETY: a query on the device's own physical device.
        let mem_props =
            unsafe { instance.get_physical_device_memory_properties(hal.raw_physical_device()) };
        let bits = requirements.memory_type_bits & fd_props.memory_type_bits;
        let type_index = (0..mem_props.memory_type_count)
            .find(|i| bits & (1 << i) != 0)
            .ok_or(ImportFailure::NoMemoryType {
                buffer_types: requirements.memory_type_bits,
                dmabuf_types: fd_props.memory_type_bits,
            })?;
        let mut import = vk::ImportMemoryFdInfoKHR::default()
            .handle_type(handle)
            .fd(fd.as_raw_fd());
        let mut dedicated = vk::MemoryDedicatedAllocateInfo::default().buffer(buffer);
        let alloc = vk::MemoryAllocateInfo::default()
            .allocation_size(requirements.size)
            .memory_type_index(type_index)
            .push_next(&mut import)
            .push_next(&mut dedicated);
        // SAFETY: a valid allocate info importing an open fd.
        let memory = unsafe { raw.allocate_memory(&alloc, None) }.map_err(|result| {
            ImportFailure::Vulkan {
                call: "vkAllocateMemory (dma-buf import)",
                result,
            }
        })?;
        // Vulkan owns the fd now: forget our handle to it.
        let _ = fd.into_raw_fd();
        // SAFETY: buffer and memory are live and the memory is large enough.
        if let Err(e) = unsafe { raw.bind_buffer_memory(buffer, memory, 0) } {
            // SAFETY: the memory was allocated above and is unused.
            unsafe { raw.free_memory(memory, None) };
            return Err(ImportFailure::Vulkan {
                call: "vkBindBufferMemory",
                result: e,
            });
        }
        std::mem::forget(unbound);
        (buffer, memory)
    };
    // SAFETY: buffer and memory were created on this device, the memory is bound, and wgpu
    // becomes their only owner (it destroys both when the wgpu buffer drops).
    let hal_buffer =
        unsafe { wgpu::hal::vulkan::Buffer::from_raw_managed(buffer, memory, 0, size) };
    // SAFETY: created on this device with the usage the descriptor states; never mapped.
    let buffer = unsafe {
        ctx.device.create_buffer_from_hal::<Vulkan>(
            hal_buffer,
            &wgpu::BufferDescriptor {
                label: Some("imported dma-buf"),
                size,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            },
        )
    };
    Ok(buffer)
}

/// Destroys a buffer that never made it to wgpu.
struct Unbound<'a> {
    raw: &'a ash::Device,
    buffer: vk::Buffer,
}

impl Drop for Unbound<'_> {
    fn drop(&mut self) {
        // SAFETY: the buffer was created on this device and nothing uses it.
        unsafe { self.raw.destroy_buffer(self.buffer, None) };
    }
}

/// Imports the dma-buf behind `fd` as a texture of `format` with the DRM `modifier`, `stride`
/// and `offset` (wgpu-hal's import; needs VULKAN_EXTERNAL_MEMORY_DMA_BUF).
pub fn import_texture(
    ctx: &GpuContext,
    fd: BorrowedFd<'_>,
    format: wgpu::TextureFormat,
    size: Size,
    modifier: u64,
    stride: u64,
    offset: u64,
) -> Result<wgpu::Texture, ImportFailure> {
    let fd = fd.try_clone_to_owned().map_err(ImportFailure::Dup)?;
    let extent = wgpu::Extent3d {
        width: size.width,
        height: size.height,
        depth_or_array_layers: 1,
    };
    let usage = wgpu::TextureUses::RESOURCE;
    let hal_desc = wgpu::hal::TextureDescriptor {
        label: Some("imported dma-buf texture"),
        size: extent,
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage,
        memory_flags: wgpu::hal::MemoryFlags::empty(),
        view_formats: vec![],
    };
    let hal_texture = {
        // SAFETY: the guard is held for the import only and no other wgpu call is made while
        // it is.
        let hal = unsafe { ctx.device.as_hal::<Vulkan>() }.ok_or(ImportFailure::NotVulkan)?;
        // SAFETY: the fd is a dma-buf of this layout (validated by the caller: stride, offset
        // and size fit the buffer), and wgpu-hal owns (or closes) the duplicate it is given.
        unsafe { hal.texture_from_dmabuf_fd(fd, &hal_desc, modifier, stride, offset) }
            .map_err(|e| ImportFailure::Texture(e.to_string()))?
    };
    let desc = wgpu::TextureDescriptor {
        label: Some("imported dma-buf texture"),
        size: extent,
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage: wgpu::TextureUsages::TEXTURE_BINDING,
        view_formats: &[],
    };
    // SAFETY: created on this device from `hal_desc`, which matches `desc`; its contents are
    // the dma-buf's (initialized by the guest).
    Ok(unsafe {
        ctx.device.create_texture_from_hal::<Vulkan>(
            hal_texture,
            &desc,
            wgpu::TextureUses::UNINITIALIZED,
        )
    })
}
