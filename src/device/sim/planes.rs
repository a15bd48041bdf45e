//! The simulator's planes: what `VFIO_DEVICE_QUERY_GFX_PLANE` reports for the primary and the
//! cursor plane (with the plane faults applied), and the dma-bufs `VFIO_DEVICE_GET_GFX_DMABUF`
//! exports from the guest's buffers.

use super::desktop::{CURSOR_HOTSPOT, CURSOR_SIZE};
use super::encode::buffer_rows;
use super::fault::SimFault;
use super::regions::{CURSOR_REGION, FB_REGION};
use super::state::{SimState, sim_errno};
use crate::device::Result;
use crate::vfio::{DmaBuf, PlaneInfo, PlaneSource, PlaneType};
use drm_fourcc::DrmFourcc;
use nix::errno::Errno;
use std::sync::Arc;

impl SimState {
    fn primary_plane(&self) -> PlaneInfo {
        let (buffer_id, size) = match self.cfg.source {
            // GVT-g's rule: the size covers the height rounded up to whole tile rows.
            PlaneSource::DmaBuf => (
                self.flip[self.front].id,
                self.stride * buffer_rows(self.height, self.cfg.tiling),
            ),
            // Like mdpy, the plane's size is the whole region.
            PlaneSource::Region => (
                FB_REGION,
                self.fb_region
                    .as_ref()
                    .map_or(0, |r| r.size().min(u64::from(u32::MAX)) as u32),
            ),
        };
        PlaneInfo {
            plane_type: PlaneType::Primary,
            source: self.cfg.source,
            drm_format: self.format.fourcc,
            modifier: self.cfg.tiling.modifier(),
            width: self.width,
            height: self.height,
            stride: self.stride,
            size,
            x_pos: 0,
            y_pos: 0,
            x_hot: 0,
            y_hot: 0,
            buffer_id,
            offset: self.cfg.plane_offset,
        }
    }

    fn cursor_plane(&self) -> PlaneInfo {
        let argb = DrmFourcc::Argb8888 as u32;
        PlaneInfo {
            plane_type: PlaneType::Cursor,
            source: self.cfg.source,
            drm_format: argb,
            modifier: 0,
            width: CURSOR_SIZE,
            height: CURSOR_SIZE,
            stride: CURSOR_SIZE * 4,
            size: CURSOR_SIZE * CURSOR_SIZE * 4,
            x_pos: self.pointer.x,
            y_pos: self.pointer.y,
            x_hot: CURSOR_HOTSPOT.x,
            y_hot: CURSOR_HOTSPOT.y,
            buffer_id: match self.cfg.source {
                PlaneSource::DmaBuf => self.cursor.id,
                PlaneSource::Region => CURSOR_REGION,
            },
            offset: 0,
        }
    }

    /// `VFIO_DEVICE_QUERY_GFX_PLANE`: the plane as the guest shows it now, after what the
    /// configuration schedules and with the injected fault applied.
    pub(super) fn query_plane(
        &mut self,
        plane_type: PlaneType,
        source: PlaneSource,
    ) -> Result<PlaneInfo> {
        let target = format!("{plane_type} plane ({source})");
        if self.cfg.source != source {
            return Err(sim_errno(
                "VFIO_DEVICE_QUERY_GFX_PLANE",
                target,
                Errno::EINVAL,
            ));
        }
        self.scheduled_events()?;
        let fault = self.cfg.fault;
        if let Some(errno) = fault.query_errno() {
            return Err(sim_errno("VFIO_DEVICE_QUERY_GFX_PLANE", target, errno));
        }
        if fault == SimFault::EnomemAfterModeChange && std::mem::take(&mut self.fresh_mode) {
            return Err(sim_errno(
                "VFIO_DEVICE_QUERY_GFX_PLANE",
                target,
                Errno::ENOMEM,
            ));
        }
        if plane_type == PlaneType::Cursor {
            return Ok(self.cursor_plane());
        }
        self.primary_queries += 1;
        if fault == SimFault::PlaneFlap && self.primary_queries.is_multiple_of(2) {
            return Ok(PlaneInfo::off(PlaneType::Primary, source));
        }
        if fault == SimFault::NewIdEveryFrame && source == PlaneSource::DmaBuf {
            let id = self.take_id();
            let front = self.front;
            self.flip[front].id = id;
        }
        Ok(fault.corrupt_plane(self.primary_plane()))
    }

    /// `VFIO_DEVICE_GET_GFX_DMABUF`: a dma-buf of one of the guest's buffers, from the export
    /// cache when one is still open.
    pub(super) fn dmabuf(&mut self, dmabuf_id: u32) -> Result<Arc<DmaBuf>> {
        self.scheduled_events()?;
        let buffer = self
            .flip
            .iter()
            .chain(std::iter::once(&self.cursor))
            .find(|b| b.id == dmabuf_id && self.cfg.source == PlaneSource::DmaBuf)
            .ok_or_else(|| {
                sim_errno(
                    "VFIO_DEVICE_GET_GFX_DMABUF",
                    format!("dmabuf_id {dmabuf_id}"),
                    Errno::ENOENT,
                )
            })?;
        let refused = self.cfg.cpu_map_refused;
        Ok(self.exports.get_or_make(dmabuf_id, || {
            let buf = DmaBuf::new(buffer.mem.export()?, dmabuf_id)?;
            Ok(if refused {
                buf.refusing_cpu_map(Errno::ENODEV)
            } else {
                buf
            })
        })?)
    }
}
