//! Pure data: the named pairs that cross module boundaries, so that a width is never read as a
//! height, nor a column as a row. Uses nothing of ours.

use std::fmt;

/// A size in pixels: a mode, a frame, a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Size {
    /// Pixels across.
    pub width: u32,
    /// Pixels down.
    pub height: u32,
}

impl Size {
    /// A size of `width` by `height` pixels.
    pub const fn new(width: u32, height: u32) -> Self {
        Size { width, height }
    }

    /// How many pixels it covers (as `u64`: 65536 x 65536 does not fit a `u32`).
    pub fn area(self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }
}

impl fmt::Display for Size {
    /// `WIDTHxHEIGHT`, as modes are written on the command line and in messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

/// A position: a pixel's column and row (`Point`, from the top-left corner), or a signed one
/// where a picture may start past the left or top edge (`Point<i64>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Point<T = u32> {
    /// The column, growing rightwards.
    pub x: T,
    /// The row, growing downwards.
    pub y: T,
}

impl<T> Point<T> {
    /// The point at column `x`, row `y`.
    pub const fn new(x: T, y: T) -> Self {
        Point { x, y }
    }
}

impl<T: fmt::Display> fmt::Display for Point<T> {
    /// `(x, y)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, {})", self.x, self.y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_size_prints_as_a_mode_and_counts_its_pixels_without_overflow() {
        assert_eq!(Size::new(1024, 768).to_string(), "1024x768");
        assert_eq!(Size::new(65536, 65536).area(), 1 << 32);
        assert_eq!(Point::new(-5_i64, 3).to_string(), "(-5, 3)");
    }
}
