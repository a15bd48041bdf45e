//! Safe output and bounded input, as a user running the tool as root meets them: output paths
//! that are devices, FIFOs, sockets, directories and planted links; input that never ends;
//! stdout that is closed or full; signals in the middle of a series; fds that are not VFIO's.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is a failure
#![allow(clippy::disallowed_macros)] // a test explains a skipped case in the log

use crate::common::cli::{
    assert_clean_failure, assert_ok, bin, path_str, run, stderr, stdout, tmp,
};
use crate::common::{assert_same_image, expected_frame, read_png};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt, symlink};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};
use vfio_display::fourcc;

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The names in `dir`, hidden ones included, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// What is at `path` itself (a link is not followed).
fn file_type(path: impl AsRef<Path>) -> std::fs::FileType {
    std::fs::symlink_metadata(path).unwrap().file_type()
}

fn assert_char_device(path: &str) {
    assert!(
        file_type(path).is_char_device(),
        "{path} must still be a character device"
    );
}

/// Waits for `child` at most `secs`, killing it and failing the test when it hangs.
fn wait_bounded(child: &mut std::process::Child, secs: u64) -> ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the command did not end within {secs} s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `edid generate --mode 800x600 -o OUTPUT`: a small write to any kind of output path.
fn generate_800x600(output: &str) -> Output {
    run(&["edid", "generate", "--mode", "800x600", "-o", output])
}

// ---- Output paths ----

#[test]
fn a_link_planted_at_the_old_temporary_names_is_never_followed() {
    // The attack from the report: another user plants links where a root run used to create
    // its temporary and its probe file (predictable names with the pid).
    let dir = tmp();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    let script = "ln -s victim .shot.png.tmp$$; ln -s victim .vfio-display-probe$$; \
                  exec \"$0\" screenshot --sim -o shot.png";
    let out = Command::new("sh")
        .args(["-c", script, env!("CARGO_BIN_EXE_vfio-display")])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_ok(&out);
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    let names = listing(dir.path());
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(names.contains(&"shot.png".to_string()));
    assert_eq!(read_png(&dir.path().join("shot.png")).width, 1024);
}

