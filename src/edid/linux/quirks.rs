//! drm_edid's table of monitors whose EDIDs are known to be wrong (`edid_quirk_list` in
//! drivers/gpu/drm/drm_edid.c, Linux 6.12), found by the base block's manufacturer and product
//! codes as `edid_get_quirks` finds them. A guest applies the quirks whatever the rest of the
//! EDID says, so the mode list it builds for such a monitor is not the one the bytes alone
//! give: the list here applies the four quirks that change modes, and `edid decode` names every
//! quirk a guest would apply.

/// `EDID_QUIRK_PREFER_LARGE_60`: the largest mode, nearest 60 Hz, is preferred.
pub const PREFER_LARGE_60: u32 = 1 << 0;
/// `EDID_QUIRK_135_CLOCK_TOO_HIGH`: every detailed timing's clock becomes 10.88 MHz (the
/// kernel writes `1088 * 10` kHz).
pub const CLOCK_135_TOO_HIGH: u32 = 1 << 1;
/// `EDID_QUIRK_PREFER_LARGE_75`: the largest mode, nearest 75 Hz, is preferred.
pub const PREFER_LARGE_75: u32 = 1 << 2;
/// `EDID_QUIRK_DETAILED_IN_CM`: detailed timings give their image size in cm.
pub const DETAILED_IN_CM: u32 = 1 << 3;
/// `EDID_QUIRK_DETAILED_USE_MAXIMUM_SIZE`: detailed timings take the screen size.
pub const DETAILED_USE_MAXIMUM_SIZE: u32 = 1 << 4;
/// `EDID_QUIRK_DETAILED_SYNC_PP`: detailed timings get positive syncs.
pub const DETAILED_SYNC_PP: u32 = 1 << 6;
/// `EDID_QUIRK_FORCE_REDUCED_BLANKING`: each detailed timing becomes CVT reduced blanking at
/// 60 Hz for its size.
pub const FORCE_REDUCED_BLANKING: u32 = 1 << 7;
/// `EDID_QUIRK_FORCE_8BPC`.
pub const FORCE_8BPC: u32 = 1 << 8;
/// `EDID_QUIRK_FORCE_12BPC`.
pub const FORCE_12BPC: u32 = 1 << 9;
/// `EDID_QUIRK_FORCE_6BPC`.
pub const FORCE_6BPC: u32 = 1 << 10;
/// `EDID_QUIRK_FORCE_10BPC`.
pub const FORCE_10BPC: u32 = 1 << 11;
/// `EDID_QUIRK_NON_DESKTOP`: a head-mounted display, which desktops leave dark.
pub const NON_DESKTOP: u32 = 1 << 12;
/// `EDID_QUIRK_CAP_DSC_15BPP`.
pub const CAP_DSC_15BPP: u32 = 1 << 13;

/// Each quirk's kernel name (without `EDID_QUIRK_`) and what a guest does for it.
const NAMES: [(u32, &str, &str); 13] = [
    (
        PREFER_LARGE_60,
        "PREFER_LARGE_60",
        "the largest mode nearest 60 Hz is preferred",
    ),
    (
        CLOCK_135_TOO_HIGH,
        "135_CLOCK_TOO_HIGH",
        "every detailed timing's pixel clock is taken as 10.88 MHz",
    ),
    (
        PREFER_LARGE_75,
        "PREFER_LARGE_75",
        "the largest mode nearest 75 Hz is preferred",
    ),
    (
        DETAILED_IN_CM,
        "DETAILED_IN_CM",
        "detailed timings' image sizes are read in cm",
    ),
    (
        DETAILED_USE_MAXIMUM_SIZE,
        "DETAILED_USE_MAXIMUM_SIZE",
        "detailed timings take the screen size as their image size",
    ),
    (
        DETAILED_SYNC_PP,
        "DETAILED_SYNC_PP",
        "detailed timings get positive horizontal and vertical syncs",
    ),
    (
        FORCE_REDUCED_BLANKING,
        "FORCE_REDUCED_BLANKING",
        "each detailed timing is replaced by CVT reduced blanking at 60 Hz",
    ),
    (FORCE_8BPC, "FORCE_8BPC", "8 bits per colour"),
    (FORCE_12BPC, "FORCE_12BPC", "12 bits per colour"),
    (FORCE_6BPC, "FORCE_6BPC", "6 bits per colour"),
    (FORCE_10BPC, "FORCE_10BPC", "10 bits per colour"),
    (
        NON_DESKTOP,
        "NON_DESKTOP",
        "a head-mounted display: the connector is marked non-desktop and desktops leave it dark",
    ),
    (
        CAP_DSC_15BPP,
        "CAP_DSC_15BPP",
        "display stream compression is capped at 15 bits per pixel",
    ),
];

