//! Intel's tiled surface layouts (the `I915_FORMAT_MOD_*_TILED` modifiers GVT-g reports): where
//! each byte of a row lives in a tiled buffer, and detiling into linear rows.
//!
//! Pure arithmetic, no I/O. The same address function is written in the unpack shader
//! (`shaders/unpack.wgsl`, `tiled_offset`); the two are tested against each other and against a
//! test-side reference written from the layout description alone. The sources checked are listed
//! in ARCHITECTURE.md ("Tiled frames"). Every tile is 4 KiB and tiles are laid out row-major, a
//! row of tiles being `stride` bytes wide; gen8 and later use no bit-6 address swizzling.

/// `fourcc_mod_code(INTEL, 1)`: X tiles, 512 bytes by 8 rows, rows stored one after another.
pub const I915_FORMAT_MOD_X_TILED: u64 = 0x0100_0000_0000_0001;
/// `fourcc_mod_code(INTEL, 2)`: legacy Y tiles, 128 bytes by 32 rows, stored as eight columns
/// 16 bytes wide, each column's 32 rows one after another.
pub const I915_FORMAT_MOD_Y_TILED: u64 = 0x0100_0000_0000_0002;
/// `fourcc_mod_code(INTEL, 3)`: Yf ("standard swizzle") tiles; for 4-byte pixels 128 bytes by
/// 32 rows with x and y address bits interleaved.
pub const I915_FORMAT_MOD_YF_TILED: u64 = 0x0100_0000_0000_0003;

/// The size of every tile.
pub const TILE_BYTES: u64 = 4096;

/// A tile's shape: bytes across (not pixels: a tile holds as many pixels as fit) and rows down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileShape {
    /// The bytes of one of its rows.
    pub width_bytes: u32,
    /// Its rows.
    pub rows: u32,
}

/// How a surface's bytes are arranged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tiling {
    /// Rows one after another, `stride` apart.
    Linear,
    /// X tiles.
    X,
    /// Legacy Y tiles.
    Y,
    /// Yf tiles (4-byte pixels only: the layout depends on the pixel size, and only the 32-bit
    /// one is proven here).
    Yf,
}

impl Tiling {
    /// The layout a modifier names; None for modifiers we cannot read (compression, other
    /// vendors, newer Intel tilings).
    pub fn from_modifier(modifier: u64) -> Option<Tiling> {
        match modifier {
            0 => Some(Tiling::Linear),
            I915_FORMAT_MOD_X_TILED => Some(Tiling::X),
            I915_FORMAT_MOD_Y_TILED => Some(Tiling::Y),
            I915_FORMAT_MOD_YF_TILED => Some(Tiling::Yf),
            _ => None,
        }
    }

    /// The modifier that names this layout.
    pub fn modifier(self) -> u64 {
        match self {
            Tiling::Linear => 0,
            Tiling::X => I915_FORMAT_MOD_X_TILED,
            Tiling::Y => I915_FORMAT_MOD_Y_TILED,
            Tiling::Yf => I915_FORMAT_MOD_YF_TILED,
        }
    }

