//! Plane checks: PROBE, the primary and cursor planes' fields against their buffers, ids across
//! frames and mode changes, and the dma-buf exports.

use super::id;
use super::{Options, Recorder};
use crate::device::DisplayDevice;
use crate::fourcc;
use crate::frame::validate::MAX_SIDE;
use crate::tiling::Tiling;
use crate::uapi::NO_HOTSPOT;
use crate::vfio::{PlaneInfo, PlaneSource, PlaneType};
use nix::errno::Errno;
use std::collections::BTreeSet;
use std::time::Duration;

/// The two modes the checker sets. mbochs keeps a framebuffer per mode it has shown and fails
/// only the first query of a mode it has never shown, so the widths vary per run (with the
/// process id) to make each mode new to the device; the heights keep the two apart.
fn test_modes() -> [(u32, u32); 2] {
    let salt = std::process::id() % 20;
    [(640 + 8 * salt, 480), (784 - 8 * salt, 600)]
}

const NEEDS_DRIVER: &str =
    "needs a mode change: --drive bochs (the checker plays the guest), or the simulator";

fn query(
    dev: &dyn DisplayDevice,
    ty: PlaneType,
    src: PlaneSource,
) -> crate::device::Result<PlaneInfo> {
    dev.query_plane(ty, src)
}

/// A query that forgives one ENOMEM (reported by its own check), so the later checks see a plane.
fn query_retry(dev: &dyn DisplayDevice, src: PlaneSource) -> crate::device::Result<PlaneInfo> {
    match query(dev, PlaneType::Primary, src) {
        Err(e) if e.errno() == Some(Errno::ENOMEM) => query(dev, PlaneType::Primary, src),
        other => other,
    }
}

fn describe(p: &PlaneInfo) -> String {
    format!(
        "{} {}x{} stride {} size {} offset {} modifier {} {}",
        fourcc::describe(p.drm_format),
        p.width,
        p.height,
        p.stride,
        p.size,
        p.offset,
        fourcc::describe_modifier(p.modifier),
        p.buffer_label()
    )
}

pub(super) fn run(dev: &dyn DisplayDevice, opts: &Options<'_>, rec: &mut Recorder<'_>) {
    let Some(src) = probe(dev, rec) else { return };
    // The guest sets a first mode, and the first query after it must succeed.
    let mut first_query_evidence = Vec::new();
    if let Some(driver) = opts.driver {
        let (w, h) = test_modes()[0];
        match driver.set_mode(w, h) {
            Ok(()) => first_query_evidence.push(first_query(dev, src, &format!("{w}x{h}"))),
            Err(e) => {
                rec.fail(
                    id::PLANES_FIRST_QUERY_AFTER_MODE_CHANGE,
                    format!("the {} could not set {w}x{h}: {e}", driver.name()),
                );
            }
        }
    }
    let plane = match query_retry(dev, src) {
        Ok(p) => p,
        Err(e) => {
            rec.fail(id::PLANES_QUERY, e.to_string());
            return;
        }
    };
    rec.pass(id::PLANES_QUERY, format!("primary: {}", describe(&plane)));
    let ids = stable_ids(dev, src, plane, rec);
    let cursor = query(dev, PlaneType::Cursor, src);
    empty(&plane, cursor.as_ref().ok(), rec);
    if plane.is_off() {
        let why = "the primary plane is off (the guest shows nothing; --drive sets a mode)";
        for id in [
            id::PLANES_FOURCC,
            id::PLANES_MODIFIER,
            id::PLANES_STRIDE,
            id::PLANES_SIZE,
            id::PLANES_BOUNDS,
            id::REGIONS_PLANE_REGION,
            id::DMABUF_UNKNOWN_ID,
            id::DMABUF_SIZE,
            id::DMABUF_CPU_ACCESS,
            id::DMABUF_SECOND_EXPORT,
        ] {
            rec.skip(id, why);
        }
    } else {
        fields(dev, &plane, opts, rec);
    }
    cursor_checks(&plane, cursor, rec);
    mode_change(dev, src, opts, &ids, first_query_evidence, rec);
}