/// The table: manufacturer letters, product code, quirks, in the kernel's order (the first
/// match wins, as there).
const TABLE: [(&[u8; 3], u16, u32); 60] = [
    (b"ACR", 44358, PREFER_LARGE_60),
    (b"API", 0x7602, PREFER_LARGE_60),
    (b"AEO", 0, FORCE_6BPC),
    (b"BNQ", 0x78d6, FORCE_8BPC),
    (b"BOE", 0x78b, FORCE_6BPC),
    (b"CPT", 0x17df, FORCE_6BPC),
    (b"SDC", 0x3652, FORCE_6BPC),
    (b"BOE", 0x0771, FORCE_6BPC),
    (b"MAX", 1516, PREFER_LARGE_60),
    (b"MAX", 0x77e, PREFER_LARGE_60),
    (b"EPI", 59264, CLOCK_135_TOO_HIGH),
    (b"EPI", 8232, PREFER_LARGE_60),
    (b"FCM", 13600, PREFER_LARGE_75 | DETAILED_IN_CM),
    (b"GSM", 0x5bbf, CAP_DSC_15BPP),
    (b"GSM", 0x5b9a, CAP_DSC_15BPP),
    (b"LGD", 764, FORCE_10BPC),
    (b"LPL", 0, DETAILED_USE_MAXIMUM_SIZE),
    (b"LPL", 0x2a00, DETAILED_USE_MAXIMUM_SIZE),
    (b"SAM", 541, DETAILED_SYNC_PP),
    (b"SAM", 596, PREFER_LARGE_60),
    (b"SAM", 638, PREFER_LARGE_60),
    (b"SNY", 0x2541, FORCE_12BPC),
    (b"VSC", 5020, FORCE_REDUCED_BLANKING),
    (b"MED", 0x7b8, PREFER_LARGE_75),
    (b"SDC", 18514, FORCE_6BPC),
    (b"SEC", 0xd033, FORCE_8BPC),
    (b"ETR", 13896, FORCE_8BPC),
    (b"VLV", 0x91a8, NON_DESKTOP),
    (b"VLV", 0x91b0, NON_DESKTOP),
    (b"VLV", 0x91b1, NON_DESKTOP),
    (b"VLV", 0x91b2, NON_DESKTOP),
    (b"VLV", 0x91b3, NON_DESKTOP),
    (b"VLV", 0x91b4, NON_DESKTOP),
    (b"VLV", 0x91b5, NON_DESKTOP),
    (b"VLV", 0x91b6, NON_DESKTOP),
    (b"VLV", 0x91b7, NON_DESKTOP),
    (b"VLV", 0x91b8, NON_DESKTOP),
    (b"VLV", 0x91b9, NON_DESKTOP),
    (b"VLV", 0x91ba, NON_DESKTOP),
    (b"VLV", 0x91bb, NON_DESKTOP),
    (b"VLV", 0x91bc, NON_DESKTOP),
    (b"VLV", 0x91bd, NON_DESKTOP),
    (b"VLV", 0x91be, NON_DESKTOP),
    (b"VLV", 0x91bf, NON_DESKTOP),
    (b"HVR", 0xaa01, NON_DESKTOP),
    (b"HVR", 0xaa02, NON_DESKTOP),
    (b"OVR", 0x0001, NON_DESKTOP),
    (b"OVR", 0x0003, NON_DESKTOP),
    (b"OVR", 0x0004, NON_DESKTOP),
    (b"OVR", 0x0012, NON_DESKTOP),
    (b"ACR", 0x7fce, NON_DESKTOP),
    (b"LEN", 0x0408, NON_DESKTOP),
    (b"FUJ", 0x1970, NON_DESKTOP),
    (b"DEL", 0x7fce, NON_DESKTOP),
    (b"SEC", 0x144a, NON_DESKTOP),
    (b"AUS", 0xc102, NON_DESKTOP),
    (b"SNY", 0x0704, NON_DESKTOP),
    (b"SEN", 0x1019, NON_DESKTOP),
    (b"SVR", 0x1019, NON_DESKTOP),
    (b"AUO", 0x1111, NON_DESKTOP),
];

