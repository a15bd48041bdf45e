//! Where the cursor plane goes on the primary plane. The picture type itself, `RgbaImage`, is
//! the crate's pure-data `image` module, re-exported here for the frame path's users.

use crate::geometry::Point;
pub use crate::image::RgbaImage;
use crate::uapi::NO_HOTSPOT;
use crate::vfio::PlaneInfo;

/// Where the cursor image's top-left corner goes on the primary plane: the position is where the
/// hotspot points, so the image starts one hotspot up and left of it. Positions are signed (a
/// cursor can hang off the left or top edge); a missing (0xFFFFFFFF) or out-of-image hotspot counts
/// as (0, 0).
pub fn cursor_origin(cursor: &PlaneInfo) -> Point<i64> {
    let hot = |h: u32, side: u32| {
        if h == NO_HOTSPOT || h >= side {
            0
        } else {
            i64::from(h)
        }
    };
    let x = i64::from(cursor.x_pos as i32) - hot(cursor.x_hot, cursor.width);
    let y = i64::from(cursor.y_pos as i32) - hot(cursor.y_hot, cursor.height);
    Point::new(x, y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfio::{PlaneSource, PlaneType};

    #[test]
    fn origin_subtracts_a_valid_hotspot() {
        let mut c = PlaneInfo::off(PlaneType::Cursor, PlaneSource::DmaBuf);
        c.width = 64;
        c.height = 64;
        c.x_pos = 100;
        c.y_pos = 50;
        c.x_hot = 4;
        c.y_hot = 6;
        assert_eq!(cursor_origin(&c), Point::new(96, 44));
        c.x_hot = NO_HOTSPOT;
        c.y_hot = 64;
        assert_eq!(cursor_origin(&c), Point::new(100, 50));
        c.x_pos = (-5i32) as u32;
        assert_eq!(cursor_origin(&c).x, -5);
    }
}
