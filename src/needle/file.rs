//! One needle: its JSON read as os-autoinst's `needle.pm` (`needle::new`) reads it, and its PNG
//! read as tinycv's `image_read` (OpenCV `imread(IMREAD_COLOR)`) reads it.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Serialize;
use serde_json::Value;

use super::error::NeedleError;
use super::matcher::{self, Gray};
use crate::geometry::Size;

/// A needle JSON larger than this is refused: real ones are a few hundred bytes.
pub const MAX_JSON_BYTES: u64 = 1 << 20;
/// A needle PNG wider or taller than this is refused.
pub const MAX_PNG_SIDE: u32 = 16384;
/// A needle PNG whose decoded RGB pixels would take more bytes than this is refused.
pub const MAX_PNG_DECODED_BYTES: u64 = 64 << 20;
/// An area list longer than this is refused (real needles have a handful).
const MAX_AREAS: usize = 1024;

/// What an area of a needle is for (`type` in the JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AreaKind {
    /// The screen must show this part of the needle's picture (the default).
    Match,
    /// This part of the screen is ignored: painted green on the screen and on the needle.
    Exclude,
    /// os-autoinst reads text here with tesseract; this crate refuses to match such needles.
    Ocr,
}

/// Where a click on a matched needle goes (`click_point` in the JSON).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClickPoint {
    /// The centre of the area (`"center"`).
    Center,
    /// An offset from the area's top-left corner, in the needle's pixels.
    At {
        /// Pixels right of the area's left edge.
        xpos: f64,
        /// Pixels below the area's top edge.
        ypos: f64,
    },
}

impl Serialize for ClickPoint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            // The same spelling as the needle's JSON, so a result reads like the needle.
            ClickPoint::Center => s.serialize_str("center"),
            ClickPoint::At { xpos, ypos } => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("xpos", xpos)?;
                m.serialize_entry("ypos", ypos)?;
                m.end()
            }
        }
    }
}

/// One rectangle of a needle, in the needle picture's pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    /// Left edge (`xpos`).
    pub x: u32,
    /// Top edge (`ypos`).
    pub y: u32,
    /// Pixels (`width`).
    pub width: u32,
    /// Pixels (`height`).
    pub height: u32,
    /// `type`.
    pub kind: AreaKind,
    /// The similarity in percent the area needs (`match`, 96 when absent or 0, as
    /// `tinycv.pm` `search_` reads `$area->{match} || 96`).
    pub match_level: f64,
    /// How far, in pixels, the area may have moved on the screen (`margin`, 50 when absent
    /// or 0, as `needle.pm` reads `$area->{margin} || 50`).
    pub margin: u32,
    /// Where a click on this area goes.
    pub click_point: Option<ClickPoint>,
}

/// One entry of a needle's `properties`: a bare name, or `{name, value}` in newer needles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// The property's name (`workaround` changes how candidates are ordered).
    pub name: String,
    /// Its value, for the object form.
    pub value: Option<String>,
}

/// A needle's picture as the matcher needs it, made once on first use: the templates of its
/// match areas, in OpenCV's blurred grayscale, cut from the whole picture after its exclude
/// areas were painted (as `needle.pm` `_load_image` and tinycv's `Image::prep` do).
#[derive(Debug)]
pub(crate) struct Prepared {
    /// One template per area of `Needle::areas`, `None` for areas that are not `match`.
    pub templates: Vec<Option<Gray>>,
}

/// An openQA needle: a JSON file and its PNG.
#[derive(Debug)]
pub struct Needle {
    name: String,
    json: PathBuf,
    png: PathBuf,
    tags: Vec<String>,
    properties: Vec<Property>,
    areas: Vec<Area>,
    size: Size,
    /// Filled on the first match: thousands of needles are loaded and few are ever matched,
    /// so only their headers are read up front.
    prepared: OnceLock<Prepared>,
}

impl Needle {
    /// Reads the needle whose JSON is `json`, and its PNG's header: everything is checked here
    /// (fields, the picture's presence and size, the areas inside it); the pixels are read on
    /// the first match.
    ///
    /// The rules are `needle.pm` `needle::new` (os-autoinst/os-autoinst): areas default to
    /// `type` `match`, `margin` 50; missing coordinates read as 0; a `click_point` is
    /// `"center"` or `{xpos, ypos}` with both non-zero, and at most one area has one; at least
    /// one `match` or `ocr` area; the name is the JSON's file stem. Where `needle.pm` accepts
    /// nonsense tinycv then trips on (a zero-sized area, one outside the picture, an unknown
    /// `type`, a `match` above 100), this refuses it with the field named.
    pub fn load(json: &Path) -> Result<Needle, NeedleError> {
        let text = read_bounded(json)?;
        let value: Value = serde_json::from_str(&text).map_err(|source| NeedleError::Json {
            path: json.to_path_buf(),
            source,
        })?;
        let name = json
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self::from_value(json, name, &value)
    }

