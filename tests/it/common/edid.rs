//! EDID blobs built by hand for the decoder tests: blocks with their checksums fixed, CTA-861
//! blocks, a generated base block followed by chosen extensions.
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
