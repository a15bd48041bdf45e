//! Unit tests: needle JSON as openQA writes it, every refusal naming file and field, tag
//! selection, candidate order, matching and click positions.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};

use super::*;
use crate::geometry::{Point, Size};
use crate::image::RgbaImage;

fn write_png(path: &Path, w: u32, h: u32, rgb: &[u8]) {
    let file = std::fs::File::create(path).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header().unwrap().write_image_data(rgb).unwrap();
}

/// A picture with distinct content everywhere (so a template has one best place).
fn pattern(w: u32, h: u32, seed: u32) -> Vec<u8> {
    let mut v = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let n = (x.wrapping_mul(73) ^ y.wrapping_mul(151) ^ seed).wrapping_mul(2654435761);
            let block = ((x / 6) * 37 + (y / 6) * 91 + seed) % 256;
            v.extend_from_slice(&[block as u8, (n >> 24) as u8, ((x * 255) / w) as u8]);
        }
    }
    v
}

fn rgba(w: u32, h: u32, rgb: &[u8]) -> RgbaImage {
    let mut img = RgbaImage::new(w, h);
    for (d, s) in img.data.chunks_exact_mut(4).zip(rgb.chunks_exact(3)) {
        d.copy_from_slice(&[s[0], s[1], s[2], 255]);
    }
    img
}

/// Writes `name.json` with `json` and a `w`x`h` PNG beside it.
fn needle_files(dir: &Path, name: &str, json: &str, w: u32, h: u32) -> PathBuf {
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, json).unwrap();
    write_png(&dir.join(format!("{name}.png")), w, h, &pattern(w, h, 7));
    path
}

/// The structure of os-autoinst-needles-opensuse
/// `DIALOG-packages-notifications-boo1037891-20170508.json`: one match area, a bare
/// `workaround` property.
const WORKAROUND_NEEDLE: &str = r#"{
  "area": [ { "xpos": 265, "height": 103, "width": 374, "ypos": 244, "type": "match" } ],
  "tags": [ "DIALOG-packages-notifications" ],
  "properties": [ "workaround" ]
}"#;

/// The structure of os-autoinst-needles-opensuse `42-XFCE-xfce--excl-DVD-icon-20170418.json`:
/// many tags, empty properties, one area of (almost) the whole 1024x768 screen.
const XFCE_NEEDLE: &str = r#"{
  "properties": [],
  "tags": [ "ENV-DESKTOP-xfce", "ENV-DISTRI-opensuse", "XFCE", "booted", "generic-desktop", "x11" ],
  "area": [ { "height": 765, "ypos": 0, "width": 1015, "type": "match", "xpos": 0 } ]
}"#;

/// The newer shape openQA's needle editor writes: properties as `{name, value}`, a click
/// point, an exclude area, explicit `match` and `margin`.
const EDITOR_NEEDLE: &str = r#"{
  "properties": [ { "name": "workaround", "value": "bsc#1234: flickering cursor" } ],
  "tags": [ "login", "gdm" ],
  "area": [
    { "xpos": 10, "ypos": 20, "width": 100, "height": 40, "type": "match", "match": 90,
      "margin": 20, "click_point": { "xpos": 50, "ypos": 12.5 } },
    { "xpos": 30, "ypos": 25, "width": 10, "height": 10, "type": "exclude" },
    { "xpos": 200, "ypos": 100, "width": 64, "height": 32 }
  ]
}"#;