    /// A short name for messages and options: "linear", "x", "y", "yf".
    pub fn name(self) -> &'static str {
        match self {
            Tiling::Linear => "linear",
            Tiling::X => "x",
            Tiling::Y => "y",
            Tiling::Yf => "yf",
        }
    }

    /// Parses a name as `name` gives it, any case.
    pub fn parse(name: &str) -> Option<Tiling> {
        [Tiling::Linear, Tiling::X, Tiling::Y, Tiling::Yf]
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(name))
    }

    /// The shader's code for this layout (`tiled_offset` in `unpack.wgsl`).
    pub fn shader_code(self) -> u32 {
        match self {
            Tiling::Linear => 0,
            Tiling::X => 1,
            Tiling::Y => 2,
            Tiling::Yf => 3,
        }
    }

    /// A tile's width in bytes and height in rows; 1 by 1 for linear.
    pub fn tile_size(self) -> TileShape {
        let (width_bytes, rows) = match self {
            Tiling::Linear => (1, 1),
            Tiling::X => (512, 8),
            Tiling::Y | Tiling::Yf => (128, 32),
        };
        TileShape { width_bytes, rows }
    }

    /// How many bytes of a row lie one after another in memory: a whole X tile's row, a 16-byte
    /// column of Y and Yf tiles. Linear rows are contiguous whole (`u32::MAX`).
    pub fn run_bytes(self) -> u32 {
        match self {
            Tiling::Linear => u32::MAX,
            Tiling::X => 512,
            Tiling::Y | Tiling::Yf => 16,
        }
    }

    /// Whether pixels of `bytes_per_pixel` can be read in this layout: a pixel (or a YUV pair
    /// of 2-byte pixels) must never straddle a run, and Yf is proven for 4-byte pixels only.
    pub fn supports(self, bytes_per_pixel: u32) -> bool {
        match self {
            Tiling::Linear => true,
            Tiling::X | Tiling::Y => matches!(bytes_per_pixel, 2 | 4),
            Tiling::Yf => bytes_per_pixel == 4,
        }
    }

    /// The byte offset of byte `x` of row `y` (from the start of the surface), for a surface
    /// whose rows of tiles are `stride` bytes apart. The stride must be a whole number of tiles
    /// wide (validation checks it); the result is below `stride * rows rounded to tile rows`.
    #[inline]
    pub fn offset(self, x: u64, y: u64, stride: u64) -> u64 {
        match self {
            Tiling::Linear => y * stride + x,
            Tiling::X => {
                let tile = (y / 8) * stride * 8 + (x / 512) * TILE_BYTES;
                tile + (y % 8) * 512 + x % 512
            }
            Tiling::Y => {
                let tile = (y / 32) * stride * 32 + (x / 128) * TILE_BYTES;
                tile + ((x % 128) / 16) * 512 + (y % 32) * 16 + x % 16
            }
            Tiling::Yf => {
                let tile = (y / 32) * stride * 32 + (x / 128) * TILE_BYTES;
                // Address bits 11..0 of a 4-byte-pixel Yf tile: x6 y4 x5 y3 x4 y2 y1 y0 x3..x0.
                let within = (x & 0xf)
                    | (y & 0x3) << 4
                    | (y & 0x4) << 4
                    | (x & 0x10) << 3
                    | (y & 0x8) << 5
                    | (x & 0x20) << 4
                    | (y & 0x10) << 6
                    | (x & 0x40) << 5;
                tile + within
            }
        }
    }
}

/// Detiles one 4 KiB tile at a time into linear rows, with the layout's offsets looked up once.
///
/// A tile is contiguous in memory, so a reader copies it out of the guest's buffer in one piece
/// (sequential reads), and the tile and the rows it fills (4 KiB each way) stay in the
/// first-level cache while its runs are copied: one slice copy per contiguous run (a 512-byte
/// row of an X tile, a 16-byte column of a Y or Yf tile).
#[derive(Debug, Clone)]
pub struct Detiler {
    tiling: Tiling,
    /// Y and Yf: where each 16-byte column of row 0 starts within the tile.
    columns: [usize; 8],
    /// Where each row starts within the tile (added to the column's offset: the x and y terms
    /// of `Tiling::offset` touch separate address bits).
    rows: [usize; 32],
}

impl Detiler {
    /// The detiler for a tiled layout (`Linear` has no tiles: every call copies nothing).
    pub fn new(tiling: Tiling) -> Self {
        let mut columns = [0usize; 8];
        let mut rows = [0usize; 32];
        if tiling != Tiling::Linear {
            let TileShape {
                width_bytes: width,
                rows: height,
            } = tiling.tile_size();
            for (column, at) in columns.iter_mut().enumerate() {
                *at = tiling.offset((16 * column as u64) % u64::from(width), 0, 0) as usize;
            }
            for (row, at) in rows.iter_mut().enumerate().take(height as usize) {
                *at = tiling.offset(0, row as u64, 0) as usize;
            }
        }
        Detiler {
            tiling,
            columns,
            rows,
        }
    }

    /// The layout.
    pub fn tiling(&self) -> Tiling {
        self.tiling
    }

