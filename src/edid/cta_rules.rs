//! Structural rules of CTA-861 data blocks that `edid-decode --check` fails and real TVs and
//! monitors break: an audio data block whose length is not whole short audio descriptors, a
//! descriptor with the reserved format code 0 or reserved bits set, an HDMI vendor-specific
//! block with no physical address, a colorimetry or HDR static metadata block too short for
//! its two fixed bytes, a colorimetry block's reserved bits, and a YCbCr 4:2:0 capability map
//! that is all zero or names SVDs the video data blocks do not hold. Each follows edid-decode's
//! rule (parse-cta-block.cpp) and names the byte.

/// The data block with tag `tag` and payload `body` (after its header byte), at byte `at` of
/// the block `what` names.
pub(crate) fn data_block_problems(
    tag: u8,
    body: &[u8],
    at: usize,
    what: &str,
    problems: &mut Vec<String>,
) {
    match (tag, body.first()) {
        (1, _) => audio_problems(body, at, what, problems),
        (3, _) if body == [0x03, 0x0c, 0x00] => problems.push(format!(
            "{what}: the HDMI vendor-specific data block at byte {at} ends after its OUI (it \
             needs the 2-byte physical address)"
        )),
        (7, Some(&ext @ (5 | 6))) => {
            let name = if ext == 5 {
                "colorimetry"
            } else {
                "HDR static metadata"
            };
            let payload = &body[1..];
            if payload.len() < 2 {
                problems.push(format!(
                    "{what}: the {name} data block at byte {at} has {} of its 2 bytes",
                    payload.len()
                ));
            } else if ext == 5 && payload[1] & 0x0e != 0 {
                // Bit 0 (MD0) is HDMI's gamut boundary metadata profile since CTA-861.6;
                // bits 1-3 are reserved. Older edid-decode builds fail MD0 too.
                problems.push(format!(
                    "{what}: the colorimetry data block at byte {at} sets reserved bits \
                     {:#04x} of byte {}",
                    payload[1] & 0x0e,
                    at + 3
                ));
            }
        }
        _ => {}
    }
}

/// A YCbCr 4:2:0 capability map (`map`, its bitmap, at byte `at`): bit `n` says the `n`th SVD
/// of the video data blocks (counting from 0) is also sent in 4:2:0. An empty map means all of
/// them; a map of zero bytes names none and is malformed, and a bit past the last SVD names
/// nothing.
pub(crate) fn ycbcr420_map_problems(
    map: &[u8],
    at: usize,
    svds: usize,
    what: &str,
    problems: &mut Vec<String>,
) {
    if map.is_empty() {
        return;
    }
    let block = format!("{what}: the YCbCr 4:2:0 capability map at byte {at}");
    let Some(highest) = (0..map.len() * 8)
        .rev()
        .find(|&bit| map[bit / 8] & (1 << (bit % 8)) != 0)
    else {
        problems.push(format!(
            "{block} is all zero bytes (an empty map means every SVD)"
        ));
        return;
    };
    if highest >= svds {
        problems.push(format!(
            "{block} names SVD {} (counting from 1), but the video data blocks hold {svds}",
            highest + 1
        ));
    }
}

/// An audio data block: whole 3-byte short audio descriptors, at least one; format code 0 is
/// reserved; bit 7 of the second byte (F27) is reserved but for the extended format 13; bits
/// 3-7 of the third byte (F33-F37) are reserved for LPCM (1) and WMA Pro (14).
fn audio_problems(body: &[u8], at: usize, what: &str, problems: &mut Vec<String>) {
    let block = format!("{what}: the audio data block at byte {at}");
    if !body.len().is_multiple_of(3) {
        problems.push(format!(
            "{block} has {} bytes, not whole 3-byte audio descriptors",
            body.len()
        ));
        return;
    }
    if body.is_empty() {
        problems.push(format!("{block} is empty"));
    }
    for (i, sad) in body.chunks_exact(3).enumerate() {
        let byte = at + 1 + 3 * i;
        let format = (sad[0] >> 3) & 0x0f;
        if format == 0 {
            problems.push(format!(
                "{block}: descriptor {} (byte {byte}) has the reserved format code 0",
                i + 1
            ));
            continue;
        }
        let extended = if format == 15 { sad[2] >> 3 } else { 0 };
        if extended != 13 && sad[1] & 0x80 != 0 {
            problems.push(format!(
                "{block}: descriptor {} sets reserved bit 7 of byte {}",
                i + 1,
                byte + 1
            ));
        }
        if (format == 1 || format == 14) && sad[2] & 0xf8 != 0 {
            problems.push(format!(
                "{block}: descriptor {} sets reserved bits {:#04x} of byte {}",
                i + 1,
                sad[2] & 0xf8,
                byte + 2
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(tag: u8, body: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        data_block_problems(tag, body, 4, "block 1 (CTA-861)", &mut out);
        out
    }

    #[test]
    fn good_blocks_pass() {
        // Two-channel LPCM at 32-48 kHz, 16-24 bits.
        assert!(problems(1, &[0x09, 0x07, 0x07]).is_empty());
        assert!(problems(3, &[0x03, 0x0c, 0x00, 0x10, 0x00]).is_empty());
        assert!(problems(7, &[5, 0xc3, 0x01]).is_empty(), "MD0 is defined");
        assert!(problems(7, &[6, 0x07, 0x01]).is_empty());
    }

    #[test]
    fn each_rule_fires() {
        let one = |tag: u8, body: &[u8], text: &str| {
            let p = problems(tag, body);
            assert_eq!(p.len(), 1, "{text}: {p:?}");
            assert!(p[0].contains(text), "{text}: {p:?}");
        };
        one(1, &[0x09, 0x07], "not whole 3-byte");
        one(1, &[], "is empty");
        one(1, &[0x01, 0x07, 0x07], "reserved format code 0");
        one(1, &[0x09, 0x87, 0x07], "reserved bit 7 of byte 6");
        one(1, &[0x09, 0x07, 0x0f], "reserved bits 0x08 of byte 7");
        one(3, &[0x03, 0x0c, 0x00], "ends after its OUI");
        one(7, &[5, 0xc3], "has 1 of its 2 bytes");
        one(7, &[6], "has 0 of its 2 bytes");
        one(7, &[5, 0xc3, 0x02], "reserved bits 0x02 of byte 7");
    }

    #[test]
    fn capability_maps_stay_within_the_svds() {
        let map = |bytes: &[u8], svds: usize| {
            let mut out = Vec::new();
            ycbcr420_map_problems(bytes, 20, svds, "block 1 (CTA-861)", &mut out);
            out
        };
        assert!(map(&[], 0).is_empty(), "an empty map means every SVD");
        assert!(map(&[0x80, 0x01], 9).is_empty());
        let past = map(&[0x80, 0x01], 8);
        assert_eq!(past.len(), 1, "{past:?}");
        assert!(
            past[0].contains("names SVD 9 (counting from 1), but the video data blocks hold 8")
        );
        let zero = map(&[0, 0], 8);
        assert!(zero[0].contains("all zero bytes"), "{zero:?}");
    }
}