#[test]
fn real_needle_shapes_read_as_needle_pm_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let n = Needle::load(&needle_files(
        dir.path(),
        "DIALOG-packages-notifications-boo1037891-20170508",
        WORKAROUND_NEEDLE,
        1024,
        768,
    ))
    .unwrap();
    assert_eq!(
        n.name(),
        "DIALOG-packages-notifications-boo1037891-20170508"
    );
    assert_eq!(n.tags(), ["DIALOG-packages-notifications"]);
    assert!(n.has_property("workaround"));
    assert!(n.has_tag("DIALOG-packages-notifications") && !n.has_tag("DIALOG"));
    assert_eq!(n.image_size(), Size::new(1024, 768));
    assert_eq!(
        n.areas(),
        [Area {
            x: 265,
            y: 244,
            width: 374,
            height: 103,
            kind: AreaKind::Match,
            match_level: 96.0,
            margin: 50,
            click_point: None,
        }]
    );

    let n = Needle::load(&needle_files(dir.path(), "xfce", XFCE_NEEDLE, 1024, 768)).unwrap();
    assert_eq!(n.tags().len(), 6);
    assert!(!n.has_property("workaround"));
    assert_eq!((n.areas()[0].width, n.areas()[0].height), (1015, 765));

    let n = Needle::load(&needle_files(dir.path(), "gdm", EDITOR_NEEDLE, 320, 200)).unwrap();
    assert!(n.has_property("workaround"));
    assert_eq!(
        n.properties()[0].value.as_deref(),
        Some("bsc#1234: flickering cursor")
    );
    let a = n.areas();
    assert_eq!((a[0].match_level, a[0].margin), (90.0, 20));
    assert_eq!(
        a[0].click_point,
        Some(ClickPoint::At {
            xpos: 50.0,
            ypos: 12.5
        })
    );
    assert_eq!(a[1].kind, AreaKind::Exclude);
    assert_eq!(
        (a[2].kind, a[2].match_level, a[2].margin),
        (AreaKind::Match, 96.0, 50)
    );
    assert_eq!(n.png_path(), dir.path().join("gdm.png"));
}

/// Loads `json` (with a 100x100 PNG) and returns the error's field and message.
fn refusal(json: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = needle_files(dir.path(), "bad", json, 100, 100);
    let err = Needle::load(&path).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    match err {
        NeedleError::Field { field, .. } => (field, msg),
        other => panic!("not a field error: {other:?}"),
    }
}

