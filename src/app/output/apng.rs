//! Lossless animated PNG (APNG) recordings of the guest's screen: every changed picture, with
//! the time it was shown.
//!
//! The file is written as the pictures come, with a bounded amount of memory: the last picture
//! (to find what changed) and the one encoded frame whose delay is not known yet (a frame's
//! `fcTL`, which carries its delay, comes before its data, and the delay is only known when the
//! next picture or the end comes). Each frame after the first is the changed rectangle only,
//! drawn over the previous frame (`dispose_op` NONE, `blend_op` SOURCE), so that the frames
//! composed in order give the whole picture of each moment. The number of frames, unknown until
//! the end, is patched into `acTL` when the recording finishes; that is why a recording is
//! always written to a regular file (a temporary beside the target, renamed over it at the end,
//! under the rules of `OutputPath`).
//!
//! The screen is opaque, so frames are RGB: the alpha channel a framebuffer format may carry is
//! not recorded. Delays are in milliseconds (denominator 1000); a picture shown longer than
//! 65.535 s uses a coarser denominator, and one shown longer than about 18 hours is continued by
//! one-pixel frames that change nothing.
//!
//! A mode change (a picture of another size) cannot be a frame of the same file, whose canvas
//! is fixed: `ApngRecorder` ends the file there and goes on in the next free numbered name
//! (`rec.apng`, then `rec-0002.apng`, ...), saying so on stderr.

use super::{Landing, OutputPath, WriteMode, numbered};
use anyhow::{Context, Result, bail};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use vfio_display::frame::RgbaImage;
use vfio_display::geometry::Size;

const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
/// Where `acTL`'s data starts: after the signature and IHDR (8 + 12 + 13) and `acTL`'s own
/// length and type.
const ACTL_DATA_AT: u64 = 8 + 25 + 8;
/// The longest delay one frame can carry, in milliseconds (65535 with denominator 1).
const MAX_DELAY_MS: u64 = 65_535_000;
/// The most data in one `IDAT` or `fdAT` chunk: decoders read them piece by piece.
const CHUNK_DATA: usize = 1 << 20;

/// A rectangle of the canvas, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// What a finished recording holds.
#[derive(Debug, Clone, Default)]
pub struct RecordSummary {
    /// Pictures recorded (changed frames), in all files.
    pub frames: u64,
    /// Bytes written, in all files.
    pub bytes: u64,
    /// From the first picture to the end, summed over the files.
    pub duration: Duration,
    /// The files written: more than one after a mode change.
    pub files: Vec<PathBuf>,
}

/// The picture's size differs from the file's canvas.
#[derive(Debug, thiserror::Error)]
#[error("the picture is {new_w}x{new_h}, the recording {old_w}x{old_h}")]
pub struct SizeChanged {
    pub old_w: u32,
    pub old_h: u32,
    pub new_w: u32,
    pub new_h: u32,
}

/// One encoded frame waiting for its delay.
#[derive(Debug)]
struct Pending {
    rect: Rect,
    /// The zlib stream of the rectangle's filtered rows.
    data: Vec<u8>,
    /// Milliseconds from the first picture.
    at_ms: u64,
}

/// An APNG written to a seekable output, one picture at a time.
#[derive(Debug)]
pub struct ApngWriter<W: Write + Seek> {
    out: W,
    width: u32,
    height: u32,
    start: Instant,
    last: RgbaImage,
    pending: Option<Pending>,
    /// The next chunk sequence number (`fcTL` and `fdAT` share one count).
    seq: u32,
    /// Frames written to the file so far (`acTL`'s count).
    written: u32,
    /// Pictures pushed.
    pictures: u64,
    bytes: u64,
}

