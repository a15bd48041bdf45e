//! The page `serve --all` answers at `/`: every device with a thumbnail of its screen, a link
//! that opens it in noVNC (when `--web` serves noVNC) and what a client needs to know. Plain
//! HTML that reloads itself every few seconds: no script, nothing from elsewhere.

use crate::app::output::encode_png;
use vfio_display::frame::RgbaImage;

/// How often the page reloads (its thumbnails follow the guests).
const RELOAD_SECONDS: u32 = 5;

/// The widest thumbnail.
pub const THUMB_WIDTH: u32 = 320;

/// One device as the index shows it.
pub struct Row {
    /// Its name.
    pub name: String,
    /// Its screen's size.
    pub size: (u32, u32),
    /// Clients connected now.
    pub clients: usize,
    /// Whether a password is asked, in words.
    pub auth: &'static str,
    /// Its thumbnail may be shown (no password guards the screen, or the operator said so).
    pub thumbnail: bool,
    /// Where its own socket or port is, besides `/vm/NAME`.
    pub places: Vec<String>,
}

/// Escapes text for HTML (names are checked already; this keeps the page safe regardless).
fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&#39;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// The index page. `novnc` is true when `--web` serves noVNC's vnc.html.
pub fn page(rows: &[Row], novnc: bool) -> Vec<u8> {
    let mut html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"{RELOAD_SECONDS}\">\
         <title>vfio-display: {} device{}</title>\
         <style>body{{font-family:sans-serif;margin:1em}}ul{{list-style:none;padding:0;\
         display:flex;flex-wrap:wrap;gap:1em}}li{{border:1px solid #ccc;padding:.5em;\
         width:{THUMB_WIDTH}px}}img{{display:block;max-width:100%;background:#000}}\
         .none{{height:120px;background:#333;color:#ccc;display:flex;align-items:center;\
         justify-content:center}}</style></head><body>\n<h1>{} device{}</h1>\n<ul>\n",
        rows.len(),
        plural(rows.len()),
        rows.len(),
        plural(rows.len()),
    );
    for row in rows {
        let name = escape(&row.name);
        let picture = if row.thumbnail {
            format!(
                "<img src=\"/vm/{name}/thumbnail.png\" alt=\"{name}'s screen\" width=\"{}\" \
                 height=\"{}\">",
                thumb_size(row.size).0,
                thumb_size(row.size).1
            )
        } else {
            "<div class=\"none\">password protected</div>".to_string()
        };
        let picture = if novnc {
            format!(
                "<a href=\"/vnc.html?path=vm/{name}&amp;autoconnect=1&amp;resize=scale\">\
                 {picture}</a>"
            )
        } else {
            picture
        };
        let places: String = row
            .places
            .iter()
            .map(|p| format!(", {}", escape(p)))
            .collect();
        html += &format!(
            "<li id=\"{name}\">{picture}<b>{name}</b> {}x{}<br>{} client{}, {}<br>\
             <small>WebSocket /vm/{name}{places}</small></li>\n",
            row.size.0,
            row.size.1,
            row.clients,
            plural(row.clients),
            row.auth,
        );
    }
    html += "</ul>\n</body></html>\n";
    html.into_bytes()
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The size of a thumbnail of a `size` picture: a whole fraction of it, at most
/// `THUMB_WIDTH` wide.
fn thumb_size(size: (u32, u32)) -> (u32, u32) {
    let scale = size.0.div_ceil(THUMB_WIDTH).max(1);
    (size.0.div_ceil(scale), size.1.div_ceil(scale))
}

/// A thumbnail of `image` at most `THUMB_WIDTH` wide, as PNG: each thumbnail pixel is the
/// mean of the pixels it covers, so text stays a grey smudge rather than aliasing.
pub fn thumbnail(image: &RgbaImage) -> Option<Vec<u8>> {
    if image.width == 0 || image.height == 0 {
        return None;
    }
    let scale = image.width.div_ceil(THUMB_WIDTH).max(1);
    let (w, h) = thumb_size((image.width, image.height));
    let mut small = RgbaImage::new(w, h);
    for ty in 0..h {
        for tx in 0..w {
            let mut sum = [0u32; 4];
            let mut n = 0u32;
            for y in ty * scale..((ty + 1) * scale).min(image.height) {
                for x in tx * scale..((tx + 1) * scale).min(image.width) {
                    let i = ((y * image.width + x) * 4) as usize;
                    for (c, s) in sum.iter_mut().enumerate() {
                        *s += u32::from(image.data[i + c]);
                    }
                    n += 1;
                }
            }
            let o = ((ty * w + tx) * 4) as usize;
            for (out, s) in small.data[o..o + 4].iter_mut().zip(sum) {
                *out = (s / n.max(1)) as u8;
            }
        }
    }
    encode_png(&small, false).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbnails_average_the_pixels_they_cover() {
        let mut image = RgbaImage::new(640, 2);
        // Columns alternate black and white: every thumbnail pixel is their mean grey.
        for (i, px) in image.data.chunks_mut(4).enumerate() {
            let v = if i % 2 == 0 { 0 } else { 254 };
            px.copy_from_slice(&[v, v, v, 255]);
        }
        let png = thumbnail(&image).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(png))
            .read_info()
            .unwrap();
        let mut rgb = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut rgb).unwrap();
        assert_eq!((info.width, info.height), (320, 1));
        assert!(rgb[..info.buffer_size()].iter().all(|&v| v == 127));
    }

    #[test]
    fn the_page_escapes_and_hides_protected_screens() {
        let rows = [Row {
            name: "a<b>".into(),
            size: (1024, 768),
            clients: 1,
            auth: "password",
            thumbnail: false,
            places: vec!["unix:/run/x/a".into()],
        }];
        let html = String::from_utf8(page(&rows, true)).unwrap();
        assert!(html.contains("a&lt;b&gt;"), "{html}");
        assert!(!html.contains("<b>a<b>"), "{html}");
        assert!(!html.contains("thumbnail.png"), "{html}");
        assert!(html.contains("password protected"), "{html}");
        assert!(html.contains("1 client, password"), "{html}");
    }
}