    /// Copies tile `n` of a row of tiles (`tile`, its 4 KiB) into `out`: linear rows `pitch`
    /// apart, `row_bytes` of pixels each, the first of them the tile's row `first_tile_row`. A
    /// tile wholly in the stride's padding copies nothing.
    pub fn copy_tile(
        &self,
        tile: &[u8],
        n: usize,
        first_tile_row: usize,
        row_bytes: usize,
        pitch: usize,
        out: &mut [u8],
    ) {
        let TileShape {
            width_bytes: tile_width,
            rows: tile_rows,
        } = self.tiling.tile_size();
        let (tile_width, tile_rows) = (tile_width as usize, tile_rows as usize);
        let x0 = n * tile_width;
        if self.tiling == Tiling::Linear || x0 >= row_bytes {
            return;
        }
        let width = tile_width.min(row_bytes - x0);
        // The rows `out` holds, within the tile (no division per row: it would cost more than
        // the row's copies).
        let first = first_tile_row.min(tile_rows);
        let rows = out.len().div_ceil(pitch.max(1)).min(tile_rows - first);
        for (r, &row_offset) in self.rows[first..first + rows].iter().enumerate() {
            let dst = &mut out[r * pitch + x0..r * pitch + x0 + width];
            match self.tiling {
                Tiling::X => dst.copy_from_slice(&tile[row_offset..row_offset + width]),
                _ if width == 128 => {
                    // Fixed-size arrays throughout, so that each copy is one 16-byte move with
                    // no length check and no call to memcpy.
                    let (Ok(dst), Ok(tile)) = (
                        <&mut [u8; 128]>::try_from(dst),
                        <&[u8; 4096]>::try_from(&tile[..4096]),
                    ) else {
                        continue;
                    };
                    let (dst, _) = dst.as_chunks_mut::<16>();
                    let (src, _) = tile.as_chunks::<16>();
                    let row = row_offset / 16;
                    for (chunk, &column) in dst.iter_mut().zip(&self.columns) {
                        // Column and row offsets are below 4 KiB, so the index is below 256
                        // already; the mask only lets the compiler drop the bounds check.
                        *chunk = src[(column / 16 + row) & 0xff];
                    }
                }
                // The last tile of a row that ends inside it: the columns it reaches, the last
                // one maybe partial.
                _ => {
                    for (chunk, &column) in dst.chunks_mut(16).zip(&self.columns) {
                        let at = column + row_offset;
                        chunk.copy_from_slice(&tile[at..at + chunk.len()]);
                    }
                }
            }
        }
    }
}

/// Copies rows `first_row..` of a tiled surface out of `band` (the whole row of tiles that
/// holds them, `stride * tile rows` bytes from the tile row's first byte) into linear rows of
/// `out`, `pitch` apart, `row_bytes` each: `Detiler::copy_tile` for each tile the rows reach.
pub fn detile_band(
    tiling: Tiling,
    band: &[u8],
    stride: usize,
    first_row: usize,
    row_bytes: usize,
    pitch: usize,
    out: &mut [u8],
) {
    let TileShape {
        width_bytes: tile_width,
        rows: tile_rows,
    } = tiling.tile_size();
    if tiling == Tiling::Linear {
        for (i, row) in out.chunks_mut(pitch).enumerate() {
            let at = i * stride;
            row[..row_bytes].copy_from_slice(&band[at..at + row_bytes]);
        }
        return;
    }
    let detiler = Detiler::new(tiling);
    let tile_bytes = TILE_BYTES as usize;
    for n in 0..row_bytes.div_ceil(tile_width as usize) {
        let tile = &band[n * tile_bytes..(n + 1) * tile_bytes];
        detiler.copy_tile(
            tile,
            n,
            first_row % tile_rows as usize,
            row_bytes,
            pitch,
            out,
        );
    }
}

