//! `vfio-display edid ...`: generate, decode, show and write EDIDs, and hot-swap them.

mod device;
mod generate;
mod hotswap;
mod print;
mod show;

use super::args::parse_vendor;
use super::target::SimArgs;
use anyhow::Result;
use clap::{Args, Subcommand};
use vfio_display::edid::{EdidSpec, Identity, MAX_EDID_SIZE, Mode};

#[derive(Debug, Args)]
pub struct EdidArgs {
    #[command(subcommand)]
    command: EdidCommand,
}

#[derive(Debug, Subcommand)]
enum EdidCommand {
    /// Show the EDID region's registers and the blob in hex.
    Show(show::ShowArgs),
    /// Write an EDID for a mode to a file (passes `edid-decode --check`).
    Generate(generate::GenerateArgs),
    /// Decode an EDID file (binary, or hex text as edid-decode prints it); exit 1 on problems.
    Decode(generate::DecodeArgs),
    /// Hot-plug an EDID into a device: link down, blob and size, link up after a delay.
    Set(device::SetArgs),
    /// Set the link state (plug or unplug the virtual monitor).
    Link(device::LinkArgs),
    /// Swap EDIDs repeatedly, timing how long the guest takes to show each new mode.
    Hotswap(hotswap::HotswapArgs),
}

impl EdidArgs {
    /// The simulator's options of the device subcommands (None for decode and generate).
    pub fn sim_args(&self) -> Option<&SimArgs> {
        match &self.command {
            EdidCommand::Show(a) => Some(&a.target.sim_opts),
            EdidCommand::Set(a) => Some(&a.target.sim_opts),
            EdidCommand::Link(a) => Some(&a.sim_opts),
            EdidCommand::Hotswap(a) => Some(&a.target.sim_opts),
            EdidCommand::Generate(_) | EdidCommand::Decode(_) => None,
        }
    }
}

pub fn run(args: &EdidArgs) -> Result<()> {
    match &args.command {
        EdidCommand::Show(a) => show::run(a),
        EdidCommand::Generate(a) => generate::run_generate(a),
        EdidCommand::Decode(a) => generate::run_decode(a),
        EdidCommand::Set(a) => device::run_set(a),
        EdidCommand::Link(a) => device::run_link(a),
        EdidCommand::Hotswap(a) => hotswap::run(a),
    }
}

/// The identity and extra modes of a generated EDID.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Generated EDID")]
pub struct SpecArgs {
    /// Monitor name (up to 13 printable ASCII characters).
    #[arg(long, default_value = "vfio-display")]
    name: String,
    /// Serial number text (up to 13 printable ASCII characters).
    #[arg(long, default_value = "VFD0001")]
    serial: String,
    /// Manufacturer's PNP id: three letters.
    #[arg(long, value_name = "ABC", default_value = "VFD", value_parser = parse_vendor)]
    vendor: [u8; 3],
    /// Product code.
    #[arg(long, default_value_t = 1)]
    product: u16,
    /// Numeric serial number in the base block (0: only the serial text says it).
    #[arg(long, value_name = "N", default_value_t = 0)]
    serial_number: u32,
    /// Week of manufacture (0 unknown, 1-54).
    #[arg(long, default_value_t = 1)]
    week: u8,
    /// Year of manufacture (1990-2245).
    #[arg(long, default_value_t = 2026)]
    year: u16,
    /// More modes to list, comma-separated (written to DisplayID extension blocks).
    #[arg(long, value_name = "WxH[@HZ],...", value_delimiter = ',')]
    extra_modes: Vec<Mode>,
}

impl SpecArgs {
    pub fn spec(&self, preferred: Mode, max_size: usize) -> EdidSpec {
        EdidSpec {
            preferred,
            extra_modes: self.extra_modes.clone(),
            identity: Identity {
                vendor: self.vendor,
                product: self.product,
                serial: self.serial_number,
                week: self.week,
                year: self.year,
                name: self.name.clone(),
                serial_text: self.serial.clone(),
            },
            max_size: max_size.min(MAX_EDID_SIZE),
        }
    }

    /// The identity and extra modes as a template; the app fills in the preferred mode and the
    /// device's size.
    pub fn template(&self) -> EdidSpec {
        self.spec(Mode::new(1024, 768, 60), MAX_EDID_SIZE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendors() {
        assert_eq!(parse_vendor("del"), Ok(*b"DEL"));
        assert!(parse_vendor("DE").is_err());
        assert!(parse_vendor("D3L").is_err());
    }
}
