//! The EDID generator: an EDID 1.4 base block whose first detailed timing is the preferred mode
//! (CVT reduced blanking), the classic established and standard timings below it, a range-limits
//! descriptor that covers every listed timing, name and serial descriptors, and DisplayID
//! extension blocks for modes a base block cannot describe or extra modes asked for.

use super::cvt::cvt_reduced_blanking;
use super::descriptor::{
    DetailedTiming, RangeLimits, TAG_NAME, TAG_SERIAL, encode_text, valid_text,
};
use super::displayid::{self, DisplayIdTiming, Product, aspect_code};
use super::dmt::{DmtMode, GENERATED_ESTABLISHED, GENERATED_STANDARD, established, standard_code};
use super::mode::Mode;
use super::{BLOCK, EdidError, HEADER, Identity, fix_checksum};

/// The sizes the generator describes (DisplayID Type I reaches 65536; no display is larger
/// than 16K).
pub const MIN_SIDE: u32 = 64;
/// The largest width or height the generator describes.
pub const MAX_SIDE: u32 = 16384;
/// Refresh rates in millihertz: CVT's reduced blanking needs a vertical period well above its
/// 460 us minimum blank.
pub const MIN_REFRESH_MHZ: u32 = 10_000;
/// The highest refresh rate it generates, in millihertz.
pub const MAX_REFRESH_MHZ: u32 = 480_000;
/// The largest line rate and pixel clock a range-limits descriptor can state.
pub const EDID_MAX_H_KHZ: u32 = 510;
pub const EDID_MAX_CLOCK_MHZ: u32 = 2550;
/// An EDID holds the base block and at most 255 extensions.
pub const MAX_EDID_SIZE: usize = 256 * BLOCK;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdidSpec {
    /// The preferred mode: the first detailed timing.
    pub preferred: Mode,
    /// More modes to list (in DisplayID extension blocks).
    pub extra_modes: Vec<Mode>,
    /// Manufacturer, product, serial, dates and name.
    pub identity: Identity,
    /// The largest blob the target accepts (a device's `edid_max_size`); 128 means a base block
    /// only, as GVT-g takes.
    pub max_size: usize,
}

impl EdidSpec {
    /// A spec for `preferred` with the default identity, at the largest size.
    pub fn new(preferred: Mode) -> Self {
        EdidSpec {
            preferred,
            extra_modes: Vec::new(),
            identity: Identity::default(),
            max_size: MAX_EDID_SIZE,
        }
    }
}

fn check_mode(mode: &Mode) -> Result<(), EdidError> {
    let sides = MIN_SIDE..=MAX_SIDE;
    if !sides.contains(&mode.width) || !sides.contains(&mode.height) {
        return Err(EdidError::ModeOutOfRange {
            mode: *mode,
            reason: format!("sides must be {MIN_SIDE} to {MAX_SIDE} pixels"),
        });
    }
    if !(MIN_REFRESH_MHZ..=MAX_REFRESH_MHZ).contains(&mode.refresh_mhz) {
        return Err(EdidError::ModeOutOfRange {
            mode: *mode,
            reason: format!(
                "refresh must be {} to {} Hz",
                MIN_REFRESH_MHZ / 1000,
                MAX_REFRESH_MHZ / 1000
            ),
        });
    }
    Ok(())
}

fn check_identity(id: &Identity) -> Result<(), EdidError> {
    let bad = |what: &str| Err(EdidError::BadIdentity(what.to_string()));
    if !id.vendor.iter().all(u8::is_ascii_uppercase) {
        return bad("the vendor id must be three letters A-Z");
    }
    if !valid_text(&id.name) {
        return bad("the monitor name must be at most 13 printable ASCII characters");
    }
    if !valid_text(&id.serial_text) {
        return bad("the serial text must be at most 13 printable ASCII characters");
    }
    if !(1990..=2245).contains(&id.year) {
        return bad("the year of manufacture must be 1990 to 2245");
    }
    if id.week > 54 {
        return bad("the week of manufacture must be 0 (unknown) to 54");
    }
    Ok(())
}

/// The largest image side the base block's screen size can state (255 cm): every detailed
/// timing's image size must fit inside it, or `edid-decode --check` fails the EDID.
const MAX_IMAGE_MM: u32 = 2550;

/// A panel of 96 DPI: the physical size follows the resolution; a panel larger than the base
/// block can state (2.55 m a side) is scaled down to fit, keeping its aspect ratio.
fn physical_mm(mode: &Mode) -> (u32, u32) {
    let mm = |px: u32| u64::from(px) * 254 / 960;
    let (w, h) = (mm(mode.width), mm(mode.height));
    let longest = w.max(h).max(1);
    let scale = |v: u64| {
        let v = if longest > u64::from(MAX_IMAGE_MM) {
            v * u64::from(MAX_IMAGE_MM) / longest
        } else {
            v
        };
        u32::try_from(v).unwrap_or(MAX_IMAGE_MM).max(1)
    };
    (scale(w), scale(h))
}