impl<W: Write + Seek> ApngWriter<W> {
    /// Starts the file with `first`, shown at `at`: the canvas has its size.
    pub fn new(out: W, first: &RgbaImage, at: Instant) -> Result<Self> {
        if first.width == 0 || first.height == 0 {
            bail!("an empty picture cannot start a recording");
        }
        let mut writer = ApngWriter {
            out,
            width: first.width,
            height: first.height,
            start: at,
            last: first.clone(),
            pending: None,
            seq: 0,
            written: 0,
            pictures: 0,
            bytes: 0,
        };
        writer.write_all(&SIGNATURE)?;
        let mut ihdr = Vec::with_capacity(13);
        ihdr.extend_from_slice(&first.width.to_be_bytes());
        ihdr.extend_from_slice(&first.height.to_be_bytes());
        // 8 bits, RGB, deflate, adaptive filters, not interlaced.
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        writer.chunk(b"IHDR", &ihdr)?;
        // The frame count is patched at the end; played once, the file ends on the last
        // picture the guest showed.
        writer.chunk(b"acTL", &actl(0))?;
        let full = Rect {
            x: 0,
            y: 0,
            width: first.width,
            height: first.height,
        };
        writer.pending = Some(Pending {
            rect: full,
            data: compress(first, full)?,
            at_ms: 0,
        });
        writer.pictures = 1;
        Ok(writer)
    }

    /// The canvas's size.
    pub fn size(&self) -> Size {
        Size::new(self.width, self.height)
    }

    /// Adds `frame`, shown at `at`, when it differs from the last picture; returns whether it
    /// added a frame. A picture of another size is refused (`SizeChanged`).
    pub fn push(&mut self, frame: &RgbaImage, at: Instant) -> Result<bool> {
        if (frame.width, frame.height) != (self.width, self.height) {
            return Err(SizeChanged {
                old_w: self.width,
                old_h: self.height,
                new_w: frame.width,
                new_h: frame.height,
            }
            .into());
        }
        let Some(rect) = changed(&self.last, frame) else {
            return Ok(false);
        };
        let at_ms = self.after_pending(at);
        let data = compress(frame, rect)?;
        self.flush_pending(at_ms)?;
        self.pending = Some(Pending { rect, data, at_ms });
        // Only the rectangle differs: the rest of the last picture is this one already.
        let stride = self.width as usize * 4;
        let (x0, x1) = (rect.x as usize * 4, (rect.x + rect.width) as usize * 4);
        for (dst, src) in self
            .last
            .data
            .chunks_exact_mut(stride)
            .zip(frame.data.chunks_exact(stride))
            .skip(rect.y as usize)
            .take(rect.height as usize)
        {
            dst[x0..x1].copy_from_slice(&src[x0..x1]);
        }
        self.pictures += 1;
        Ok(true)
    }

    /// Milliseconds from the first picture to `at`, at least one after the pending frame's
    /// time: every delay is positive (a zero delay means "as fast as possible" to players).
    fn after_pending(&self, at: Instant) -> u64 {
        let ms = millis(at.saturating_duration_since(self.start));
        let floor = self.pending.as_ref().map_or(0, |p| p.at_ms + 1);
        ms.max(floor)
    }

    /// Writes the pending frame, which lasts until `until_ms`.
    fn flush_pending(&mut self, until_ms: u64) -> Result<()> {
        let Some(mut pending) = self.pending.take() else {
            return Ok(());
        };
        let mut delay = until_ms.saturating_sub(pending.at_ms).max(1);
        // A picture shown longer than one frame's delay can say goes on in frames that repeat
        // its top-left pixel, changing nothing.
        while delay > MAX_DELAY_MS {
            self.write_frame(&pending, MAX_DELAY_MS)?;
            delay -= MAX_DELAY_MS;
            let rect = Rect {
                x: 0,
                y: 0,
                width: 1,
                height: 1,
            };
            pending = Pending {
                rect,
                data: compress(&self.last, rect)?,
                at_ms: pending.at_ms + MAX_DELAY_MS,
            };
        }
        self.write_frame(&pending, delay)
    }