    fn from_value(json: &Path, name: String, value: &Value) -> Result<Needle, NeedleError> {
        let field = |field: &str, reason: &str| NeedleError::Field {
            path: json.to_path_buf(),
            field: field.to_owned(),
            reason: reason.to_owned(),
        };
        let obj = value
            .as_object()
            .ok_or_else(|| field("(top level)", "is not a JSON object"))?;
        let tags = match obj.get("tags") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) => list
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    t.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| field(&format!("tags[{i}]"), "is not a string"))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(field("tags", "is not a list")),
        };
        let properties = match obj.get("properties") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) => list
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    parse_property(p).ok_or_else(|| {
                        field(
                            &format!("properties[{i}]"),
                            "is neither a string nor {\"name\": string, \"value\": ...}",
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(field("properties", "is not a list")),
        };
        let png_name = match obj.get("png") {
            None | Some(Value::Null) => format!("{name}.png"),
            // needle.pm always uses the JSON's stem; a `png` field is honoured here only as a
            // bare file name beside the JSON, so a needle cannot point outside its directory.
            Some(Value::String(s)) if !s.is_empty() && !s.contains('/') && s != ".." => s.clone(),
            Some(_) => return Err(field("png", "is not a file name beside the JSON")),
        };
        let png = json.with_file_name(png_name);
        let list = match obj.get("area") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) => list.clone(),
            Some(_) => return Err(field("area", "is not a list")),
        };
        if list.len() > MAX_AREAS {
            return Err(field("area", &format!("has more than {MAX_AREAS} areas")));
        }
        let mut areas = Vec::with_capacity(list.len());
        let mut click_seen = false;
        for (i, a) in list.iter().enumerate() {
            let area = parse_area(a, &|f: &str, r: &str| field(&format!("area[{i}]{f}"), r))?;
            if area.click_point.is_some() {
                if click_seen {
                    return Err(field(
                        &format!("area[{i}].click_point"),
                        "a second area with a click point (needle.pm allows one)",
                    ));
                }
                click_seen = true;
            }
            areas.push(area);
        }
        if !areas.iter().any(|a| a.kind != AreaKind::Exclude) {
            return Err(field("area", "no match area (needle.pm requires one)"));
        }
        let size = png_size(json, &png)?;
        for (i, a) in areas.iter().enumerate() {
            if u64::from(a.x) + u64::from(a.width) > u64::from(size.0)
                || u64::from(a.y) + u64::from(a.height) > u64::from(size.1)
            {
                return Err(field(
                    &format!("area[{i}]"),
                    &format!(
                        "{}x{} at {},{} is outside the {}x{} picture",
                        a.width, a.height, a.x, a.y, size.0, size.1
                    ),
                ));
            }
        }
        Ok(Needle {
            name,
            json: json.to_path_buf(),
            png,
            tags,
            properties,
            areas,
            size: Size::new(size.0, size.1),
            prepared: OnceLock::new(),
        })
    }

    /// The needle's name: its JSON's file stem.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The needle's tags, as in the JSON.
    pub fn tags(&self) -> &[String] {
        &self.tags
    }

    /// Whether the needle has tag `t` (`needle.pm` `has_tag`).
    pub fn has_tag(&self, t: &str) -> bool {
        self.tags.iter().any(|x| x == t)
    }

    /// Whether the needle has property `p`, in either form (`needle.pm` `has_property`).
    pub fn has_property(&self, p: &str) -> bool {
        self.properties.iter().any(|x| x.name == p)
    }

    /// The needle's properties.
    pub fn properties(&self) -> &[Property] {
        &self.properties
    }

    /// The needle's JSON file.
    pub fn json_path(&self) -> &Path {
        &self.json
    }

    /// The needle's PNG file.
    pub fn png_path(&self) -> &Path {
        &self.png
    }

    /// The needle picture's width and height in pixels.
    pub fn image_size(&self) -> Size {
        self.size
    }

    /// The needle's areas, in the JSON's order.
    pub fn areas(&self) -> &[Area] {
        &self.areas
    }

    /// The match-area templates, decoding the PNG on first use.
    pub(crate) fn prepared(&self) -> Result<&Prepared, NeedleError> {
        if let Some(p) = self.prepared.get() {
            return Ok(p);
        }
        let (w, h, rgb) = decode_png(&self.json, &self.png)?;
        if Size::new(w, h) != self.size {
            return Err(NeedleError::Field {
                path: self.json.clone(),
                field: "png".into(),
                reason: format!("the picture changed size since the needle was loaded ({w}x{h})"),
            });
        }
        let prepared = matcher::prepare_needle(w, h, &rgb, &self.areas);
        // Another thread may have won the race: either result is the same picture.
        let _ = self.prepared.set(prepared);
        Ok(self
            .prepared
            .get()
            .unwrap_or_else(|| unreachable!("set above")))
    }
}

