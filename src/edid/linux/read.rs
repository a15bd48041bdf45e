//! What Linux does with a damaged EDID before it builds any mode: the blocks it keeps, the
//! repairs it makes and the EDIDs it refuses, on each of the two paths a guest's EDID takes
//! (drm_edid.c, Linux 6.12):
//! - a DDC-style read (`_drm_do_get_edid`: every driver that reads the monitor, bochs-drm
//!   through its EDID window among them): a base block header with 6 or 7 of its 8 bytes right
//!   is repaired (`edid_header_fix`, `edid_fixup` = 6); a base block that is still invalid
//!   (a worse header, a bad checksum, a version other than 1) means no EDID; an extension block
//!   whose checksum is wrong, or that cannot be read, is dropped (`edid_filter_invalid_blocks`),
//!   except a CTA block whose only fault is its checksum, which is kept;
//! - the firmware loader (`drm.edid_firmware`, `edid_load`): the file must be exactly the
//!   blocks its count declares, and every block valid as it stands (no header repair); else the
//!   whole EDID is refused.
//!
//! A block is checked as `edid_block_check` checks it; a CTA block with a bad checksum is
//! valid for both paths (`edid_block_status_valid`).

use super::super::{BLOCK, HEADER};

/// How the EDID reaches the guest's kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadPath {
    /// Read from the monitor (or a virtual display's EDID window) block by block.
    Ddc,
    /// Loaded from a file (`drm.edid_firmware`).
    Firmware,
}

/// What Linux makes of an EDID on one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinuxRead {
    /// The EDID the kernel goes on with: repaired, and with invalid extensions left out (the
    /// base block's extension count and checksum updated, as the kernel updates them).
    pub blob: Vec<u8>,
    /// Each repair or tolerance, in words ("header repaired ...").
    pub notes: Vec<String>,
}

const CTA_TAG: u8 = 0x02;

/// The header bytes that are right (`drm_edid_header_is_valid`).
fn header_score(block: &[u8]) -> usize {
    block.iter().zip(HEADER).filter(|(a, b)| **a == *b).count()
}

fn checksum_ok(block: &[u8]) -> bool {
    block.iter().fold(0u8, |a, b| a.wrapping_add(*b)) == 0
}

/// Why an extension block is not valid as it stands, if it is not: its checksum, unless it is
/// a CTA block (`edid_block_status_valid`). (An all-zero block sums right, so it is valid.)
fn extension_fault(block: &[u8]) -> Option<&'static str> {
    (!checksum_ok(block) && block[0] != CTA_TAG).then_some("its checksum is wrong")
}

/// The blocks the base block (or an HF-EEODB) declares, extensions included.
fn declared_blocks(blob: &[u8]) -> usize {
    usize::from(super::build::hfeeodb_extension_count(blob).unwrap_or(blob[126])) + 1
}

/// What Linux makes of `blob` on `path`: the EDID it uses, or why it refuses it (no EDID: the
/// connector gets no modes from it).
pub fn read(blob: &[u8], path: ReadPath) -> Result<LinuxRead, String> {
    let base = blob
        .get(..BLOCK)
        .ok_or_else(|| format!("{} bytes: shorter than the base block", blob.len()))?;
    let mut notes = Vec::new();
    let mut out = base.to_vec();
    let score = header_score(base);
    match (score, path) {
        (8, _) => {}
        (6 | 7, ReadPath::Ddc) => {
            out[..8].copy_from_slice(&HEADER);
            notes.push(format!(
                "header repaired ({score} of 8 bytes right; edid_header_fix)"
            ));
        }
        (6 | 7, ReadPath::Firmware) => {
            return Err(format!(
                "the header has {score} of 8 bytes right, and the firmware loader repairs \
                 nothing"
            ));
        }
        _ => return Err(format!("the header has only {score} of 8 bytes right")),
    }
    // The kernel checks the checksum of the repaired block (a header damaged on the way has a
    // checksum made over the right bytes).
    if !checksum_ok(&out) {
        return Err("the base block's checksum is wrong".to_string());
    }
    if out[18] != 1 {
        return Err(format!(
            "EDID version {} (Linux reads version 1 only)",
            out[18]
        ));
    }
    let blocks = declared_blocks(blob);
    if path == ReadPath::Firmware && blob.len() != blocks * BLOCK {
        return Err(format!(
            "the file holds {} bytes, the EDID declares {blocks} blocks ({} bytes)",
            blob.len(),
            blocks * BLOCK
        ));
    }
    let mut kept = 0u8;
    for i in 1..blocks {
        let Some(block) = blob.get(i * BLOCK..(i + 1) * BLOCK) else {
            notes.push(format!(
                "block {i} dropped: it could not be read (the EDID ends)"
            ));
            continue;
        };
        if let Some(fault) = extension_fault(block) {
            if path == ReadPath::Firmware {
                return Err(format!("block {i} is not valid: {fault}"));
            }
            notes.push(format!("block {i} dropped: {fault}"));
            continue;
        }
        if !checksum_ok(block) {
            notes.push(format!("CTA block {i} kept although its checksum is wrong"));
        }
        out.extend_from_slice(block);
        kept = kept.saturating_add(1);
    }
    // `edid_filter_invalid_blocks`: the count (and so the checksum) of what was kept. An
    // HF-EEODB count is left as it is, as the kernel leaves it.
    if out[126] != kept && super::build::hfeeodb_extension_count(blob).is_none() {
        out[126] = kept;
        let sum = out[..127].iter().fold(0u8, |a, b| a.wrapping_add(*b));
        out[127] = 0u8.wrapping_sub(sum);
    }
    Ok(LinuxRead { blob: out, notes })
}

