//! The EDID corpus the VM suite's real guest kernel reads (`edid-corpus DIR` writes it), one
//! EDID per rule of drm_edid that `edid decode --modes` follows, and the check that compares
//! the kernel's mode list for each with ours, timing for timing (`linuxcorpus` in `verify`).

use vfio_display::edid::{self, EdidSpec, ListedMode, Mode, ReadPath};

/// A detailed timing descriptor: clock in 10 kHz, then active, blanking, front porch and sync
/// width horizontally and vertically, then the flags byte (0x18 digital separate sync, 0x02
/// positive hsync, 0x04 positive vsync, 0x80 interlaced).
fn dtd(clock: u16, h: [u32; 4], v: [u32; 4], misc: u8) -> [u8; 18] {
    let [ha, hb, hfp, hs] = h;
    let [va, vb, vfp, vs] = v;
    let mut d = [0u8; 18];
    d[..2].copy_from_slice(&clock.to_le_bytes());
    d[2] = ha as u8;
    d[3] = hb as u8;
    d[4] = ((ha >> 8) << 4 | (hb >> 8)) as u8;
    d[5] = va as u8;
    d[6] = vb as u8;
    d[7] = ((va >> 8) << 4 | (vb >> 8)) as u8;
    d[8] = hfp as u8;
    d[9] = hs as u8;
    d[10] = ((vfp & 0xf) << 4 | (vs & 0xf)) as u8;
    d[11] = ((hfp >> 8) << 6 | (hs >> 8) << 4 | (vfp >> 4) << 2 | (vs >> 4)) as u8;
    d[17] = misc;
    d
}

/// A display descriptor with its tag and up to 13 bytes of data from byte 5.
fn display(tag: u8, data: &[u8]) -> [u8; 18] {
    let mut d = [0u8; 18];
    d[3] = tag;
    d[5..5 + data.len()].copy_from_slice(data);
    d
}

fn name(text: &str) -> [u8; 18] {
    let mut data = [0x20u8; 13];
    data[..text.len()].copy_from_slice(text.as_bytes());
    data[text.len()] = 0x0a;
    display(0xfc, &data)
}

/// Makes byte 127 the checksum of the block's first 127 bytes.
pub fn fix_checksum(block: &mut [u8]) {
    let sum = block[..127].iter().fold(0u8, |a, b| a.wrapping_add(*b));
    block[127] = 0u8.wrapping_sub(sum);
}

/// A base block: EDID 1.`revision`, features byte, established timing bytes 35-37, up to
/// eight standard timing codes, four descriptors and the extension count.
fn base(
    revision: u8,
    features: u8,
    established: [u8; 3],
    standard: &[[u8; 2]],
    descriptors: [[u8; 18]; 4],
    extensions: u8,
) -> Vec<u8> {
    let mut b = vec![0u8; 128];
    b[..8].copy_from_slice(&[0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0]);
    b[8..10].copy_from_slice(&0x58c4u16.to_be_bytes()); // "VFD"
    b[10] = 0x42;
    b[16] = 1;
    b[17] = 36;
    b[18] = 1;
    b[19] = revision;
    b[20] = 0x80; // digital input
    b[21] = 60;
    b[22] = 34;
    b[23] = 120;
    b[24] = features;
    b[35..38].copy_from_slice(&established);
    for slot in 0..8 {
        let code = standard.get(slot).copied().unwrap_or([1, 1]);
        b[38 + 2 * slot..40 + 2 * slot].copy_from_slice(&code);
    }
    for (i, d) in descriptors.iter().enumerate() {
        b[54 + 18 * i..72 + 18 * i].copy_from_slice(d);
    }
    b[126] = extensions;
    fix_checksum(&mut b);
    b
}

/// A CTA-861 revision 3 block with these data blocks (each with its header byte) and DTDs.
fn cta(data_blocks: &[Vec<u8>], dtds: &[[u8; 18]]) -> Vec<u8> {
    let mut b = vec![0u8; 128];
    b[0] = 0x02;
    b[1] = 3;
    b[3] = 0x40;
    let mut at = 4;
    for db in data_blocks {
        b[at..at + db.len()].copy_from_slice(db);
        at += db.len();
    }
    b[2] = at as u8;
    for d in dtds {
        b[at..at + 18].copy_from_slice(d);
        at += 18;
    }
    fix_checksum(&mut b);
    b
}

