#!/usr/bin/env python3
"""Writes src/edid/linux/tables.rs from the mode tables of a Linux kernel tree's
drivers/gpu/drm/drm_edid.c: the VESA DMT list, the established timings I-III, the range-limit
probe list, the CTA-861 VIC list and the HDMI VSDB 4K list, as the kernel uses them to build a
connector's modes. Run: scripts/gen-drm-mode-tables.py KERNEL_TREE > src/edid/linux/tables.rs"""
import re
import sys

src = open(sys.argv[1] + "/drivers/gpu/drm/drm_edid.c").read()

FLAGS = {
    "DRM_MODE_FLAG_PHSYNC": 1 << 0, "DRM_MODE_FLAG_NHSYNC": 1 << 1,
    "DRM_MODE_FLAG_PVSYNC": 1 << 2, "DRM_MODE_FLAG_NVSYNC": 1 << 3,
    "DRM_MODE_FLAG_INTERLACE": 1 << 4, "DRM_MODE_FLAG_DBLSCAN": 1 << 5,
    "DRM_MODE_FLAG_DBLCLK": 1 << 12, "0": 0,
}
ASPECT = {"HDMI_PICTURE_ASPECT_4_3": "Aspect::R4x3", "HDMI_PICTURE_ASPECT_16_9": "Aspect::R16x9",
          "HDMI_PICTURE_ASPECT_64_27": "Aspect::R64x27",
          "HDMI_PICTURE_ASPECT_256_135": "Aspect::R256x135"}


def table(name):
    start = src.index(name)
    body = src[src.index("{", start) + 1:]
    depth, end = 1, 0
    for i, c in enumerate(body):
        depth += c == "{"
        depth -= c == "}"
        if depth == 0:
            end = i
            break
    return body[:end]


def modes(name):
    out = []
    for m in re.finditer(r'DRM_MODE\("[^"]*",\s*DRM_MODE_TYPE_DRIVER,([^)]*)\)(\s*,\s*\.picture_aspect_ratio\s*=\s*(\w+))?', table(name)):
        fields = [f.strip() for f in m.group(1).split(",")]
        nums = [int(f) for f in fields[:11]]
        clock, hd, hss, hse, ht, hsk, vd, vss, vse, vt, vs = nums
        assert hsk == 0 and vs == 0, m.group(0)
        flags = 0
        for f in fields[11].split("|"):
            flags |= FLAGS[f.strip()]
        aspect = ASPECT.get(m.group(3), "Aspect::None") if m.group(3) else "Aspect::None"
        out.append(f"    KMode::new({clock}, [{hd}, {hss}, {hse}, {ht}], [{vd}, {vss}, {vse}, {vt}], {flags:#x}, {aspect}),")
    return out


def minimodes(name):
    out = []
    for m in re.finditer(r"\{\s*(\d+),\s*(\d+),\s*(\d+)(?:,\s*(\d+))?\s*\}", table(name)):
        w, h, r, rb = m.group(1), m.group(2), m.group(3), m.group(4) or "0"
        out.append(f"    ({w}, {h}, {r}, {'true' if rb == '1' else 'false'}),")
    return out


print("//! The mode tables Linux's drm_edid builds a connector's modes from, as in the kernel's")
print("//! drivers/gpu/drm/drm_edid.c (written by scripts/gen-drm-mode-tables.py; do not edit).")
print("//! The timings are the VESA DMT, CTA-861 and HDMI standards' own.")
print()
print("use super::mode::{Aspect, KMode};")
print()
for rust, c, fn in [("DMT", "drm_dmt_modes[]", modes), ("ESTABLISHED", "edid_est_modes[]", modes),
                    ("CTA_1", "edid_cea_modes_1[]", modes), ("CTA_193", "edid_cea_modes_193[]", modes),
                    ("HDMI_4K", "edid_4k_modes[]", modes)]:
    rows = fn("static const struct drm_display_mode " + c)
    print(f"/// `{c[:-2]}`.")
    print(f"pub(super) const {rust}: [KMode; {len(rows)}] = [")
    print("\n".join(rows))
    print("];")
    print()
dmt_comments = list(re.finditer(r"/\* (0x[0-9a-f]+) - \d+x\d+@([0-9.]+)Hz", table("static const struct drm_display_mode drm_dmt_modes[]")))
ids = [int(m.group(1), 16) for m in dmt_comments]
hz = [int(float(m.group(2))) for m in dmt_comments]
print("/// The VESA DMT ID of each `DMT` entry (the kernel orders them by size, not by ID).")
print(f"pub(super) const DMT_IDS: [u8; {len(ids)}] = [")
for i in range(0, len(ids), 12):
    print("    " + ", ".join(f"{v:#04x}" for v in ids[i:i + 12]) + ",")
print("];")
print()
print("/// The nominal rate each `DMT` entry is named by (640x480 at 72 Hz is 72.809 Hz), which")
print("/// standard timing codes state.")
print(f"pub(super) const DMT_NOMINAL_HZ: [u8; {len(hz)}] = [")
for i in range(0, len(hz), 16):
    print("    " + ", ".join(str(v) for v in hz[i:i + 16]) + ",")
print("];")
print()
for rust, c in [("ESTABLISHED_III", "est3_modes[]"), ("RANGE_PROBE", "extra_modes[]")]:
    rows = minimodes("static const struct minimode " + c)
    print(f"/// `{c[:-2]}`: width, height, refresh, reduced blanking.")
    print(f"pub(super) const {rust}: [(u32, u32, u32, bool); {len(rows)}] = [")
    print("\n".join(rows))
    print("];")
    print()
