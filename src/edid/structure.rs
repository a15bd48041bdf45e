//! The base block's structural rules that `edid-decode --check` fails and real monitors break:
//! bytes set to values the EDID standard reserves, descriptors laid out against it (a detailed
//! timing after a display descriptor, nonzero reserved bytes, an all-zero descriptor where the
//! standard wants a dummy one, a dummy descriptor that carries data, tags nothing defines or
//! that the EDID's version lacks) and range-limits descriptors whose class is reserved or whose
//! unused bytes are not the padding the standard gives. Each rule is edid-decode's, so that
//! both checkers give one verdict; each problem names the byte.

use super::BLOCK;
use super::descriptor::{
    DESCRIPTOR_LEN, TAG_CVT_CODES, TAG_DUMMY, TAG_ESTABLISHED_III, TAG_NAME, TAG_RANGE_LIMITS,
    TAG_SERIAL, TAG_TEXT, text_problem,
};

/// Display descriptor tags EDID 1.4 defines besides those the decoder reads: display colour
/// management (0xf9), standard timing identifiers (0xfa), colour point (0xfb); 0x00-0x0f are
/// the manufacturer's and 0x0e is also used for EPI panels.
const OTHER_DEFINED_TAGS: [u8; 3] = [0xf9, 0xfa, 0xfb];

/// Every structural problem of the base block `base`, one line each, into `problems`.
pub(crate) fn base_problems(base: &[u8; BLOCK], problems: &mut Vec<String>) {
    let minor = base[19];
    input_problems(base[20], minor, problems);
    week_problems(base[16], minor, problems);
    standard_timing_problems(base, problems);
    let mut seen_display_descriptor = false;
    for slot in 0..4 {
        let at = 54 + slot * DESCRIPTOR_LEN;
        let mut d = [0u8; DESCRIPTOR_LEN];
        d.copy_from_slice(&base[at..at + DESCRIPTOR_LEN]);
        let what = format!("block 0 (base), descriptor {} (byte {at})", slot + 1);
        if d[0] != 0 || d[1] != 0 {
            if seen_display_descriptor {
                problems.push(format!(
                    "{what}: a detailed timing after a display descriptor (detailed timings \
                     come first)"
                ));
            }
            continue;
        }
        seen_display_descriptor = true;
        descriptor_problems(&d, minor, &what, problems);
    }
}

/// Byte 20, the video input definition: a digital input's colour depth 7 and interfaces past
/// DisplayPort (5) are reserved in EDID 1.4; EDID 1.2 and 1.3 define only bit 0 (DFP 1.x), and
/// earlier versions none.
fn input_problems(input: u8, minor: u8, problems: &mut Vec<String>) {
    if input & 0x80 == 0 {
        return;
    }
    let at = "block 0 (base): byte 20 (digital input)";
    if minor >= 4 {
        if input & 0x70 == 0x70 {
            problems.push(format!("{at} sets the reserved colour depth code 7"));
        }
        if input & 0x0f > 5 {
            problems.push(format!(
                "{at} names the reserved interface {:#04x} (0-5 are defined)",
                input & 0x0f
            ));
        }
        return;
    }
    let reserved = if minor >= 2 {
        input & 0x7e
    } else {
        input & 0x7f
    };
    if reserved != 0 {
        problems.push(format!(
            "{at} sets reserved bits {reserved:#04x}, which EDID 1.{minor} does not define"
        ));
    }
}

/// Byte 16, the week of manufacture: 1-53 (54 in EDID 1.4), or 0xff for a model year, which
/// EDID 1.4 introduced.
fn week_problems(week: u8, minor: u8, problems: &mut Vec<String>) {
    let at = "block 0 (base): byte 16 (week of manufacture)";
    if minor <= 3 && (week == 0xff || week == 54) {
        problems.push(format!(
            "{at} is {week:#04x}, which EDID 1.{minor} does not define (EDID 1.4 does)"
        ));
    } else if week != 0xff && week > 54 {
        problems.push(format!("{at} is {week}; weeks run to 54"));
    }
}