    fn write_frame(&mut self, frame: &Pending, delay_ms: u64) -> Result<()> {
        let (num, den) = delay_fraction(delay_ms);
        let r = frame.rect;
        let mut fctl = Vec::with_capacity(26);
        fctl.extend_from_slice(&self.next_seq().to_be_bytes());
        for v in [r.width, r.height, r.x, r.y] {
            fctl.extend_from_slice(&v.to_be_bytes());
        }
        fctl.extend_from_slice(&num.to_be_bytes());
        fctl.extend_from_slice(&den.to_be_bytes());
        // dispose_op NONE, blend_op SOURCE: the rectangle replaces what was there.
        fctl.extend_from_slice(&[0, 0]);
        self.chunk(b"fcTL", &fctl)?;
        let first = self.written == 0;
        for piece in frame.data.chunks(CHUNK_DATA) {
            if first {
                // The first frame is the default image, which decoders without APNG show.
                self.chunk(b"IDAT", piece)?;
            } else {
                let mut fdat = Vec::with_capacity(4 + piece.len());
                fdat.extend_from_slice(&self.next_seq().to_be_bytes());
                fdat.extend_from_slice(piece);
                self.chunk(b"fdAT", &fdat)?;
            }
        }
        self.written += 1;
        Ok(())
    }

    fn next_seq(&mut self) -> u32 {
        let seq = self.seq;
        self.seq += 1;
        seq
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write_all(bytes).context("writing the recording")?;
        self.bytes += bytes.len() as u64;
        Ok(())
    }

    fn chunk(&mut self, kind: &[u8; 4], data: &[u8]) -> Result<()> {
        let len = u32::try_from(data.len()).context("a PNG chunk over 4 GiB")?;
        self.write_all(&len.to_be_bytes())?;
        self.write_all(kind)?;
        self.write_all(data)?;
        let crc = crc32(&[kind, data]);
        self.write_all(&crc.to_be_bytes())
    }

    /// Ends the file at `end` (the last picture lasts until then) and returns the output, and
    /// the pictures, bytes and duration recorded.
    pub fn finish(mut self, end: Instant) -> Result<(W, RecordSummary)> {
        let end_ms = self.after_pending(end);
        self.flush_pending(end_ms)?;
        self.chunk(b"IEND", &[])?;
        // The frame count, now known, and its chunk's CRC.
        let data = actl(self.written);
        let crc = crc32(&[b"acTL", &data]);
        let patch = (|| -> std::io::Result<()> {
            self.out.seek(SeekFrom::Start(ACTL_DATA_AT))?;
            self.out.write_all(&data)?;
            self.out.write_all(&crc.to_be_bytes())?;
            self.out.seek(SeekFrom::End(0))?;
            self.out.flush()
        })();
        patch.context("writing the recording's frame count")?;
        let summary = RecordSummary {
            frames: self.pictures,
            bytes: self.bytes,
            duration: Duration::from_millis(end_ms),
            files: Vec::new(),
        };
        Ok((self.out, summary))
    }
}

fn actl(frames: u32) -> [u8; 8] {
    let mut data = [0; 8];
    data[..4].copy_from_slice(&frames.to_be_bytes());
    data[4..].copy_from_slice(&1u32.to_be_bytes());
    data
}

/// A duration in whole milliseconds, rounded.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_micros().saturating_add(500) / 1000).unwrap_or(u64::MAX)
}

/// A delay as `fcTL` writes it: milliseconds where they fit, else the finest denominator that
/// holds it. `ms` is at most `MAX_DELAY_MS`.
fn delay_fraction(ms: u64) -> (u16, u16) {
    for (den, per) in [(1000u16, 1u64), (100, 10), (10, 100), (1, 1000)] {
        if let Ok(num) = u16::try_from((ms + per / 2) / per) {
            return (num.max(1), den);
        }
    }
    (u16::MAX, 1)
}

