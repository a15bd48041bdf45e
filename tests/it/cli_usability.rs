//! What a new user meets first: `--help` that groups options where they belong, options that do
//! what they say or are refused, shell completions and man pages.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is a failure

use crate::common::cli::{
    assert_clean_failure, assert_ok, bin, path_str, run, stderr, stdout, tmp,
};
use std::process::Command;

const COMMANDS: [&[&str]; 9] = [
    &["screenshot"],
    &["info"],
    &["check"],
    &["bench"],
    &["view"],
    &["demo"],
    &["edid", "show"],
    &["edid", "set"],
    &["edid", "hotswap"],
];

#[test]
fn simulator_headings_hold_only_simulator_options() {
    for command in COMMANDS {
        let mut args = command.to_vec();
        args.push("-h");
        let out = run(&args);
        assert_ok(&out);
        let text = stdout(&out);
        let at = text
            .find("Simulator (with --sim):")
            .unwrap_or_else(|| panic!("{command:?}: no simulator heading:\n{text}"));
        let under: Vec<&str> = text[at..]
            .lines()
            .skip(1)
            .take_while(|l| l.is_empty() || l.starts_with(' '))
            .filter(|l| l.starts_with("  -") || l.starts_with("      --"))
            .collect();
        assert!(!under.is_empty(), "{command:?}");
        for line in under {
            assert!(
                line.trim_start().starts_with("--sim-"),
                "{command:?}: {line:?} is under the simulator heading"
            );
        }
    }
}

#[test]
fn sim_fault_help_lists_the_faults_and_succeeds() {
    let out = run(&["screenshot", "--sim", "--sim-fault", "help", "-o", "x.png"]);
    assert_ok(&out);
    let text = stdout(&out);
    assert!(text.contains("device-lost"), "{text}");
    assert!(text.contains("region-too-small"), "{text}");
    assert!(
        !text.contains("--sim-source"),
        "names an option that exists: {text}"
    );
    assert!(text.contains("--sim-plane region"), "{text}");
    let help = stdout(&run(&["screenshot", "--help"]));
    assert!(help.contains("--sim-fault <NAME>"), "not hidden: {help}");
}

#[test]
fn bench_refuses_simulator_options_it_would_ignore() {
    let out = run(&["bench", "--sim", "--sim-fault", "plane-off"]);
    assert_clean_failure(&out, 2, "bench measures a healthy device");
    let out = run(&["bench", "--sim", "--sim-mode", "800x600"]);
    assert_clean_failure(&out, 2, "--sizes");
    let out = run(&["bench", "--sim", "--sim-frame", "3"]);
    assert_clean_failure(&out, 2, "--sizes");
}

