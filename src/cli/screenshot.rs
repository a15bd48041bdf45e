//! `vfio-display screenshot`: its options, checked and parsed into the app's plain options.

use super::args::parse_seconds;
use super::exit::Usage;
use super::target::DeviceArgs;
use crate::app::screenshot::{self, ScreenshotOptions};
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;
use vfio_display::render::{ImportChoice, ImportPath, ReadChoice};

#[derive(Debug, Args)]
pub struct ScreenshotArgs {
    /// The PNG to write ("-" for stdout). An existing file is replaced whole, keeping its mode;
    /// a device or FIFO is written in place, never replaced. With --count N > 1, files are
    /// numbered: shot.png -> shot-0001.png, ...; a device, FIFO or stdout takes them in turn.
    #[arg(short, long, value_name = "FILE.png")]
    output: PathBuf,
    /// Composite the cursor plane at its position and hotspot.
    #[arg(long)]
    cursor: bool,
    /// Capture a series of N pictures.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    count: u32,
    /// Milliseconds between the pictures of a series.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    interval: u64,
    /// Also record the series' changed pictures into one lossless animated PNG (see `record`),
    /// each frame lasting until the next picture.
    #[arg(long, value_name = "FILE.apng")]
    record: Option<PathBuf>,
    /// Wait up to S seconds (fractions allowed) for the display to come on; 0 = do not wait.
    /// Exit code 3 when it stays off.
    #[arg(long, value_name = "S", default_value_t = 0.0, value_parser = parse_seconds)]
    timeout: f64,
    /// Where the picture is made: auto (the CPU while it can map the frames, the GPU when it
    /// cannot, as with Intel GVT-g's dma-bufs; -v says which), cpu (no GPU needed) or gpu
    /// (import, unpack and compose on the GPU, then read back; Vulkan, or Mesa's lavapipe
    /// without a GPU).
    #[arg(long, value_enum, default_value_t = Render::Auto)]
    render: Render,
    /// When the GPU makes the picture: how frames reach it (auto picks buffer for dma-bufs,
    /// linear or tiled, and cpu for region planes or when an import fails).
    #[arg(long, value_enum, default_value_t = Import::Auto)]
    import: Import,
    // Last: the device options come under their own headings, after the command's own.
    #[command(flatten)]
    pub target: DeviceArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Render {
    Auto,
    Cpu,
    Gpu,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Import {
    Auto,
    Dmabuf,
    Buffer,
    Cpu,
}

impl Import {
    pub fn choice(self) -> ImportChoice {
        match self {
            Import::Auto => ImportChoice::Auto,
            Import::Dmabuf => ImportChoice::Only(ImportPath::Dmabuf),
            Import::Buffer => ImportChoice::Only(ImportPath::Buffer),
            Import::Cpu => ImportChoice::Only(ImportPath::Cpu),
        }
    }
}

pub fn run(args: &ScreenshotArgs) -> Result<()> {
    if args.render == Render::Cpu && args.import != Import::Auto {
        return Err(Usage(
            "--import chooses how frames reach the GPU: it needs --render gpu, or --render \
             auto (where it applies once the CPU cannot map a frame)"
                .into(),
        )
        .into());
    }
    screenshot::run(&ScreenshotOptions {
        output: args.output.clone(),
        cursor: args.cursor,
        count: args.count,
        interval: args.interval,
        record: args.record.clone(),
        timeout: Duration::from_secs_f64(args.timeout),
        render: match args.render {
            Render::Auto => ReadChoice::Auto,
            Render::Cpu => ReadChoice::Cpu,
            Render::Gpu => ReadChoice::Gpu,
        },
        import: args.import.choice(),
        target: args.target.target()?,
    })
}
