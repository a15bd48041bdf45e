//! Region checks: capability chains, the argsz protocol, and read() against mmap.

use super::Recorder;
use super::id;
use crate::device::DisplayDevice;
use crate::uapi::VFIO_REGION_INFO_FLAG_CAPS;
use crate::vfio::RegionInfo;
use crate::vfio::caps::REGION_INFO_SIZE;

/// Regions past `num_regions` that display mdevs use (mdpy's framebuffer is 16).
const EXTRA_REGIONS: [u32; 2] = [16, 17];

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    bytes
        .get(at..at + 4)
        .map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

/// Every region the device lists, and the extra ones that answer.
pub(super) fn listed(dev: &dyn DisplayDevice) -> Vec<(u32, crate::device::Result<RegionInfo>)> {
    let mut all = crate::device::all_regions(dev);
    for i in EXTRA_REGIONS {
        if i >= dev.info().num_regions
            && let Ok(info) = dev.region_info(i)
        {
            all.push((i, Ok(info)));
        }
    }
    all
}

pub(super) fn run(dev: &dyn DisplayDevice, rec: &mut Recorder<'_>) {
    let regions = listed(dev);
    let broken: Vec<String> = regions
        .iter()
        .filter_map(|(_, r)| r.as_ref().err())
        .map(ToString::to_string)
        .filter(|e| e.contains("capability"))
        .collect();
    let with_caps = regions
        .iter()
        .filter(|(_, r)| r.as_ref().is_ok_and(|i| !i.caps.is_empty()))
        .count();
    if broken.is_empty() {
        rec.pass(
            id::REGIONS_CAP_CHAIN,
            format!(
                "{} regions, {with_caps} with capabilities, every chain well formed",
                regions.len()
            ),
        );
    } else {
        rec.fail(id::REGIONS_CAP_CHAIN, broken.join("; "));
    }
    argsz(dev, &regions, rec);
}

fn argsz(
    dev: &dyn DisplayDevice,
    regions: &[(u32, crate::device::Result<RegionInfo>)],
    rec: &mut Recorder<'_>,
) {
    let Some(vfio) = dev.vfio() else {
        for id in [id::REGIONS_ARGSZ_SHORT, id::REGIONS_ARGSZ_LARGE] {
            rec.skip(id, "needs raw ioctls (a real device)");
        }
        return;
    };
    // A region with capabilities, asked with the bare struct: the kernel must say it needs more.
    let capped = regions
        .iter()
        .find(|(_, r)| r.as_ref().is_ok_and(|i| !i.caps.is_empty()));
    match capped {
        None => rec.skip(id::REGIONS_ARGSZ_SHORT, "no region has capabilities"),
        Some((index, _)) => match vfio.region_info_raw(*index, REGION_INFO_SIZE) {
            Ok(bytes) => {
                let (argsz, flags, cap_offset) =
                    (u32_at(&bytes, 0), u32_at(&bytes, 4), u32_at(&bytes, 12));
                let evidence = format!(
                    "region {index} with argsz {REGION_INFO_SIZE}: argsz {argsz}, flags {flags:#x}, cap_offset {cap_offset}"
                );
                if argsz as usize > REGION_INFO_SIZE
                    && flags & VFIO_REGION_INFO_FLAG_CAPS != 0
                    && cap_offset == 0
                {
                    rec.pass(id::REGIONS_ARGSZ_SHORT, evidence);
                } else {
                    rec.fail(id::REGIONS_ARGSZ_SHORT, evidence);
                }
            }
            Err(e) => rec.fail(id::REGIONS_ARGSZ_SHORT, e.to_string()),
        },
    }
    // Any region, asked with a buffer larger than the struct.
    let first = regions.iter().find(|(_, r)| r.is_ok()).map(|(i, _)| *i);
    match first {
        None => rec.skip(id::REGIONS_ARGSZ_LARGE, "no region answers"),
        Some(index) => match vfio.region_info_raw(index, 4096) {
            Ok(_) => rec.pass(
                id::REGIONS_ARGSZ_LARGE,
                format!("region {index} answers a 4096-byte argsz"),
            ),
            Err(e) => rec.warn(
                id::REGIONS_ARGSZ_LARGE,
                format!(
                    "region {index} with a 4096-byte argsz: {e} (only the exact struct size \
                     works; front ends must query with 32 bytes first)"
                ),
            ),
        },
    }
}

/// For each readable, mappable region: a 4 KiB read() at two offsets against the mapping.
pub(super) fn pread_matches_mmap(dev: &dyn DisplayDevice, rec: &mut Recorder<'_>) {
    if !rec.wants(id::REGIONS_PREAD_MMAP) {
        return;
    }
    const WINDOW: u64 = 4096;
    let mut compared = Vec::new();
    let mut mismatched = Vec::new();
    let mut uniform = Vec::new();
    for (index, info) in listed(dev) {
        let Ok(info) = info else { continue };
        if !(info.readable() && info.mappable()) || info.size < 3 * WINDOW {
            continue;
        }
        // Wider than what is compared, so that a read landing a few KiB off is found.
        let span = (8 * WINDOW).min(info.size);
        let Ok(map) = dev.map_region(index, 0, span, false) else {
            continue;
        };
        let mut mapped = vec![0u8; span as usize];
        if map.read_into(0, &mut mapped).is_err() {
            continue;
        }
        if mapped.iter().all(|&b| b == mapped[0]) {
            uniform.push(index);
            continue;
        }
        for offset in [0, 2 * WINDOW] {
            let mut read = vec![0u8; WINDOW as usize];
            let window = &mapped[offset as usize..(offset + WINDOW) as usize];
            match dev.read_region(index, offset, &mut read) {
                Ok(()) if read == window => {}
                Ok(()) => {
                    // Where do the read bytes really come from?
                    let at = mapped
                        .windows(read.len())
                        .position(|w| w == read.as_slice())
                        .map_or(format!("none of the first {} KiB", span / 1024), |p| {
                            format!("offset {p:#x}")
                        });
                    mismatched.push(format!(
                        "region {index}: read() at {offset:#x} returns the bytes mapped at {at}"
                    ));
                }
                Err(e) => mismatched.push(format!("region {index}: {e}")),
            }
        }
        compared.push(index);
    }
    if !mismatched.is_empty() {
        rec.fail(id::REGIONS_PREAD_MMAP, mismatched.join("; "));
    } else if !compared.is_empty() {
        rec.pass(
            id::REGIONS_PREAD_MMAP,
            format!("regions {compared:?}: read() equals the mapping at offsets 0 and 0x2000"),
        );
    } else if !uniform.is_empty() {
        rec.skip(
            id::REGIONS_PREAD_MMAP,
            format!(
                "regions {uniform:?} hold one byte value throughout: inconclusive (--drive gives them a picture)"
            ),
        );
    } else {
        rec.skip(
            id::REGIONS_PREAD_MMAP,
            "no readable, mappable region of 12 KiB or more",
        );
    }
}
