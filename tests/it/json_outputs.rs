//! Every `--json` output is strict JSON (no key twice in one object, which `jq` and serde would
//! silently collapse) with the fields its users read, checked on the simulator.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is a failure

use crate::common::cli::{assert_ok, path_str, run, tmp};
use serde_json::Value;

/// Runs a command that prints JSON and parses it strictly.
fn json_of(args: &[&str]) -> Value {
    let out = run(args);
    // check and edid decode exit 1 when they find problems; their JSON must still be whole.
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{args:?}: {:?}",
        out.status
    );
    crate::common::json::parse(&out.stdout)
}

fn keys(v: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    keys
}

#[test]
fn the_strict_parser_catches_duplicates_at_any_depth() {
    assert!(crate::common::json::strict(br#"{"a":1,"b":[{"c":1,"d":2}]}"#).is_ok());
    let err = crate::common::json::strict(br#"{"a":1,"a":2}"#).unwrap_err();
    assert!(err.contains("duplicate key \"a\""), "{err}");
    assert!(crate::common::json::strict(br#"[{"x":{"y":1,"y":1}}]"#).is_err());
}

#[test]
fn info_json_has_each_field_once_with_the_modifier_as_name_and_number() {
    for plane in ["dmabuf", "region"] {
        let v = json_of(&["info", "--sim", "--sim-plane", plane, "--json"]);
        let primary = &v["planes"]["primary"];
        assert_eq!(primary["modifier"], 0, "the number");
        assert_eq!(primary["modifier_name"], "LINEAR", "the name");
        assert_eq!(primary["drm_format"], 0x3432_5258);
        for region in v["regions"].as_array().unwrap() {
            assert_eq!(
                keys(region),
                [
                    "caps",
                    "error",
                    "flag_names",
                    "flags",
                    "index",
                    "name",
                    "offset",
                    "size"
                ]
            );
        }
    }
}

#[test]
fn every_json_output_is_strict() {
    let dir = tmp();
    let edid = dir.path().join("m.bin");
    assert_ok(&run(&[
        "edid",
        "generate",
        "--mode",
        "1920x1080",
        "-o",
        path_str(&edid),
    ]));
    let v = json_of(&["list", "--json"]);
    assert!(v["parents"].is_array() && v["mdevs"].is_array(), "{v}");
    let v = json_of(&["check", "--sim", "--json"]);
    assert!(v["checks"].as_array().unwrap().len() > 20);
    let v = json_of(&["edid", "decode", "--json", path_str(&edid)]);
    assert_eq!(v["preferred_mode"]["width"], 1920);
    let v = json_of(&["edid", "show", "--sim", "--json"]);
    assert!(v.is_object(), "{v}");
    let v = json_of(&[
        "edid",
        "hotswap",
        "--sim",
        "--json",
        "--modes",
        "800x600,1024x768",
    ]);
    assert_eq!(v["total"], 2);
    assert_eq!(v["shown"], 2);
}