/// A data block: tag in the top three bits, the length in the low five.
fn data_block(tag: u8, payload: &[u8]) -> Vec<u8> {
    let mut db = vec![tag << 5 | payload.len() as u8];
    db.extend_from_slice(payload);
    db
}

/// A DisplayID 2.0 data block: tag, revision 0, length, payload.
fn data_block_2(tag: u8, payload: &[u8]) -> Vec<u8> {
    let mut db = vec![tag, 0, payload.len() as u8];
    db.extend_from_slice(payload);
    db
}

/// A DisplayID type VII timing (20 bytes): clock in kHz, horizontal and vertical active,
/// blanking, front porch and sync width, positive hsync and negative vsync, 16:9.
fn type_vii(clock_khz: u32, h: [u32; 4], v: [u32; 4], preferred: bool) -> Vec<u8> {
    let le = |value: u32| ((value - 1) as u16).to_le_bytes();
    let mut t = (clock_khz - 1).to_le_bytes()[..3].to_vec();
    t.push(if preferred { 0x84 } else { 0x04 });
    for (i, value) in h.into_iter().chain(v).enumerate() {
        let mut bytes = le(value);
        // The front porch's top bit is the sync polarity: positive horizontally only.
        if i == 2 {
            bytes[1] |= 0x80;
        }
        t.extend(bytes);
    }
    t
}

/// A DisplayID 2.0 extension block (primary use case 4: a desktop productivity display)
/// holding these data blocks, with its section and block checksums.
fn displayid_2_block(data_blocks: &[Vec<u8>]) -> Vec<u8> {
    displayid_block(0x20, 0x04, data_blocks)
}

/// A DisplayID extension block of a version (0x13, 0x20) and product type or use case.
fn displayid_block(version: u8, product: u8, data_blocks: &[Vec<u8>]) -> Vec<u8> {
    let data: Vec<u8> = data_blocks.concat();
    let mut section = vec![version, data.len() as u8, product, 0];
    section.extend(data);
    let sum = section.iter().fold(0u8, |a, b| a.wrapping_add(*b));
    section.push(0u8.wrapping_sub(sum));
    let mut block = vec![0u8; 128];
    block[0] = 0x70;
    block[1..1 + section.len()].copy_from_slice(&section);
    fix_checksum(&mut block);
    block
}

/// A standard timing code: width, aspect code (0 16:10 in 1.3+, 1 4:3, 2 5:4, 3 16:9) and rate.
fn std_code(width: u32, aspect: u8, hz: u32) -> [u8; 2] {
    [((width - 248) / 8) as u8, aspect << 6 | (hz - 60) as u8]
}

// CTA-861 timings as DTDs: 1080i60, 720p60, 1080p60 (74.25/74.25/148.5 MHz, positive syncs).
const SYNC_PP: u8 = 0x18 | 0x02 | 0x04;

fn dtd_1080i() -> [u8; 18] {
    dtd(7425, [1920, 280, 88, 44], [540, 22, 2, 5], SYNC_PP | 0x80)
}

fn dtd_720p() -> [u8; 18] {
    dtd(7425, [1280, 370, 110, 40], [720, 30, 5, 5], SYNC_PP)
}

fn dtd_1080p() -> [u8; 18] {
    dtd(14850, [1920, 280, 88, 44], [1080, 45, 4, 5], SYNC_PP)
}