/// Bytes 38-53, the standard timings: an unused slot is 0x01 0x01; a first byte of 0 or 1 is
/// no timing either, and anything but 0x0101 there is malformed.
fn standard_timing_problems(base: &[u8; BLOCK], problems: &mut Vec<String>) {
    for (slot, code) in base[38..54].chunks_exact(2).enumerate() {
        if code[0] <= 1 && code != [1, 1] {
            problems.push(format!(
                "block 0 (base): standard timing {} (byte {}) is {:#04x} {:#04x}; an unused \
                 slot is 0x01 0x01",
                slot + 1,
                38 + 2 * slot,
                code[0],
                code[1]
            ));
        }
    }
}

/// A display descriptor (bytes 0 and 1 zero): bytes 2 and 4 are reserved (byte 4 holds the
/// range-limit offsets in EDID 1.4), EDID 1.0 has none, and the tag says what the rest is.
fn descriptor_problems(
    d: &[u8; DESCRIPTOR_LEN],
    minor: u8,
    what: &str,
    problems: &mut Vec<String>,
) {
    if d[2] != 0 {
        problems.push(format!("{what}: byte 2 is {:#04x}, but must be zero", d[2]));
    }
    if (minor < 4 || d[3] != TAG_RANGE_LIMITS) && d[4] != 0 {
        problems.push(format!("{what}: byte 4 is {:#04x}, but must be zero", d[4]));
    }
    if minor == 0 {
        problems.push(format!("{what}: EDID 1.0 has no display descriptors"));
    }
    if d.iter().all(|&b| b == 0) {
        problems.push(format!(
            "{what}: all zeroes; an unused descriptor is a dummy descriptor (tag 0x10)"
        ));
        return;
    }
    let tag = d[3];
    match tag {
        TAG_DUMMY => {
            if let Some(i) = d[5..].iter().position(|&b| b != 0) {
                problems.push(format!(
                    "{what}: a dummy descriptor, but byte {} is {:#04x} (its bytes 5-17 must \
                     be zero)",
                    5 + i,
                    d[5 + i]
                ));
            }
        }
        TAG_ESTABLISHED_III | TAG_CVT_CODES => {
            if tag == TAG_CVT_CODES && d[5] != 1 {
                problems.push(format!(
                    "{what}: CVT 3-byte codes of version {}, but only version 1 is defined",
                    d[5]
                ));
            }
            if minor < 4 {
                problems.push(format!(
                    "{what}: tag {tag:#04x} is EDID 1.4's; EDID 1.{minor} does not define it"
                ));
            }
        }
        TAG_RANGE_LIMITS => range_limits_problems(d, minor, what, problems),
        TAG_NAME | TAG_SERIAL | TAG_TEXT => {
            if let Some(problem) = text_problem(d) {
                problems.push(format!("{what} (text, tag {tag:#04x}): {problem}"));
            }
        }
        0x00..=0x0f => {}
        tag if OTHER_DEFINED_TAGS.contains(&tag) => {}
        tag => problems.push(format!("{what}: tag {tag:#04x} is not defined")),
    }
}

