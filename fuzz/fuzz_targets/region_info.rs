//! The region info parser on arbitrary bytes, as a device returns them from
//! VFIO_DEVICE_GET_REGION_INFO: the capability chain may loop, overlap the struct, run past the
//! bytes returned or declare absurd area counts. Parsing must return, never panic or hang, and a
//! parsed region must answer every question the product asks of it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vfio_display::vfio::caps::{encode_region_info, parse_region_info};

fuzz_target!(|data: &[u8]| {
    let Ok(info) = parse_region_info(9, data) else {
        return;
    };
    let _ = info.region_type();
    let _ = info.is_gfx_edid();
    let _ = info.sparse_areas();
    let _ = info.can_map(0, info.size);
    let _ = info.can_map(u64::MAX - 1, 2);
    for area in info.sparse_areas().unwrap_or(&[]) {
        let _ = info.can_map(area.offset, area.size);
    }
    // What we parsed must survive a round trip through the kernel's layout. The encoder sets
    // the CAPS flag from the capabilities it writes, so a CAPS flag with an empty chain (cap
    // offset 0) comes back without it.
    let again = parse_region_info(9, &encode_region_info(&info)).expect("re-encoded info parses");
    let caps_flag = vfio_display::uapi::VFIO_REGION_INFO_FLAG_CAPS;
    assert_eq!(again.caps, info.caps);
    assert_eq!((again.index, again.size, again.offset), (info.index, info.size, info.offset));
    assert_eq!(again.flags & !caps_flag, info.flags & !caps_flag);
});
