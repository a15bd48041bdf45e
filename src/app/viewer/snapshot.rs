//! F12 (and the overlay's button): the guest's picture as a PNG in the current directory, under
//! a name the viewer chooses and never reuses.

use crate::app::output::{encode_png, utc_stamp, write_new};
use vfio_display::frame::session::error_chain;
use vfio_display::render::FrameRenderer;

/// How many pictures one second may hold: "-0002" to "-0100" after the first.
const NAMES_PER_SECOND: u32 = 100;

/// Saves what the renderer shows (with the cursor) and returns the line for the overlay; the
/// path also goes to standard output, for scripts.
pub fn save(renderer: &mut FrameRenderer<'_>) -> String {
    let dir = std::env::current_dir().unwrap_or_default();
    let stamp = utc_stamp(std::time::SystemTime::now());
    let result = renderer
        .render_offscreen(true)
        .map_err(|e| error_chain(&e))
        .and_then(|shot| shot.ok_or_else(|| "no plane to capture".to_string()))
        .and_then(|(image, frame)| {
            encode_png(&image, frame.format.has_alpha).map_err(|e| format!("{e:#}"))
        })
        .and_then(|png| {
            let path = dir.join(format!("vfio-display-{stamp}.png"));
            write_new(&path, &png, NAMES_PER_SECOND).map_err(|e| format!("{e:#}"))
        });
    match result {
        Ok(path) => {
            // A closed stdout must not cost the user the picture.
            let _ = crate::app::output::stdio::write_out(format_args!(
                "Screenshot: {}\n",
                path.display()
            ));
            format!("Saved {}", path.display())
        }
        Err(err) => format!("Screenshot failed: {err}"),
    }
}
