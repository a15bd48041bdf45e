//! Reading what the user hands the program (EDID files, stdin), always within a stated bound:
//! `/dev/zero`, an endless pipe or a huge file is refused after reading one byte past the bound,
//! never read whole.

use anyhow::{Context, Result, bail};
use std::io::Read;
use std::path::Path;
use vfio_display::edid::HEADER;

/// The most an EDID file may hold: hex text of the largest EDID (256 blocks, 32 KiB of bytes)
/// does not fit, but every real EDID (at most a few blocks) fits many times over, in either form.
pub const MAX_EDID_FILE: u64 = 32 * 1024;

/// Reads at most `limit` bytes of `path` ("-": stdin); one byte more is an error naming the
/// limit.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let shown = if path == Path::new("-") {
        "standard input".to_string()
    } else {
        path.display().to_string()
    };
    let mut bytes = Vec::new();
    let read = if path == Path::new("-") {
        std::io::stdin()
            .lock()
            .take(limit + 1)
            .read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path)
            .and_then(|f| f.take(limit + 1).read_to_end(&mut bytes))
            .with_context(|| format!("cannot read {shown}"))?;
        Ok(bytes.len())
    };
    read.with_context(|| format!("cannot read {shown}"))?;
    if bytes.len() as u64 > limit {
        bail!(
            "{shown} is larger than {limit} bytes ({} KiB), the most this command reads",
            limit / 1024
        );
    }
    Ok(bytes)
}

/// Reads an EDID file (or stdin for "-"): raw bytes, or hex text (whitespace, `0x` prefixes and
/// commas as in C arrays, or edid-decode's output, of which its hex dump is read). Text that
/// is not hex is an error naming the first bad token and its line.
pub fn read_edid_file(path: &Path) -> Result<Vec<u8>> {
    let bytes = read_bounded(path, MAX_EDID_FILE)?;
    let shown = if path == Path::new("-") {
        "standard input".to_string()
    } else {
        path.display().to_string()
    };
    if bytes.is_empty() {
        bail!("{shown} is empty");
    }
    if looks_like_text(&bytes) {
        return parse_hex_text(&bytes).with_context(|| format!("{shown} is not an EDID"));
    }
    Ok(bytes)
}

/// Binary EDIDs start with their 8-byte header, which is not text; anything else made only of
/// printable ASCII and whitespace is taken as hex text.
fn looks_like_text(bytes: &[u8]) -> bool {
    !bytes.starts_with(&HEADER)
        && bytes
            .iter()
            .all(|&b| b.is_ascii_graphic() || b.is_ascii_whitespace())
}

/// Hex text to bytes, token by token: a token is hex digits in pairs, optionally `0x`-prefixed
/// and followed by a comma. Of edid-decode's own output, only its hex dump is read.
pub fn parse_hex_text(bytes: &[u8]) -> Result<Vec<u8>> {
    let text = std::str::from_utf8(bytes).context("the text is not UTF-8")?;
    let mut out = Vec::new();
    for (line_no, line) in hex_lines(text) {
        for token in line.split_whitespace() {
            let digits = token.trim_end_matches(',');
            let digits = digits
                .strip_prefix("0x")
                .or_else(|| digits.strip_prefix("0X"))
                .unwrap_or(digits);
            let shown: String = token.chars().take(24).collect();
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                bail!(
                    "line {}: '{shown}' is not hex (write bytes as hex digit pairs, e.g. 00 ff)",
                    line_no + 1
                );
            }
            if !digits.len().is_multiple_of(2) {
                bail!(
                    "line {}: '{shown}' has an odd number of hex digits",
                    line_no + 1
                );
            }
            for pair in digits.as_bytes().chunks_exact(2) {
                let pair = std::str::from_utf8(pair).unwrap_or("zz");
                out.push(
                    u8::from_str_radix(pair, 16)
                        .with_context(|| format!("line {}: '{shown}' is not hex", line_no + 1))?,
                );
            }
        }
    }
    if out.is_empty() {
        bail!("the text holds no hex bytes");
    }
    Ok(out)
}

/// The lines of `text` that hold hex, numbered from 0. edid-decode's default output (an older
/// one's title is `EDID (hex):`) starts with a title line ending in `(hex):`, then the dump, a
/// block to a paragraph, then a `----` rule before the decoded text: only the dump between
/// them is hex. Any other text is hex throughout.
fn hex_lines(text: &str) -> Vec<(usize, &str)> {
    let lines: Vec<(usize, &str)> = text.lines().enumerate().collect();
    let title = lines.iter().position(|(_, line)| {
        let line = line.trim();
        line.ends_with("(hex):") && (line.starts_with("edid-decode") || line.starts_with("EDID"))
    });
    let Some(title) = title else {
        return lines;
    };
    lines[title + 1..]
        .iter()
        .take_while(|(_, line)| !line.trim().starts_with("---"))
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_text_is_parsed_token_by_token() {
        assert_eq!(
            parse_hex_text(b"00 ff\n0x10, 0x20").unwrap(),
            vec![0, 0xff, 0x10, 0x20]
        );
        assert_eq!(
            parse_hex_text(b"00ffffff").unwrap(),
            vec![0, 0xff, 0xff, 0xff]
        );
        let err = format!("{:#}", parse_hex_text(b"00 ff\n00 zz 11").unwrap_err());
        assert!(err.contains("line 2") && err.contains("'zz'"), "{err}");
        let err = format!("{:#}", parse_hex_text(b"abc").unwrap_err());
        assert!(err.contains("odd number"), "{err}");
        assert!(parse_hex_text(b"  \n ").is_err());
    }

    #[test]
    fn only_the_dump_of_edid_decode_output_is_read() {
        // Blocks are paragraphs of the dump.
        let text = "edid-decode (hex):\n\n00 ff ff ff\nff ff ff 00\n\n70 13\n\n\
                    ----------------\n\nBlock 0, Base EDID:\n  EDID Structure Version & \
                    Revision: 1.4\n";
        assert_eq!(
            parse_hex_text(text.as_bytes()).unwrap(),
            vec![0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0x70, 0x13]
        );
        let err = format!(
            "{:#}",
            parse_hex_text(b"edid-decode (hex):\n\n00 fg\n").unwrap_err()
        );
        assert!(err.contains("line 3") && err.contains("'fg'"), "{err}");
        assert!(parse_hex_text(b"edid-decode (hex):\n\n----\n").is_err());
    }

    #[test]
    fn binary_and_text_are_told_apart() {
        assert!(!looks_like_text(&HEADER));
        assert!(!looks_like_text(b"\x01\x02"));
        assert!(looks_like_text(b"00 ff ff ff ff ff ff 00\n"));
    }

    #[test]
    fn reads_stop_one_byte_past_the_bound() {
        let err = read_bounded(Path::new("/dev/zero"), 1000).unwrap_err();
        assert!(
            format!("{err:#}").contains("larger than 1000 bytes"),
            "{err:#}"
        );
        let dir = tempfile::tempdir().unwrap();
        let exact = dir.path().join("exact");
        std::fs::write(&exact, vec![7u8; 1000]).unwrap();
        assert_eq!(read_bounded(&exact, 1000).unwrap().len(), 1000);
        let err = read_bounded(dir.path(), 1000).unwrap_err();
        assert!(format!("{err:#}").contains("cannot read"), "{err:#}");
    }
}
