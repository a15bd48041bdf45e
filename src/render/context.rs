//! The GPU: a wgpu instance, adapter, device and queue on Vulkan, and which import paths the
//! adapter offers.

use super::RenderError;
use serde::{Deserialize, Serialize};
use std::ffi::CStr;

/// Which import paths this GPU offers (the CPU path always works).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportCaps {
    /// dma-buf as a texture (VK_EXT_external_memory_dma_buf + VK_EXT_image_drm_format_modifier).
    pub dmabuf: bool,
    /// dma-buf as a buffer (VK_KHR_external_memory_fd + VK_EXT_external_memory_dma_buf).
    pub buffer: bool,
}

/// What the report names the GPU as.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdapterReport {
    /// The adapter's name.
    pub name: String,
    /// Its driver and version.
    pub driver: String,
    /// Integrated, discrete, CPU (lavapipe), ...
    pub device_type: String,
    /// The import paths it offers.
    pub import_paths: Vec<String>,
}

/// An open GPU device.
#[derive(Debug)]
pub struct GpuContext {
    /// The wgpu instance.
    pub instance: wgpu::Instance,
    /// The adapter.
    pub adapter: wgpu::Adapter,
    /// The device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// The dma-buf import capabilities.
    pub caps: ImportCaps,
}

fn has_extension(extensions: &[&CStr], name: &CStr) -> bool {
    extensions.contains(&name)
}

impl GpuContext {
    /// A device for offscreen work (screenshots, tests, benchmarks).
    pub fn headless() -> Result<Self, RenderError> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: wgpu::Backends::VULKAN,
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        Self::with_instance(instance, None)
    }

    /// A device on `instance` that can present to `surface`, if given.
    pub fn with_instance(
        instance: wgpu::Instance,
        surface: Option<&wgpu::Surface<'_>>,
    ) -> Result<Self, RenderError> {
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            force_fallback_adapter: false,
            compatible_surface: surface,
            apply_limit_buckets: false,
        }))
        .map_err(|_| RenderError::NoAdapter)?;
        let info = adapter.get_info();
        let mut features = wgpu::Features::empty();
        if adapter
            .features()
            .contains(wgpu::Features::VULKAN_EXTERNAL_MEMORY_DMA_BUF)
        {
            features |= wgpu::Features::VULKAN_EXTERNAL_MEMORY_DMA_BUF;
        }
        // The adapter's own limits: framebuffers up to its largest texture, dma-bufs up to its
        // largest storage binding.
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("vfio-display"),
            required_features: features,
            required_limits: adapter.limits(),
            ..Default::default()
        }))
        .map_err(|source| RenderError::RequestDevice {
            adapter: info.name.clone(),
            source,
        })?;
        // SAFETY: the hal device is only read (its enabled extension list) while the guard
        // lives; nothing is destroyed through it.
        let extensions: Vec<&'static CStr> = unsafe {
            device
                .as_hal::<wgpu::hal::api::Vulkan>()
                .map(|d| d.enabled_device_extensions().to_vec())
                .unwrap_or_default()
        };
        let fd = has_extension(&extensions, ash::khr::external_memory_fd::NAME);
        let dma_buf = has_extension(&extensions, ash::ext::external_memory_dma_buf::NAME);
        let caps = ImportCaps {
            dmabuf: device
                .features()
                .contains(wgpu::Features::VULKAN_EXTERNAL_MEMORY_DMA_BUF),
            buffer: fd && dma_buf,
        };
        tracing::info!(
            "GPU: {} ({:?}, {}); import paths: dmabuf {}, buffer {}, cpu yes",
            info.name,
            info.device_type,
            info.driver,
            caps.dmabuf,
            caps.buffer
        );
        Ok(GpuContext {
            instance,
            adapter,
            device,
            queue,
            caps,
        })
    }

    /// The adapter's name.
    pub fn adapter_name(&self) -> String {
        self.adapter.get_info().name
    }

    /// The adapter as reported by `info --gpu`.
    pub fn report(&self) -> AdapterReport {
        let info = self.adapter.get_info();
        let mut import_paths = Vec::new();
        if self.caps.dmabuf {
            import_paths.push("dmabuf".into());
        }
        if self.caps.buffer {
            import_paths.push("buffer".into());
        }
        import_paths.push("cpu".into());
        AdapterReport {
            name: info.name,
            driver: format!("{} {}", info.driver, info.driver_info),
            device_type: format!("{:?}", info.device_type),
            import_paths,
        }
    }

    /// Waits until the GPU finished everything submitted.
    pub fn wait_idle(&self) {
        let _ = self.device.poll(wgpu::PollType::wait_indefinitely());
    }
}