/// The smallest rectangle holding every pixel that differs, or None when none does.
pub fn changed(old: &RgbaImage, new: &RgbaImage) -> Option<Rect> {
    let stride = new.width as usize * 4;
    let (mut top, mut bottom) = (None, 0);
    let (mut left, mut right) = (usize::MAX, 0);
    for (y, (a, b)) in old
        .data
        .chunks_exact(stride)
        .zip(new.data.chunks_exact(stride))
        .enumerate()
    {
        if a == b {
            continue;
        }
        let pixels = || a.chunks_exact(4).zip(b.chunks_exact(4));
        let Some(first) = pixels().position(|(p, q)| p != q) else {
            continue;
        };
        let last = pixels().rposition(|(p, q)| p != q).unwrap_or(first);
        top.get_or_insert(y);
        bottom = y;
        left = left.min(first);
        right = right.max(last);
    }
    let top = top?;
    // Every index is below the image's width or height, which are u32.
    let px = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    Some(Rect {
        x: px(left),
        y: px(top),
        width: px(right - left + 1),
        height: px(bottom - top + 1),
    })
}

/// The zlib stream of `rect` of `image` as RGB rows, filtered and compressed by the PNG
/// encoder (its IDAT data, which is what `IDAT` and `fdAT` carry).
fn compress(image: &RgbaImage, rect: Rect) -> Result<Vec<u8>> {
    let stride = image.width as usize * 4;
    let (x0, x1) = (rect.x as usize * 4, (rect.x + rect.width) as usize * 4);
    let row_bytes = rect.width as usize * 3;
    let mut rgb = vec![0u8; row_bytes * rect.height as usize];
    for (dst, row) in rgb.chunks_exact_mut(row_bytes).zip(
        image
            .data
            .chunks_exact(stride)
            .skip(rect.y as usize)
            .take(rect.height as usize),
    ) {
        for (d, px) in dst.chunks_exact_mut(3).zip(row[x0..x1].chunks_exact(4)) {
            d.copy_from_slice(&px[..3]);
        }
    }
    let mut png = Vec::with_capacity(rgb.len() / 4);
    {
        let mut encoder = png::Encoder::new(&mut png, rect.width, rect.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder.write_header().context("PNG encoder")?;
        writer.write_image_data(&rgb).context("PNG encoder")?;
    }
    idat_data(&png)
}

/// The concatenated data of a PNG's IDAT chunks.
fn idat_data(png: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = png.get(8..).context("a PNG shorter than its signature")?;
    while rest.len() >= 12 {
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let chunk = rest.get(..12 + len).context("a truncated PNG chunk")?;
        if &chunk[4..8] == b"IDAT" {
            out.extend_from_slice(&chunk[8..8 + len]);
        }
        rest = &rest[12 + len..];
    }
    Ok(out)
}

/// The CRC-32 of PNG chunks (ISO 3309), over the concatenation of `parts`.
pub fn crc32(parts: &[&[u8]]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut n = 0;
        while n < 256 {
            let mut c = n as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[n] = c;
            n += 1;
        }
        table
    };
    let mut c = u32::MAX;
    for part in parts {
        for &b in *part {
            c = TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
        }
    }
    c ^ u32::MAX
}

/// One file of a recording.
struct Part {
    path: PathBuf,
    writer: ApngWriter<BufWriter<Landing>>,
}

/// A recording of the guest's screen to FILE.apng, as the pictures come: see the module's
/// documentation. FILE is replaced only when the recording finishes (until then it stays as it
/// was). Dropped without `finish` (a command that failed), the recorder finishes the file at
/// the time of the drop, so that what was recorded until the failure is kept; should that fail
/// too, or should no picture have come, the temporary is removed and FILE left as it was.
pub struct ApngRecorder {
    /// The name the user gave: the first file's, and the base of the numbered ones.
    path: PathBuf,
    /// The file that takes the next first picture, and its name, made before any picture
    /// comes so that a bad path fails at once.
    ready: Option<(PathBuf, Landing)>,
    part: Option<Part>,
    done: RecordSummary,
}