/// `drm_edid_encode_panel_id`'s manufacturer half: three letters, five bits each, as bytes 8
/// and 9 of the base block hold them (big-endian, the top bit clear).
fn manufacturer_code(letters: &[u8; 3]) -> u16 {
    letters.iter().fold(0u16, |code, &c| {
        code << 5 | u16::from(c.wrapping_sub(b'@') & 0x1f)
    })
}

/// The quirks Linux applies to the EDID whose base block is `base` (0 for none or for a
/// block too short to name a product): bytes 8-9 must equal the table's manufacturer code
/// and bytes 10-11 (little-endian) its product code, as `drm_edid_match` compares them.
pub fn lookup(base: &[u8]) -> u32 {
    let Some(id) = base.get(8..12) else {
        return 0;
    };
    let manufacturer = u16::from_be_bytes([id[0], id[1]]);
    let product = u16::from_le_bytes([id[2], id[3]]);
    TABLE
        .iter()
        .find(|(letters, code, _)| manufacturer_code(letters) == manufacturer && *code == product)
        .map_or(0, |&(_, _, quirks)| quirks)
}

/// Each quirk set in `quirks`: its kernel name and what a guest does for it.
pub fn describe(quirks: u32) -> Vec<(&'static str, &'static str)> {
    NAMES
        .iter()
        .filter(|(bit, _, _)| quirks & bit != 0)
        .map(|&(_, name, effect)| (name, effect))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(manufacturer: [u8; 2], product: u16) -> [u8; 128] {
        let mut block = [0u8; 128];
        block[8..10].copy_from_slice(&manufacturer);
        block[10..12].copy_from_slice(&product.to_le_bytes());
        block
    }

    #[test]
    fn monitors_are_found_by_manufacturer_and_product_code() {
        // "ACR" is 0x0472 in bytes 8-9 (A=1, C=3, R=18), as in every Acer EDID.
        assert_eq!(manufacturer_code(b"ACR"), 0x0472);
        assert_eq!(lookup(&base([0x04, 0x72], 44358)), PREFER_LARGE_60);
        assert_eq!(lookup(&base([0x04, 0x72], 44359)), 0);
        assert_eq!(lookup(&base([0x04, 0x73], 44358)), 0);
        // The reserved top bit set: not the same manufacturer, as for the kernel.
        assert_eq!(lookup(&base([0x84, 0x72], 44358)), 0);
        // The last entry of the kernel's table, and one with two quirks.
        assert_eq!(
            lookup(&base(manufacturer_code(b"AUO").to_be_bytes(), 0x1111)),
            NON_DESKTOP
        );
        assert_eq!(
            lookup(&base(manufacturer_code(b"FCM").to_be_bytes(), 13600)),
            PREFER_LARGE_75 | DETAILED_IN_CM
        );
        assert_eq!(lookup(&[0u8; 10]), 0);
    }

    #[test]
    fn every_quirk_has_a_name_and_an_effect() {
        let all = TABLE.iter().fold(0, |acc, (_, _, q)| acc | q);
        let named = NAMES.iter().fold(0, |acc, (bit, _, _)| acc | bit);
        assert_eq!(all & !named, 0, "a quirk of the table has no name");
        assert_eq!(
            describe(PREFER_LARGE_75 | DETAILED_IN_CM)
                .iter()
                .map(|(name, _)| *name)
                .collect::<Vec<_>>(),
            ["PREFER_LARGE_75", "DETAILED_IN_CM"]
        );
    }
}