#[test]
fn a_link_someone_else_planted_at_the_output_is_refused() {
    if !is_root() {
        eprintln!("needs root to give a link to another user; CI runs as root");
        return;
    }
    let dir = tmp();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    let link = dir.path().join("shot.png");
    symlink(&victim, &link).unwrap();
    nix::unistd::fchownat(
        nix::fcntl::AT_FDCWD,
        &link,
        Some(nix::unistd::Uid::from_raw(65534)),
        None,
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .unwrap();
    let out = run(&["screenshot", "--sim", "-o", path_str(&link)]);
    assert_clean_failure(&out, 1, "symbolic link owned by uid 65534");
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    let out = generate_800x600(path_str(&link));
    assert_clean_failure(&out, 1, "someone else");
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert_eq!(listing(dir.path()), ["shot.png", "victim"]);
}

/// Gives the link at `path` itself (not what it leads to) to uid 65534, as if that user had
/// planted it.
fn give_link_to_nobody(path: &Path) {
    nix::unistd::fchownat(
        nix::fcntl::AT_FDCWD,
        path,
        Some(nix::unistd::Uid::from_raw(65534)),
        None,
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .unwrap();
}

/// A directory anyone may write to, as `/tmp` is: mode 1777 when `sticky`, 0777 when not.
fn shared_dir(path: PathBuf, sticky: bool) -> PathBuf {
    std::fs::create_dir(&path).unwrap();
    let mode = if sticky { 0o1777 } else { 0o777 };
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// A directory `etc` holding a file `passwd` that no write may reach.
fn victim_dir(root: &Path) -> (PathBuf, PathBuf) {
    let etc = root.join("etc");
    std::fs::create_dir(&etc).unwrap();
    let passwd = etc.join("passwd");
    std::fs::write(&passwd, b"precious").unwrap();
    (etc, passwd)
}

fn assert_untouched(etc: &Path, passwd: &Path) {
    assert_eq!(std::fs::read(passwd).unwrap(), b"precious");
    assert_eq!(listing(etc), ["passwd"], "nothing new beside the victim");
}

// The links below are followed by our own walk, never by the kernel, so the kernel's
// `fs.protected_symlinks` cannot change what these tests see. That setting is one value for
// the whole machine (it is not kept per namespace, and a user namespace may not write it), so a
// test cannot turn it off for itself alone; instead each case is run in a world-writable
// directory without the sticky bit as well, where the kernel never protects a link at any
// setting, and in a sticky one, where it protects only when the setting is on.

#[test]
fn a_link_planted_as_a_directory_on_the_path_is_refused() {
    if !is_root() {
        eprintln!("needs root to give a link to another user; CI runs as root");
        return;
    }
    for sticky in [true, false] {
        let dir = tmp();
        let (etc, passwd) = victim_dir(dir.path());
        let shared = shared_dir(dir.path().join("tmp"), sticky);
        let planted = shared.join("victimdir");
        symlink(&etc, &planted).unwrap();
        give_link_to_nobody(&planted);
        for name in ["passwd", "new.png"] {
            let through = planted.join(name);
            let out = run(&["screenshot", "--sim", "-o", path_str(&through)]);
            let refusal = format!(
                "{} is a symbolic link owned by uid 65534",
                planted.display()
            );
            assert_clean_failure(&out, 1, &refusal);
            assert_clean_failure(&generate_800x600(path_str(&through)), 1, "someone else");
            assert_untouched(&etc, &passwd);
        }
        // `..` after a planted link climbs from where the link leads, so it is refused too.
        let climbing = planted.join("../passwd");
        let out = run(&["screenshot", "--sim", "-o", path_str(&climbing)]);
        assert_clean_failure(&out, 1, "owned by uid 65534");
        assert_eq!(listing(dir.path()), ["etc", "tmp"]);
        assert_untouched(&etc, &passwd);
    }
}

#[test]
fn a_chain_of_links_is_checked_link_by_link() {
    if !is_root() {
        eprintln!("needs root to give a link to another user; CI runs as root");
        return;
    }
    for sticky in [true, false] {
        let dir = tmp();
        let (etc, passwd) = victim_dir(dir.path());
        let shared = shared_dir(dir.path().join("tmp"), sticky);
        let home = dir.path().join("home");
        std::fs::create_dir(&home).unwrap();
        // Ours, in our own directory, leading to a link someone else planted, leading on.
        let planted_dir = shared.join("pictures");
        symlink(&etc, &planted_dir).unwrap();
        give_link_to_nobody(&planted_dir);
        symlink(&planted_dir, home.join("pictures")).unwrap();
        let out = run(&[
            "screenshot",
            "--sim",
            "-o",
            path_str(&home.join("pictures/passwd")),
        ]);
        let refusal = format!(
            "{} is a symbolic link owned by uid 65534",
            planted_dir.display()
        );
        assert_clean_failure(&out, 1, &refusal);
        assert_untouched(&etc, &passwd);
        // The same chain at the last name: ours -> planted -> the victim file.
        let planted_file = shared.join("latest.png");
        symlink(&passwd, &planted_file).unwrap();
        give_link_to_nobody(&planted_file);
        symlink(&planted_file, home.join("latest.png")).unwrap();
        let out = generate_800x600(path_str(&home.join("latest.png")));
        let refusal = format!(
            "{} is a symbolic link owned by uid 65534",
            planted_file.display()
        );
        assert_clean_failure(&out, 1, &refusal);
        assert_untouched(&etc, &passwd);
        assert_eq!(listing(&home), ["latest.png", "pictures"]);
    }
}

#[test]
fn links_of_ours_or_of_the_directory_owner_are_followed_on_the_path() {
    if !is_root() {
        eprintln!("needs root to give a directory to another user; CI runs as root");
        return;
    }
    let dir = tmp();
    let pictures = dir.path().join("pictures");
    std::fs::create_dir(&pictures).unwrap();
    let shared = shared_dir(dir.path().join("tmp"), true);
    // Our own link in a sticky directory, then a chain of two of ours.
    symlink(&pictures, shared.join("mine")).unwrap();
    symlink(shared.join("mine"), dir.path().join("again")).unwrap();
    assert_ok(&run(&[
        "screenshot",
        "--sim",
        "-o",
        path_str(&shared.join("mine/a.png")),
    ]));
    assert_ok(&generate_800x600(path_str(&dir.path().join("again/b.bin"))));
    // A link its directory's owner made (a user's own link in their own directory).
    let theirs = dir.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    symlink("../pictures", theirs.join("pictures")).unwrap();
    give_link_to_nobody(&theirs.join("pictures"));
    nix::unistd::chown(&theirs, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
    assert_ok(&generate_800x600(path_str(&theirs.join("pictures/c.bin"))));
    // `..` after a link climbs from where it led: `mine/..` is `dir`, not `tmp`.
    assert_ok(&generate_800x600(path_str(&shared.join("mine/../d.bin"))));
    assert_eq!(listing(&pictures), ["a.png", "b.bin", "c.bin"]);
    assert_eq!(read_png(&pictures.join("a.png")).width, 1024);
    assert_eq!(
        listing(dir.path()),
        ["again", "d.bin", "pictures", "theirs", "tmp"]
    );
    assert_eq!(listing(&shared), ["mine"]);
}

#[test]
fn a_loop_of_links_is_one_line() {
    let dir = tmp();
    symlink("b", dir.path().join("a")).unwrap();
    symlink("a", dir.path().join("b")).unwrap();
    let out = generate_800x600(path_str(&dir.path().join("a/x.bin")));
    assert_clean_failure(&out, 1, "more than 40 symbolic links");
    assert_eq!(listing(dir.path()), ["a", "b"]);
}

#[test]
fn a_link_of_ours_is_written_through_and_kept() {
    let dir = tmp();
    let real = dir.path().join("real.png");
    let link = dir.path().join("latest.png");
    std::fs::write(&real, b"old").unwrap();
    symlink("real.png", &link).unwrap();
    assert_ok(&run(&["screenshot", "--sim", "-o", path_str(&link)]));
    assert!(file_type(&link).is_symlink());
    assert_eq!(read_png(&real).width, 1024);
    assert_eq!(listing(dir.path()), ["latest.png", "real.png"]);
}

#[test]
fn device_nodes_are_written_in_place_never_replaced() {
    assert_ok(&run(&["screenshot", "--sim", "-o", "/dev/null"]));
    assert_ok(&run(&[
        "screenshot",
        "--sim",
        "--count",
        "2",
        "--interval",
        "0",
        "-o",
        "/dev/null",
    ]));
    assert_ok(&generate_800x600("/dev/null"));
    assert_char_device("/dev/null");
    assert!(!Path::new("/dev/null-0001.png").exists());
    let out = generate_800x600("/dev/full");
    assert_clean_failure(&out, 1, "No space left on device");
    let out = run(&["screenshot", "--sim", "-o", "/dev/full"]);
    assert_clean_failure(&out, 1, "cannot write /dev/full");
    assert_char_device("/dev/full");
}

#[test]
fn a_fifo_receives_the_picture_and_stays_a_fifo() {
    let dir = tmp();
    let fifo = dir.path().join("pictures");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let reader_path = fifo.clone();
    let reader = crate::common::spawn(move || std::fs::read(reader_path).unwrap());
    let out = run(&[
        "screenshot",
        "--sim",
        "--sim-frame",
        "3",
        "-o",
        path_str(&fifo),
    ]);
    assert_ok(&out);
    let bytes = reader.join().unwrap();
    let copy = dir.path().join("copy.png");
    std::fs::write(&copy, &bytes).unwrap();
    assert_same_image(
        &read_png(&copy),
        &expected_frame(1024, 768, 3, fourcc::parse("XRGB8888").unwrap()),
        "the picture through the FIFO",
    );
    assert!(file_type(&fifo).is_fifo());
}

#[test]
fn a_private_file_stays_private_when_replaced() {
    let dir = tmp();
    let shot = dir.path().join("secret.png");
    std::fs::write(&shot, b"old").unwrap();
    std::fs::set_permissions(&shot, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_ok(&run(&["screenshot", "--sim", "-o", path_str(&shot)]));
    let meta = std::fs::metadata(&shot).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(read_png(&shot).width, 1024);
    let edid = dir.path().join("monitor.bin");
    std::fs::write(&edid, b"old").unwrap();
    std::fs::set_permissions(&edid, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert_ok(&generate_800x600(path_str(&edid)));
    assert_eq!(std::fs::metadata(&edid).unwrap().mode() & 0o777, 0o640);
    assert_eq!(listing(dir.path()), ["monitor.bin", "secret.png"]);
}

#[test]
fn sockets_and_directories_are_refused_in_one_line() {
    let dir = tmp();
    let sock = dir.path().join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let out = run(&["screenshot", "--sim", "-o", path_str(&sock)]);
    assert_clean_failure(&out, 1, "is a socket");
    let out = generate_800x600(path_str(dir.path()));
    assert_clean_failure(&out, 1, "is a directory");
    assert!(file_type(&sock).is_socket());
}

#[test]
fn dash_writes_the_picture_to_stdout() {
    let out = run(&["screenshot", "--sim", "--sim-frame", "5", "-o", "-"]);
    assert_ok(&out);
    assert!(
        stderr(&out).contains("wrote standard output"),
        "{}",
        stderr(&out)
    );
    let dir = tmp();
    let png = dir.path().join("from-stdout.png");
    std::fs::write(&png, &out.stdout).unwrap();
    assert_same_image(
        &read_png(&png),
        &expected_frame(1024, 768, 5, fourcc::parse("XRGB8888").unwrap()),
        "the picture on stdout",
    );
    let out = generate_800x600("-");
    assert_ok(&out);
    assert_eq!(&out.stdout[..8], &[0, 255, 255, 255, 255, 255, 255, 0]);
}

// ---- Bounded input ----

/// The most memory any child of this test process has used, in KiB (Linux reports ru_maxrss
/// in KiB). Only the commands run by this file's tests are children here.
/// Runs each `(arguments, stdin)` of the program under a Python parent of its own and returns
/// the largest resident set (KiB) any of them reached. The parent's RUSAGE_CHILDREN counts only
/// these runs: this test process's own counter also holds the children of every other test in
/// the binary (a viewer or a GPU capture uses far more, by design).
fn max_rss_kib_of(runs: &[(&[&str], &str)]) -> i64 {
    const PARENT: &str = "import json, resource, subprocess, sys\n\
        for args, stdin in json.loads(sys.argv[2]):\n\
        \x20   with open(stdin, 'rb') as i:\n\
        \x20       subprocess.run([sys.argv[1]] + args, stdin=i, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n\
        print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n";
    let runs: Vec<(Vec<&str>, &str)> = runs.iter().map(|(a, i)| (a.to_vec(), *i)).collect();
    let out = std::process::Command::new("python3")
        .args(["-c", PARENT, env!("CARGO_BIN_EXE_vfio-display")])
        .arg(serde_json::to_string(&runs).unwrap())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

const RSS_BOUND_KIB: i64 = 64 * 1024;

#[test]
fn endless_and_huge_edid_input_is_refused_within_the_bound() {
    let out = run(&["edid", "decode", "/dev/zero"]);
    assert_clean_failure(&out, 1, "larger than 32768 bytes");
    let out = run(&["edid", "set", "--sim", "--file", "/dev/zero"]);
    assert_clean_failure(&out, 1, "larger than 32768 bytes");
    let out = bin()
        .args(["edid", "decode", "-"])
        .stdin(std::fs::File::open("/dev/zero").unwrap())
        .output()
        .unwrap();
    assert_clean_failure(&out, 1, "standard input is larger than 32768 bytes");
    // A big hex file (the report's was 150 MB): refused by its size, not parsed.
    let dir = tmp();
    let big = dir.path().join("big.hex");
    std::fs::write(&big, "00 ff ".repeat(200_000)).unwrap();
    let out = run(&["edid", "decode", path_str(&big)]);
    assert_clean_failure(&out, 1, "larger than 32768 bytes");
    let rss = max_rss_kib_of(&[
        (&["edid", "decode", "/dev/zero"], "/dev/null"),
        (
            &["edid", "set", "--sim", "--file", "/dev/zero"],
            "/dev/null",
        ),
        (&["edid", "decode", "-"], "/dev/zero"),
        (&["edid", "decode", path_str(&big)], "/dev/null"),
    ]);
    assert!(rss < RSS_BOUND_KIB, "a run used {rss} KiB");
}

fn generated(dir: &Path, mode: &str) -> PathBuf {
    let path = dir.join(format!("{mode}.bin"));
    assert_ok(&run(&[
        "edid",
        "generate",
        "--mode",
        mode,
        "--max-size",
        "128",
        "-o",
        path_str(&path),
    ]));
    path
}

#[test]
fn bytes_past_the_declared_blocks_are_a_problem() {
    let dir = tmp();
    let base = std::fs::read(generated(dir.path(), "800x600")).unwrap();
    assert_eq!(base.len(), 128);
    for extra in [1usize, 129] {
        let padded = dir.path().join(format!("padded-{extra}.bin"));
        let mut bytes = base.clone();
        bytes.resize(128 + extra, 0);
        std::fs::write(&padded, &bytes).unwrap();
        let out = run(&["edid", "decode", path_str(&padded)]);
        assert_clean_failure(&out, 1, "after the last declared block");
        assert!(
            stdout(&out).contains("800x600"),
            "still decoded: {}",
            stdout(&out)
        );
        let out = run(&["edid", "set", "--sim", "--file", path_str(&padded)]);
        assert_clean_failure(&out, 1, "--force writes it anyway");
        let out = run(&[
            "edid",
            "set",
            "--sim",
            "--force",
            "--file",
            path_str(&padded),
        ]);
        assert_ok(&out);
        assert!(
            stdout(&out).contains(&format!("{} bytes", 128 + extra)),
            "{}",
            stdout(&out)
        );
    }
}

#[test]
fn a_bad_hex_token_is_named_with_its_line() {
    let dir = tmp();
    let hex = dir.path().join("bad.hex");
    std::fs::write(&hex, "00 ff ff ff\nff ff ff 0g\n").unwrap();
    let out = run(&["edid", "decode", path_str(&hex)]);
    assert_clean_failure(&out, 1, "line 2: '0g' is not hex");
    std::fs::write(&hex, "00 ff f\n").unwrap();
    let out = run(&["edid", "set", "--sim", "--file", path_str(&hex)]);
    assert_clean_failure(&out, 1, "'f' has an odd number of hex digits");
}

#[test]
fn link_delays_are_bounded() {
    let out = run(&[
        "edid",
        "set",
        "--sim",
        "--mode",
        "800x600",
        "--link-delay-ms",
        "31536000000",
    ]);
    assert_clean_failure(&out, 2, "--link-delay-ms");
    let out = run(&[
        "edid",
        "hotswap",
        "--sim",
        "--modes",
        "800x600",
        "--link-delay-ms",
        "10001",
    ]);
    assert_clean_failure(&out, 2, "--link-delay-ms");
}

// ---- Standard output ----

/// Runs the command with stdout a pipe whose reader is already gone.
fn with_closed_stdout(args: &[&str]) -> Output {
    let (read, write) = nix::unistd::pipe().unwrap();
    drop(read);
    bin()
        .args(args)
        .stdout(Stdio::from(write))
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_closed_pipe_ends_quietly_by_sigpipe() {
    let dir = tmp();
    let edid = generated(dir.path(), "1024x768");
    let commands: Vec<Vec<&str>> = vec![
        vec!["info", "--sim"],
        vec!["info", "--sim", "--json"],
        vec!["list"],
        vec!["list", "--json"],
        vec!["check", "--sim"],
        vec!["edid", "show", "--sim"],
        vec!["edid", "decode", path_str(&edid)],
        vec!["edid", "decode", "--json", path_str(&edid)],
        vec!["edid", "hotswap", "--sim", "--modes", "800x600"],
        vec!["edid", "generate", "--mode", "800x600", "-o", "-"],
        vec!["screenshot", "--sim", "-o", "-"],
    ];
    for args in commands {
        let out = with_closed_stdout(&args);
        assert_eq!(
            out.status.signal(),
            Some(Signal::SIGPIPE as i32),
            "{args:?}: {:?}, stderr: {}",
            out.status,
            stderr(&out)
        );
        assert!(stderr(&out).is_empty(), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn a_full_disk_on_stdout_is_one_line_and_exit_1() {
    for args in [
        vec!["info", "--sim"],
        vec!["list", "--json"],
        vec!["edid", "show", "--sim"],
    ] {
        let out = bin()
            .args(&args)
            .stdout(
                std::fs::OpenOptions::new()
                    .write(true)
                    .open("/dev/full")
                    .unwrap(),
            )
            .output()
            .unwrap();
        assert_clean_failure(&out, 1, "cannot write to standard output: No space left");
    }
}

// ---- Signals ----

/// Starts a command with stdout piped and returns it with a reader of its lines.
fn spawn_lines(
    args: &[&str],
    dir: &Path,
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    let mut child = bin()
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    crate::common::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

fn child_stderr(child: &mut std::process::Child) -> String {
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    err
}

#[test]
fn sigint_in_a_series_leaves_only_finished_pictures() {
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        let dir = tmp();
        let (mut child, lines) = spawn_lines(
            &[
                "screenshot",
                "--sim",
                "--count",
                "1000",
                "--interval",
                "300",
                "-o",
                "s.png",
            ],
            dir.path(),
        );
        let first = lines.recv_timeout(Duration::from_secs(30)).unwrap();
        assert!(first.starts_with("wrote s-0001.png"), "{first}");
        kill(Pid::from_raw(child.id() as i32), signal).unwrap();
        let status = wait_bounded(&mut child, 10);
        let err = child_stderr(&mut child);
        assert_eq!(status.signal(), Some(signal as i32), "{status:?}: {err}");
        assert!(err.contains("stopped after"), "{err}");
        let names = listing(dir.path());
        assert!(!names.is_empty() && names.len() < 1000, "{names:?}");
        for name in &names {
            assert!(
                name.starts_with("s-") && name.ends_with(".png"),
                "only finished pictures remain: {names:?}"
            );
            assert_eq!(read_png(&dir.path().join(name)).width, 1024);
        }
    }
}

/// Starts a command and waits for its first stderr line, which must contain `needle`: the point
/// where the command is known to be waiting (the event to act on, instead of a sleep).
fn spawn_until_stderr(
    args: &[&str],
    needle: &str,
) -> (std::process::Child, BufReader<std::process::ChildStderr>) {
    let mut child = bin()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.contains(needle), "{args:?}: {line}");
    (child, err)
}

#[test]
fn sigint_during_the_link_delay_raises_the_link_at_once() {
    let (mut child, mut err) = spawn_until_stderr(
        &[
            "edid",
            "set",
            "--sim",
            "--mode",
            "800x600",
            "--link-delay-ms",
            "10000",
        ],
        "Ctrl+C raises it now",
    );
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let status = wait_bounded(&mut child, 5);
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    assert_eq!(status.signal(), Some(Signal::SIGINT as i32), "{rest}");
    assert!(rest.contains("the link raised early"), "{rest}");
}

#[test]
fn sigterm_ends_the_wait_for_a_fifo_reader() {
    let dir = tmp();
    let fifo = dir.path().join("nobody-reads");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let (mut child, _err) = spawn_until_stderr(
        &["screenshot", "--sim", "-o", path_str(&fifo)],
        "waiting for a reader",
    );
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let status = wait_bounded(&mut child, 5);
    assert_eq!(status.signal(), Some(Signal::SIGTERM as i32));
    assert!(file_type(&fifo).is_fifo());
}

// ---- --device-fd ----

/// Runs `info --device-fd N` with `file` inherited as fd N.
fn info_with_fd(fd: std::os::fd::OwnedFd) -> Output {
    use std::os::fd::AsRawFd;
    nix::fcntl::fcntl(
        &fd,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    )
    .unwrap();
    let n = fd.as_raw_fd().to_string();
    let out = bin().args(["info", "--device-fd", &n]).output().unwrap();
    drop(fd);
    out
}

#[test]
fn device_fd_is_checked_before_any_ioctl() {
    let (sock, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let out = info_with_fd(sock.into());
    assert_clean_failure(&out, 1, "is not a VFIO device: it is a socket");
    let (read, _write) = nix::unistd::pipe().unwrap();
    let out = info_with_fd(read);
    assert_clean_failure(&out, 1, "it is a pipe or FIFO");
    let dir = tmp();
    let file = std::fs::File::create(dir.path().join("plain")).unwrap();
    let out = info_with_fd(file.into());
    assert_clean_failure(&out, 1, "it is a regular file");
    let ptmx = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/ptmx")
        .unwrap();
    let out = info_with_fd(ptmx.into());
    assert_clean_failure(&out, 1, "it is a terminal");
}
