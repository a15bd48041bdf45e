//! `edid generate` and `edid decode`: EDID files, no device.

use super::SpecArgs;
use super::print::decoded_text;
use crate::app::edid::summary;
use crate::app::input::read_edid_file;
use crate::app::output::{OutputPath, WriteMode};
use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::PathBuf;
use vfio_display::edid::{self, MAX_EDID_SIZE, Mode};

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The preferred mode: WIDTHxHEIGHT, optionally @HZ (default 60), e.g. 2560x1440@120. Sides
    /// 64 to 16384 pixels, 10 to 480 Hz, and a pixel clock of at least 10 MHz (640x480 needs
    /// 26 Hz or more, 320x200 about 100 Hz); what cannot make a valid EDID is refused.
    #[arg(long, value_name = "WxH[@HZ]")]
    mode: Mode,
    /// The largest EDID to write, in bytes (a device's edid_max_size; 128 = base block only).
    #[arg(long, value_name = "N", default_value_t = MAX_EDID_SIZE)]
    max_size: usize,
    /// Where to write the binary EDID ("-" for stdout). An existing file is replaced whole
    /// (keeping its mode); a device or FIFO is written in place, never replaced.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    #[command(flatten)]
    spec: SpecArgs,
}

#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// The EDID file ("-" for stdin): binary, or hex text.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Print only the modes the EDID lists, in the order a Linux guest sorts them (preferred
    /// first, then larger, then faster), one per line with where each comes from. Linux also
    /// adds modes it infers from the range limits of a continuous-frequency display; those are
    /// not listed.
    #[arg(long)]
    modes: bool,
}

pub fn run_generate(args: &GenerateArgs) -> Result<()> {
    let spec = args.spec.spec(args.mode, args.max_size);
    let blob = edid::generate(&spec).with_context(|| format!("cannot generate {}", args.mode))?;
    let output = OutputPath::resolve(&args.output)?;
    output.write(&blob, WriteMode::Replace)?;
    if output.is_stdout() {
        errln!("EDID: {}", summary(&blob));
    } else {
        outln!("Wrote {}: {}", output.display(), summary(&blob));
    }
    Ok(())
}

pub fn run_decode(args: &DecodeArgs) -> Result<()> {
    let blob = read_edid_file(&args.file)?;
    let decoded =
        edid::decode(&blob).with_context(|| format!("{} is not an EDID", args.file.display()))?;
    if args.json {
        #[derive(serde::Serialize)]
        struct Report<'a> {
            size: usize,
            preferred_mode: Option<Mode>,
            modes: Vec<Mode>,
            linux_modes: Vec<edid::ListedMode>,
            /// Modes the probe builds and drm_mode_validate_basic drops, with the status.
            dropped_linux_modes: Vec<edid::DroppedMode>,
            #[serde(flatten)]
            decoded: &'a edid::Decoded,
        }
        let report = Report {
            size: blob.len(),
            preferred_mode: decoded.preferred_mode(),
            modes: decoded.all_modes(),
            linux_modes: decoded.linux_modes(),
            dropped_linux_modes: decoded.dropped_linux_modes(),
            decoded: &decoded,
        };
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else if args.modes {
        for m in decoded.linux_modes() {
            outln!(
                "{m}  {}{}",
                m.source,
                if m.preferred { ", preferred" } else { "" }
            );
        }
    } else {
        out!("{}", decoded_text(&decoded, blob.len()));
    }
    if !decoded.problems.is_empty() {
        bail!(
            "{} has {} problem{}: {}",
            args.file.display(),
            decoded.problems.len(),
            if decoded.problems.len() == 1 { "" } else { "s" },
            decoded.problems.join("; ")
        );
    }
    Ok(())
}
