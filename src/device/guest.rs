//! Acting as the guest's display driver, so that a device shows frames without a guest OS: the
//! conformance checker sets modes through it and then checks what the device reports.

use super::sim::SimDevice;
use super::{DeviceError, DisplayDevice, Result};

/// A guest display driver the front end can play.
pub trait GuestDriver {
    /// What it drives, for reports ("bochs DISPI", "simulated guest").
    fn name(&self) -> &'static str;
    /// Sets a WxH 32-bit mode, enables the display and draws a picture into it.
    fn set_mode(&self, width: u32, height: u32) -> Result<()>;
}

/// A driver shows as its name in debug output.
impl std::fmt::Debug for dyn GuestDriver + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuestDriver")
            .field("name", &self.name())
            .finish_non_exhaustive()
    }
}

/// The Bochs DISPI interface of mbochs-like devices: 16-bit registers at BAR2 + 0x500 + 2 x
/// index, the framebuffer in BAR0.
#[derive(Debug)]
pub struct BochsDriver<'a> {
    dev: &'a dyn DisplayDevice,
}

/// The Bochs DISPI register indexes (BAR2 + `DISPI_BASE` + 2 x index, 16 bits each).
pub mod dispi {
    /// Where the Bochs DISPI registers are in BAR2.
    pub const DISPI_BASE: u64 = 0x500;
    /// Register index: the DISPI interface id.
    pub const DISPI_ID: u64 = 0;
    /// Register index: width.
    pub const DISPI_XRES: u64 = 1;
    /// Register index: height.
    pub const DISPI_YRES: u64 = 2;
    /// Register index: bits per pixel.
    pub const DISPI_BPP: u64 = 3;
    /// Register index: display enable.
    pub const DISPI_ENABLE: u64 = 4;
    /// Register index: the virtual width (the pitch in pixels).
    pub const DISPI_VIRT_WIDTH: u64 = 6;
    /// Register index: horizontal pan.
    pub const DISPI_X_OFFSET: u64 = 8;
    /// Register index: vertical pan.
    pub const DISPI_Y_OFFSET: u64 = 9;
    /// ENABLE with the linear framebuffer bit.
    pub const DISPI_ENABLED_LFB: u16 = 0x41;
    /// The BAR of the registers, and the BAR of video memory.
    pub const MMIO_BAR: u32 = 2;
    /// The BAR that holds video memory.
    pub const VRAM_BAR: u32 = 0;
}
use dispi::*;

impl<'a> BochsDriver<'a> {
    /// Checks that the device answers with a Bochs DISPI ID (0xB0C0..0xB0CF).
    pub fn new(dev: &'a dyn DisplayDevice) -> Result<Self> {
        let driver = BochsDriver { dev };
        let id = driver.read(DISPI_ID)?;
        if id & 0xfff0 != 0xb0c0 {
            return Err(DeviceError::Sim(format!(
                "the DISPI ID register reads {id:#06x}, not 0xB0Cx: not a Bochs display"
            )));
        }
        Ok(driver)
    }

    fn read(&self, index: u64) -> Result<u16> {
        let mut b = [0u8; 2];
        self.dev
            .read_region(MMIO_BAR, DISPI_BASE + 2 * index, &mut b)?;
        Ok(u16::from_le_bytes(b))
    }

    fn write(&self, index: u64, value: u16) -> Result<()> {
        Ok(self
            .dev
            .write_region(MMIO_BAR, DISPI_BASE + 2 * index, &value.to_le_bytes())?)
    }
}

impl GuestDriver for BochsDriver<'_> {
    fn name(&self) -> &'static str {
        "bochs DISPI"
    }

    fn set_mode(&self, width: u32, height: u32) -> Result<()> {
        let side = |v: u32| {
            u16::try_from(v).map_err(|_| DeviceError::Sim(format!("{v} is beyond DISPI's range")))
        };
        self.write(DISPI_ENABLE, 0)?;
        self.write(DISPI_XRES, side(width)?)?;
        self.write(DISPI_YRES, side(height)?)?;
        self.write(DISPI_BPP, 32)?;
        self.write(DISPI_VIRT_WIDTH, side(width)?)?;
        self.write(DISPI_X_OFFSET, 0)?;
        self.write(DISPI_Y_OFFSET, 0)?;
        // A picture with no two equal rows, so that reads at different offsets differ.
        let bytes = u64::from(width) * u64::from(height) * 4;
        let vram = self.dev.map_region(VRAM_BAR, 0, bytes, true)?;
        let row: Vec<u8> = (0..width * 4).map(|i| (i % 251) as u8).collect();
        for y in 0..height {
            let mut line = row.clone();
            line[..4].copy_from_slice(&y.to_le_bytes());
            vram.write_from((u64::from(y) * u64::from(width) * 4) as usize, &line)?;
        }
        self.write(DISPI_ENABLE, DISPI_ENABLED_LFB)
    }
}

/// The simulator's guest.
#[derive(Debug)]
pub struct SimDriver<'a>(pub &'a SimDevice);

impl GuestDriver for SimDriver<'_> {
    fn name(&self) -> &'static str {
        "simulated guest"
    }

    fn set_mode(&self, width: u32, height: u32) -> Result<()> {
        self.0.set_mode(width, height)
    }
}