impl std::fmt::Debug for ApngRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApngRecorder")
            .field("path", &self.path)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl ApngRecorder {
    /// Creates FILE for writing under the product's file rules (a new file or replacing a
    /// regular file the user named).
    pub fn create(path: &Path) -> Result<Self> {
        let out = OutputPath::resolve(path)?;
        let landing = out.landing(WriteMode::Replace)?;
        Ok(ApngRecorder {
            path: path.to_path_buf(),
            ready: Some((path.to_path_buf(), landing)),
            part: None,
            done: RecordSummary::default(),
        })
    }

    /// Adds `frame` seen at `at` when it differs from the last one; returns whether it added a
    /// frame.
    pub fn push(&mut self, frame: &RgbaImage, at: Instant) -> Result<bool> {
        if frame.width == 0 || frame.height == 0 {
            return Ok(false);
        }
        if let Some(part) = &mut self.part {
            if part.writer.size() == Size::new(frame.width, frame.height) {
                return part.writer.push(frame, at);
            }
            // The canvas cannot grow or shrink: this file ends here, the next takes over.
            let old = part.writer.size();
            let ended = self.end_part(at)?;
            let next = self.next_file()?;
            errln!(
                "vfio-display: the screen changed from {old} to {}x{}: {} ends there, \
                 the recording goes on in {}",
                frame.width,
                frame.height,
                ended.display(),
                next.display()
            );
        }
        let (path, landing) = self
            .ready
            .take()
            .context("the recording's file is already closed")?;
        let writer = ApngWriter::new(BufWriter::with_capacity(1 << 16, landing), frame, at)?;
        self.part = Some(Part { path, writer });
        Ok(true)
    }

    /// The bytes written so far, in all files.
    pub fn bytes(&self) -> u64 {
        self.done.bytes + self.part.as_ref().map_or(0, |p| p.writer.bytes)
    }

    /// Ends the recording at `end` (the last frame lasts until then) and closes the file;
    /// returns frames, bytes, duration (and the files, more than one after a mode change).
    pub fn finish(mut self, end: Instant) -> Result<RecordSummary> {
        if self.part.is_some() {
            self.end_part(end)?;
        }
        // The file made for a picture that never came is removed with its Landing.
        self.ready = None;
        if self.done.files.is_empty() {
            bail!(
                "nothing recorded: no picture came, so {} was not written",
                self.path.display()
            );
        }
        Ok(std::mem::take(&mut self.done))
    }

    /// Finishes the current file at `at` and puts it in place; returns its name.
    fn end_part(&mut self, at: Instant) -> Result<PathBuf> {
        let part = self.part.take().context("no file to end")?;
        let shown = part.path.display().to_string();
        let (out, summary) = part.writer.finish(at)?;
        let landing = out
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("cannot write {shown}"))?;
        landing
            .land()
            .with_context(|| format!("cannot write {shown}"))?;
        self.done.frames += summary.frames;
        self.done.bytes += summary.bytes;
        self.done.duration += summary.duration;
        self.done.files.push(part.path.clone());
        Ok(part.path)
    }

    /// Makes the next numbered file, at the first name that is free (the program chose it, so
    /// it never replaces anything).
    fn next_file(&mut self) -> Result<PathBuf> {
        for n in 2..10_000 {
            let name = numbered(&self.path, n);
            if std::fs::symlink_metadata(&name).is_ok() {
                continue;
            }
            let landing = OutputPath::resolve(&name)?.landing(WriteMode::NoClobber)?;
            self.ready = Some((name.clone(), landing));
            return Ok(name);
        }
        bail!(
            "{} and 9998 numbered names after it exist already",
            self.path.display()
        )
    }
}