/// The corpus: (name, EDID). Names are file names in the guest, and section tags.
pub fn corpus() -> Vec<(&'static str, Vec<u8>)> {
    let range = |flags: u8, formula: [u8; 7], limits: [u8; 5]| {
        let mut data = [0u8; 13];
        data[..5].copy_from_slice(&limits);
        data[5] = flags;
        data[6..].copy_from_slice(&formula);
        display(0xfd, &data)
    };
    let mut out = Vec::new();

    // A TV: EDID 1.3 with the preferred-timing bit, a 1080i DTD first (field-size lines), the
    // established 640x480 and 800x600, standard 1280x1024 and 1280x720, and a CTA block with
    // progressive, interlaced and aspect-twin VICs, the HDMI VSDB's 4K VICs, a 4:2:0-only VIC
    // and a 720p DTD: alternate clocks for all that have one.
    let mut tv = base(
        3,
        0x0a,
        [0x21, 0x08, 0x00],
        &[std_code(1280, 2, 60), std_code(1280, 3, 60)],
        [
            dtd_1080i(),
            name("corpus tv"),
            dtd_1080p(),
            display(0x10, &[]),
        ],
        1,
    );
    let vsdb = data_block(
        3,
        &[
            0x03, 0x0c, 0x00, 0x10, 0x00, 0x00, 0x3c, 0x20, 0x00, 0x40, 0x01, 0x03,
        ],
    );
    let y420 = data_block(7, &[14, 96]);
    tv.extend(cta(
        &[
            data_block(2, &[0x85, 4, 16, 2, 3, 1, 20, 97, 95, 62]),
            vsdb,
            y420,
        ],
        // 720p60, and 720p at 59.94 Hz, whose 74.18 MHz Linux corrects to the VIC's 74.176.
        &[
            dtd_720p(),
            dtd(7418, [1280, 370, 110, 40], [720, 30, 5, 5], SYNC_PP),
        ],
    ));
    out.push(("tv-1080i", tv));

    // A 1.3 monitor with continuous frequencies and default GTF range limits (50-75 Hz,
    // 30-82 kHz, 170 MHz): DMT modes and GTF modes inferred from the range, a standard timing
    // no DMT mode has (GTF), 1360x765 (which Linux makes 1366x768 by CVT), and a 1280x1024 DTD
    // preferred by the feature bit.
    let sxga = dtd(10800, [1280, 408, 48, 112], [1024, 42, 1, 3], SYNC_PP);
    out.push((
        "gtf-range-13",
        base(
            3,
            0x0b,
            [0x21, 0x08, 0x00],
            &[
                std_code(1600, 0, 60),
                std_code(1152, 1, 75),
                std_code(1024, 1, 70),
                std_code(1360, 3, 60),
            ],
            [
                sxga,
                range(
                    0x00,
                    [0x0a, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20],
                    [50, 75, 30, 82, 17],
                ),
                name("corpus gtf"),
                display(0x10, &[]),
            ],
            0,
        ),
    ));

    // A 1.4 panel with continuous frequencies and CVT range limits (reduced blanking, 24-75 Hz,
    // 30-150 kHz, 300 MHz, up to 2560 wide), a 2560x1440 reduced-blanking DTD, 16:10 standard
    // timings (1.4's reading of aspect code 0), established timings III (848x480, 1280x768 RB,
    // 1440x900, 1680x1050 RB...) and a CVT 3-byte code descriptor.
    let qhd = dtd(24150, [2560, 160, 48, 32], [1440, 41, 3, 5], 0x18 | 0x02);
    let cvt_codes = display(
        0xf8,
        &[0x01, 0x1b, 0x14, 0x1e, 0x7f, 0x31, 0x2a, 0, 0, 0, 0, 0, 0],
    );
    let est3 = display(0xf7, &[0x0a, 0x0b, 0x41, 0x30, 0x86, 0x00, 0x00]);
    let mut cvt = base(
        4,
        0x0b,
        [0x00, 0x00, 0x00],
        &[
            std_code(1920, 0, 60),
            std_code(1680, 0, 60),
            std_code(2048, 3, 60),
            std_code(1400, 1, 75),
        ],
        [
            qhd,
            range(
                0x04,
                [0x11, 0x01, 0x40, 0xf8, 0x18, 0x00, 0x3c],
                [24, 75, 30, 150, 30],
            ),
            est3,
            cvt_codes,
        ],
        0,
    );
    cvt[24] = 0x0b;
    fix_checksum(&mut cvt);
    out.push(("cvt-range-14", cvt));

    // Descriptor slots: EDID 1.4 with the name in slot 1, a DTD Linux refuses (a zero sync
    // width) in slot 2, and DTDs in slots 3 and 4: slot 3's is preferred.
    let bad = dtd(6500, [1024, 320, 24, 0], [768, 38, 3, 6], 0x18);
    let xga = dtd(6500, [1024, 320, 24, 136], [768, 38, 3, 6], 0x18);
    let wxga = dtd(7100, [1280, 160, 48, 32], [800, 23, 3, 6], 0x18 | 0x02);
    out.push((
        "slot3-preferred",
        base(
            4,
            0x06,
            [0, 0, 0],
            &[],
            [name("corpus slots"), bad, xga, wxga],
            0,
        ),
    ));

    // 8K and 4K 100/120 Hz VICs: the kernel's 32-bit alternate clock of the 5940 MHz VICs.
    let mut uhd = base(
        3,
        0x0a,
        [0, 0, 0],
        &[],
        [
            dtd_1080p(),
            name("corpus 8k"),
            display(0x10, &[]),
            display(0x10, &[]),
        ],
        1,
    );
    uhd.extend(cta(
        &[data_block(2, &[199, 201, 117, 118, 97, 96, 98])],
        &[],
    ));
    out.push(("uhd-8k", uhd));

    // A 1.3 monitor with continuous frequencies and a secondary GTF curve (break at 60 kHz,
    // C 30, M 300, K 128, J 20, with C and J given doubled): standard and inferred modes by
    // that curve above the break, and by the default one below it.
    let gtf2 = range(
        0x02,
        [0x00, 30, 60, 0x2c, 0x01, 128, 40],
        [48, 85, 28, 96, 22],
    );
    out.push((
        "gtf2-range-13",
        base(
            3,
            0x0b,
            [0x00, 0x08, 0x00],
            &[
                std_code(1600, 0, 60),
                std_code(1856, 1, 75),
                std_code(1400, 1, 60),
            ],
            [dtd_1080p(), gtf2, name("corpus gtf2"), display(0x10, &[])],
            0,
        ),
    ));

    // An analog EDID 1.3 without the preferred-timing bit: no preferred mode, no reduced
    // blanking (Linux guesses it from the input type), so a standard timing whose only DMT
    // mode has reduced blanking is made by GTF; and an EDID 1.2, whose aspect code 0 is 1:1.
    let mut analog = base(
        3,
        0x08,
        [0x20, 0x00, 0x00],
        &[
            std_code(2048, 3, 60),
            std_code(1920, 0, 60),
            std_code(1280, 0, 60),
        ],
        [
            sxga,
            name("analog 1.3"),
            display(0x10, &[]),
            display(0x10, &[]),
        ],
        0,
    );
    analog[20] = 0x00;
    fix_checksum(&mut analog);
    out.push(("analog-13", analog));
    out.push((
        "edid-12",
        base(
            2,
            0x02,
            [0x20, 0x00, 0x00],
            &[
                std_code(1024, 0, 60),
                std_code(800, 0, 75),
                std_code(1280, 2, 60),
            ],
            [
                sxga,
                name("corpus v1.2"),
                display(0x10, &[]),
                display(0x10, &[]),
            ],
            0,
        ),
    ));

    // A DisplayID 2.0 5K panel: a 2560x1440 base block (its DTD preferred by EDID 1.4's rule)
    // and a DisplayID 2.0 block with a product identification, type VII timings (5120x2880
    // preferred, 3840x2160), a type VIII timing code and a type IX formula timing, which
    // Linux does not read.
    let mut panel =
        edid::generate(&EdidSpec::new(Mode::new(2560, 1440, 60))).unwrap()[..128].to_vec();
    panel[126] = 1;
    fix_checksum(&mut panel);
    panel.extend(displayid_2_block(&[
        data_block_2(0x20, &[0x00, 0x1b, 0x21, 0x01, 0x50, 0, 0, 0, 0, 1, 36, 0]),
        data_block_2(
            0x22,
            &[
                type_vii(917_880, [5120, 80, 8, 32], [2880, 62, 48, 8], true),
                type_vii(522_614, [3840, 80, 8, 32], [2160, 62, 48, 8], false),
            ]
            .concat(),
        ),
        data_block_2(0x23, &[0x52]),
        data_block_2(0x24, &[0x00, 0xff, 0x09, 0x9f, 0x05, 59]),
    ]));
    out.push(("displayid2-5k", panel));

    // CTA data blocks inside a DisplayID 1.3 CTA block (tag 0x81), with no CTA extension:
    // Linux reads their VICs and HDMI VICs, and adds the 59.94/60 Hz twins.
    let mut did_cta =
        edid::generate(&EdidSpec::new(Mode::new(1920, 1080, 60))).unwrap()[..128].to_vec();
    did_cta[126] = 1;
    fix_checksum(&mut did_cta);
    let vsdb = data_block(
        3,
        &[
            0x03, 0x0c, 0x00, 0x10, 0x00, 0x00, 0x3c, 0x20, 0x00, 0x20, 0x01,
        ],
    );
    let collection = [data_block(2, &[0x90, 4, 97, 5, 2, 3]), vsdb].concat();
    did_cta.extend(displayid_block(
        0x13,
        0x03,
        &[data_block_2(0x81, &collection)],
    ));
    out.push(("displayid-cta", did_cta));

    // A DisplayID 5K panel from our generator (a fitting DTD, DisplayID type I/VII timings).
    let mut spec = EdidSpec::new(Mode::new(5120, 2880, 60));
    spec.extra_modes = vec![
        Mode::new(3840, 2160, 60),
        Mode::new(2560, 1440, 120),
        Mode::new(1280, 720, 60),
    ];
    out.push(("displayid-5k", edid::generate(&spec).unwrap()));

    // An EDID 1.3 monitor whose standard timings outside DMT take GTF, one of them a small
    // odd size (256x160 at 70 Hz) whose GTF sync starts inside the display: the kernel builds
    // it and drm_mode_validate_basic rejects it (H_ILLEGAL), so no guest lists it.
    let gtf = base(
        3,
        0x0a,
        [0x21, 0x08, 0x00],
        &[std_code(256, 0, 70), std_code(1280, 1, 60)],
        [
            dtd(6500, [1024, 320, 24, 136], [768, 38, 3, 6], 0x18),
            name("gtf illegal"),
            range(0, [0; 7], [50, 75, 30, 70, 8]),
            display(0x10, &[]),
        ],
        0,
    );
    out.push(("gtf-illegal", gtf));

    // An HDMI 2.1 monitor whose base block declares one extension while an HF-EEODB in the
    // first CTA block (e2 78 02) declares two: the kernel reads the second CTA block too, with
    // VIC 17 (720x576 at 50 Hz) that nothing else lists.
    let mut eeodb = base(
        3,
        0x0a,
        [0x21, 0x08, 0x00],
        &[],
        [
            dtd_1080p(),
            name("hf-eeodb"),
            display(0x10, &[]),
            display(0x10, &[]),
        ],
        1,
    );
    eeodb.extend(cta(&[vec![0xe2, 0x78, 0x02], data_block(2, &[16])], &[]));
    eeodb.extend(cta(&[data_block(2, &[17])], &[]));
    out.push(("hf-eeodb", eeodb.clone()));

    // The same monitor with a DisplayID 2.0 block between its CTA blocks, as HDMI 2.1 monitors
    // have them (e2 78 03): the kernel reads its 1920x1080 at 240 Hz, which the base block's
    // count alone would hide.
    let mut eeodb_did = eeodb[..128].to_vec();
    eeodb_did.extend(cta(&[vec![0xe2, 0x78, 0x03], data_block(2, &[16])], &[]));
    eeodb_did.extend(displayid_2_block(&[data_block_2(
        0x22,
        &type_vii(549_120, [1920, 80, 8, 32], [1080, 64, 3, 5], false),
    )]));
    eeodb_did.extend(cta(&[data_block(2, &[17])], &[]));
    out.push(("hf-eeodb-displayid", eeodb_did));

    // Files the firmware loader, which repairs nothing, is given damaged. It refuses the
    // first three ("Invalid firmware EDID") and the kernel reads the monitor instead (the VM's
    // EDID window); it keeps the fourth, a CTA block whose only fault is its checksum.
    let tv = out
        .iter()
        .find(|(n, _)| *n == "tv-1080i")
        .map(|(_, blob)| blob.clone())
        .expect("the corpus has its TV");
    let mut base_sum = tv.clone();
    base_sum[127] = base_sum[127].wrapping_add(1);
    out.push(("fw-base-checksum", base_sum));
    // One header byte wrong and a checksum made over it: the header alone refuses it.
    let mut header = tv.clone();
    header[0] = 0x01;
    fix_checksum(&mut header[..128]);
    out.push(("fw-header-7of8", header));
    out.push(("fw-cta-truncated", tv[..128 + 64].to_vec()));
    let mut cta_sum = tv;
    cta_sum[255] = cta_sum[255].wrapping_add(1);
    out.push(("fw-cta-checksum", cta_sum));

    // Monitors in drm_edid's table of known broken EDIDs, by their manufacturer and product
    // codes: the kernel applies each quirk whatever the bytes say.
    // Samsung SyncMaster 225BW (SAM 596), PREFER_LARGE_60, and Medion MD 30217 PG (MED 0x7b8),
    // PREFER_LARGE_75: the same EDID 1.3 with a 1024x768 DTD marked preferred, 1680x1050 at
    // 60 and 75 Hz and 1280x960 at 60 Hz as standard timings. The kernel moves the preferred
    // mark to the largest mode nearest the quirk's rate.
    let prefer = base(
        3,
        0x0a,
        [0x21, 0x08, 0x00],
        &[
            std_code(1280, 1, 60),
            std_code(1680, 0, 75),
            std_code(1680, 0, 60),
        ],
        [
            dtd(6500, [1024, 320, 24, 136], [768, 38, 3, 6], 0x18),
            name("quirk prefer"),
            display(0x10, &[]),
            display(0x10, &[]),
        ],
        0,
    );
    out.push(("quirk-prefer-60", with_id(&prefer, *b"SAM", 596)));
    out.push(("quirk-prefer-75", with_id(&prefer, *b"MED", 0x7b8)));
    // Samsung SyncMaster 205BW (SAM 541), DETAILED_SYNC_PP: a DTD with negative syncs and
    // one with positive horizontal and negative vertical sync both become positive.
    let sync = base(
        3,
        0x0a,
        [0x21, 0x08, 0x00],
        &[],
        [
            dtd(15400, [1680, 160, 48, 32], [1050, 30, 3, 6], 0x18),
            dtd(11900, [1680, 160, 48, 32], [1050, 30, 3, 6], 0x18 | 0x02),
            name("quirk syncpp"),
            display(0x10, &[]),
        ],
        0,
    );
    out.push(("quirk-sync-pp", with_id(&sync, *b"SAM", 541)));
    // ViewSonic VA2026w (VSC 5020), FORCE_REDUCED_BLANKING: each DTD becomes CVT reduced
    // blanking at 60 Hz for its size, an interlaced 1080i DTD a progressive 1920x540.
    let rb = base(
        3,
        0x0a,
        [0x21, 0x08, 0x00],
        &[std_code(1280, 1, 60)],
        [
            dtd(14625, [1680, 560, 104, 176], [1050, 39, 3, 6], 0x18 | 0x04),
            dtd_1080i(),
            name("quirk rb"),
            display(0x10, &[]),
        ],
        0,
    );
    out.push(("quirk-reduced-blanking", with_id(&rb, *b"VSC", 5020)));
    // Envision EN-7100e (EPI 59264), 135_CLOCK_TOO_HIGH: every DTD's clock becomes the
    // kernel's 10.88 MHz (it meant 108.8), so its 1280x1024 runs at 6 Hz.
    let clock = base(
        3,
        0x0a,
        [0x21, 0x08, 0x00],
        &[std_code(1024, 1, 75)],
        [
            dtd(13500, [1280, 408, 16, 144], [1024, 42, 1, 3], SYNC_PP),
            name("quirk clock"),
            display(0x10, &[]),
            display(0x10, &[]),
        ],
        0,
    );
    out.push(("quirk-135-clock", with_id(&clock, *b"EPI", 59264)));
    out
}

