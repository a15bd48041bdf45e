//! Writing output files: PNGs written whole (to a temporary name, then renamed) so that a failed
//! or interrupted capture never leaves a truncated picture behind.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use vfio_display::frame::RgbaImage;

/// Encodes `image` as PNG (fast compression). With `keep_alpha` false, the alpha channel is
/// dropped (RGB), which is what opaque framebuffer formats need.
pub fn encode_png(image: &RgbaImage, keep_alpha: bool) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(image.data.len() / 2);
    {
        let mut encoder = png::Encoder::new(&mut out, image.width, image.height);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Fast);
        let data: std::borrow::Cow<[u8]> = if keep_alpha {
            encoder.set_color(png::ColorType::Rgba);
            (&image.data[..]).into()
        } else {
            encoder.set_color(png::ColorType::Rgb);
            image
                .data
                .chunks_exact(4)
                .flat_map(|px| [px[0], px[1], px[2]])
                .collect::<Vec<u8>>()
                .into()
        };
        let mut writer = encoder.write_header().context("PNG encoder")?;
        writer.write_image_data(&data).context("PNG encoder")?;
    }
    Ok(out)
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, then a rename.
pub fn write_file_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("cannot write {}: not a file name", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_data()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(err) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(err).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}

/// Checks early that a file can be created at `path`, so that a long capture does not fail at
/// its end for a bad output path.
pub fn check_writable(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if path.is_dir() {
        anyhow::bail!("cannot write {}: it is a directory", path.display());
    }
    let probe = dir.join(format!(".vfio-display-probe{}", std::process::id()));
    std::fs::File::create(&probe)
        .map(|_| {
            let _ = std::fs::remove_file(&probe);
        })
        .with_context(|| {
            format!(
                "cannot write {}: directory {} is not writable",
                path.display(),
                dir.display()
            )
        })
}

/// The path of picture `n` (1-based) of a series: "shot.png" becomes "shot-0001.png".
pub fn numbered(path: &Path, n: u32) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_else(|| "png".into());
    path.with_file_name(format!("{stem}-{n:04}.{ext}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering() {
        assert_eq!(
            numbered(Path::new("out/s.png"), 3),
            PathBuf::from("out/s-0003.png")
        );
        assert_eq!(numbered(Path::new("s"), 12), PathBuf::from("s-0012.png"));
    }

    #[test]
    fn png_round_trip_rgb_and_rgba() {
        let mut image = RgbaImage::new(3, 2);
        for (i, b) in image.data.iter_mut().enumerate() {
            *b = (i * 11) as u8;
        }
        for keep_alpha in [true, false] {
            let bytes = encode_png(&image, keep_alpha).unwrap();
            let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
            let mut reader = decoder.read_info().unwrap();
            let mut buf = vec![0; reader.output_buffer_size().unwrap()];
            let info = reader.next_frame(&mut buf).unwrap();
            let channels = if keep_alpha { 4 } else { 3 };
            assert_eq!(info.buffer_size(), 6 * channels);
            for px in 0..6 {
                assert_eq!(
                    buf[px * channels..px * channels + 3],
                    image.data[px * 4..px * 4 + 3]
                );
            }
        }
    }

    #[test]
    fn atomic_write_leaves_nothing_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("missing-dir/x.png");
        assert!(write_file_atomically(&target, b"data").is_err());
        let ok = dir.path().join("x.png");
        write_file_atomically(&ok, b"data").unwrap();
        assert_eq!(std::fs::read(&ok).unwrap(), b"data");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