/// The range-limits descriptor: its class (byte 10) is default GTF (0), range limits only (1,
/// EDID 1.4), secondary GTF (2) or CVT (4, EDID 1.4); the minimum rates are not above the
/// maximum ones; without a secondary curve or CVT data, byte 11 is 0x0a and bytes 12-17 are
/// spaces; a secondary curve has byte 11 zero and is not all zero; CVT data's reserved bits
/// are zero.
fn range_limits_problems(
    d: &[u8; DESCRIPTOR_LEN],
    minor: u8,
    what: &str,
    problems: &mut Vec<String>,
) {
    let what = format!("{what} (range limits)");
    let offset = |bit: u8| {
        if minor >= 4 && d[4] & bit != 0 {
            255
        } else {
            0
        }
    };
    // EDID 1.4's offsets: the minimum's only with the maximum's.
    let (v_max, h_max) = (offset(0x02), offset(0x08));
    let v_min = if v_max > 0 { offset(0x01) } else { 0 };
    let h_min = if h_max > 0 { offset(0x04) } else { 0 };
    if u32::from(d[5]) + v_min > u32::from(d[6]) + v_max {
        problems.push(format!(
            "{what}: the minimum vertical rate is above the maximum"
        ));
    }
    if u32::from(d[7]) + h_min > u32::from(d[8]) + h_max {
        problems.push(format!(
            "{what}: the minimum horizontal rate is above the maximum"
        ));
    }
    let class = d[10];
    match class {
        0 => {}
        1 | 4 if minor < 4 => problems.push(format!(
            "{what}: byte 10 is class {class} ({}), which EDID 1.{minor} does not define",
            if class == 1 {
                "range limits only"
            } else {
                "CVT"
            }
        )),
        1 | 4 => {}
        2 => {
            if d[11] != 0 {
                problems.push(format!(
                    "{what}: byte 11 is {:#04x}, but a secondary GTF curve has it zero",
                    d[11]
                ));
            }
            if d[12..].iter().all(|&b| b == 0) {
                problems.push(format!(
                    "{what}: the secondary GTF curve (bytes 12-17) is all zero"
                ));
            }
            return;
        }
        other => problems.push(format!(
            "{what}: byte 10 is the reserved class {other:#04x}"
        )),
    }
    if class == 4 {
        for (byte, mask) in [(14, 0x07), (15, 0x07), (16, 0x0f)] {
            if d[byte] & mask != 0 {
                problems.push(format!(
                    "{what}: byte {byte} sets reserved bits {:#04x} of its CVT data",
                    d[byte] & mask
                ));
            }
        }
        if d[15] >> 5 > 4 {
            problems.push(format!(
                "{what}: byte 15 names the reserved preferred aspect ratio {}",
                d[15] >> 5
            ));
        }
        return;
    }
    if d[11] != 0x0a {
        problems.push(format!(
            "{what}: byte 11 is {:#04x}, but must be 0x0a when no secondary curve or CVT data \
             follows",
            d[11]
        ));
    }
    if d[12..].iter().any(|&b| b != 0x20) {
        problems.push(format!("{what}: bytes 12-17 must be spaces (0x20)"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems_of(edit: impl FnOnce(&mut [u8; BLOCK])) -> Vec<String> {
        let spec = crate::edid::EdidSpec::new(crate::edid::Mode::new(1920, 1080, 60));
        let blob = crate::edid::generate(&spec).unwrap();
        let mut base = [0u8; BLOCK];
        base.copy_from_slice(&blob[..BLOCK]);
        let mut before = Vec::new();
        base_problems(&base, &mut before);
        assert_eq!(
            before,
            Vec::<String>::new(),
            "the generator's base block is clean"
        );
        edit(&mut base);
        let mut out = Vec::new();
        base_problems(&base, &mut out);
        out
    }

    #[test]
    fn each_rule_names_its_byte() {
        let one = |edit: fn(&mut [u8; BLOCK]), text: &str| {
            let p = problems_of(edit);
            assert_eq!(p.len(), 1, "{text}: {p:?}");
            assert!(p[0].contains(text), "{text}: {p:?}");
        };
        one(|b| b[20] = 0xa7, "reserved interface 0x07");
        one(|b| b[20] = 0xf5, "colour depth code 7");
        one(|b| b[16] = 60, "weeks run to 54");
        one(
            |b| b[38..40].copy_from_slice(&[0, 0]),
            "standard timing 1 (byte 38)",
        );
        one(|b| b[72..90].fill(0), "all zeroes");
        one(|b| b[93] = 0x33, "tag 0x33 is not defined");
        one(
            |b| {
                let dtd: [u8; 18] = b[54..72].try_into().unwrap();
                b.copy_within(72..90, 54);
                b[72..90].copy_from_slice(&dtd);
            },
            "after a display descriptor",
        );
    }

    #[test]
    fn version_gated_values_pass_in_edid_1_4() {
        assert!(problems_of(|b| b[16] = 0xff).is_empty());
        let p = problems_of(|b| {
            b[19] = 3;
            b[16] = 0xff;
        });
        assert!(
            p.iter().any(|p| p.contains("EDID 1.3 does not define")),
            "{p:?}"
        );
    }
}