impl Drop for ApngRecorder {
    fn drop(&mut self) {
        if self.part.is_some()
            && let Err(err) = self.end_part(Instant::now())
        {
            tracing::warn!("the recording could not be finished: {err:#}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A picture whose pixels depend on `seed`.
    fn picture(width: u32, height: u32, seed: u8) -> RgbaImage {
        let mut image = RgbaImage::new(width, height);
        for (i, px) in image.data.chunks_exact_mut(4).enumerate() {
            let v = (i as u32).wrapping_mul(2_654_435_761) >> 24;
            px.copy_from_slice(&[v as u8, seed, v as u8 ^ seed, 255]);
        }
        image
    }

    fn paint(image: &mut RgbaImage, r: Rect, colour: [u8; 4]) {
        for y in r.y..r.y + r.height {
            for x in r.x..r.x + r.width {
                let i = (y * image.width + x) as usize * 4;
                image.data[i..i + 4].copy_from_slice(&colour);
            }
        }
    }

    /// Each chunk's type, checked against its CRC.
    fn chunks(bytes: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
        assert_eq!(bytes[..8], SIGNATURE);
        let mut out = Vec::new();
        let mut rest = &bytes[8..];
        while !rest.is_empty() {
            let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            let kind: [u8; 4] = rest[4..8].try_into().unwrap();
            let data = &rest[8..8 + len];
            let crc = u32::from_be_bytes(rest[8 + len..12 + len].try_into().unwrap());
            assert_eq!(
                crc,
                crc32(&[&kind, data]),
                "{:?}",
                String::from_utf8_lossy(&kind)
            );
            out.push((kind, data.to_vec()));
            rest = &rest[12 + len..];
        }
        out
    }

    /// The frames composed in order, with their delays in milliseconds and rectangles, as the
    /// png crate decodes them.
    fn decode(bytes: &[u8]) -> Vec<(RgbaImage, f64, Rect)> {
        let decoder = png::Decoder::new(Cursor::new(bytes.to_vec()));
        let mut reader = decoder.read_info().unwrap();
        let info = reader.info();
        let (w, h) = (info.width, info.height);
        let frames = info.animation_control.unwrap().num_frames;
        let mut canvas = RgbaImage::new(w, h);
        let mut out = Vec::new();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        for _ in 0..frames {
            let got = reader.next_frame(&mut buf).unwrap();
            let fc = reader.info().frame_control.unwrap();
            assert_eq!((got.width, got.height), (fc.width, fc.height));
            assert_eq!(
                (fc.dispose_op, fc.blend_op),
                (png::DisposeOp::None, png::BlendOp::Source)
            );
            for y in 0..fc.height {
                for x in 0..fc.width {
                    let s = ((y * fc.width + x) * 3) as usize;
                    let d = (((fc.y_offset + y) * w + fc.x_offset + x) * 4) as usize;
                    canvas.data[d..d + 3].copy_from_slice(&buf[s..s + 3]);
                    canvas.data[d + 3] = 255;
                }
            }
            let delay = f64::from(fc.delay_num) * 1000.0 / f64::from(fc.delay_den);
            let rect = Rect {
                x: fc.x_offset,
                y: fc.y_offset,
                width: fc.width,
                height: fc.height,
            };
            out.push((canvas.clone(), delay, rect));
        }
        out
    }

    #[test]
    fn changed_frames_are_their_rectangles_with_real_delays() {
        let t0 = Instant::now();
        let first = picture(64, 48, 1);
        let mut second = first.clone();
        let rect = Rect {
            x: 5,
            y: 7,
            width: 10,
            height: 3,
        };
        paint(&mut second, rect, [9, 8, 7, 255]);
        let mut w = ApngWriter::new(Cursor::new(Vec::new()), &first, t0).unwrap();
        assert!(
            !w.push(&first, t0 + Duration::from_millis(10)).unwrap(),
            "unchanged"
        );
        assert!(w.push(&second, t0 + Duration::from_millis(40)).unwrap());
        assert!(
            !w.push(&second.clone(), t0 + Duration::from_millis(50))
                .unwrap()
        );
        let third = picture(64, 48, 2);
        assert!(w.push(&third, t0 + Duration::from_millis(100)).unwrap());
        let (out, summary) = w.finish(t0 + Duration::from_millis(1250)).unwrap();
        assert_eq!(summary.frames, 3);
        assert_eq!(summary.duration, Duration::from_millis(1250));
        let bytes = out.into_inner();
        assert_eq!(summary.bytes, bytes.len() as u64);
        let kinds: Vec<_> = chunks(&bytes).into_iter().map(|(k, _)| k).collect();
        assert_eq!(&kinds[..4], [*b"IHDR", *b"acTL", *b"fcTL", *b"IDAT"]);
        assert_eq!(kinds.last(), Some(b"IEND"));
        let frames = decode(&bytes);
        assert_eq!(frames.len(), 3);
        let delays: Vec<f64> = frames.iter().map(|f| f.1).collect();
        assert_eq!(delays, [40.0, 60.0, 1150.0]);
        assert_eq!(frames[1].2, rect, "only the changed rectangle");
        for (got, want) in frames.iter().zip([&first, &second, &third]) {
            assert!(got.0.data == want.data, "a composed frame differs");
        }
    }

    #[test]
    fn sequence_numbers_count_up_from_zero() {
        let t0 = Instant::now();
        let mut w = ApngWriter::new(Cursor::new(Vec::new()), &picture(8, 8, 0), t0).unwrap();
        for n in 1..5 {
            w.push(
                &picture(8, 8, n),
                t0 + Duration::from_millis(u64::from(n) * 16),
            )
            .unwrap();
        }
        let bytes = w
            .finish(t0 + Duration::from_millis(100))
            .unwrap()
            .0
            .into_inner();
        let seqs: Vec<u32> = chunks(&bytes)
            .into_iter()
            .filter(|(k, _)| k == b"fcTL" || k == b"fdAT")
            .map(|(_, d)| u32::from_be_bytes(d[..4].try_into().unwrap()))
            .collect();
        assert_eq!(seqs, (0..seqs.len() as u32).collect::<Vec<_>>());
        let actl = chunks(&bytes)
            .into_iter()
            .find(|(k, _)| k == b"acTL")
            .unwrap()
            .1;
        assert_eq!(actl, [0, 0, 0, 5, 0, 0, 0, 1]);
    }

    #[test]
    fn one_picture_makes_a_one_frame_file_that_plain_decoders_read() {
        let t0 = Instant::now();
        let only = picture(5, 3, 7);
        let w = ApngWriter::new(Cursor::new(Vec::new()), &only, t0).unwrap();
        let bytes = w.finish(t0).unwrap().0.into_inner();
        let frames = decode(&bytes);
        assert_eq!(frames.len(), 1);
        assert!(frames[0].0.data == only.data);
        assert_eq!(frames[0].1, 1.0, "a delay is never zero");
    }

    #[test]
    fn delays_are_positive_and_sum_to_the_duration() {
        let t0 = Instant::now();
        let mut w = ApngWriter::new(Cursor::new(Vec::new()), &picture(4, 4, 0), t0).unwrap();
        // Pictures closer than a millisecond apart, and uneven times that round.
        let times = [100, 400, 600, 16_700, 33_300, 33_900];
        for (n, us) in times.iter().enumerate() {
            w.push(&picture(4, 4, n as u8 + 1), t0 + Duration::from_micros(*us))
                .unwrap();
        }
        let bytes = w
            .finish(t0 + Duration::from_millis(70))
            .unwrap()
            .0
            .into_inner();
        let delays: Vec<f64> = decode(&bytes).iter().map(|f| f.1).collect();
        assert!(delays.iter().all(|d| *d >= 1.0), "{delays:?}");
        assert_eq!(delays.iter().sum::<f64>(), 70.0, "{delays:?}");
    }

    #[test]
    fn long_stills_keep_their_length() {
        assert_eq!(delay_fraction(40), (40, 1000));
        assert_eq!(delay_fraction(70_000), (7000, 100));
        assert_eq!(delay_fraction(MAX_DELAY_MS), (65_535, 1));
        let t0 = Instant::now();
        let w = ApngWriter::new(Cursor::new(Vec::new()), &picture(3, 3, 0), t0).unwrap();
        let end = t0 + Duration::from_millis(MAX_DELAY_MS * 2 + 5000);
        let bytes = w.finish(end).unwrap().0.into_inner();
        let frames = decode(&bytes);
        assert_eq!(frames.len(), 3);
        let total: f64 = frames.iter().map(|f| f.1).sum();
        assert_eq!(total, (MAX_DELAY_MS * 2 + 5000) as f64);
        assert!(frames.iter().all(|f| f.0.data == frames[0].0.data));
    }

    #[test]
    fn the_smallest_rectangle_holds_every_change() {
        let a = picture(20, 10, 0);
        assert_eq!(changed(&a, &a), None);
        let mut b = a.clone();
        b.data[(3 * 20 + 17) * 4] ^= 1;
        b.data[(8 * 20 + 2) * 4 + 2] ^= 1;
        let r = changed(&a, &b).unwrap();
        assert_eq!(
            r,
            Rect {
                x: 2,
                y: 3,
                width: 16,
                height: 6
            }
        );
    }

    #[test]
    fn a_size_change_is_refused_by_the_writer() {
        let t0 = Instant::now();
        let mut w = ApngWriter::new(Cursor::new(Vec::new()), &picture(4, 4, 0), t0).unwrap();
        let err = w.push(&picture(8, 4, 0), t0).unwrap_err();
        assert!(err.downcast_ref::<SizeChanged>().is_some(), "{err:#}");
    }

    #[test]
    fn the_recorder_goes_on_in_a_numbered_file_after_a_mode_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rec.apng");
        // A file that has the first numbered name already is left alone.
        std::fs::write(dir.path().join("rec-0002.apng"), b"mine").unwrap();
        let t0 = Instant::now();
        let mut rec = ApngRecorder::create(&path).unwrap();
        assert!(rec.push(&picture(6, 4, 0), t0).unwrap());
        assert!(
            rec.push(&picture(6, 4, 1), t0 + Duration::from_millis(20))
                .unwrap()
        );
        assert!(
            rec.push(&picture(9, 5, 2), t0 + Duration::from_millis(50))
                .unwrap()
        );
        let summary = rec.finish(t0 + Duration::from_millis(80)).unwrap();
        let third = dir.path().join("rec-0003.apng");
        assert_eq!(summary.files, [path.clone(), third.clone()]);
        assert_eq!(summary.frames, 3);
        assert_eq!(summary.duration, Duration::from_millis(80));
        assert_eq!(
            std::fs::read(dir.path().join("rec-0002.apng")).unwrap(),
            b"mine"
        );
        let first = decode(&std::fs::read(&path).unwrap());
        assert_eq!(first.iter().map(|f| f.1).collect::<Vec<_>>(), [20.0, 30.0]);
        let next = decode(&std::fs::read(&third).unwrap());
        assert_eq!(next.len(), 1);
        assert!(next[0].0.data == picture(9, 5, 2).data);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 3, "no temporary left behind");
    }

    #[test]
    fn a_dropped_recorder_keeps_what_it_recorded_and_an_empty_one_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rec.apng");
        let mut rec = ApngRecorder::create(&path).unwrap();
        rec.push(&picture(6, 4, 0), Instant::now()).unwrap();
        drop(rec);
        assert_eq!(decode(&std::fs::read(&path).unwrap()).len(), 1);
        let other = dir.path().join("none.apng");
        let rec = ApngRecorder::create(&other).unwrap();
        let err = rec.finish(Instant::now()).unwrap_err();
        assert!(format!("{err:#}").contains("nothing recorded"), "{err:#}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