#[test]
fn check_refuses_a_fault_that_starts_after_it_ends() {
    let out = run(&["check", "--sim", "--sim-fault", "device-lost"]);
    assert_clean_failure(&out, 2, "query-enodev");
    // The fault it points to makes the checks fail, as a gone device should.
    let out = run(&["check", "--sim", "--sim-fault", "query-enodev"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("FAIL"), "{}", stdout(&out));
}

#[test]
fn bash_completions_parse_and_know_the_commands() {
    let out = run(&["completions", "bash"]);
    assert_ok(&out);
    let dir = tmp();
    let script = dir.path().join("vfio-display.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    let check = Command::new("bash")
        .args(["-n", path_str(&script)])
        .output()
        .unwrap();
    assert!(check.status.success(), "bash -n: {:?}", check);
    let text = stdout(&out);
    for word in ["screenshot", "hotswap", "--sim-mode", "--link-delay-ms"] {
        assert!(text.contains(word), "bash completions lack {word}");
    }
    for shell in ["zsh", "fish"] {
        let out = run(&["completions", shell]);
        assert_ok(&out);
        assert!(stdout(&out).contains("screenshot"), "{shell}");
    }
}

#[test]
fn man_pages_cover_every_command() {
    let out = run(&["man", "edid", "set"]);
    assert_ok(&out);
    let page = stdout(&out);
    assert!(page.contains(".TH vfio-display-edid-set 1"), "{page}");
    assert!(page.contains("link\\-delay\\-ms"), "{page}");
    let out = run(&["man", "nonsense"]);
    assert_clean_failure(&out, 2, "no command 'nonsense'");
    let dir = tmp();
    let out = run(&["man", "--dir", path_str(dir.path())]);
    assert_ok(&out);
    let mut pages: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    for want in [
        "vfio-display.1",
        "vfio-display-screenshot.1",
        "vfio-display-edid-hotswap.1",
        "vfio-display-man.1",
    ] {
        assert!(pages.iter().any(|p| p == want), "{want} missing: {pages:?}");
    }
    assert!(pages.len() >= 17, "{pages:?}");
}

#[test]
fn man_pages_name_no_help_page() {
    // clap's `help` subcommand has no page of its own, so no page may point to one.
    for args in [&["man"][..], &["man", "edid"][..]] {
        let out = run(args);
        assert_ok(&out);
        let page = stdout(&out);
        assert!(page.contains(".SH SUBCOMMANDS"), "{args:?}: {page}");
        assert!(
            !page.contains("help(1)"),
            "{args:?} lists a help page: {page}"
        );
    }
}

/// Runs the binary with stdout on /dev/full, where every write fails with ENOSPC.
fn into_dev_full(args: &[&str]) -> std::process::Output {
    bin()
        .args(args)
        .stdout(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        )
        .output()
        .unwrap()
}

#[test]
fn help_into_a_full_disk_fails_like_every_other_print() {
    for args in [
        &["--help"][..],
        &["edid", "set", "-h"][..],
        &["--version"][..],
    ] {
        let out = into_dev_full(args);
        assert_clean_failure(
            &out,
            1,
            "cannot write to standard output: No space left on device",
        );
    }
}

#[test]
fn an_error_names_its_cause_once() {
    // The context and its cause are one chain: the cause must not be printed in both.
    for args in [&["info", "--sim"][..], &["--help"][..]] {
        let out = into_dev_full(args);
        let err = stderr(&out);
        assert_eq!(
            err.matches("No space left on device").count(),
            1,
            "{args:?}: {err}"
        );
    }
}

#[test]
fn a_refresh_rate_out_of_range_states_the_range() {
    for mode in ["1024x768@0", "1024x768@9", "1024x768@481", "1024x768@20000"] {
        let out = run(&["edid", "generate", "--mode", mode, "-o", "/dev/null"]);
        assert_clean_failure(&out, 2, "refresh rate must be 10 to 480 Hz");
    }
    for mode in ["1920x1080@10", "1024x768@480"] {
        assert_ok(&run(&[
            "edid",
            "generate",
            "--mode",
            mode,
            "-o",
            "/dev/null",
        ]));
    }
}

#[test]
fn edid_decode_reads_what_edid_decode_prints() {
    let help = stdout(&run(&["edid", "--help"]));
    assert!(help.contains("hex text as edid-decode prints it"), "{help}");
    let dir = tmp();
    // One block, and a base block with DisplayID extensions.
    for (name, extra) in [
        ("one.bin", None),
        ("more.bin", Some("2560x1440,3840x2160@30")),
    ] {
        let bin_path = dir.path().join(name);
        let mut args = vec!["edid", "generate", "--mode", "1920x1080", "-o"];
        args.push(path_str(&bin_path));
        if let Some(modes) = extra {
            args.extend(["--extra-modes", modes]);
        }
        assert_ok(&run(&args));
        let printed = Command::new("edid-decode")
            .arg(&bin_path)
            .output()
            .expect("edid-decode is installed (scripts/install-test-deps.sh)");
        let text_path = dir.path().join(format!("{name}.txt"));
        std::fs::write(&text_path, &printed.stdout).unwrap();
        assert!(stdout(&printed).starts_with("edid-decode (hex):"));
        let from_binary = run(&["edid", "decode", path_str(&bin_path)]);
        assert_ok(&from_binary);
        let from_text = run(&["edid", "decode", path_str(&text_path)]);
        assert_ok(&from_text);
        assert_eq!(stdout(&from_text), stdout(&from_binary), "{name}");
        let from_stdin = bin()
            .args(["edid", "decode", "-"])
            .stdin(std::fs::File::open(&text_path).unwrap())
            .output()
            .unwrap();
        assert_eq!(stdout(&from_stdin), stdout(&from_binary), "{name} on stdin");
    }
}
