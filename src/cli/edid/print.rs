//! The decoded EDID as text, for `edid decode` and `edid show`.

use std::fmt::Write;
use vfio_display::edid::{CtaBlock, Decoded, Descriptor, DetailedTiming, Extension, Mode};

fn mode_list(modes: &[Mode]) -> String {
    if modes.is_empty() {
        return "none".into();
    }
    modes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// One line per timing: mode, clock, porches and sync polarities, like a modeline.
pub fn timing_line(t: &DetailedTiming) -> String {
    let sign = |positive: bool| if positive { '+' } else { '-' };
    let back = |blank: u32, front: u32, sync: u32| i64::from(blank) - i64::from(front + sync);
    format!(
        "{}{} {:.3} MHz, h: {} front {} sync {} back {} ({}sync), v: {} front {} sync {} back {} \
         ({}sync), h {:.3} kHz",
        t.mode(),
        if t.interlaced { " interlaced" } else { "" },
        f64::from(t.pixel_clock_khz) / 1000.0,
        t.h_active,
        t.h_front,
        t.h_sync,
        back(t.h_blank, t.h_front, t.h_sync),
        sign(t.hsync_positive),
        t.v_active,
        t.v_front,
        t.v_sync,
        back(t.v_blank, t.v_front, t.v_sync),
        sign(t.vsync_positive),
        t.h_freq_hz() / 1000.0,
    )
}

fn descriptor_line(d: &Descriptor, preferred: bool) -> String {
    match d {
        Descriptor::DetailedTiming(t) => format!(
            "Detailed timing{}: {}, {}x{} mm",
            if preferred { " (preferred)" } else { "" },
            timing_line(t),
            t.width_mm,
            t.height_mm
        ),
        Descriptor::Name { text } => format!("Monitor name: {text}"),
        Descriptor::Serial { text } => format!("Serial number: {text}"),
        Descriptor::Text { text } => format!("Text: {text}"),
        Descriptor::RangeLimits(r) => format!(
            "Range limits: {}-{} Hz, {}-{} kHz, pixel clock up to {} MHz{}",
            r.min_v_hz,
            r.max_v_hz,
            r.min_h_khz,
            r.max_h_khz,
            r.max_pixel_clock_mhz,
            match r.support {
                0 => ", default GTF",
                1 => ", range limits only",
                2 => ", secondary GTF",
                4 => ", CVT",
                _ => "",
            }
        ),
        Descriptor::EstablishedTimingsIii { modes } => {
            format!("Established timings III: {}", mode_list(modes))
        }
        Descriptor::CvtCodes { modes } => {
            let listed: Vec<String> = modes
                .iter()
                .map(|m| {
                    format!(
                        "{}{}{}",
                        m.mode,
                        if m.reduced_blanking {
                            " reduced blanking"
                        } else {
                            ""
                        },
                        if m.preferred { " (preferred rate)" } else { "" }
                    )
                })
                .collect();
            format!("CVT 3-byte codes: {}", listed.join(", "))
        }
        Descriptor::Dummy => "Dummy descriptor".into(),
        Descriptor::Other { tag } => format!("Display descriptor {tag:#04x}"),
    }
}

/// A CTA data block collection's VIC lists: video, 4:2:0-only and HDMI 4K.
fn vic_lines(out: &mut String, c: &CtaBlock) {
    for (label, prefix, vics) in [
        ("Video", "VIC", &c.vics),
        ("YCbCr 4:2:0 only", "VIC", &c.ycbcr420_vics),
        ("HDMI 4K", "HDMI VIC", &c.hdmi_vics),
    ] {
        if vics.is_empty() {
            continue;
        }
        let listed: Vec<String> = vics
            .iter()
            .map(|v| {
                let mode = v.mode.map_or(String::new(), |m| {
                    format!(" {m}{}", if v.interlaced { "i" } else { "" })
                });
                format!(
                    "{prefix} {}{mode}{}",
                    v.vic,
                    if v.native { " (native)" } else { "" }
                )
            })
            .collect();
        let _ = writeln!(out, "  {label}: {}", listed.join(", "));
    }
}

fn extension_lines(out: &mut String, index: usize, ext: &Extension) {
    match ext {
        Extension::DisplayId(d) => {
            let _ = writeln!(
                out,
                "Block {index}: DisplayID {} (product type {})",
                d.version, d.product_type
            );
            for t in &d.timings {
                let _ = writeln!(
                    out,
                    "  Detailed timing{}: {}",
                    if t.preferred { " (preferred)" } else { "" },
                    timing_line(&t.timing)
                );
            }
            for c in &d.cta {
                vic_lines(out, c);
            }
            for t in &d.listed_timings {
                let code = match t.kind {
                    "DMT" => format!(" {:#04x}", t.code),
                    "VIC" | "HDMI VIC" => format!(" {}", t.code),
                    _ => String::new(),
                };
                let mode = t
                    .mode
                    .map_or(" (unknown code)".to_string(), |m| format!(" {m}"));
                let _ = writeln!(out, "  Timing: {}{code}{mode}", t.kind);
            }
            for name in &d.other_blocks {
                let _ = writeln!(out, "  Data block: {name}");
            }
        }
        Extension::Cta(c) => {
            let _ = writeln!(
                out,
                "Block {index}: CTA-861 revision {}{}{}",
                c.revision,
                if c.basic_audio { ", basic audio" } else { "" },
                if c.underscan {
                    ", underscans IT formats"
                } else {
                    ""
                }
            );
            vic_lines(out, c);
            for name in c.data_blocks.iter().filter(|n| *n != "video") {
                let _ = writeln!(out, "  Data block: {name}");
            }
            for t in &c.detailed_timings {
                let _ = writeln!(out, "  Detailed timing: {}", timing_line(t));
            }
        }
        Extension::BlockMap => {
            let _ = writeln!(out, "Block {index}: block map");
        }
        Extension::Other { tag } => {
            let _ = writeln!(out, "Block {index}: extension tag {tag:#04x}");
        }
        Extension::Missing => {
            let _ = writeln!(out, "Block {index}: missing (the blob ends before it)");
        }
    }
}

/// The whole decode, as text.
pub fn decoded_text(d: &Decoded, len: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "EDID {}, {len} bytes, {} extension block{}",
        d.version,
        d.extension_count,
        if d.extension_count == 1 { "" } else { "s" }
    );
    let made = match (d.model_year, d.week) {
        (true, _) => format!("model year {}", d.year),
        (false, None) => format!("made in {}", d.year),
        (false, Some(week)) => format!("made in week {week} of {}", d.year),
    };
    let _ = writeln!(
        out,
        "Vendor {}, product {:#06x}, serial number {}, {made}",
        d.vendor, d.product, d.serial_number
    );
    let _ = writeln!(out, "Linux: {}", d.linux_read);
    if !d.linux_quirks.is_empty() {
        let quirks: Vec<String> = d
            .linux_quirks
            .iter()
            .map(|q| format!("{} ({})", q.name, q.effect))
            .collect();
        let _ = writeln!(
            out,
            "Linux quirks (its table of known monitors): {}",
            quirks.join("; ")
        );
    }
    let input = if d.digital {
        d.bits_per_color.map_or("digital".to_string(), |b| {
            format!("digital, {b} bits per colour")
        })
    } else {
        "analog".to_string()
    };
    let _ = writeln!(
        out,
        "Input {input}; screen {}x{} cm; gamma {}{}",
        d.screen_cm.0,
        d.screen_cm.1,
        d.gamma.map_or("not given".into(), |g| format!("{g:.2}")),
        if d.srgb_default { "; sRGB" } else { "" }
    );
    match d.preferred_mode() {
        Some(mode) => {
            let _ = writeln!(out, "Preferred mode: {mode}");
        }
        None => {
            let _ = writeln!(out, "Preferred mode: none");
        }
    }
    let _ = writeln!(out, "Established timings: {}", mode_list(&d.established));
    let _ = writeln!(out, "Standard timings: {}", mode_list(&d.standard));
    for (i, desc) in d.descriptors.iter().enumerate() {
        let _ = writeln!(
            out,
            "Descriptor {}: {}",
            i + 1,
            descriptor_line(desc, d.preferred_slot() == Some(i))
        );
    }
    for (i, ext) in d.extensions.iter().enumerate() {
        extension_lines(&mut out, i + 1, ext);
    }
    if d.problems.is_empty() {
        let _ = writeln!(out, "Checksums and structure: correct");
    }
    out
}