/// The least pixel clock a detailed timing may state: EDID 1.4 reads anything lower as invalid
/// data (and `edid-decode --check` fails it).
pub const MIN_DTD_CLOCK_KHZ: u32 = 10_000;

fn timing(mode: &Mode, mm: (u32, u32)) -> DetailedTiming {
    let t = cvt_reduced_blanking(mode.width, mode.height, mode.refresh_mhz);
    DetailedTiming::from_cvt(&t, mm.0, mm.1)
}

/// The base block's first DTD when the preferred mode is beyond a DTD's reach: the same size
/// at 60 or 30 Hz if that fits, else the largest integer fraction of the size that does.
fn fallback_dtd(preferred: &Mode, mm: (u32, u32)) -> Result<DetailedTiming, EdidError> {
    for divisor in 1..=MAX_SIDE {
        let (w, h) = (
            preferred.width.div_ceil(divisor),
            preferred.height.div_ceil(divisor),
        );
        for refresh_mhz in [preferred.refresh_mhz, 60_000, 30_000] {
            if refresh_mhz > preferred.refresh_mhz {
                continue;
            }
            let t = timing(
                &Mode {
                    width: w,
                    height: h,
                    refresh_mhz,
                },
                mm,
            );
            if t.fits_dtd() && t.pixel_clock_khz >= MIN_DTD_CLOCK_KHZ {
                return Ok(t);
            }
        }
    }
    Err(EdidError::ModeOutOfRange {
        mode: *preferred,
        reason: "no fraction of it fits a base-block detailed timing (at most 4095x4095 at a \
                 pixel clock of 10 to 655 MHz)"
            .into(),
    })
}

/// Rates a range-limits descriptor must cover: (vertical Hz, horizontal Hz, clock kHz).
struct Rates(Vec<(f64, f64, u32)>);

impl Rates {
    fn add_timing(&mut self, t: &DetailedTiming) {
        self.0.push((
            f64::from(t.refresh_mhz()) / 1000.0,
            t.h_freq_hz(),
            t.pixel_clock_khz,
        ));
    }

    fn add_dmt(&mut self, d: &DmtMode) {
        self.0
            .push((d.v_freq_hz(), d.h_freq_hz(), d.pixel_clock_khz));
    }

    fn limits(&self) -> Result<RangeLimits, EdidError> {
        let fold = |pick: fn(&(f64, f64, u32)) -> f64| {
            self.0
                .iter()
                .map(pick)
                .fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)))
        };
        let (min_v, max_v) = fold(|r| r.0);
        let (min_h, max_h) = fold(|r| r.1);
        let max_clock_khz = self.0.iter().map(|r| r.2).max().unwrap_or(0);
        let limits = RangeLimits {
            min_v_hz: (min_v.floor() as u32).max(1),
            max_v_hz: max_v.ceil() as u32,
            min_h_khz: ((min_h / 1000.0).floor() as u32).max(1),
            max_h_khz: ((max_h / 1000.0).ceil() as u32).min(EDID_MAX_H_KHZ),
            // EDID cannot state more than 510 kHz or 2550 MHz; faster timings (8K above 60 Hz)
            // are stated by their own descriptors, which EDID 1.4 says supersede the range.
            max_pixel_clock_mhz: (max_clock_khz.div_ceil(10_000) * 10).min(EDID_MAX_CLOCK_MHZ),
            support: 1,
        };
        if limits.encode().is_none() {
            return Err(EdidError::BeyondRangeLimits(limits));
        }
        Ok(limits)
    }
}

