//! A small colour table for the palette encodings.

/// A free slot.
const EMPTY: u16 = u16::MAX;

/// Up to 256 colours with their indices, found by hashing: a Tight block has up to 65536
/// pixels and a ZRLE tile 4096, too many for a linear search per colour change.
pub struct Palette {
    slots: Vec<(u32, u16)>,
    colours: Vec<u32>,
}

impl Palette {
    pub fn new() -> Self {
        Palette {
            slots: vec![(0, EMPTY); 1024],
            colours: Vec::with_capacity(256),
        }
    }

    /// The colours in the order they were added.
    pub fn colours(&self) -> &[u32] {
        &self.colours
    }

    /// Forgets every colour.
    pub fn clear(&mut self) {
        for &c in &self.colours {
            let i = self.slot(c);
            self.slots[i].1 = EMPTY;
        }
        self.colours.clear();
    }

    fn slot(&self, p: u32) -> usize {
        let mut i = (p.wrapping_mul(0x9e37_79b1) >> 22) as usize;
        loop {
            let (key, index) = self.slots[i];
            if index == EMPTY || key == p {
                return i;
            }
            i = (i + 1) & 1023;
        }
    }

    /// Adds `p`; false when it is new and the palette already holds `max` colours.
    pub fn insert(&mut self, p: u32, max: usize) -> bool {
        let i = self.slot(p);
        if self.slots[i].1 != EMPTY {
            return true;
        }
        if self.colours.len() == max {
            return false;
        }
        self.slots[i] = (p, self.colours.len() as u16);
        self.colours.push(p);
        true
    }

    pub fn index(&self, p: u32) -> u8 {
        self.slots[self.slot(p)].1 as u8
    }
}

impl Default for Palette {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palette_indexes_in_order_and_stops_at_its_limit() {
        let mut p = Palette::new();
        for c in [5u32, 9, 5, 0x00ff_ffff, 9] {
            assert!(p.insert(c, 3));
        }
        assert_eq!(p.colours(), &[5, 9, 0x00ff_ffff]);
        assert_eq!((p.index(5), p.index(9), p.index(0x00ff_ffff)), (0, 1, 2));
        assert!(!p.insert(7, 3));
        let mut big = Palette::new();
        assert!((0..256u32).all(|c| big.insert(c * 4099, 256)));
        assert!((0..256u32).all(|c| big.index(c * 4099) == c as u8));
    }

    #[test]
    fn clearing_forgets_every_colour() {
        let mut p = Palette::new();
        assert!(p.insert(1, 2) && p.insert(2, 2));
        p.clear();
        assert!(p.insert(3, 2) && p.insert(1, 2));
        assert_eq!((p.index(3), p.index(1)), (0, 1));
    }
}
