//! The plane description `VFIO_DEVICE_QUERY_GFX_PLANE` returns, as plain data. Nothing here is
//! validated: the `frame` layer checks every field before any byte is read.

use crate::uapi::{
    DRM_PLANE_TYPE_CURSOR, DRM_PLANE_TYPE_PRIMARY, VFIO_GFX_PLANE_TYPE_DMABUF,
    VFIO_GFX_PLANE_TYPE_REGION, vfio_device_gfx_plane_info,
};
use serde::{Deserialize, Serialize};

/// Which plane to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaneType {
    /// The primary plane: the screen.
    Primary,
    /// The cursor plane.
    Cursor,
}

impl PlaneType {
    /// The `drm_plane_type` value of the query.
    pub fn drm_plane_type(self) -> u32 {
        match self {
            PlaneType::Primary => DRM_PLANE_TYPE_PRIMARY,
            PlaneType::Cursor => DRM_PLANE_TYPE_CURSOR,
        }
    }
}

impl std::fmt::Display for PlaneType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PlaneType::Primary => "primary",
            PlaneType::Cursor => "cursor",
        })
    }
}

/// How a plane's pixels are reached: an exported dma-buf, or a device region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaneSource {
    #[serde(rename = "dmabuf")]
    /// Exported as dma-bufs (`VFIO_GFX_PLANE_TYPE_DMABUF`).
    DmaBuf,
    /// A device region (`VFIO_GFX_PLANE_TYPE_REGION`).
    Region,
}

impl PlaneSource {
    /// The query's flag for this source.
    pub fn query_flag(self) -> u32 {
        match self {
            PlaneSource::DmaBuf => VFIO_GFX_PLANE_TYPE_DMABUF,
            PlaneSource::Region => VFIO_GFX_PLANE_TYPE_REGION,
        }
    }
}

impl std::fmt::Display for PlaneSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PlaneSource::DmaBuf => "dmabuf",
            PlaneSource::Region => "region",
        })
    }
}

/// Which plane sources a device answered "supported" to (the PROBE queries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PlaneSupport {
    /// The dma-buf probe succeeded.
    pub dmabuf: bool,
    /// The region probe succeeded.
    pub region: bool,
}

impl PlaneSupport {
    /// The source to use: dma-buf where offered (zero copy is possible), else region.
    pub fn preferred(self) -> Option<PlaneSource> {
        if self.dmabuf {
            Some(PlaneSource::DmaBuf)
        } else if self.region {
            Some(PlaneSource::Region)
        } else {
            None
        }
    }
}

/// One answer of `VFIO_DEVICE_QUERY_GFX_PLANE`, untrusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaneInfo {
    /// Which plane was asked for.
    pub plane_type: PlaneType,
    /// How its pixels are reached.
    pub source: PlaneSource,
    /// DRM fourcc; 0 means "no plane".
    pub drm_format: u32,
    /// DRM format modifier (0: linear).
    pub modifier: u64,
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// Bytes per row.
    pub stride: u32,
    /// Bytes of the plane; 0 means "no plane". mdpy reports the whole region here.
    pub size: u32,
    /// Cursor position, left edge.
    pub x_pos: u32,
    /// Cursor position, top edge.
    pub y_pos: u32,
    /// Hotspot inside the cursor (`NO_HOTSPOT` when none).
    pub x_hot: u32,
    /// Hotspot inside the cursor (`NO_HOTSPOT` when none).
    pub y_hot: u32,
    /// `dmabuf_id` for a dma-buf plane, `region_index` for a region plane.
    pub buffer_id: u32,
    /// Byte offset of the first pixel in the buffer. The VFIO ABI has no such field (the kernel's
    /// planes start at 0); the simulator uses it to place a framebuffer inside a larger buffer.
    pub offset: u64,
}

impl PlaneInfo {
    /// The "no plane" state: the guest disabled the display, or uses a depth the device cannot
    /// describe, or there is no cursor. Not an error.
    pub fn is_off(&self) -> bool {
        self.drm_format == 0 || self.size == 0
    }

    /// Which buffer holds the pixels, for humans: "dmabuf_id 3" or "region 16".
    pub fn buffer_label(&self) -> String {
        match self.source {
            PlaneSource::DmaBuf => format!("dmabuf_id {}", self.buffer_id),
            PlaneSource::Region => format!("region {}", self.buffer_id),
        }
    }

    /// An empty plane of the given kind.
    pub fn off(plane_type: PlaneType, source: PlaneSource) -> Self {
        PlaneInfo {
            plane_type,
            source,
            drm_format: 0,
            modifier: 0,
            width: 0,
            height: 0,
            stride: 0,
            size: 0,
            x_pos: 0,
            y_pos: 0,
            x_hot: 0,
            y_hot: 0,
            buffer_id: 0,
            offset: 0,
        }
    }

    /// The plane in the kernel's answer; untrusted until validated.
    pub fn from_raw(
        raw: &vfio_device_gfx_plane_info,
        plane_type: PlaneType,
        source: PlaneSource,
    ) -> Self {
        // SAFETY: both union members are u32 at offset 0; every bit pattern is a valid u32.
        let buffer_id = unsafe { raw.__bindgen_anon_1.dmabuf_id };
        PlaneInfo {
            plane_type,
            source,
            drm_format: raw.drm_format,
            modifier: raw.drm_format_mod,
            width: raw.width,
            height: raw.height,
            stride: raw.stride,
            size: raw.size,
            x_pos: raw.x_pos,
            y_pos: raw.y_pos,
            x_hot: raw.x_hot,
            y_hot: raw.y_hot,
            buffer_id,
            offset: 0,
        }
    }
}
