//! EDID blobs for the decoder tests: blocks built by hand with their checksums fixed, CTA-861
//! blocks, a generated base block followed by chosen extensions, and real monitors' EDIDs that
//! break one structural rule each.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use vfio_display::edid::{self, EdidSpec, Mode};

/// Sets byte 127 so that the block's bytes sum to zero.
pub fn fix_checksum(block: &mut [u8]) {
    let sum = block[..127].iter().fold(0u8, |a, b| a.wrapping_add(*b));
    block[127] = 0u8.wrapping_sub(sum);
}

/// A CTA-861 block (revision 3) whose video data blocks list `vics` (short descriptor bytes).
pub fn cta_block(vics: &[u8]) -> Vec<u8> {
    let mut block = vec![0u8; 128];
    block[0] = 0x02;
    block[1] = 3;
    let mut data = Vec::new();
    for chunk in vics.chunks(31) {
        data.push(0x40 | chunk.len() as u8);
        data.extend_from_slice(chunk);
    }
    assert!(data.len() <= 123, "too many VICs for one block");
    block[4..4 + data.len()].copy_from_slice(&data);
    block[2] = 4 + data.len() as u8;
    fix_checksum(&mut block);
    block
}

/// A generated 1920x1080 base block declaring `extensions` blocks, followed by them.
pub fn with_extensions(extensions: &[Vec<u8>]) -> Vec<u8> {
    let good = edid::generate(&EdidSpec::new(Mode::new(1920, 1080, 60))).unwrap();
    let mut base = good[..128].to_vec();
    base[126] = extensions.len() as u8;
    fix_checksum(&mut base);
    let mut blob = base;
    for e in extensions {
        blob.extend_from_slice(e);
    }
    blob
}