#[test]
fn each_bad_field_is_named() {
    let area = |extra: &str| {
        format!(r#"{{"tags":["t"],"area":[{{"xpos":1,"ypos":2,"width":10,"height":10{extra}}}]}}"#)
    };
    assert_eq!(refusal(&area(r#","type":"box""#)).0, "area[0].type");
    assert_eq!(refusal(&area(r#","match":101"#)).0, "area[0].match");
    assert_eq!(refusal(&area(r#","match":-1"#)).0, "area[0].match");
    assert_eq!(
        refusal(&area(r#","click_point":{"xpos":0,"ypos":3}"#)).0,
        "area[0].click_point"
    );
    assert_eq!(
        refusal(&area(r#","click_point":"middle""#)).0,
        "area[0].click_point"
    );
    // A click point outside its area would send a click anywhere on the screen.
    let (field, msg) = refusal(&area(r#","click_point":{"xpos":11,"ypos":3}"#));
    assert_eq!(field, "area[0].click_point");
    assert!(msg.contains("outside its 10x10 area"), "{msg}");
    assert!(
        Needle::load(&needle_files(
            tempfile::tempdir().unwrap().path(),
            "edge",
            &area(r#","click_point":{"xpos":10,"ypos":10}"#),
            100,
            100
        ))
        .is_ok()
    );
    assert_eq!(refusal(&area(r#","margin":-5"#)).0, "area[0].margin");
    assert_eq!(refusal(&area(r#","xpos":"1""#)).0, "area[0].xpos");
    assert_eq!(
        refusal(r#"{"area":[{"xpos":95,"ypos":0,"width":10,"height":10}]}"#).0,
        "area[0]"
    );
    let (field, msg) = refusal(r#"{"area":[{"xpos":95,"ypos":0,"width":10,"height":10}]}"#);
    assert_eq!(field, "area[0]");
    assert!(
        msg.contains("10x10 at 95,0 is outside the 100x100 picture"),
        "{msg}"
    );
    assert_eq!(
        refusal(r#"{"area":[{"xpos":1,"ypos":1,"height":10}]}"#).0,
        "area[0].width"
    );
    assert_eq!(
        refusal(r#"{"area":[{"xpos":1,"ypos":1,"width":10}]}"#).0,
        "area[0].height"
    );
    assert_eq!(
        refusal(r#"{"area":[{"width":9,"height":9,"type":"exclude"}]}"#).0,
        "area"
    );
    assert_eq!(refusal(r#"{"area":[]}"#).0, "area");
    assert_eq!(
        refusal(
            r#"{"area":[{"width":9,"height":9,"click_point":"center"},
                        {"width":9,"height":9,"click_point":"center"}]}"#
        )
        .0,
        "area[1].click_point"
    );
    assert_eq!(refusal(r#"{"tags":[1],"area":[]}"#).0, "tags[0]");
    assert_eq!(
        refusal(r#"{"properties":[{"value":"x"}],"area":[]}"#).0,
        "properties[0]"
    );
    assert_eq!(refusal(r#"{"png":"../x.png","area":[]}"#).0, "png");
}

#[test]
fn broken_files_are_refused_with_their_path() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("broken.json");
    std::fs::write(&json, "{\"area\": [").unwrap();
    assert!(matches!(Needle::load(&json), Err(NeedleError::Json { path, .. }) if path == json));

    let json = dir.path().join("nopng.json");
    std::fs::write(&json, r#"{"area":[{"width":1,"height":1}]}"#).unwrap();
    match Needle::load(&json) {
        Err(NeedleError::MissingPng { json: j, png }) => {
            assert_eq!((j, png), (json.clone(), dir.path().join("nopng.png")));
        }
        other => panic!("{other:?}"),
    }

    let json = dir.path().join("huge.json");
    std::fs::write(&json, vec![b' '; MAX_JSON_BYTES as usize + 1]).unwrap();
    assert!(matches!(
        Needle::load(&json),
        Err(NeedleError::TooLarge { size, .. }) if size == MAX_JSON_BYTES + 1
    ));

    // FIFOs planted for the JSON or the PNG are refused at once, never waited on.
    let json = dir.path().join("fifo.json");
    nix::unistd::mkfifo(&json, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    assert!(matches!(Needle::load(&json), Err(NeedleError::Io { path, .. }) if path == json));
    let json = dir.path().join("fifopng.json");
    std::fs::write(&json, r#"{"area":[{"width":1,"height":1}]}"#).unwrap();
    nix::unistd::mkfifo(
        &dir.path().join("fifopng.png"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    assert!(
        matches!(Needle::load(&json), Err(NeedleError::Io { path, .. }) if path == dir.path().join("fifopng.png"))
    );

    let json = dir.path().join("notpng.json");
    std::fs::write(&json, r#"{"area":[{"width":1,"height":1}]}"#).unwrap();
    std::fs::write(dir.path().join("notpng.png"), b"GIF89a").unwrap();
    assert!(
        matches!(Needle::load(&json), Err(NeedleError::Png { path, .. }) if path == dir.path().join("notpng.png"))
    );
}

#[test]
fn directory_walk_and_tag_selection() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("gnome/login")).unwrap();
    std::fs::create_dir_all(root.join("elsewhere")).unwrap();
    let one = |tags: &str| format!(r#"{{"tags":[{tags}],"area":[{{"width":8,"height":8}}]}}"#);
    needle_files(root, "boot", &one(r#""bootloader","grub2""#), 16, 16);
    needle_files(
        &root.join("gnome"),
        "desktop",
        &one(r#""generic-desktop","gnome""#),
        16,
        16,
    );
    needle_files(
        &root.join("gnome/login"),
        "gdm",
        &one(r#""login","gnome""#),
        16,
        16,
    );
    needle_files(
        &root.join("gnome/login"),
        "gdm-old",
        &one(r#""login","gnome","old""#),
        16,
        16,
    );
    // Outside the tree, reached by a link to the file (followed) and a link to the directory
    // (not followed), and a link loop (not followed).
    needle_files(
        &root.join("elsewhere"),
        "linked",
        &one(r#""linked""#),
        16,
        16,
    );
    std::os::unix::fs::symlink(
        root.join("elsewhere/linked.json"),
        root.join("gnome/linked.json"),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        root.join("elsewhere/linked.png"),
        root.join("gnome/linked.png"),
    )
    .unwrap();
    std::os::unix::fs::symlink(root, root.join("gnome/loop")).unwrap();
    std::fs::write(root.join("gnome/broken.json"), "not json").unwrap();

    let set = NeedleSet::load_dir(&root.join("gnome")).unwrap();
    let names = |v: Vec<&Needle>| v.iter().map(|n| n.name().to_owned()).collect::<Vec<_>>();
    assert_eq!(set.len(), 4);
    assert_eq!(set.rejected().len(), 1);
    assert!(set.rejected()[0].to_string().contains("broken.json"));
    let s = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    // Ordered by JSON path: `gdm-old.json` sorts before `gdm.json`.
    assert_eq!(names(set.select(&s(&["login"]), &[])), ["gdm-old", "gdm"]);
    assert_eq!(
        names(set.select(&s(&["login", "generic-desktop"]), &s(&["old"]))),
        ["desktop", "gdm"]
    );
    // needle::tags: the words of one entry are all required.
    assert_eq!(names(set.select(&s(&["gnome old"]), &[])), ["gdm-old"]);
    assert_eq!(names(set.select(&s(&["linked"]), &[])), ["linked"]);
    assert!(set.select(&s(&["bootloader"]), &[]).is_empty());
    assert!(set.select(&[], &[]).is_empty());
    assert_eq!(
        set.all_tags().into_iter().collect::<Vec<_>>(),
        ["generic-desktop", "gnome", "linked", "login", "old"]
    );
    let whole = NeedleSet::load_dir(root).unwrap();
    assert_eq!(whole.len(), 6); // the linked needle twice: in elsewhere/ and through gnome/
    assert!(matches!(
        NeedleSet::load_dir_limited(root, 3),
        Err(NeedleError::TooManyNeedles { limit: 3, .. })
    ));
}

fn cand(name: &str, ok: bool, error: f64, workaround: bool) -> Candidate {
    Candidate {
        needle: name.into(),
        ok,
        error,
        area: Vec::new(),
        json: PathBuf::new(),
        tags: Vec::new(),
        workaround,
        image_size: (1024, 768),
    }
}

#[test]
fn candidates_order_as_cmp_by_error_type() {
    let mut v = [
        cand("z-fail", false, 0.0001, false),
        cand("b", true, 0.002, false),
        cand("a", true, 0.002, false),
        cand("c-workaround", true, 0.002, true),
        cand("best", true, 0.001, false),
    ];
    v.sort_by(cmp_candidates);
    let order: Vec<_> = v.iter().map(|c| c.needle.as_str()).collect();
    assert_eq!(order, ["best", "c-workaround", "a", "b", "z-fail"]);
}

fn area_result(x: u32, y: u32, w: u32, h: u32, click_point: Option<ClickPoint>) -> AreaResult {
    AreaResult {
        x,
        y,
        w,
        h,
        similarity: 1.0,
        result: "ok",
        click_point,
    }
}

#[test]
fn click_position_follows_click_lastmatch() {
    let mut c = cand("n", true, 0.0, false);
    assert_eq!(c.click_position(Size::new(1024, 768)), None);
    // No click point: the centre of the last area, truncated.
    c.area = vec![
        area_result(10, 10, 5, 5, None),
        area_result(100, 200, 31, 21, None),
    ];
    assert_eq!(
        c.click_position(Size::new(1024, 768)),
        Some(Point::new(115, 210))
    );
    // A click point wins, wherever its area is.
    c.area[0].click_point = Some(ClickPoint::At {
        xpos: 2.7,
        ypos: 3.0,
    });
    assert_eq!(
        c.click_position(Size::new(1024, 768)),
        Some(Point::new(12, 13))
    );
    // A 1920x1080 screen was resized to the needle's 1024x768: 12 * 1920/1024 = 22.5.
    assert_eq!(
        c.click_position(Size::new(1920, 1080)),
        Some(Point::new(22, 18))
    );
    // A smaller screen was copied, not scaled.
    assert_eq!(
        c.click_position(Size::new(800, 600)),
        Some(Point::new(12, 13))
    );
    c.area[0].click_point = Some(ClickPoint::Center);
    assert_eq!(
        c.click_position(Size::new(800, 600)),
        Some(Point::new(12, 12))
    );
}

/// A needle cut from a picture, and matching it on screens made from that picture.
#[test]
fn search_finds_exact_shifted_and_missing_needles() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (320, 240);
    let json = dir.path().join("n.json");
    std::fs::write(
        &json,
        r#"{"tags":["t"],"area":[{"xpos":100,"ypos":80,"width":60,"height":30,"margin":20}]}"#,
    )
    .unwrap();
    let pic = pattern(w, h, 3);
    write_png(&dir.path().join("n.png"), w, h, &pic);
    let n = Needle::load(&json).unwrap();

    let exact = search(&rgba(w, h, &pic), &[&n], 0.0).unwrap();
    let best = exact.best.unwrap();
    assert_eq!(
        (best.area[0].x, best.area[0].y, best.area[0].similarity),
        (100, 80, 1.0)
    );
    assert_eq!((best.ok, best.error), (true, 0.0));
    assert!(exact.candidates.is_empty());

    // The screen's content moved 7 right and 5 up: found there.
    let mut moved = vec![0u8; pic.len()];
    for y in 0..h as usize {
        for x in 0..w as usize {
            let (sx, sy) = (x as isize - 7, y as isize + 5);
            if (0..w as isize).contains(&sx) && (0..h as isize).contains(&sy) {
                let s = (sy as usize * w as usize + sx as usize) * 3;
                moved[(y * w as usize + x) * 3..][..3].copy_from_slice(&pic[s..s + 3]);
            }
        }
    }
    let r = search(&rgba(w, h, &moved), &[&n], 0.0).unwrap();
    let best = r.best.unwrap();
    assert_eq!(
        (best.area[0].x, best.area[0].y, best.area[0].similarity),
        (107, 75, 1.0)
    );
    // The click goes to the found area's centre.
    assert_eq!(
        best.click_position(Size::new(w, h)),
        Some(Point::new(137, 90))
    );

    // Another picture: no match, a failed candidate.
    let r = search(&rgba(w, h, &pattern(w, h, 99)), &[&n], 0.0).unwrap();
    assert!(r.best.is_none());
    assert_eq!(r.candidates.len(), 1);
    assert!(!r.candidates[0].ok && r.candidates[0].area[0].result == "fail");
    assert!(r.candidates[0].area[0].similarity < 0.9);
    let json = serde_json::to_value(&r.candidates[0]).unwrap();
    assert_eq!(json["needle"], "n");
    assert_eq!(json["area"][0]["w"], 60);
    assert_eq!(json["area"][0]["result"], "fail");
}

#[test]
fn ocr_needles_load_but_are_not_matched() {
    let dir = tempfile::tempdir().unwrap();
    let json = needle_files(
        dir.path(),
        "ocr",
        r#"{"area":[{"width":10,"height":10,"type":"ocr"}]}"#,
        20,
        20,
    );
    let n = Needle::load(&json).unwrap();
    let err = search(&RgbaImage::new(20, 20), &[&n], 0.0).unwrap_err();
    assert!(matches!(err, NeedleError::OcrUnsupported { ref needle, .. } if needle == "ocr"));
    assert!(err.to_string().contains("ocr area"));
    assert!(matches!(
        search(&RgbaImage::new(0, 0), &[&n], 0.0),
        Err(NeedleError::BadScreen { .. })
    ));
}