/// One line for people: what each path makes of the EDID.
pub fn describe(blob: &[u8]) -> String {
    let one = |path| match read(blob, path) {
        Ok(r) if r.notes.is_empty() => "used as it is".to_string(),
        Ok(r) => r.notes.join("; "),
        Err(why) => format!("refused: {why}"),
    };
    format!(
        "a DDC read: {}; the firmware loader: {}",
        one(ReadPath::Ddc),
        one(ReadPath::Firmware)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edid::{EdidSpec, Mode, generate};

    fn fix(block: &mut [u8]) {
        let sum = block[..127].iter().fold(0u8, |a, b| a.wrapping_add(*b));
        block[127] = 0u8.wrapping_sub(sum);
    }

    fn good() -> Vec<u8> {
        generate(&EdidSpec::new(Mode::new(1920, 1080, 60))).unwrap()[..128].to_vec()
    }

    fn cta(checksum_right: bool) -> Vec<u8> {
        let mut b = vec![0u8; 128];
        b[0] = CTA_TAG;
        b[1] = 3;
        b[2] = 4;
        fix(&mut b);
        if !checksum_right {
            b[127] ^= 0x55;
        }
        b
    }

    fn with(base: &[u8], extensions: &[Vec<u8>]) -> Vec<u8> {
        let mut blob = base.to_vec();
        blob[126] = extensions.len() as u8;
        fix(&mut blob[..128]);
        for e in extensions {
            blob.extend_from_slice(e);
        }
        blob
    }

    #[test]
    fn a_good_edid_is_used_as_it_is_on_both_paths() {
        let blob = with(&good(), &[cta(true)]);
        for path in [ReadPath::Ddc, ReadPath::Firmware] {
            let r = read(&blob, path).unwrap();
            assert_eq!(r.blob, blob);
            assert!(r.notes.is_empty(), "{:?}", r.notes);
        }
    }

    #[test]
    fn a_header_with_one_byte_wrong_is_repaired_by_ddc_and_refused_as_firmware() {
        // 7 of 8 right, damaged on the way: the checksum was made over the right header.
        let mut blob = good();
        blob[0] = 0x01;
        let r = read(&blob, ReadPath::Ddc).unwrap();
        assert_eq!(r.blob[..8], HEADER);
        assert!(r.notes[0].contains("7 of 8"), "{:?}", r.notes);
        let err = read(&blob, ReadPath::Firmware).unwrap_err();
        assert!(err.contains("repairs nothing"), "{err}");
        // Three bytes wrong: beyond repair on either path.
        blob[1] = 0;
        blob[2] = 0;
        assert!(read(&blob, ReadPath::Ddc).unwrap_err().contains("5 of 8"));
    }

    #[test]
    fn a_bad_base_checksum_means_no_edid() {
        let mut blob = good();
        blob[127] ^= 1;
        for path in [ReadPath::Ddc, ReadPath::Firmware] {
            assert!(read(&blob, path).unwrap_err().contains("checksum"));
        }
    }

    #[test]
    fn damaged_extensions_are_dropped_on_a_ddc_read_and_refuse_the_file() {
        // A CTA block with a bad checksum is kept; another block with a bad checksum is
        // dropped (the count and checksum of the base block follow).
        let mut other = vec![0u8; 128];
        other[0] = 0x70; // DisplayID
        other[127] = 1;
        let blob = with(&good(), &[cta(false), other]);
        let r = read(&blob, ReadPath::Ddc).unwrap();
        assert_eq!(r.blob.len(), 256);
        assert_eq!(r.blob[126], 1);
        assert!(checksum_ok(&r.blob[..128]));
        assert!(
            r.notes.iter().any(|n| n.contains("kept although")),
            "{:?}",
            r.notes
        );
        assert!(
            r.notes.iter().any(|n| n.contains("block 2 dropped")),
            "{:?}",
            r.notes
        );
        assert!(
            read(&blob, ReadPath::Firmware)
                .unwrap_err()
                .contains("block 2")
        );
        // Declared but cut off: the DDC read drops it, the firmware loader refuses the size.
        let mut short = with(&good(), &[cta(true), cta(true)]);
        short.truncate(256 + 60);
        let r = read(&short, ReadPath::Ddc).unwrap();
        assert_eq!(r.blob.len(), 256);
        assert!(r.notes.iter().any(|n| n.contains("could not be read")));
        assert!(
            read(&short, ReadPath::Firmware)
                .unwrap_err()
                .contains("bytes")
        );
        // A CTA block with a bad checksum is valid as firmware too.
        let blob = with(&good(), &[cta(false)]);
        assert_eq!(read(&blob, ReadPath::Firmware).unwrap().blob, blob);
    }
}