/// Generates an EDID for `spec`: 128 bytes when the base block holds everything, else the base
/// block and DisplayID extension blocks.
pub fn generate(spec: &EdidSpec) -> Result<Vec<u8>, EdidError> {
    check_mode(&spec.preferred)?;
    for mode in &spec.extra_modes {
        check_mode(mode)?;
    }
    check_identity(&spec.identity)?;
    let max_blocks = spec.max_size.min(MAX_EDID_SIZE) / BLOCK;
    if max_blocks == 0 {
        return Err(EdidError::NoRoom {
            needed: BLOCK,
            max: spec.max_size,
        });
    }

    let mm = physical_mm(&spec.preferred);
    let screen_cm = (mm.0.div_ceil(10).min(255), mm.1.div_ceil(10).min(255));
    let preferred = timing(&spec.preferred, mm);
    if preferred.pixel_clock_khz < MIN_DTD_CLOCK_KHZ {
        return Err(EdidError::ModeOutOfRange {
            mode: spec.preferred,
            reason: format!(
                "its pixel clock is {:.3} MHz, under the {} MHz a detailed timing can state; \
                 give a higher refresh rate or a larger mode",
                f64::from(preferred.pixel_clock_khz) / 1000.0,
                MIN_DTD_CLOCK_KHZ / 1000
            ),
        });
    }
    let base_dtd = if preferred.fits_dtd() {
        preferred
    } else {
        fallback_dtd(&spec.preferred, mm)?
    };

    // DisplayID timings: the preferred mode first (marked preferred, as DisplayID requires;
    // it repeats the DTD when that could hold it), then the extras. None at all when the base
    // block holds everything.
    let mut extension_timings = Vec::new();
    if base_dtd != preferred || !spec.extra_modes.is_empty() {
        extension_timings.push(DisplayIdTiming {
            timing: preferred,
            preferred: true,
            aspect_code: aspect_code(spec.preferred.width, spec.preferred.height),
        });
    }
    for mode in &spec.extra_modes {
        let t = timing(mode, mm);
        if !extension_timings.iter().any(|e| e.timing == t) {
            extension_timings.push(DisplayIdTiming {
                timing: t,
                preferred: false,
                aspect_code: aspect_code(mode.width, mode.height),
            });
        }
    }
    if let Some(t) = extension_timings
        .iter()
        .find(|t| !displayid::fits_type_i(&t.timing))
    {
        return Err(EdidError::ModeOutOfRange {
            mode: t.timing.mode(),
            reason: "its timing does not fit a DisplayID detailed timing".into(),
        });
    }
    let id = &spec.identity;
    let extensions = if extension_timings.is_empty() {
        Vec::new()
    } else {
        let product = Product {
            vendor: id.vendor,
            product: id.product,
            serial: id.serial,
            week: id.week,
            year: id.year,
            image_mm: (screen_cm.0 * 10, screen_cm.1 * 10),
            native: (spec.preferred.width, spec.preferred.height),
        };
        displayid::encode_blocks(&extension_timings, &product)
    };
    let blocks = 1 + extensions.len();
    if blocks > max_blocks {
        return Err(EdidError::NoRoom {
            needed: blocks * BLOCK,
            max: spec.max_size,
        });
    }

    // Smaller classic modes, so that a guest has fallbacks; never one the DTDs already list.
    let listed_sizes: Vec<(u32, u32)> = std::iter::once(&base_dtd)
        .chain(extension_timings.iter().map(|t| &t.timing))
        .map(|t| (t.h_active, t.v_active))
        .collect();
    let below = |w: u32, h: u32| {
        w <= spec.preferred.width && h <= spec.preferred.height && !listed_sizes.contains(&(w, h))
    };
    let mut rates = Rates(Vec::new());
    rates.add_timing(&base_dtd);
    extension_timings
        .iter()
        .for_each(|t| rates.add_timing(&t.timing));

    let mut e = [0u8; BLOCK];
    e[..8].copy_from_slice(&HEADER);
    let letter = |c: u8| u16::from(c - b'A' + 1);
    let vendor = letter(id.vendor[0]) << 10 | letter(id.vendor[1]) << 5 | letter(id.vendor[2]);
    e[8..10].copy_from_slice(&vendor.to_be_bytes());
    e[10..12].copy_from_slice(&id.product.to_le_bytes());
    e[12..16].copy_from_slice(&id.serial.to_le_bytes());
    e[16] = id.week;
    e[17] = (id.year - 1990) as u8;
    e[18] = 1;
    e[19] = 4;
    e[20] = 0xa0; // digital, 8 bits per colour, interface not defined
    e[21] = screen_cm.0 as u8;
    e[22] = screen_cm.1 as u8;
    e[23] = 120; // gamma 2.2
    e[24] = 0x06; // RGB 4:4:4, sRGB default, preferred timing is native
    // The sRGB primaries and D65 white point, as bit 2 of byte 24 promises.
    e[25..35].copy_from_slice(&[0xee, 0x91, 0xa3, 0x54, 0x4c, 0x99, 0x26, 0x0f, 0x50, 0x54]);
    for (byte, bit) in GENERATED_ESTABLISHED {
        let Some((_, _, dmt)) = established().find(|&(b, t, _)| (b, t) == (byte, bit)) else {
            continue;
        };
        if below(dmt.width, dmt.height) {
            e[byte] |= 1 << bit;
            rates.add_dmt(&dmt);
        }
    }
    for slot in e[38..54].chunks_exact_mut(2) {
        slot.copy_from_slice(&[0x01, 0x01]);
    }
    let standard = GENERATED_STANDARD
        .iter()
        .filter(|d| below(d.width, d.height))
        .filter_map(|d| Some((d, standard_code(d.width, d.height, d.refresh_hz)?)))
        .take(8);
    for (slot, (dmt, code)) in e[38..54].chunks_exact_mut(2).zip(standard) {
        slot.copy_from_slice(&code);
        rates.add_dmt(dmt);
    }
    let dtd = base_dtd
        .encode_dtd()
        .expect("the fallback guarantees a DTD that fits");
    e[54..72].copy_from_slice(&dtd);
    let range = rates.limits()?;
    e[72..90].copy_from_slice(&range.encode().expect("limits() checked it encodes"));
    e[90..108].copy_from_slice(&encode_text(TAG_NAME, &id.name));
    e[108..126].copy_from_slice(&encode_text(TAG_SERIAL, &id.serial_text));
    e[126] = (blocks - 1) as u8;
    fix_checksum(&mut e);

    let mut out = e.to_vec();
    for block in &extensions {
        out.extend_from_slice(block);
    }
    Ok(out)
}