fn parse_property(p: &Value) -> Option<Property> {
    match p {
        Value::String(s) => Some(Property {
            name: s.clone(),
            value: None,
        }),
        Value::Object(o) => Some(Property {
            name: o.get("name")?.as_str()?.to_owned(),
            value: match o.get("value") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(v) => Some(v.to_string()),
            },
        }),
        _ => None,
    }
}

/// Perl's truthiness for a JSON number field as `needle.pm` reads it (`$x || default`):
/// absent, null and 0 take the default.
fn number(
    a: &serde_json::Map<String, Value>,
    key: &str,
    field: &dyn Fn(&str, &str) -> NeedleError,
) -> Result<Option<f64>, NeedleError> {
    match a.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(v) if v != 0.0 => Ok(Some(v)),
            _ => Ok(None),
        },
        Some(_) => Err(field(&format!(".{key}"), "is not a number")),
    }
}

fn pixels(
    a: &serde_json::Map<String, Value>,
    key: &str,
    field: &dyn Fn(&str, &str) -> NeedleError,
) -> Result<u32, NeedleError> {
    let v = number(a, key, field)?.unwrap_or(0.0);
    if v < 0.0 || v.fract() != 0.0 || v > f64::from(MAX_PNG_SIDE) {
        return Err(field(
            &format!(".{key}"),
            &format!("{v} is not a pixel count from 0 to {MAX_PNG_SIDE}"),
        ));
    }
    Ok(v as u32)
}

fn parse_area(a: &Value, field: &dyn Fn(&str, &str) -> NeedleError) -> Result<Area, NeedleError> {
    let a = a
        .as_object()
        .ok_or_else(|| field("", "is not a JSON object"))?;
    let x = pixels(a, "xpos", field)?;
    let y = pixels(a, "ypos", field)?;
    let width = pixels(a, "width", field)?;
    let height = pixels(a, "height", field)?;
    let kind = match a.get("type") {
        None | Some(Value::Null) => AreaKind::Match,
        Some(Value::String(s)) if s.is_empty() => AreaKind::Match,
        Some(Value::String(s)) => match s.as_str() {
            "match" => AreaKind::Match,
            "exclude" => AreaKind::Exclude,
            "ocr" => AreaKind::Ocr,
            other => {
                return Err(field(
                    ".type",
                    &format!("`{other}` is not match, exclude or ocr"),
                ));
            }
        },
        Some(_) => return Err(field(".type", "is not a string")),
    };
    if width == 0 || height == 0 {
        return Err(field(
            if width == 0 { ".width" } else { ".height" },
            "is 0: tinycv cannot match an empty area",
        ));
    }
    let match_level = number(a, "match", field)?.unwrap_or(96.0);
    if !(0.0..=100.0).contains(&match_level) {
        return Err(field(
            ".match",
            &format!("{match_level} is not from 0 to 100"),
        ));
    }
    let margin = match number(a, "margin", field)? {
        None => 50,
        Some(m) if m > 0.0 && m.fract() == 0.0 && m <= f64::from(MAX_PNG_SIDE) => m as u32,
        Some(m) => {
            return Err(field(
                ".margin",
                &format!("{m} is not a pixel count from 1 to {MAX_PNG_SIDE}"),
            ));
        }
    };
    let click_point = match a.get("click_point") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s == "center" => Some(ClickPoint::Center),
        Some(Value::Object(o)) => {
            let coord = |k: &str| match o.get(k) {
                Some(Value::Number(n)) => n.as_f64().filter(|v| *v > 0.0 && v.is_finite()),
                _ => None,
            };
            match (coord("xpos"), coord("ypos")) {
                // A click point is inside its area: a needle must not send a click elsewhere.
                (Some(xpos), Some(ypos))
                    if xpos <= f64::from(width) && ypos <= f64::from(height) =>
                {
                    Some(ClickPoint::At { xpos, ypos })
                }
                (Some(_), Some(_)) => {
                    return Err(field(
                        ".click_point",
                        &format!("lies outside its {width}x{height} area"),
                    ));
                }
                _ => {
                    return Err(field(
                        ".click_point",
                        "needs xpos and ypos, both positive numbers (needle.pm refuses 0)",
                    ));
                }
            }
        }
        Some(_) => {
            return Err(field(
                ".click_point",
                "is neither \"center\" nor {\"xpos\": ..., \"ypos\": ...}",
            ));
        }
    };
    Ok(Area {
        x,
        y,
        width,
        height,
        kind,
        match_level,
        margin,
        click_point,
    })
}