/// edid-decode's full text for a blob (written to a temporary file, as it reads files).
pub fn edid_decode_text(blob: &[u8]) -> String {
    let dir = super::cli::tmp();
    let path = dir.path().join("edid.bin");
    std::fs::write(&path, blob).unwrap();
    let out = std::process::Command::new("edid-decode")
        .arg(&path)
        .output()
        .expect("edid-decode is installed (scripts/install-test-deps.sh)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Real monitors' EDIDs (from the public linuxhw/EDID collection) that each break one
/// structural rule `edid-decode --check` fails: name, the EDID in hex, a part of the problem
/// `edid decode` names for it, and a part of edid-decode's failure for it.
pub fn real_structural() -> Vec<(&'static str, Vec<u8>, &'static str, &'static str)> {
    [
        (
            "week-0xff-in-1.3",
            concat!(
                "00ffffffffffff005262080101010101ff130103084627780a9e2fa3554a9a25",
                "10454aafce0081c08180010101010101010101010101662150b051001b304070",
                "3600ba892100001e0e1f008051001e3040803700ba892100001c000000fc0054",
                "4f53484942412d54560a2020000000fd00384c1f410b000a20202020202000d5",
            ),
            "byte 16 (week of manufacture) is 0xff, which EDID 1.3 does not define",
            "EDID 1.3 does not support week 0xff",
        ),
        (
            "reserved-input-bits-in-1.3",
            concat!(
                "00ffffffffffff0005e3102290bd000015110103e82f1e782ac3d0a455499a26",
                "135054bfef00614c8180818a818c8140b3000101010108399030621a274068b0",
                "3600d62c1100001a000000fd00384b1f5011000a202020202020000000fc0041",
                "4f4320323130560a20202020000000ff0041333237354a413034383532380004",
            ),
            "byte 20 (digital input) sets reserved bits 0x68",
            "Digital Video Interface Standard set to reserved value 0x68",
        ),
        (
            "standard-timing-code",
            concat!(
                "00ffffffffffff001710010901000000000e0103807341782a7c119e59479b27",
                "10505400000001410101010101010101010101010101011d007251d01e206e28",
                "550010090000001e011d007251d01e206e28550010090000001e000000fc0045",
                "502d48444d492d52580a2020000000fd003b3d0f2e08000a20202020202001b3",
                "020314424104230907078301000065030c001000011d007251d01e206e285500",
                "10090000001e0000000000000000000000000000000000000000000000000000",
                "0000000000000000000000000000000000000000000000000000000000000000",
                "000000000000000000000000000000000000000000000000000000000000000d",
            ),
            "standard timing 1 (byte 38) is 0x01 0x41",
            "Use 0x0101 as the invalid Standard Timings code, not 0x0141",
        ),
        (
            "all-zero-descriptor",
            concat!(
                "00ffffffffffff001e6dad4b20f60200291401036a291778ea2335a4554d9b25",
                "125054a56a00314f454f614f01010101010101010101662150b051001b304070",
                "360096e51000001e000000000000000000000000000000000000000000fd0038",
                "4b1e3d09000a202020202020000000fc0057313934330a2020202020202000bf",
            ),
            "descriptor 2 (byte 72): all zeroes",
            "Use Dummy Descriptor instead of all zeroes",
        ),
        (
            "descriptor-byte-4",
            concat!(
                "00ffffffffffff001e6d9b44118005000a1501036a221b78ea3231a3574c9d25",
                "115054a56b80314f454f614f81800101010101010101302a009851002a403070",
                "1300520e1100001e000000fd00384b1e530e000a202020202020000000fc004c",
                "313734320a20202020202020000000fc202020202020202020202020202000e9",
            ),
            "descriptor 4 (byte 108): byte 4 is 0x20, but must be zero",
            "Monitor descriptor block has byte 4 nonzero (0x20)",
        ),
        (
            "timing-after-display-descriptor",
            concat!(
                "00ffffffffffff005df25024211d9a002b15010380351e78ead6a5a2594a9524",
                "145054bfcf80818081407140a9c0810081c09500614f023a801871382d40582c",
                "450070cf1000001a000000ff004c54323031313433313337330a21399030621a",
                "274068b0360055001100001c000000fc0054455252412032343530570a20005f",
            ),
            "descriptor 3 (byte 90): a detailed timing after a display descriptor",
            "Invalid detailed timing descriptor ordering",
        ),
        (
            "dummy-descriptor-data",
            concat!(
                "00ffffffffffff0022f01a42010100001e130103802c1978eab815a6554b9b25",
                "13505400000001010101010101010101010101010101302a40c8608464301850",
                "1300bbf91000001e00000010004c4d3230305744332d544c4338000000fe004d",
                "3230304f332d4c32300a2020000000fc004850204f6d6e69202f2050726f00ad",
            ),
            "a dummy descriptor, but byte 5 is 0x4c",
            "Dummy block filled with garbage",
        ),
        (
            "range-class-reserved",
            concat!(
                "00ffffffffffff00047295ad6ca890700911010308261e782ae5c5a4564a9c23",
                "125054bfef808bc09500950f8180814081c0714f614f6b35a0f051842a306098",
                "3600782d1100001c000000fd00384b1f500e0a0a202020202020000000fc0058",
                "313931570a20202020202020000000ff004c3935304230323933393130200093",
            ),
            "byte 10 is the reserved class 0x0a",
            "Unknown range class (0x0a)",
        ),
        (
            "range-limits-padding",
            concat!(
                "00ffffffffffff0009d19e76b4030000220f01036c1e1778eed3d0a15a4c9424",
                "1b5054bdee00614c010101010101010101010101010164190040410026301888",
                "360030e410000018d50980a0205e63101060520830e41000001a000000fd0038",
                "4b1f3f080a20202020202020000000fc0042656e512046503531470a20200022",
            ),
            "byte 11 is 0x20, but must be 0x0a",
            "Byte 11 is 0x20 instead of 0x0a",
        ),
        (
            "range-class-1-in-1.3",
            concat!(
                "00ffffffffffff000472920600000000111c0103803c2278bfee95a3544c9926",
                "0f5054a5cb0081c081809500a9c0b300d1c001010101565e00a0a0a029503020",
                "3500544f2100001a9ee00078a0a0325010403500544f2100001a000000fd0030",
                "90f0f03c010a202020202020000000fc00454432373355520a202020202001e0",
                "020335f34d01020304050790121314161f3f230907078301000065030c001000",
                "67d85dc40178c000681a000001013090ede3050301f5bd00a0a0a03250204045",
                "00544f2100001e023a801871382d4030203600544f2100001e0474801871382d",
                "4030205500544f2100001e0000000000000000000000000000000000000000a1",
            ),
            "byte 10 is class 1 (range limits only), which EDID 1.3 does not define",
            "'Bare Limits' is not allowed for EDID < 1.4",
        ),
        (
            "displayid-no-product-type",
            concat!(
                "00ffffffffffff0009e5c209000000002c1e0104a5221378030f95ae5243b026",
                "0f505400000001010101010101010101010101010101096400b0a0a078503020",
                "360058c210000018000000fd0c30a5020246010a202020202020000000fe0042",
                "4f452043510a202020202020000000fe004e4531353651484d2d4e59310a01d4",
                "701379000003011419130184ff09af002f001f009f0577000200050000000000",
                "0000000000000000000000000000000000000000000000000000000000000000",
                "0000000000000000000000000000000000000000000000000000000000000000",
                "0000000000000000000000000000000000000000000000000000000000008490",
            ),
            "byte 3 is product type 0, but the first DisplayID section must name one",
            "DisplayID Base Block has no product type",
        ),
        (
            "audio-format-code-0",
            concat!(
                "00ffffffffffff0005b20710000000000c180103804627780a2285a954459922",
                "204a5ca5ce0001010101010101010101010101010101023a801871382d40582c",
                "4500bc862100001e000000fd00324d1f460f000a202020202020000000ff0054",
                "4d3130454d32595757303030000000fc00454d3332464c0a202020202020011a",
                "020326714b010384051020151213141f29090705155750000700830100006703",
                "0c001000282d023a801871382d40582c5500bc862100001e011d007251d01e20",
                "6e285500bc862100001e00000000000000000000000000000000000000000000",
                "00000000000000000000000000000000000000000000000000000000000000f0",
            ),
            "descriptor 3 (byte 23) has the reserved format code 0",
            "Audio Format Code 0x00 is reserved",
        ),
        (
            "hdmi-vsdb-without-address",
            concat!(
                "00ffffffffffff00047235034f4600931e1d010380301b78ca39b0a554509e26",
                "115054bfef80714f8140818081c081009500b300d1c0023a801871382d40582c",
                "4500dd0c1100001e000000fd00374c1f5311000a202020202020000000fc0056",
                "32323648514c0a2020202020000000ff004c59374545303337383538420a01ea",
                "020318b14f01020304050607901112131415161f63030c00023a801871382d40",
                "582c4500dd0c1100001e011d8018711c1620582c2500dd0c1100009e011d0072",
                "51d01e206e285500dd0c1100001e8c0ad08a20e02d10103e9600dd0c11000018",
                "0000000000000000000000000000000000000000000000000000000000000097",
            ),
            "HDMI vendor-specific data block at byte 20 ends after its OUI",
            "Empty Data Block with length 0",
        ),
        (
            "ycbcr420-map-past-the-svds",
            concat!(
                "00ffffffffffff0010ac24d1563435301f21010380502178ea19f5aa4d43aa24",
                "105054a54b00714f8140818081c081009500b300d1c0e77c70a0d0a029503020",
                "3a001d4e3100001a000000ff00345a4d354b4b330a2020202020000000fc0044",
                "454c4c205333343232445747000000fd0030781dc83c000a202020202020010c",
                "020353f1550102030711121613042f4647141f05103f4c4e6061230907078301",
                "0000e200d567030c001000383c67d85dc4017888036d1a000002033078e6076c",
                "2c6c2ce305c000e40f000038e60605016c6c2c4ed470a0d0a0465030203a001d",
                "4e3100001a6fc200a0a0a05550302035001d4e3100001a000000000000000011",
            ),
            "names SVD 22 (counting from 1), but the video data blocks hold 21",
            "Max index 22 > 21 (#SVDs)",
        ),
        (
            "text-0x80-between-part-numbers",
            concat!(
                "00ffffffffffff004d108d1400000000051c0104a52213780eaa29a95335bc25",
                "0c5155000000010101010101010101010101010101014dd000a0f0703e803020",
                "350058c210000018000000000000000000000000000000000000000000fe0046",
                "4e564452804c513135364431000000000002410328011200000b010a202000b6",
            ),
            "byte 10 is 0x80, which is not printable ASCII",
            "Alphanumeric Data String: Non-printable character",
        ),
    ]
    .into_iter()
    .map(|(name, hex, ours, theirs)| (name, unhex(hex), ours, theirs))
    .collect()
}

/// Bytes from a hex string (two digits a byte, nothing else).
fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}
