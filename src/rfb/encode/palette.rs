//! A small colour table for the palette encodings.

/// Slots in the hash table: four per colour at the most (256), so probe chains stay short.
const SLOTS: usize = 1024;

/// One slot of the table: it holds a colour only while its stamp is the table's current one.
#[derive(Debug, Clone, Copy)]
struct Slot {
    colour: u32,
    stamp: u16,
    index: u8,
}

/// Up to 256 colours with their indices, found by hashing: a Tight block has up to 65536
/// pixels and a ZRLE tile 4096, too many for a linear search per colour change.
///
/// ZRLE empties the table for every 64x64 tile, so emptying must be cheap and exact. Each slot
/// carries the stamp of the generation that filled it, and `clear` starts a new generation:
/// every slot then reads as free at once. (Freeing slots by looking their colours up again
/// does not work with linear probing: a colour whose probe passed a slot freed before it finds
/// a free slot early and leaves its own entry behind, which a later tile reads as present.)
#[derive(Debug)]
pub struct Palette {
    slots: Vec<Slot>,
    stamp: u16,
    colours: Vec<u32>,
}

/// The slot where the probe for `p` starts (Fibonacci hashing: the top 10 bits of a
/// multiplication by 2^32 / phi, which spreads neighbouring colours apart).
fn home(p: u32) -> usize {
    (p.wrapping_mul(0x9e37_79b1) >> 22) as usize
}

impl Palette {
    /// An empty palette.
    pub fn new() -> Self {
        Palette {
            slots: vec![
                Slot {
                    colour: 0,
                    stamp: 0,
                    index: 0,
                };
                SLOTS
            ],
            // Slots start at stamp 0, so the first generation is 1: every slot is free.
            stamp: 1,
            colours: Vec::with_capacity(256),
        }
    }

    /// The colours in the order they were added.
    pub fn colours(&self) -> &[u32] {
        &self.colours
    }

    /// Forgets every colour: a new generation, in which no slot is filled yet.
    pub fn clear(&mut self) {
        self.colours.clear();
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            // The stamps went round: slots of 65536 generations ago would read as filled.
            for slot in &mut self.slots {
                slot.stamp = 0;
            }
            self.stamp = 1;
        }
    }

    /// The slot holding `p`, or the free slot where it belongs. The table never holds more
    /// than 256 of its 1024 slots, so a free slot is always found.
    fn slot(&self, p: u32) -> usize {
        let mut i = home(p);
        loop {
            let slot = self.slots[i];
            if slot.stamp != self.stamp || slot.colour == p {
                return i;
            }
            i = (i + 1) % SLOTS;
        }
    }

    /// Adds `p`; false when it is new and the palette already holds `max` colours (at most
    /// 256).
    pub fn insert(&mut self, p: u32, max: usize) -> bool {
        let i = self.slot(p);
        if self.slots[i].stamp == self.stamp {
            return true;
        }
        if self.colours.len() >= max.min(256) {
            return false;
        }
        self.slots[i] = Slot {
            colour: p,
            stamp: self.stamp,
            index: self.colours.len() as u8,
        };
        self.colours.push(p);
        true
    }

    /// The index of `p`, which must have been inserted since the last `clear`.
    pub fn index(&self, p: u32) -> u8 {
        let slot = self.slots[self.slot(p)];
        debug_assert!(slot.stamp == self.stamp, "{p:#x} is not in the palette");
        slot.index
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
        assert!(!big.insert(1, 256));
    }

    #[test]
    fn clearing_forgets_every_colour() {
        let mut p = Palette::new();
        assert!(p.insert(1, 2) && p.insert(2, 2));
        p.clear();
        assert!(p.insert(3, 2) && p.insert(1, 2));
        assert_eq!((p.index(3), p.index(1)), (0, 1));
    }

    /// `count` colours (24-bit, as a desktop's) whose probes all start at the same slot.
    fn colliding(count: usize) -> Vec<u32> {
        let first = 0x0010_2840;
        let colours: Vec<u32> = (first..0x0100_0000)
            .filter(|&c| home(c) == home(first))
            .take(count)
            .collect();
        assert_eq!(colours.len(), count);
        colours
    }

    #[test]
    fn clearing_forgets_colours_that_collided() {
        // a and b share a home slot, so b sits one slot past it. A table that frees slots by
        // looking each colour up again frees a's slot, then finds that free slot first for b
        // and leaves b's own entry behind, which a second tile then reads as present.
        let [a, b] = colliding(2)[..] else {
            unreachable!()
        };
        let mut p = Palette::new();
        assert!(p.insert(a, 16) && p.insert(b, 16));
        p.clear();
        assert!(p.insert(a, 16) && p.insert(b, 16));
        assert_eq!(p.colours(), &[a, b], "b is new after the clear");
        assert_eq!((p.index(a), p.index(b)), (0, 1));
        // Reversed, and with a colour between them: indices follow the new order.
        p.clear();
        let c = a ^ 0x0000_0101;
        for colour in [b, c, a] {
            assert!(p.insert(colour, 16));
        }
        assert_eq!(p.colours(), &[b, c, a]);
        assert_eq!((p.index(b), p.index(c), p.index(a)), (0, 1, 2));
    }

    #[test]
    fn many_generations_of_colliding_colours_stay_exact() {
        // More clears than the stamps count, each tile with a long probe chain of colliding
        // colours in a rotating order: every tile's palette is exactly its own colours.
        let chain = colliding(12);
        let mut p = Palette::new();
        for tile in 0..70_000usize {
            p.clear();
            let count = 1 + tile % chain.len();
            let used: Vec<u32> = (0..count)
                .map(|i| chain[(tile + i * 5) % chain.len()])
                .collect();
            for &c in &used {
                assert!(p.insert(c, 16));
            }
            assert_eq!(p.colours(), &used[..], "tile {tile}");
            for (i, &c) in used.iter().enumerate() {
                assert_eq!(usize::from(p.index(c)), i, "tile {tile}");
            }
        }
    }
}