fn read_bounded(json: &Path) -> Result<String, NeedleError> {
    let io = |source| NeedleError::Io {
        path: json.to_path_buf(),
        source,
    };
    let file = open_regular(json).map_err(io)?;
    let mut text = String::new();
    // Read one byte past the limit to tell "at the limit" from "above it" without trusting
    // the file's size, which a FIFO or /proc file does not have.
    file.take(MAX_JSON_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(io)?;
    if text.len() as u64 > MAX_JSON_BYTES {
        return Err(NeedleError::TooLarge {
            path: json.to_path_buf(),
            what: "the JSON file's size in bytes",
            size: text.len() as u64,
            limit: MAX_JSON_BYTES,
        });
    }
    Ok(text)
}

/// Opens `path` for reading if it is a regular file (after links). The open does not block,
/// so a FIFO planted in a needles directory is refused instead of waiting for a writer forever.
fn open_regular(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(file)
}

fn open_png(json: &Path, png: &Path) -> Result<png::Reader<BufReader<File>>, NeedleError> {
    let file = match open_regular(png) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(NeedleError::MissingPng {
                json: json.to_path_buf(),
                png: png.to_path_buf(),
            });
        }
        Err(source) => {
            return Err(NeedleError::Io {
                path: png.to_path_buf(),
                source,
            });
        }
    };
    let mut decoder = png::Decoder::new_with_limits(
        BufReader::new(file),
        png::Limits {
            bytes: (MAX_PNG_DECODED_BYTES * 2) as usize,
        },
    );
    // OpenCV's IMREAD_COLOR: palettes and gray expanded, alpha dropped, 16 bits cut to 8.
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let reader = decoder.read_info().map_err(|source| NeedleError::Png {
        path: png.to_path_buf(),
        source,
    })?;
    let (w, h) = (reader.info().width, reader.info().height);
    for (what, size) in [("the PNG's width", w), ("the PNG's height", h)] {
        if size > MAX_PNG_SIDE {
            return Err(NeedleError::TooLarge {
                path: png.to_path_buf(),
                what,
                size: u64::from(size),
                limit: u64::from(MAX_PNG_SIDE),
            });
        }
    }
    let decoded = u64::from(w) * u64::from(h) * 3;
    if decoded > MAX_PNG_DECODED_BYTES {
        return Err(NeedleError::TooLarge {
            path: png.to_path_buf(),
            what: "the PNG's decoded RGB size in bytes",
            size: decoded,
            limit: MAX_PNG_DECODED_BYTES,
        });
    }
    Ok(reader)
}

fn png_size(json: &Path, png: &Path) -> Result<(u32, u32), NeedleError> {
    let reader = open_png(json, png)?;
    Ok((reader.info().width, reader.info().height))
}

/// Decodes the needle's PNG to packed RGB8.
fn decode_png(json: &Path, png: &Path) -> Result<(u32, u32, Vec<u8>), NeedleError> {
    let mut reader = open_png(json, png)?;
    let (w, h) = (reader.info().width, reader.info().height);
    let size = reader.output_buffer_size().ok_or(NeedleError::TooLarge {
        path: png.to_path_buf(),
        what: "the PNG's decoded size in bytes",
        size: u64::MAX,
        limit: MAX_PNG_DECODED_BYTES,
    })?;
    let mut buf = vec![0; size];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|source| NeedleError::Png {
            path: png.to_path_buf(),
            source,
        })?;
    let channels = match info.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        // EXPAND turns palettes into RGB; a decoder that did not is a bug to report, not a
        // picture to guess at.
        png::ColorType::Indexed => {
            return Err(NeedleError::Png {
                path: png.to_path_buf(),
                source: png::DecodingError::LimitsExceeded,
            });
        }
    };
    let mut rgb = Vec::with_capacity(w as usize * h as usize * 3);
    for row in buf.chunks_exact(info.line_size).take(h as usize) {
        for px in row.chunks_exact(channels).take(w as usize) {
            if channels < 3 {
                rgb.extend_from_slice(&[px[0], px[0], px[0]]);
            } else {
                rgb.extend_from_slice(&px[..3]);
            }
        }
    }
    Ok((w, h, rgb))
}
