//! `vfio-display edid show`: the EDID region's registers and blob.

use crate::cli::target::DeviceArgs;
use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
use vfio_display::device::edid_port;

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    // Last: the device options come under their own headings, after the command's own.
    #[command(flatten)]
    pub target: DeviceArgs,
}

#[derive(Serialize)]
struct ShowReport {
    region: u32,
    registers: vfio_display::vfio::EdidRegs,
    link: String,
    blob_hex: String,
    preferred_mode: Option<String>,
    blob_problem: Option<String>,
}

/// A classic hex dump: offset, 16 bytes, ASCII.
pub fn hex_dump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        let ascii: String = chunk
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        out.push_str(&format!("{:04x}  {:<47}  {ascii}\n", i * 16, hex.join(" ")));
    }
    out
}

pub fn run(args: &ShowArgs) -> Result<()> {
    let dev = args.target.open()?;
    let port = edid_port(dev.as_ref())?;
    let regs = port.registers().context("reading the EDID registers")?;
    let blob = port.read_blob().context("reading the EDID blob")?;
    let parsed = vfio_display::edid::preferred_mode(&blob);
    if args.json {
        let report = ShowReport {
            region: port.index(),
            registers: regs,
            link: regs.link().to_string(),
            blob_hex: blob.iter().map(|b| format!("{b:02x}")).collect(),
            preferred_mode: parsed.as_ref().ok().map(ToString::to_string),
            blob_problem: parsed.as_ref().err().map(ToString::to_string),
        };
        outln!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    outln!("EDID region {} of {}", port.index(), dev.name());
    outln!("  edid_offset   {:#x}", regs.edid_offset);
    outln!("  edid_max_size {}", regs.edid_max_size);
    outln!("  edid_size     {}", regs.edid_size);
    outln!(
        "  max_xres      {}{}",
        regs.max_xres,
        if regs.max_xres == 0 {
            " (no limit)"
        } else {
            ""
        }
    );
    outln!(
        "  max_yres      {}{}",
        regs.max_yres,
        if regs.max_yres == 0 {
            " (no limit)"
        } else {
            ""
        }
    );
    outln!("  link_state    {} ({})", regs.link_state, regs.link());
    match vfio_display::edid::decode(&blob) {
        Ok(decoded) => {
            outln!();
            out!("{}", super::print::decoded_text(&decoded, blob.len()));
            for problem in &decoded.problems {
                outln!("Problem: {problem}");
            }
            outln!();
        }
        Err(err) if !blob.is_empty() => outln!("Blob: {err}"),
        Err(_) => {}
    }
    if blob.is_empty() {
        outln!("Blob: empty (edid_size 0)");
    } else {
        outln!("Blob ({} bytes):", blob.len());
        out!("{}", hex_dump(&blob));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_dump_layout() {
        let dump = super::hex_dump(b"\x00\xffABCDEFGHIJKLMNOPQ");
        let lines: Vec<&str> = dump.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("0000  00 ff 41 42"));
        assert!(lines[0].ends_with("..ABCDEFGHIJKLMN"));
        assert!(lines[1].starts_with("0010  4f 50 51"));
    }
}
