//! EDIDs damaged as cables and monitors damage them, for the guest kernel's DDC-style read:
//! the VM suite writes each into the nested guest's mbochs EDID region (`attach ... edid set
//! --force`), the guest binds bochs-drm again, and bochs-drm reads the EDID window block by
//! block through `drm_edid_read_custom`, the same path as a monitor's DDC. The guest reports the
//! EDID the kernel kept (its connector's `edid` file, after the kernel's repairs) and the mode
//! list it built; both must be what `edid::linux_read(.., Ddc)` and `edid decode --modes` say.
//!
//! mbochs answers every byte of its 1 KiB window, with zeros past the size written, so an EDID
//! cut short reaches the kernel as its bytes followed by zeros: the prediction is made for what
//! the guest reads, the blob padded to the blocks it declares. A header with 6 or 7 of its 8
//! bytes right is not in this corpus: bochs-drm checks all 8 itself before it asks drm to read
//! (`bochs_hw_load_edid`), so drm's repair is never reached through this driver.

use super::edid_corpus::{self, fix_checksum};
use vfio_display::edid::{self, ReadPath};

const BLOCK: usize = 128;

/// The damaged EDIDs: (name, the bytes written into the device's EDID region).
pub fn damaged() -> Vec<(&'static str, Vec<u8>)> {
    // The TV of the corpus: a base block and one CTA block.
    let tv = edid_corpus::by_name("tv-1080i");
    assert_eq!(
        tv.len(),
        2 * BLOCK,
        "tv-1080i is a base block and a CTA block"
    );
    let mut out = Vec::new();

    // The base block's checksum is wrong: Linux takes no EDID from the monitor.
    let mut bad_sum = tv.clone();
    bad_sum[BLOCK - 1] = bad_sum[BLOCK - 1].wrapping_add(1);
    out.push(("ddc-base-checksum", bad_sum));

    // The CTA block's checksum is wrong: Linux keeps a CTA block whose only fault is that.
    let mut cta_sum = tv.clone();
    cta_sum[2 * BLOCK - 1] = cta_sum[2 * BLOCK - 1].wrapping_add(1);
    out.push(("ddc-cta-checksum", cta_sum));

    // The CTA block cut off after 64 bytes: the guest reads zeros for the rest, and the
    // checksum no longer holds.
    out.push(("ddc-cta-truncated", tv[..BLOCK + 64].to_vec()));

    // A second extension (a DisplayID block) whose checksum is wrong: Linux drops it, and
    // writes the base block's extension count and checksum for the one block it kept.
    let did = edid_corpus::by_name("displayid-cta");
    let mut two = tv.clone();
    two[126] = 2;
    fix_checksum(&mut two[..BLOCK]);
    let mut displayid = did[BLOCK..2 * BLOCK].to_vec();
    displayid[BLOCK - 1] = displayid[BLOCK - 1].wrapping_add(1);
    two.extend(displayid);
    out.push(("ddc-displayid-dropped", two));
    out
}

/// What the guest reads through mbochs's EDID window: the blob, then zeros up to the blocks
/// its base block declares.
pub fn as_read(blob: &[u8]) -> Vec<u8> {
    let declared = (usize::from(blob.get(126).copied().unwrap_or(0)) + 1) * BLOCK;
    let mut read = blob.to_vec();
    if read.len() < declared {
        read.resize(declared, 0);
    }
    read
}

/// For each damaged EDID: the EDID the guest kernel kept (`DDC-NAME-EDID` section, hex; empty
/// when it took none) against `linux_read`'s, and when there is one, the kernel's mode list
/// (`DDC-NAME`, `DDCREJ-NAME`) against `edid decode --modes` of the kept EDID; the list is one
/// probe's (`DDCLOG-NAME`, the probe helper's debug lines).
pub fn check<'t>(section: impl Fn(&str) -> Vec<&'t str>) -> Vec<(String, bool, String)> {
    let mut results = Vec::new();
    for (name, blob) in damaged() {
        let read = as_read(&blob);
        let predicted = edid::linux_read(&read, ReadPath::Ddc);
        let probed = edid_corpus::probes(&section(&format!("DDCLOG-{name}")));
        results.push((
            format!("{name}-probes"),
            probed == 1,
            format!("the kernel probed the connector {probed} times for one GETCONNECTOR call"),
        ));
        let Some(kernel) = edid_corpus::unhex(&section(&format!("DDC-{name}-EDID"))) else {
            results.push((
                format!("{name}-edid"),
                false,
                "the guest's EDID section is not hex".to_string(),
            ));
            continue;
        };
        let (ok, why) = match &predicted {
            Err(reason) => (
                kernel.is_empty(),
                format!(
                    "linux_read refuses it ({reason}); the guest kernel kept {} bytes",
                    kernel.len()
                ),
            ),
            Ok(kept) => (
                kernel == kept.blob,
                format!(
                    "linux_read keeps {} bytes ({:?}); the guest kernel kept {} bytes{}",
                    kept.blob.len(),
                    kept.notes,
                    kernel.len(),
                    if kernel == kept.blob {
                        ", the same".to_string()
                    } else {
                        format!(", different: {kernel:02x?}")
                    }
                ),
            ),
        };
        results.push((format!("{name}-edid"), ok, why));
        if let Ok(kept) = predicted {
            let ours = edid::decode(&kept.blob)
                .map(|d| d.linux_modes())
                .unwrap_or_default();
            let (ok, diff) = edid_corpus::compare(
                &ours,
                &section(&format!("DDC-{name}")),
                &section(&format!("DDCREJ-{name}")),
            );
            results.push((format!("{name}-modes"), ok, diff));
        }
    }
    results
}