/// `blob` with the base block's manufacturer letters and product code set (bytes 8-11), as a
/// monitor of drm_edid's quirk table has them.
pub fn with_id(blob: &[u8], letters: [u8; 3], product: u16) -> Vec<u8> {
    let code = letters
        .iter()
        .fold(0u16, |code, &c| code << 5 | u16::from(c - b'@'));
    let mut out = blob.to_vec();
    out[8..10].copy_from_slice(&code.to_be_bytes());
    out[10..12].copy_from_slice(&product.to_le_bytes());
    fix_checksum(&mut out[..128]);
    out
}

/// A corpus EDID by name.
pub fn by_name(name: &str) -> Vec<u8> {
    corpus()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, blob)| blob)
        .unwrap_or_else(|| panic!("the corpus has no EDID named {name}"))
}

/// One mode as a comparable line: size, interlace, clock, both timings, syncs, aspect and the
/// preferred mark.
#[allow(clippy::too_many_arguments)] // one argument per field compared
fn line(
    clock: u32,
    h: [u32; 4],
    v: [u32; 4],
    sync: (bool, bool),
    interlaced: bool,
    aspect: &str,
    preferred: bool,
) -> String {
    format!(
        "{}x{}{} {clock} {:?} {:?} {}{} {aspect}{}",
        h[0],
        v[0],
        if interlaced { "i" } else { "" },
        h,
        v,
        if sync.0 { '+' } else { '-' },
        if sync.1 { '+' } else { '-' },
        if preferred { " preferred" } else { "" }
    )
}