/// Lays linear rows (`row_bytes` each, `pitch` apart, `height` of them) out as a tiled surface
/// of `stride` bytes per row of tiles, the height rounded up to whole tile rows: the simulator
/// draws its tiled planes with it.
pub fn tile(
    tiling: Tiling,
    linear: &[u8],
    pitch: usize,
    row_bytes: usize,
    height: usize,
    stride: usize,
) -> Vec<u8> {
    let tile_rows = tiling.tile_size().rows;
    let rows = height.next_multiple_of(tile_rows as usize);
    let mut out = vec![0u8; stride * rows];
    let run = (tiling.run_bytes() as usize).min(row_bytes.max(1));
    for y in 0..height {
        let row = &linear[y * pitch..y * pitch + row_bytes];
        for (n, chunk) in row.chunks(run).enumerate() {
            let at = tiling.offset((n * run) as u64, y as u64, stride as u64) as usize;
            out[at..at + chunk.len()].copy_from_slice(chunk);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte of a two-by-two-tile surface lands on its own address, inside the surface.
    #[test]
    fn each_layout_is_a_permutation_of_its_tiles() {
        for tiling in [Tiling::X, Tiling::Y, Tiling::Yf] {
            let TileShape {
                width_bytes: w,
                rows: h,
            } = tiling.tile_size();
            let stride = u64::from(w) * 2;
            let rows = u64::from(h) * 2;
            let mut seen = vec![false; (stride * rows) as usize];
            for y in 0..rows {
                for x in 0..stride {
                    let at = tiling.offset(x, y, stride) as usize;
                    assert!(!seen[at], "{tiling:?}: ({x}, {y}) reuses byte {at}");
                    seen[at] = true;
                }
            }
            assert!(seen.iter().all(|&s| s), "{tiling:?}");
        }
    }

    /// Addresses written out from the layout descriptions, one per feature of each layout.
    #[test]
    fn known_addresses() {
        let stride = 2048;
        // X: a 512-byte row inside the tile, 8 rows per tile, the next tile 4 KiB on.
        assert_eq!(Tiling::X.offset(0, 1, stride), 512);
        assert_eq!(Tiling::X.offset(512, 0, stride), 4096);
        assert_eq!(Tiling::X.offset(3, 8, stride), 2048 * 8 + 3);
        // Y: 16-byte columns of 32 rows.
        assert_eq!(Tiling::Y.offset(15, 0, stride), 15);
        assert_eq!(Tiling::Y.offset(16, 0, stride), 512);
        assert_eq!(Tiling::Y.offset(0, 1, stride), 16);
        assert_eq!(Tiling::Y.offset(0, 31, stride), 496);
        assert_eq!(Tiling::Y.offset(128, 0, stride), 4096);
        assert_eq!(Tiling::Y.offset(0, 32, stride), 2048 * 32);
        // Yf, 4-byte pixels: 16 bytes of a row, then rows 1-3 of a 64-byte block, row 4 in
        // the next 64 bytes, x's bit 4 at 128.
        assert_eq!(Tiling::Yf.offset(16, 0, stride), 128);
        assert_eq!(Tiling::Yf.offset(0, 3, stride), 48);
        assert_eq!(Tiling::Yf.offset(0, 4, stride), 64);
        assert_eq!(Tiling::Yf.offset(0, 8, stride), 256);
        assert_eq!(Tiling::Yf.offset(32, 0, stride), 512);
        assert_eq!(Tiling::Yf.offset(0, 16, stride), 1024);
        assert_eq!(Tiling::Yf.offset(64, 0, stride), 2048);
        assert_eq!(Tiling::Yf.offset(127, 31, stride), 4095);
    }

    #[test]
    fn detiling_undoes_tiling_for_odd_sizes() {
        for tiling in [Tiling::Linear, Tiling::X, Tiling::Y, Tiling::Yf] {
            let TileShape {
                width_bytes: tw,
                rows: th,
            } = tiling.tile_size();
            // 37 rows of 300 bytes (75 four-byte pixels), in rows of tiles one tile wider than
            // the pixels need: tiles wholly in the stride's padding are never read.
            let (row_bytes, height) = (300usize, 37usize);
            let stride = row_bytes.next_multiple_of(tw as usize) + tw as usize;
            let linear: Vec<u8> = (0..row_bytes * height)
                .map(|i| (i * 7 % 251) as u8)
                .collect();
            let tiled = tile(tiling, &linear, row_bytes, row_bytes, height, stride);
            let band_len = stride * th as usize;
            let mut back = vec![0u8; row_bytes * height];
            for first in (0..height).step_by(th as usize) {
                let rows = (height - first).min(th as usize);
                let band = &tiled[first * stride..first * stride + band_len];
                detile_band(
                    tiling,
                    band,
                    stride,
                    first,
                    row_bytes,
                    row_bytes,
                    &mut back[first * row_bytes..(first + rows) * row_bytes],
                );
            }
            assert_eq!(back, linear, "{tiling:?}");
        }
    }

    #[test]
    fn modifiers_and_names_round_trip() {
        for tiling in [Tiling::Linear, Tiling::X, Tiling::Y, Tiling::Yf] {
            assert_eq!(Tiling::from_modifier(tiling.modifier()), Some(tiling));
            assert_eq!(Tiling::parse(tiling.name()), Some(tiling));
        }
        // I915_FORMAT_MOD_Y_TILED_CCS is compressed: refused.
        assert_eq!(Tiling::from_modifier(0x0100_0000_0000_0004), None);
        assert!(!Tiling::Yf.supports(2));
        assert!(!Tiling::Y.supports(3));
    }
}
