//! What a client can take, read from its SetEncodings list (as TigerVNC's `ClientParams`): the
//! server consults this one value, never the raw list, so every rule for reading the list
//! lives here.

use super::encode::Encoding;
use super::messages::encoding;

/// The client's capabilities and settings from its latest SetEncodings. A new list replaces
/// all of it: what the client leaves out of the new list it no longer takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientParams {
    /// The first encoding in the list that this server sends, else Raw (which every client
    /// takes whether it lists it or not).
    pub encoding: Encoding,
    /// The Cursor pseudo-encoding: the cursor is sent as the client's own cursor shape.
    pub cursor: bool,
    /// The DesktopSize pseudo-encoding: the client follows a change of screen size.
    pub desktop_size: bool,
    /// The ExtendedDesktopSize pseudo-encoding: screen layouts, and SetDesktopSize requests.
    pub extended_desktop_size: bool,
    /// QEMU's extended key events: the client can send raw scancodes.
    pub qemu_extended_key: bool,
    /// The first compression level (0-9) in the list: the zlib level of streams started
    /// afterwards.
    pub compress_level: Option<u8>,
    /// The first JPEG quality level (0-9) in the list: Tight may then send JPEG.
    pub quality_level: Option<u8>,
}

impl Default for ClientParams {
    /// A client that sent no SetEncodings: Raw, and no pseudo-encoding.
    fn default() -> Self {
        ClientParams {
            encoding: Encoding::Raw,
            cursor: false,
            desktop_size: false,
            extended_desktop_size: false,
            qemu_extended_key: false,
            compress_level: None,
            quality_level: None,
        }
    }
}

impl ClientParams {
    /// Reads a SetEncodings list, in the client's order of preference. Numbers this server
    /// does not know are skipped: clients list many.
    pub fn from_encodings(list: &[i32]) -> Self {
        ClientParams {
            encoding: list
                .iter()
                .find_map(|&n| Encoding::from_number(n))
                .unwrap_or(Encoding::Raw),
            cursor: list.contains(&encoding::CURSOR),
            desktop_size: list.contains(&encoding::DESKTOP_SIZE),
            extended_desktop_size: list.contains(&encoding::EXTENDED_DESKTOP_SIZE),
            qemu_extended_key: list.contains(&encoding::QEMU_EXTENDED_KEY),
            compress_level: level(list, encoding::COMPRESS_LEVEL_0),
            quality_level: level(list, encoding::QUALITY_LEVEL_0),
        }
    }
}

/// The first of the ten pseudo-encodings `zero` to `zero + 9` in `list`, as a level 0-9.
fn level(list: &[i32], zero: i32) -> Option<u8> {
    list.iter()
        .find(|&&n| (zero..=zero + 9).contains(&n))
        .map(|&n| (n - zero) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding::*;

    #[test]
    fn an_empty_list_is_raw_and_nothing_else() {
        assert_eq!(ClientParams::from_encodings(&[]), ClientParams::default());
        assert_eq!(ClientParams::default().encoding, Encoding::Raw);
    }

    #[test]
    fn the_first_served_encoding_wins() {
        // Hextile (5) and CopyRect (1) are not served: the next one listed is.
        let p = ClientParams::from_encodings(&[5, 1, ZRLE, TIGHT, RAW]);
        assert_eq!(p.encoding, Encoding::Zrle);
        assert_eq!(
            ClientParams::from_encodings(&[TIGHT, ZRLE]).encoding,
            Encoding::Tight
        );
        assert_eq!(
            ClientParams::from_encodings(&[5, 1]).encoding,
            Encoding::Raw
        );
    }

    #[test]
    fn pseudo_encodings_are_read_wherever_they_stand() {
        let p = ClientParams::from_encodings(&[
            CURSOR,
            TIGHT,
            EXTENDED_DESKTOP_SIZE,
            QEMU_EXTENDED_KEY,
            DESKTOP_SIZE,
        ]);
        assert_eq!(
            p,
            ClientParams {
                encoding: Encoding::Tight,
                cursor: true,
                desktop_size: true,
                extended_desktop_size: true,
                qemu_extended_key: true,
                compress_level: None,
                quality_level: None,
            }
        );
        let p = ClientParams::from_encodings(&[ZRLE, DESKTOP_SIZE]);
        assert!(p.desktop_size && !p.extended_desktop_size && !p.cursor);
    }

    #[test]
    fn levels_are_the_first_of_their_range() {
        // noVNC's list: compression 2, quality 6.
        let p = ClientParams::from_encodings(&[
            TIGHT,
            COMPRESS_LEVEL_0 + 2,
            QUALITY_LEVEL_0 + 6,
            COMPRESS_LEVEL_0 + 9,
            QUALITY_LEVEL_0,
        ]);
        assert_eq!(p.compress_level, Some(2));
        assert_eq!(p.quality_level, Some(6));
        // The numbers just outside each range are other pseudo-encodings, not levels.
        let p = ClientParams::from_encodings(&[
            COMPRESS_LEVEL_0 - 1,
            COMPRESS_LEVEL_0 + 10,
            QUALITY_LEVEL_0 - 1,
            QUALITY_LEVEL_0 + 10,
        ]);
        assert_eq!((p.compress_level, p.quality_level), (None, None));
        assert_eq!(
            ClientParams::from_encodings(&[COMPRESS_LEVEL_0 + 9, QUALITY_LEVEL_0 + 9]),
            ClientParams {
                compress_level: Some(9),
                quality_level: Some(9),
                ..ClientParams::default()
            }
        );
    }
}
