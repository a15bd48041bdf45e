//! os-autoinst's own matcher, tinycv, driven from a small Perl script: the reference the
//! `needle` module is held to (tests/it/needle_tinycv.rs).
//!
//! Debian's `os-autoinst` package ships tinycv as a Perl XS module (`auto/tinycv/tinycv.so`).
//! Its Perl wrapper `tinycv.pm` needs Mojo and os-autoinst's `bmwqemu`, so the script
//! bootstraps the XS part alone and calls what `tinycv.pm` `search_` calls: `tinycv::read`,
//! `scale` (what os-autoinst's `enqueue_screenshot` does to every screenshot), `copy`,
//! `replacerect` and `search_needle`.
//!
//! Where it is: `$TINYCV_PERL_LIB` (a directory with `auto/tinycv/tinycv.so` in it), else the
//! package that scripts/install-test-deps.sh unpacks under `/var/cache/vfio-display-tinycv/current`.
#![allow(clippy::disallowed_macros)] // a test explains a skipped case in the log

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where install-test-deps.sh unpacks Debian's os-autoinst package.
pub const CACHE: &str = "/var/cache/vfio-display-tinycv/current";

const SCRIPT: &str = r#"
use strict; use warnings;
package tinycv; require DynaLoader; our @ISA = ('DynaLoader'); bootstrap tinycv;
package main;
$| = 1;
while (my $line = <STDIN>) {
    chomp $line;
    my ($screen, $needle, $area, $excludes) = split /\t/, $line, -1;
    my ($x, $y, $w, $h, $margin) = split / /, $area;
    my $n = tinycv::read($needle) or die "cannot read $needle";
    my $s = tinycv::read($screen) or die "cannot read $screen";
    # backend/baseclass.pm enqueue_screenshot: every screenshot is scaled to the resolution
    # the needles were made at.
    $s = $s->scale($n->xres, $n->yres);
    my @ex = grep { length } split /;/, ($excludes // '');
    # needle.pm _load_image paints the excludes on the needle; tinycv.pm search_ on a copy of
    # the screen.
    $s = $s->copy if @ex;
    for my $r (@ex) {
        my @r = split /,/, $r;
        $n->replacerect(@r);
        $s->replacerect(@r);
    }
    my ($sim, $mx, $my) = $s->search_needle($n, $x, $y, $w, $h, $margin);
    printf "%.17g %d %d\n", $sim, $mx, $my;
}
"#;

/// One search: a screen PNG, a needle PNG, the match area and margin, the exclude areas.
#[derive(Debug, Clone)]
pub struct Case {
    pub screen: PathBuf,
    pub needle: PathBuf,
    /// x, y, width, height.
    pub area: (u32, u32, u32, u32),
    pub margin: u32,
    pub excludes: Vec<(u32, u32, u32, u32)>,
}

/// What tinycv's `search_needle` returned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Found {
    pub similarity: f64,
    pub x: i64,
    pub y: i64,
}

/// tinycv, found and loadable.
#[derive(Debug)]
pub struct Tinycv {
    lib: PathBuf,
}

fn find_so(dir: &Path, depth: u32) -> Option<PathBuf> {
    if dir.join("auto/tinycv/tinycv.so").is_file() {
        return Some(dir.to_path_buf());
    }
    if depth == 0 {
        return None;
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir).ok()?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    entries
        .iter()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir() || t.is_symlink()))
        .find_map(|e| find_so(&e.path(), depth - 1))
}

impl Tinycv {
    /// tinycv, or `None` with the reason printed; under CI (`CI=true`) a missing tinycv fails
    /// the test instead, since CI installs it.
    pub fn find() -> Option<Tinycv> {
        let why = match Self::locate() {
            Ok(t) => return Some(t),
            Err(why) => why,
        };
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{why} (scripts/install-test-deps.sh installs it)");
        }
        eprintln!("skipped: {why}; scripts/install-test-deps.sh installs it");
        None
    }

    fn locate() -> Result<Tinycv, String> {
        let root = std::env::var_os("TINYCV_PERL_LIB")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(CACHE));
        let lib = find_so(&root, 6)
            .ok_or_else(|| format!("no auto/tinycv/tinycv.so under {}", root.display()))?;
        let t = Tinycv { lib };
        // Loading proves OpenCV's libraries are there too.
        let out = t
            .perl()
            .arg("-e")
            .arg("package tinycv; require DynaLoader; our @ISA = ('DynaLoader'); bootstrap tinycv;")
            .output()
            .map_err(|e| format!("perl: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "tinycv.so in {} does not load: {}",
                t.lib.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(t)
    }

    fn perl(&self) -> Command {
        let mut c = Command::new("perl");
        c.arg("-I").arg(&self.lib);
        c
    }

    /// Runs every case through one Perl process.
    pub fn search(&self, cases: &[Case]) -> Vec<Found> {
        let mut child = self
            .perl()
            .arg("-e")
            .arg(SCRIPT)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("perl");
        let mut input = String::new();
        for c in cases {
            let (x, y, w, h) = c.area;
            let ex: Vec<String> = c
                .excludes
                .iter()
                .map(|(x, y, w, h)| format!("{x},{y},{w},{h}"))
                .collect();
            input += &format!(
                "{}\t{}\t{x} {y} {w} {h} {}\t{}\n",
                c.screen.display(),
                c.needle.display(),
                c.margin,
                ex.join(";")
            );
        }
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "the tinycv script failed");
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let v: Vec<&str> = l.split(' ').collect();
                Found {
                    similarity: v[0].parse().unwrap(),
                    x: v[1].parse().unwrap(),
                    y: v[2].parse().unwrap(),
                }
            })
            .collect()
    }
}