/// PROBE for both sources against real queries; returns the source to use.
fn probe(dev: &dyn DisplayDevice, rec: &mut Recorder<'_>) -> Option<PlaneSource> {
    let mut evidence = Vec::new();
    let mut wrong = Vec::new();
    let mut supported = Vec::new();
    for src in [PlaneSource::DmaBuf, PlaneSource::Region] {
        match dev.probe_planes(src) {
            Ok(yes) => {
                let q = query(dev, PlaneType::Primary, src);
                let refused = q.as_ref().err().and_then(|e| e.errno()) == Some(Errno::EINVAL);
                evidence.push(format!(
                    "{src}: probe {}, query {}",
                    if yes { "yes" } else { "no" },
                    match &q {
                        Ok(_) => "answers".to_string(),
                        Err(e) => e.errno().map_or(e.to_string(), |n| n.to_string()),
                    }
                ));
                if yes == refused {
                    wrong.push(src.to_string());
                }
                if yes {
                    supported.push(src);
                }
            }
            Err(e) => wrong.push(format!("{src}: PROBE failed: {e}")),
        }
    }
    if wrong.is_empty() {
        rec.pass(id::PLANES_PROBE, evidence.join("; "));
    } else {
        rec.fail(
            id::PLANES_PROBE,
            format!("{} (disagree: {})", evidence.join("; "), wrong.join(", ")),
        );
    }
    if supported.is_empty() {
        rec.skip(
            id::PLANES_QUERY,
            "the device describes no planes (PROBE says no to both)",
        );
    }
    supported.first().copied()
}

fn first_query(dev: &dyn DisplayDevice, src: PlaneSource, mode: &str) -> Result<String, String> {
    // The driver's very first answer: the real device's query retries ENOMEM, this one not.
    let answer = match dev.vfio() {
        Some(vfio) => vfio
            .query_plane_once(PlaneType::Primary, src)
            .map_err(crate::device::DeviceError::from),
        None => query(dev, PlaneType::Primary, src),
    };
    match answer {
        Ok(p) => Ok(format!("after {mode}: {}", describe(&p))),
        Err(e) => Err(format!("after {mode}: {e}")),
    }
}