fn ours_line(m: &ListedMode, with_aspect: bool) -> String {
    let t = &m.timing;
    line(
        t.clock_khz,
        t.horizontal,
        t.vertical,
        (t.hsync_positive, t.vsync_positive),
        m.interlaced,
        if with_aspect {
            m.aspect.unwrap_or("-")
        } else {
            "?"
        },
        m.preferred,
    )
}

/// Parses a kernel mode line: `modes`'s (NAME CLOCK H*4 V*4 FLAGS TYPE, aspect in the flags)
/// or drm's "Rejected mode" debug line ("NAME": VREFRESH CLOCK H*4 V*4 TYPE FLAGS, no aspect).
fn kernel_line(text: &str, rejected: bool) -> Option<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let hex = |s: &str| u32::from_str_radix(s.trim_start_matches("0x"), 16).ok();
    let nums: Vec<u32> = words
        .get(if rejected { 2 } else { 1 }..if rejected { 11 } else { 10 })?
        .iter()
        .map(|w| w.parse().ok())
        .collect::<Option<_>>()?;
    let (flags, kind) = if rejected {
        (hex(words.get(12)?)?, hex(words.get(11)?)?)
    } else {
        (hex(words.get(10)?)?, hex(words.get(11)?)?)
    };
    let aspect = match (rejected, (flags >> 19) & 0xf) {
        (true, _) => "?",
        (false, 1) => "4:3",
        (false, 2) => "16:9",
        (false, 3) => "64:27",
        (false, 4) => "256:135",
        _ => "-",
    };
    Some(line(
        nums[0],
        [nums[1], nums[2], nums[3], nums[4]],
        [nums[5], nums[6], nums[7], nums[8]],
        (flags & 1 != 0, flags & 4 != 0),
        flags & 0x10 != 0,
        aspect,
        kind & 0x8 != 0,
    ))
}

