//! The damaged EDIDs the VM suite gives a guest kernel through its DDC-style read
//! (tests/it/common/edid_ddc.rs): what `linux_read` predicts for each, and that the VM check
//! fails when the kernel's EDID is not the predicted one.

use crate::common::edid_ddc::{as_read, check, damaged};
use vfio_display::edid::{self, ReadPath};

fn blob(name: &str) -> Vec<u8> {
    damaged()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, b)| b)
        .unwrap()
}

fn sums_right(block: &[u8]) -> bool {
    block.iter().fold(0u8, |a, b| a.wrapping_add(*b)) == 0
}

#[test]
fn each_damaged_edid_is_read_as_linux_reads_it_from_a_monitor() {
    let refused = edid::linux_read(&as_read(&blob("ddc-base-checksum")), ReadPath::Ddc);
    assert_eq!(
        refused,
        Err("the base block's checksum is wrong".to_string())
    );

    let cta = blob("ddc-cta-checksum");
    let kept = edid::linux_read(&as_read(&cta), ReadPath::Ddc).unwrap();
    assert_eq!(
        kept.blob, cta,
        "a CTA block whose only fault is its checksum is kept"
    );
    assert!(!sums_right(&kept.blob[128..]));

    // mbochs answers zeros past the bytes written: the cut block reaches the kernel padded.
    let cut = blob("ddc-cta-truncated");
    assert_eq!(cut.len(), 192);
    let read = as_read(&cut);
    assert_eq!(read.len(), 256);
    assert_eq!(&read[..192], &cut[..]);
    assert!(read[192..].iter().all(|&b| b == 0));
    let kept = edid::linux_read(&read, ReadPath::Ddc).unwrap();
    assert_eq!(kept.blob, read);

    let two = blob("ddc-displayid-dropped");
    assert_eq!((two.len(), two[126]), (384, 2));
    let kept = edid::linux_read(&as_read(&two), ReadPath::Ddc).unwrap();
    assert_eq!(kept.blob.len(), 256, "the DisplayID block is dropped");
    assert_eq!(kept.blob[126], 1, "the count says what was kept");
    assert!(
        sums_right(&kept.blob[..128]),
        "and the checksum was made again"
    );
    assert_eq!(
        &kept.blob[128..],
        &two[128..256],
        "the CTA block is kept as it was"
    );
    // The firmware loader repairs and drops nothing: it refuses the other three whole, and
    // takes the CTA block with the bad checksum as the DDC read does (edid_block_status_valid).
    for (name, b) in damaged() {
        assert_eq!(
            edid::linux_read(&b, ReadPath::Firmware).is_ok(),
            name == "ddc-cta-checksum",
            "{name}"
        );
    }
}

/// A guest's report where the kernel kept `edid_of(name)` for each damaged EDID.
fn report(edid_of: impl Fn(&str, &[u8]) -> Vec<u8>) -> String {
    let mut text = String::new();
    for (name, b) in damaged() {
        text += &format!("DDC-{name}-EDID-BEGIN\n");
        for row in edid_of(name, &b).chunks(16) {
            let hex: Vec<String> = row.iter().map(|x| format!("{x:02x}")).collect();
            text += &format!(" {}\n", hex.join(" "));
        }
        text += &format!("DDC-{name}-EDID-END\n");
    }
    text
}

fn section<'t>(text: &'t str, tag: &str) -> Vec<&'t str> {
    let begin = format!("{tag}-BEGIN");
    let end = format!("{tag}-END");
    text.lines()
        .skip_while(|l| *l != begin)
        .skip(1)
        .take_while(|l| *l != end)
        .collect()
}

fn edid_results(text: &str) -> Vec<(String, bool)> {
    check(|tag| section(text, tag))
        .into_iter()
        .filter(|(name, _, _)| name.ends_with("-edid"))
        .map(|(name, ok, _)| (name, ok))
        .collect()
}

#[test]
fn the_vm_check_fails_when_the_kernel_keeps_other_bytes() {
    let predicted = |_: &str, b: &[u8]| {
        edid::linux_read(&as_read(b), ReadPath::Ddc)
            .map(|r| r.blob)
            .unwrap_or_default()
    };
    let good = report(predicted);
    assert!(
        edid_results(&good).iter().all(|(_, ok)| *ok),
        "{:?}",
        edid_results(&good)
    );
    // A kernel that kept every block as read, or took the EDID with a bad checksum: the
    // check names the EDIDs where that differs from the prediction, and only those.
    let unfiltered = report(|_, b| as_read(b));
    let failed: Vec<String> = edid_results(&unfiltered)
        .into_iter()
        .filter(|(_, ok)| !ok)
        .map(|(name, _)| name)
        .collect();
    assert_eq!(
        failed,
        ["ddc-base-checksum-edid", "ddc-displayid-dropped-edid"]
    );
}

/// The guest kernel's record (tests/snapshots/edid-ddc-linux.txt, from a VM suite run): what
/// it kept of each damaged EDID and the modes it built are `linux_read`'s and ours.
#[test]
fn the_recorded_guest_kernel_kept_what_linux_read_predicts() {
    let text = include_str!("../snapshots/edid-ddc-linux.txt");
    let results = check(|tag| section(text, tag));
    // Each damaged EDID has its probe count and EDID checks, and each the kernel took has its
    // mode list too.
    assert_eq!(results.len(), 11, "{results:#?}");
    for (name, ok, why) in results {
        assert!(ok, "{name}: {why}");
    }
}