/// Eight queries 15 ms apart: a flipping guest uses a few ids, never one per frame, and the
/// plane does not turn off and on by itself.
fn stable_ids(
    dev: &dyn DisplayDevice,
    src: PlaneSource,
    first: PlaneInfo,
    rec: &mut Recorder<'_>,
) -> BTreeSet<u32> {
    let mut ids = BTreeSet::new();
    let mut states = vec![!first.is_off()];
    if !first.is_off() {
        ids.insert(first.buffer_id);
    }
    let mut errors = Vec::new();
    for _ in 0..7 {
        std::thread::sleep(Duration::from_millis(15));
        match query_retry(dev, src) {
            Ok(p) => {
                states.push(!p.is_off());
                if !p.is_off() {
                    ids.insert(p.buffer_id);
                }
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    let flaps = states.windows(2).filter(|w| w[0] != w[1]).count();
    let evidence = format!("8 queries: ids {ids:?}, plane on/off {states:?}");
    if !errors.is_empty() {
        rec.fail(
            id::PLANES_STABLE_ID,
            format!("{evidence}; errors: {}", errors.join("; ")),
        );
    } else if flaps > 0 {
        rec.fail(
            id::PLANES_STABLE_ID,
            format!("{evidence}: the plane flaps with no mode change"),
        );
    } else if ids.len() > 3 {
        rec.fail(
            id::PLANES_STABLE_ID,
            format!("{evidence}: a new id on (almost) every query"),
        );
    } else {
        rec.pass(id::PLANES_STABLE_ID, evidence);
    }
    ids
}

fn empty(primary: &PlaneInfo, cursor: Option<&PlaneInfo>, rec: &mut Recorder<'_>) {
    let off: Vec<(&str, &PlaneInfo)> = [("primary", Some(primary)), ("cursor", cursor)]
        .into_iter()
        .filter_map(|(n, p)| p.filter(|p| p.is_off()).map(|p| (n, p)))
        .collect();
    if off.is_empty() {
        rec.skip(id::PLANES_EMPTY, "no plane is off");
        return;
    }
    let bad: Vec<String> = off
        .iter()
        .filter(|(_, p)| p.drm_format != 0 || p.size != 0 || p.width != 0 || p.height != 0)
        .map(|(n, p)| format!("{n}: {}", describe(p)))
        .collect();
    let names: Vec<&str> = off.iter().map(|(n, _)| *n).collect();
    if bad.is_empty() {
        rec.pass(
            id::PLANES_EMPTY,
            format!("off planes ({}) are all zero", names.join(", ")),
        );
    } else {
        rec.warn(
            id::PLANES_EMPTY,
            format!("off, but not zero-initialized: {}", bad.join("; ")),
        );
    }
}

/// The fields of an on plane, each checked on its own, against the buffer it names.
fn fields(dev: &dyn DisplayDevice, p: &PlaneInfo, opts: &Options<'_>, rec: &mut Recorder<'_>) {
    let format = fourcc::lookup(p.drm_format);
    match format {
        Some(f) => rec.pass(id::PLANES_FOURCC, f.name),
        None if p.drm_format == fourcc::C8 => rec.warn(
            id::PLANES_FOURCC,
            "C8 (8-bit indexed colour): cannot be shown, the plane query carries no palette",
        ),
        None => rec.fail(
            id::PLANES_FOURCC,
            format!(
                "{} is not a format this tool knows",
                fourcc::describe(p.drm_format)
            ),
        ),
    }
    let tiling = Tiling::from_modifier(p.modifier);
    match tiling {
        Some(Tiling::Linear) => rec.pass(id::PLANES_MODIFIER, "LINEAR"),
        Some(t) if format.is_some_and(|f| !t.supports(f.bytes_per_pixel)) => rec.warn(
            id::PLANES_MODIFIER,
            format!(
                "{} with {}: this format cannot be read in {} tiles (2- and 4-byte pixels in X \
                 and Y tiles, 4-byte pixels in Yf tiles)",
                fourcc::describe_modifier(p.modifier),
                fourcc::describe(p.drm_format),
                t.name().to_uppercase()
            ),
        ),
        Some(t) => rec.pass(
            id::PLANES_MODIFIER,
            format!(
                "{}: {} tiles, detiled on the CPU and in the GPU's unpack",
                fourcc::describe_modifier(p.modifier),
                t.name().to_uppercase()
            ),
        ),
        None => rec.warn(
            id::PLANES_MODIFIER,
            format!(
                "{}: a layout this tool cannot read (only LINEAR and Intel's X, Y and Yf tiles)",
                fourcc::describe_modifier(p.modifier)
            ),
        ),
    }
    let tiling = tiling.unwrap_or(Tiling::Linear);
    let tile = tiling.tile_size();
    let (tile_width, tile_rows) = (tile.width_bytes, tile.rows);
    let sides_ok = (1..=MAX_SIDE).contains(&p.width) && (1..=MAX_SIDE).contains(&p.height);
    let row_bytes = format.map(|f| f.row_bytes(p.width));
    match row_bytes {
        Some(row) if !p.stride.is_multiple_of(tile_width) => rec.fail(
            id::PLANES_STRIDE,
            format!(
                "stride {} is not a whole number of {tile_width}-byte {} tiles (rows need {row})",
                p.stride,
                tiling.name().to_uppercase()
            ),
        ),
        Some(row) if u64::from(p.stride) >= row => {
            rec.pass(id::PLANES_STRIDE, format!("stride {} >= {row}", p.stride))
        }
        Some(row) => rec.fail(
            id::PLANES_STRIDE,
            format!(
                "stride {} < {} pixels x bytes per pixel = {row}",
                p.stride, p.width
            ),
        ),
        None => rec.skip(id::PLANES_STRIDE, "unknown format: bytes per pixel unknown"),
    }
    // A tiled plane spans whole rows of tiles (GVT-g's size rule); a linear one ends with the
    // last row's pixels.
    let span = row_bytes.filter(|_| sides_ok).map(|row| match tiling {
        Tiling::Linear => u64::from(p.stride) * u64::from(p.height - 1) + row,
        _ => u64::from(p.stride) * u64::from(p.height.next_multiple_of(tile_rows)),
    });
    match span {
        None if !sides_ok => rec.fail(
            id::PLANES_SIZE,
            format!(
                "{}x{} is outside 1..={MAX_SIDE} per side",
                p.width, p.height
            ),
        ),
        None => rec.skip(id::PLANES_SIZE, "unknown format"),
        Some(span) if u64::from(p.size) >= span => rec.pass(
            id::PLANES_SIZE,
            format!("size {} >= the {span} bytes its rows span", p.size),
        ),
        Some(span) => rec.fail(
            id::PLANES_SIZE,
            format!("size {} < the {span} bytes of stride x rows", p.size),
        ),
    }
    let buffer_len = match p.source {
        PlaneSource::DmaBuf => dmabuf_checks(dev, p, span, opts, rec),
        PlaneSource::Region => region_plane(dev, p, rec),
    };
    match (span, buffer_len) {
        (Some(span), Some(len)) => match p.offset.checked_add(span) {
            Some(end) if end <= len => rec.pass(
                id::PLANES_BOUNDS,
                format!(
                    "offset {} + {span} <= the {len}-byte {}",
                    p.offset,
                    p.buffer_label()
                ),
            ),
            end => rec.fail(
                id::PLANES_BOUNDS,
                format!(
                    "rows end at {} past the {len}-byte {}",
                    end.map_or("2^64 or more".into(), |e| e.to_string()),
                    p.buffer_label()
                ),
            ),
        },
        (None, _) => rec.skip(
            id::PLANES_BOUNDS,
            "the plane's span is unknown (see planes.size)",
        ),
        (_, None) => rec.skip(id::PLANES_BOUNDS, "the buffer's length is unknown"),
    }
}

/// The region a region plane names; returns its size.
fn region_plane(dev: &dyn DisplayDevice, p: &PlaneInfo, rec: &mut Recorder<'_>) -> Option<u64> {
    for id in [
        id::DMABUF_UNKNOWN_ID,
        id::DMABUF_SIZE,
        id::DMABUF_CPU_ACCESS,
        id::DMABUF_SECOND_EXPORT,
    ] {
        rec.skip(id, "region planes have no dma-bufs");
    }
    match dev.region_info(p.buffer_id) {
        Ok(info) if info.size > 0 && info.mappable() => {
            rec.pass(
                id::REGIONS_PLANE_REGION,
                format!("region {}: {} bytes, mappable", p.buffer_id, info.size),
            );
            Some(info.size)
        }
        Ok(info) => {
            rec.fail(
                id::REGIONS_PLANE_REGION,
                format!(
                    "region {}: {} bytes, flags {:#x} (not mappable or empty)",
                    p.buffer_id, info.size, info.flags
                ),
            );
            Some(info.size)
        }
        Err(e) => {
            rec.fail(id::REGIONS_PLANE_REGION, e.to_string());
            None
        }
    }
}

/// The dma-buf checks; returns the export's size.
fn dmabuf_checks(
    dev: &dyn DisplayDevice,
    p: &PlaneInfo,
    span: Option<u64>,
    opts: &Options<'_>,
    rec: &mut Recorder<'_>,
) -> Option<u64> {
    rec.skip(id::REGIONS_PLANE_REGION, "dma-buf planes name no region");
    let bogus = p.buffer_id.wrapping_add(0x4000_0000);
    match dev.dmabuf(bogus) {
        Err(e) if e.errno() == Some(Errno::ENOENT) => {
            rec.pass(id::DMABUF_UNKNOWN_ID, format!("dmabuf_id {bogus}: ENOENT"))
        }
        Err(e) => rec.warn(
            id::DMABUF_UNKNOWN_ID,
            format!("dmabuf_id {bogus}: {e} (not ENOENT)"),
        ),
        Ok(_) => rec.fail(
            id::DMABUF_UNKNOWN_ID,
            format!("dmabuf_id {bogus}, never announced, was exported"),
        ),
    }
    let buf = match dev.dmabuf(p.buffer_id) {
        Ok(buf) => buf,
        Err(e) => {
            for id in [id::DMABUF_SIZE, id::DMABUF_CPU_ACCESS] {
                rec.fail(
                    id,
                    format!("the plane's own dma-buf cannot be exported: {e}"),
                );
            }
            rec.skip(
                id::DMABUF_SECOND_EXPORT,
                "the plane's dma-buf cannot be exported at all",
            );
            return None;
        }
    };
    let len = buf.size();
    match span.and_then(|s| p.offset.checked_add(s)) {
        Some(end) if end <= len => rec.pass(id::DMABUF_SIZE, format!("{len} bytes >= {end}")),
        Some(end) => rec.fail(id::DMABUF_SIZE, format!("{len} bytes < the plane's {end}")),
        None if span.is_some() => rec.fail(
            id::DMABUF_SIZE,
            format!("{len} bytes; the plane's offset + span overflows"),
        ),
        None => rec.skip(
            id::DMABUF_SIZE,
            format!("{len} bytes; the plane's span is unknown (see planes.size)"),
        ),
    }
    let cpu = match buf.map_read() {
        // An exporter without a CPU mapping by design (i915 answers ENODEV for GVT-g's objects,
        // which have no shmem file): the frames need the GPU, which reads them.
        Err(e) if e.no_cpu_mapping() => Err((
            true,
            format!(
                "mmap: {e}: the exporter gives no CPU mapping; frames are read through the GPU \
                 (import, unpack, read-back)"
            ),
        )),
        Err(e) => Err((false, format!("mmap: {e}"))),
        Ok(_map) => buf
            .begin_cpu_read()
            .map_err(|e| (false, format!("SYNC start: {e}")))
            .and_then(|()| {
                buf.end_cpu_read()
                    .map_err(|e| (false, format!("SYNC end: {e}")))
            }),
    };
    match cpu {
        Ok(()) => rec.pass(
            id::DMABUF_CPU_ACCESS,
            format!("{len} bytes mapped, SYNC start/end work"),
        ),
        Err((true, e)) => rec.warn(id::DMABUF_CPU_ACCESS, e),
        Err((false, e)) => rec.fail(id::DMABUF_CPU_ACCESS, e),
    }
    match (opts.allow_risky, dev.vfio()) {
        // Skipped up front (a shared device): no second export at all.
        _ if !rec.wants(id::DMABUF_SECOND_EXPORT) => {}
        (false, _) => rec.skip(
            id::DMABUF_SECOND_EXPORT,
            "risky (crashes the stock mbochs kernel driver): --allow-risky runs it",
        ),
        (true, None) => rec.skip(id::DMABUF_SECOND_EXPORT, "needs raw ioctls (a real device)"),
        (true, Some(vfio)) => match vfio.export_dmabuf_uncached(p.buffer_id) {
            Ok(_second) => rec.pass(
                id::DMABUF_SECOND_EXPORT,
                format!(
                    "a second fd for dmabuf_id {} while the first is open",
                    p.buffer_id
                ),
            ),
            Err(e) => rec.fail(id::DMABUF_SECOND_EXPORT, e.to_string()),
        },
    }
    Some(len)
}

fn cursor_checks(
    primary: &PlaneInfo,
    cursor: crate::device::Result<PlaneInfo>,
    rec: &mut Recorder<'_>,
) {
    match cursor {
        Err(e) if e.errno() == Some(Errno::EINVAL) => {
            rec.pass(
                id::PLANES_TYPE,
                "the cursor query is refused (EINVAL): no cursor plane",
            );
            rec.skip(id::PLANES_CURSOR_HOTSPOT, "no cursor plane");
        }
        Err(e) => {
            rec.fail(id::PLANES_TYPE, format!("cursor query: {e}"));
            rec.skip(id::PLANES_CURSOR_HOTSPOT, "the cursor query failed");
        }
        Ok(c) if c.is_off() => {
            rec.pass(id::PLANES_TYPE, "the cursor plane is off");
            rec.skip(id::PLANES_CURSOR_HOTSPOT, "the cursor plane is off");
        }
        Ok(c) => {
            let same = !primary.is_off()
                && c.buffer_id == primary.buffer_id
                && (c.drm_format, c.width, c.height, c.stride)
                    == (
                        primary.drm_format,
                        primary.width,
                        primary.height,
                        primary.stride,
                    );
            if same {
                rec.fail(
                    id::PLANES_TYPE,
                    format!(
                        "a cursor query answers with the primary plane: {}",
                        describe(&c)
                    ),
                );
            } else {
                rec.pass(id::PLANES_TYPE, format!("cursor: {}", describe(&c)));
            }
            let hot = (c.x_hot, c.y_hot);
            let evidence = format!(
                "hotspot ({}, {}) in a {}x{} cursor",
                hot.0 as i32, hot.1 as i32, c.width, c.height
            );
            if hot == (NO_HOTSPOT, NO_HOTSPOT) || (hot.0 < c.width && hot.1 < c.height) {
                rec.pass(id::PLANES_CURSOR_HOTSPOT, evidence);
            } else {
                rec.fail(id::PLANES_CURSOR_HOTSPOT, evidence);
            }
        }
    }
}

/// With a driver: a second mode; its first query must succeed and show a new id.
fn mode_change(
    dev: &dyn DisplayDevice,
    src: PlaneSource,
    opts: &Options<'_>,
    before: &BTreeSet<u32>,
    mut first_queries: Vec<Result<String, String>>,
    rec: &mut Recorder<'_>,
) {
    let Some(driver) = opts.driver else {
        rec.skip(id::PLANES_FIRST_QUERY_AFTER_MODE_CHANGE, NEEDS_DRIVER);
        rec.skip(id::PLANES_NEW_ID_AFTER_MODE_CHANGE, NEEDS_DRIVER);
        return;
    };
    let (w, h) = test_modes()[1];
    let mode = format!("{w}x{h}");
    if let Err(e) = driver.set_mode(w, h) {
        rec.fail(
            id::PLANES_FIRST_QUERY_AFTER_MODE_CHANGE,
            format!("the {} could not set {mode}: {e}", driver.name()),
        );
        rec.skip(id::PLANES_NEW_ID_AFTER_MODE_CHANGE, "no second mode");
        return;
    }
    first_queries.push(first_query(dev, src, &mode));
    let failed: Vec<&String> = first_queries
        .iter()
        .filter_map(|r| r.as_ref().err())
        .collect();
    let all: Vec<String> = first_queries
        .iter()
        .map(|r| match r {
            Ok(s) | Err(s) => s.clone(),
        })
        .collect();
    if failed.is_empty() {
        rec.pass(id::PLANES_FIRST_QUERY_AFTER_MODE_CHANGE, all.join("; "));
    } else {
        rec.fail(id::PLANES_FIRST_QUERY_AFTER_MODE_CHANGE, all.join("; "));
    }
    match (src, query_retry(dev, src)) {
        (PlaneSource::Region, _) => rec.skip(
            id::PLANES_NEW_ID_AFTER_MODE_CHANGE,
            "region planes name a region, not an id",
        ),
        (_, Err(e)) => rec.fail(
            id::PLANES_NEW_ID_AFTER_MODE_CHANGE,
            format!("after 800x600: {e}"),
        ),
        (_, Ok(p)) if p.is_off() => rec.fail(
            id::PLANES_NEW_ID_AFTER_MODE_CHANGE,
            "after 800x600 the plane is off",
        ),
        (_, Ok(p)) if before.contains(&p.buffer_id) => rec.fail(
            id::PLANES_NEW_ID_AFTER_MODE_CHANGE,
            format!(
                "800x600 shows dmabuf_id {}, an id of the previous mode {before:?}",
                p.buffer_id
            ),
        ),
        (_, Ok(p)) => rec.pass(
            id::PLANES_NEW_ID_AFTER_MODE_CHANGE,
            format!("ids before {before:?}, after 800x600: {}", p.buffer_id),
        ),
    }
}