/// Hex digits (any spacing, as `od -An -tx1` prints them) to bytes; None if they are not hex.
pub fn unhex(lines: &[&str]) -> Option<Vec<u8>> {
    let digits: String = lines.iter().flat_map(|l| l.split_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(digits.get(i..i + 2)?, 16).ok())
        .collect()
}

/// How many times the kernel probed the connector, from a `LOG-NAME` section: the probe
/// helper's debug line that opens each probe ends with the connector's tag.
pub fn probes(log: &[&str]) -> usize {
    log.iter()
        .filter(|l| l.trim_end().ends_with(']') && l.contains("[CONNECTOR:"))
        .count()
}

/// For each corpus EDID, loaded as the connector's EDID firmware, from the guest's data:
/// - `LOG-NAME`: whether the firmware loader refused the file ("Invalid firmware EDID"), and
///   the probes of the one GETCONNECTOR call that built the list (there must be one);
/// - `EDID-NAME`: the EDID the kernel kept (its connector's `edid` file), which must be what
///   `linux_read(.., Firmware)` keeps, or, where that refuses the file, the monitor's EDID the
///   kernel read instead (the guest's `EDID` section, its EDID window);
/// - `CORPUS-NAME` and `REJECTED-NAME`: the kernel's list (modes that survived the driver, in
///   its order) and the modes it rejected, against `edid decode --modes` of that EDID (see
///   [`compare`]).
///
/// One result per corpus EDID, failed by any of the three.
pub fn check<'t>(section: impl Fn(&str) -> Vec<&'t str>) -> Vec<(String, bool, String)> {
    let window = unhex(&section("EDID")).unwrap_or_default();
    corpus()
        .into_iter()
        .map(|(name, blob)| {
            let (ok, why) = check_one(&section, name, &blob, &window);
            (name.to_string(), ok, why)
        })
        .collect()
}

fn check_one<'t>(
    section: &impl Fn(&str) -> Vec<&'t str>,
    name: &str,
    blob: &[u8],
    window: &[u8],
) -> (bool, String) {
    let log = section(&format!("LOG-{name}"));
    let mut faults = Vec::new();
    let probed = probes(&log);
    if probed != 1 {
        faults.push(format!(
            "the kernel probed the connector {probed} times for one GETCONNECTOR call"
        ));
    }
    let refused = log
        .iter()
        .any(|l| l.trim_start().starts_with("Invalid firmware EDID"));
    let expected = match edid::linux_read(blob, ReadPath::Firmware) {
        Ok(read) => {
            if refused {
                faults.push("the kernel refused the file; linux_read keeps it".to_string());
            }
            read.blob
        }
        Err(why) => {
            if !refused {
                faults.push(format!(
                    "linux_read refuses the file ({why}); the kernel did not say it refused it"
                ));
            }
            if window.is_empty() {
                faults.push("the record has no EDID of the window to fall back on".to_string());
            }
            window.to_vec()
        }
    };
    match unhex(&section(&format!("EDID-{name}"))) {
        Some(kept) if kept == expected => {}
        Some(kept) => faults.push(format!(
            "the kernel kept {} bytes, not the {} expected: {kept:02x?}",
            kept.len(),
            expected.len()
        )),
        None => faults.push("the guest's EDID section is not hex".to_string()),
    }
    let ours = edid::decode(&expected)
        .map(|d| d.linux_modes())
        .unwrap_or_default();
    let (modes_ok, diff) = compare(
        &ours,
        &section(&format!("CORPUS-{name}")),
        &section(&format!("REJECTED-{name}")),
    );
    let ok = faults.is_empty() && modes_ok;
    faults.push(diff);
    (ok, faults.join("\n"))
}

/// The `drm_mode_status` of a rejected line ("MEM" from "... (MEM)").
fn status(text: &str) -> &str {
    text.trim()
        .rsplit_once('(')
        .map_or("", |(_, s)| s.trim_end_matches(')'))
}

/// Statuses of `drm_mode_validate_basic`: the EDID's timing is illegal, for every driver. Our
/// list drops those modes itself; every other status (its memory, interlace, a clock) is the
/// driver's, and is taken off our list before it is compared.
const ILLEGAL: [&str; 2] = ["H_ILLEGAL", "V_ILLEGAL"];

/// Whether a kernel line carries stereo 3D flags (`DRM_MODE_FLAG_3D_MASK`): those modes are
/// shown only to clients that ask for stereo, and our list leaves them out.
fn stereo(text: &str, rejected: bool) -> bool {
    let words: Vec<&str> = text.split_whitespace().collect();
    let flags = words
        .get(if rejected { 12 } else { 10 })
        .and_then(|w| u32::from_str_radix(w.trim_start_matches("0x"), 16).ok());
    flags.is_some_and(|f| (f >> 14) & 0x1f != 0)
}

/// Ours against one kernel list and its rejected lines: ours, less the modes the driver
/// rejected for reasons of its own, must be the kernel's list in order. A mode the kernel
/// rejects as illegal (H_ILLEGAL, V_ILLEGAL) is not taken off ours: if ours lists it, that is a
/// difference. An empty kernel list passes when every mode of ours was the driver's to reject
/// (a monitor whose every mode exceeds the VRAM). The rejections are one probe's (the kernel
/// merges equal modes before it checks them), so each counts once.
pub fn compare(ours: &[ListedMode], kernel: &[&str], rejected: &[&str]) -> (bool, String) {
    let kernel: Vec<String> = kernel
        .iter()
        .filter(|l| !stereo(l, false))
        .filter_map(|l| kernel_line(l, false))
        .collect();
    let mut by_driver: Vec<String> = Vec::new();
    let mut illegal: Vec<String> = Vec::new();
    for l in rejected.iter().filter(|l| !stereo(l, true)) {
        let Some(mode) = kernel_line(l, true) else {
            continue;
        };
        let list = if ILLEGAL.contains(&status(l)) {
            &mut illegal
        } else {
            &mut by_driver
        };
        list.push(mode);
    }
    // Ours without those the driver rejected (matched without the aspect ratio, which the
    // debug line does not show), in order.
    let mut kept = Vec::new();
    for m in ours {
        let bare = ours_line(m, false);
        match by_driver.iter().position(|r| *r == bare) {
            Some(i) => {
                by_driver.remove(i);
            }
            None => kept.push(ours_line(m, true)),
        }
    }
    let listed_illegal: Vec<&String> = illegal
        .iter()
        .filter(|i| ours.iter().any(|m| ours_line(m, false) == **i))
        .collect();
    let heard = !kernel.is_empty() || !ours.is_empty();
    let ok = heard && kept == kernel && by_driver.is_empty() && listed_illegal.is_empty();
    let diff = format!(
        "ours (less the driver's rejections): {kept:#?}\nthe guest kernel's: {kernel:#?}\nrejected by the driver but not in ours: {by_driver:#?}\nrejected as illegal by the kernel but listed by ours: {listed_illegal:#?}"
    );
    (ok, diff)
}
