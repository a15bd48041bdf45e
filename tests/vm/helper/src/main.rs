//! The VM suite's helper (tests/vm): it plays the guest and the checks the product cannot make
//! on its own, through the product's library.
//!
//! - `bochs DEVICE --modes 800x600,... --frame N --record DIR --name NAME -- CMD...` acts as the
//!   guest driver of an mbochs device: for each mode it programs the Bochs DISPI registers, draws
//!   the simulator's desktop for frame N through the BAR0 mapping, and runs CMD with `{fd}`
//!   replaced by the device fd it keeps open (mbochs frees its video memory when the last fd
//!   closes) and `{mode}` by the mode; each run's exit code, stdout and stderr go to DIR.
//!   `--pan X,Y` sets the DISPI offsets, `--disable` turns the display off instead.
//! - `mdpy-draw DEVICE --frame N` draws the desktop into mdpy's framebuffer region.
//! - `edid DEVICE` runs the EDID update protocol and checks what the guest sees at BAR2 0x000.
//! - `edid-guest DEVICE FILE` checks that the guest sees exactly FILE (after `edid set`).
//! - `irq DEVICE` checks INTx and MSI eventfds on mtty: loopback, automask, unmask, device-raised.
//! - `edid-corpus DIR` writes the EDID corpus the real guest's kernel builds mode lists from.
//! - `verify DIR` (on the host) asserts every result the VM wrote.
//!
//! Each check prints `ok NAME` or `FAIL NAME: why`.
#![allow(clippy::unwrap_used)]
// test support: a failed unwrap is a failed check
// The helper's output is the VM's serial console, which the suite reads to its end; the
// product's closed-pipe-safe output macros live in its binary, not in the library it links.
#![allow(clippy::disallowed_macros)]

// Shared with the integration tests, which compare the same corpus with the lists a guest
// kernel built (tests/snapshots/edid-corpus-linux.txt).
#[path = "../../../it/common/edid_corpus.rs"]
mod edid_corpus;
// The damaged EDIDs the guest reads as from a monitor (its DDC-style path).
#[path = "../../../it/common/edid_ddc.rs"]
mod edid_ddc;

use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use vfio_display::device::sim::desktop;
use vfio_display::device::{DisplayDevice, RealDevice, edid_port};
use vfio_display::fourcc;
use vfio_display::vfio::{BackendChoice, HostPaths, IrqAction, PlaneSource, PlaneType, RegionIo};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

use vfio_display::device::guest::dispi::{
    DISPI_BASE, DISPI_BPP, DISPI_ENABLE, DISPI_ID, DISPI_VIRT_WIDTH, DISPI_X_OFFSET, DISPI_XRES,
    DISPI_Y_OFFSET, DISPI_YRES,
};

fn dispi_write(dev: &RealDevice, index: u64, value: u16) -> Result<()> {
    Ok(dev.write_region(2, DISPI_BASE + 2 * index, &value.to_le_bytes())?)
}

fn dispi_read(dev: &RealDevice, index: u64) -> Result<u16> {
    let mut b = [0u8; 2];
    dev.read_region(2, DISPI_BASE + 2 * index, &mut b)?;
    Ok(u16::from_le_bytes(b))
}

/// The desktop of `frame`, encoded XRGB8888 with rows of exactly `width` pixels.
fn desktop_xrgb(width: u32, height: u32, frame: u64) -> Vec<u8> {
    let canvas = desktop::render(width, height, frame);
    let xrgb = fourcc::parse("XRGB8888").expect("XRGB8888 is known");
    vfio_display::device::sim::encode_canvas(&canvas, xrgb, width * 4)
}

fn parse_mode(s: &str) -> Result<(u32, u32)> {
    let (w, h) = s.split_once('x').ok_or("mode is WxH")?;
    Ok((w.parse()?, h.parse()?))
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// Opens the mdev through the path VFIO_DISPLAY_BACKEND names (auto, cdev or group), as the
/// product does, so that each VM pass holds the device the way it tests.
fn open(spec: &str) -> Result<RealDevice> {
    let choice = match std::env::var("VFIO_DISPLAY_BACKEND").as_deref() {
        Ok("cdev") => BackendChoice::Cdev,
        Ok("group") => BackendChoice::Group,
        _ => BackendChoice::Auto,
    };
    Ok(RealDevice::open_with(spec, &HostPaths::default(), choice)?)
}

fn bochs(args: &[String]) -> Result<()> {
    let split = args
        .iter()
        .position(|a| a == "--")
        .ok_or("bochs needs -- CMD")?;
    let (opts, cmd) = (&args[..split], &args[split + 1..]);
    let dev = open(&opts[0])?;
    let modes = flag(opts, "--modes").ok_or("--modes")?;
    let frame: u64 = flag(opts, "--frame")
        .unwrap_or_else(|| "0".into())
        .parse()?;
    let record = PathBuf::from(flag(opts, "--record").ok_or("--record")?);
    let name = flag(opts, "--name").ok_or("--name")?;
    let pan = flag(opts, "--pan").map(|p| {
        let (x, y) = p.split_once(',').unwrap_or(("0", "0"));
        (x.parse::<u16>().unwrap_or(0), y.parse::<u16>().unwrap_or(0))
    });
    let disable = opts.iter().any(|a| a == "--disable");
    let id = dispi_read(&dev, DISPI_ID)?;
    if id & 0xfff0 != 0xb0c0 {
        return Err(format!("DISPI ID reads {id:#x}, not a Bochs display").into());
    }
    let vram = dev.map_region(0, 0, dev.region_info(0)?.size, true)?;
    // The product runs as a child with our device fd: it must survive exec.
    nix::fcntl::fcntl(
        dev.vfio().as_fd(),
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    )?;
    let fd = dev.vfio().as_fd().as_raw_fd().to_string();
    for mode in modes.split(',') {
        let (w, h) = parse_mode(mode)?;
        dispi_write(&dev, DISPI_ENABLE, 0)?;
        if !disable {
            dispi_write(&dev, DISPI_XRES, w as u16)?;
            dispi_write(&dev, DISPI_YRES, h as u16)?;
            dispi_write(&dev, DISPI_BPP, 32)?;
            dispi_write(&dev, DISPI_VIRT_WIDTH, w as u16)?;
            let (px, py) = pan.unwrap_or((0, 0));
            dispi_write(&dev, DISPI_X_OFFSET, px)?;
            dispi_write(&dev, DISPI_Y_OFFSET, py)?;
            let offset = (u64::from(py) * u64::from(w) + u64::from(px)) * 4;
            vram.write_from(offset as usize, &desktop_xrgb(w, h, frame))?;
            dispi_write(&dev, DISPI_ENABLE, 0x41)?;
        }
        let argv: Vec<String> = cmd
            .iter()
            .map(|a| a.replace("{fd}", &fd).replace("{mode}", mode))
            .collect();
        let out = Command::new(&argv[0]).args(&argv[1..]).output()?;
        let base = record.join(format!("{name}-{mode}"));
        std::fs::write(
            base.with_extension("rc"),
            format!("{}\n", out.status.code().unwrap_or(-1)),
        )?;
        std::fs::write(base.with_extension("out"), &out.stdout)?;
        std::fs::write(base.with_extension("err"), &out.stderr)?;
        println!("ran {name} {mode}: {}", out.status);
    }
    Ok(())
}

fn mdpy_draw(args: &[String]) -> Result<()> {
    let dev = open(&args[0])?;
    let frame: u64 = flag(args, "--frame")
        .unwrap_or_else(|| "0".into())
        .parse()?;
    let plane = dev.query_plane(PlaneType::Primary, PlaneSource::Region)?;
    let map = dev.map_region(
        plane.buffer_id,
        0,
        u64::from(plane.stride) * u64::from(plane.height),
        true,
    )?;
    map.write_from(0, &desktop_xrgb(plane.width, plane.height, frame))?;
    println!(
        "drew frame {frame} at {}x{} into region {}",
        plane.width, plane.height, plane.buffer_id
    );
    Ok(())
}

fn check(name: &str, ok: bool, why: impl std::fmt::Display) -> bool {
    if ok {
        println!("ok {name}");
    } else {
        println!("FAIL {name}: {why}");
    }
    ok
}

fn edid(args: &[String]) -> Result<()> {
    let dev = open(&args[0])?;
    let port = edid_port(&dev)?;
    let regs = port.registers()?;
    check(
        "edid-registers",
        regs.edid_max_size >= 128 && regs.edid_offset >= 24,
        format!("{regs:?}"),
    );
    let blob = vfio_display::edid::generate(&vfio_display::edid::EdidSpec::new(
        vfio_display::edid::Mode::new(800, 600, 60),
    ))?;
    let guest_view = |len: usize| -> Result<Vec<u8>> {
        let mut b = vec![0u8; len];
        dev.read_region(2, 0, &mut b)?;
        Ok(b)
    };
    port.set_link(false)?;
    port.write_blob(&blob)?;
    let down = guest_view(128)?;
    check(
        "edid-link-down-reads-zero",
        down.iter().all(|&b| b == 0),
        format!("{:02x?}", &down[..16]),
    );
    std::thread::sleep(Duration::from_millis(100));
    port.set_link(true)?;
    let up = guest_view(128)?;
    check(
        "edid-link-up-shows-blob",
        up == blob,
        format!("{:02x?}", &up[..16]),
    );
    let regs = port.registers()?;
    check(
        "edid-size-and-link",
        regs.edid_size == 128 && regs.link_state == 1,
        format!("{regs:?}"),
    );
    check("edid-read-back", port.read_blob()? == blob, "blob differs");
    // The whole protocol in one call, with another mode.
    let blob2 = vfio_display::edid::generate(&vfio_display::edid::EdidSpec::new(
        vfio_display::edid::Mode::new(640, 480, 60),
    ))?;
    port.update(&blob2, Duration::from_millis(100))?;
    check(
        "edid-update-protocol",
        guest_view(128)? == blob2,
        "guest view differs after update",
    );
    Ok(())
}

/// `edid-guest DEVICE FILE`: what the guest sees of the EDID (mbochs shows the blob at BAR2
/// 0x000 while the link is up) equals FILE, as `edid set` should have left it.
/// `qmp SOCKET JSON`: sends one QMP command to a QEMU (after the greeting and capability
/// negotiation) and prints its answer; exit 1 on a QMP error. QEMU's own screendump is taken
/// this way, to compare with ours.
fn qmp(args: &[String]) -> Result<()> {
    use std::io::{BufRead, BufReader, Write};
    let [socket, command] = args else {
        return Err("usage: vm_helper qmp SOCKET JSON".into());
    };
    let stream = std::os::unix::net::UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let mut line = String::new();
    reader.read_line(&mut line)?;
    for request in ["{\"execute\":\"qmp_capabilities\"}", command.as_str()] {
        writer.write_all(format!("{request}\n").as_bytes())?;
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Err("QEMU closed the QMP socket".into());
            }
            let answer: serde_json::Value = serde_json::from_str(&line)?;
            if answer.get("error").is_some() {
                return Err(format!("QMP error: {}", line.trim()).into());
            }
            if answer.get("return").is_some() {
                break;
            }
        }
    }
    println!("{}", line.trim());
    Ok(())
}

/// A connection to a server: TCP or a unix socket.
trait Conn: std::io::Read + std::io::Write {}
impl<T: std::io::Read + std::io::Write> Conn for T {}

/// A VNC client of the simplest kind (RFB 3.8, Raw; no security, or VNC authentication with
/// `--password P`): `vnc PORT|unix:PATH OUT.png [--password P] [--until-closed]` waits up to 60 s for
/// the server, asks for the whole screen once and writes it as PNG. It checks `serve` from
/// inside the VM, where no other VNC client is installed. With `--until-closed` it then stays
/// connected until the server closes the connection (at most 120 s).
fn vnc(args: &[String]) -> Result<()> {
    use std::io::{Read, Write};
    let usage = "usage: vm_helper vnc PORT|unix:PATH OUT.png [--password P] [--until-closed]";
    let [port, out, rest @ ..] = args else {
        return Err(usage.into());
    };
    let mut password = None;
    let mut until_closed = false;
    let mut rest = rest.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--password" => password = Some(rest.next().ok_or(usage)?.as_bytes()),
            "--until-closed" => until_closed = true,
            _ => return Err(usage.into()),
        }
    }
    let start = std::time::Instant::now();
    let timeout = Some(Duration::from_secs(120));
    let mut s: Box<dyn Conn> = loop {
        let connected: std::io::Result<Box<dyn Conn>> = match port.strip_prefix("unix:") {
            Some(path) => std::os::unix::net::UnixStream::connect(path).and_then(|s| {
                s.set_read_timeout(timeout)?;
                Ok(Box::new(s) as Box<dyn Conn>)
            }),
            None => {
                let port: u16 = port.parse()?;
                std::net::TcpStream::connect(("127.0.0.1", port)).and_then(|s| {
                    s.set_read_timeout(timeout)?;
                    Ok(Box::new(s) as Box<dyn Conn>)
                })
            }
        };
        match connected {
            Ok(s) => break s,
            Err(_) if start.elapsed() < Duration::from_secs(60) => {
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => return Err(format!("no server at {port} after 60 s: {e}").into()),
        }
    };
    let mut version = [0u8; 12];
    s.read_exact(&mut version)?;
    if &version[..4] != b"RFB " {
        return Err(format!("not an RFB server: {version:?}").into());
    }
    s.write_all(b"RFB 003.008\n")?;
    let mut b = [0u8; 2];
    s.read_exact(&mut b)?;
    let kind = if password.is_some() { 2 } else { 1 };
    if b != [1, kind] {
        return Err(format!("security types {b:?}, want [{kind}]").into());
    }
    s.write_all(&[kind])?;
    if let Some(password) = password {
        let mut challenge = [0u8; 16];
        s.read_exact(&mut challenge)?;
        s.write_all(&vfio_display::rfb::auth::response(password, &challenge))?;
    }
    let mut result = [0u8; 4];
    s.read_exact(&mut result)?;
    if result != [0; 4] {
        return Err(format!("the server refused the client: {result:?}").into());
    }
    s.write_all(&[1])?;
    let mut init = [0u8; 24];
    s.read_exact(&mut init)?;
    let (w, h) = (
        usize::from(u16::from_be_bytes([init[0], init[1]])),
        usize::from(u16::from_be_bytes([init[2], init[3]])),
    );
    let mut name = vec![0u8; u32::from_be_bytes([init[20], init[21], init[22], init[23]]) as usize];
    s.read_exact(&mut name)?;
    // Raw only; the server's pixel format (32-bit little-endian 0x00RRGGBB) kept.
    s.write_all(&[2, 0, 0, 1, 0, 0, 0, 0])?;
    let mut request = vec![3, 0, 0, 0, 0, 0];
    request.extend_from_slice(&(w as u16).to_be_bytes());
    request.extend_from_slice(&(h as u16).to_be_bytes());
    s.write_all(&request)?;
    let mut rgb = vec![0u8; w * h * 3];
    let mut head = [0u8; 4];
    s.read_exact(&mut head)?;
    let rects = u16::from_be_bytes([head[2], head[3]]);
    for _ in 0..rects {
        let mut r = [0u8; 12];
        s.read_exact(&mut r)?;
        let v = |i: usize| usize::from(u16::from_be_bytes([r[i], r[i + 1]]));
        let (x, y, rw, rh) = (v(0), v(2), v(4), v(6));
        if i32::from_be_bytes([r[8], r[9], r[10], r[11]]) != 0 || x + rw > w || y + rh > h {
            return Err(format!("unexpected rectangle {r:?}").into());
        }
        let mut px = vec![0u8; rw * rh * 4];
        s.read_exact(&mut px)?;
        for (i, p) in px.chunks_exact(4).enumerate() {
            let at = ((y + i / rw) * w + x + i % rw) * 3;
            rgb[at..at + 3].copy_from_slice(&[p[2], p[1], p[0]]);
        }
    }
    let file = std::fs::File::create(out)?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), w as u32, h as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header()?.write_image_data(&rgb)?;
    println!("{w}x{h} in {rects} rectangles");
    if until_closed {
        // Updates that were asked for may still come; then the server ends the connection.
        let mut rest = Vec::new();
        match s.read_to_end(&mut rest) {
            Ok(_) => println!("closed by the server"),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                println!("reset by the server")
            }
            Err(e) => return Err(format!("still connected: {e}").into()),
        }
    }
    Ok(())
}

fn edid_guest(args: &[String]) -> Result<()> {
    let dev = open(&args[0])?;
    let want = std::fs::read(args.get(1).ok_or("edid-guest needs DEVICE FILE")?)?;
    let port = edid_port(&dev)?;
    let regs = port.registers()?;
    check(
        "edid-guest-registers",
        regs.edid_size as usize == want.len() && regs.link_state == 1,
        format!("{regs:?}, file {} bytes", want.len()),
    );
    let mut seen = vec![0u8; want.len()];
    dev.read_region(2, 0, &mut seen)?;
    let first_diff = seen.iter().zip(&want).position(|(a, b)| a != b);
    check(
        "edid-guest-view",
        first_diff.is_none(),
        format!("guest view differs from the file at byte {first_diff:?}"),
    );
    let decoded = vfio_display::edid::decode(&seen)?;
    check(
        "edid-guest-decodes",
        decoded.problems.is_empty() && decoded.preferred_mode().is_some(),
        format!("{:?}", decoded.problems),
    );
    Ok(())
}

fn poll_readable(fd: &nix::sys::eventfd::EventFd, ms: u16) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    poll(&mut fds, PollTimeout::from(ms)).unwrap_or(0) == 1
}

fn irq(args: &[String]) -> Result<()> {
    let dev = open(&args[0])?;
    let intx = dev.irq_info(0)?;
    check(
        "irq-intx-info",
        intx.count == 1 && intx.eventfd() && intx.maskable() && intx.automasked(),
        format!("{intx:?}"),
    );
    let msi = dev.irq_info(1)?;
    check(
        "irq-msi-info",
        msi.count == 1 && msi.eventfd(),
        format!("{msi:?}"),
    );
    let efd = nix::sys::eventfd::EventFd::new()?;
    dev.set_irq_eventfds(0, 0, &[Some(efd.as_fd())])?;
    dev.irq_action(IrqAction::Trigger, 0, 0, 1)?;
    let first = poll_readable(&efd, 500);
    check("irq-intx-loopback", first, "no signal");
    if first {
        efd.read()?;
    }
    dev.irq_action(IrqAction::Trigger, 0, 0, 1)?;
    check(
        "irq-intx-silent-while-automasked",
        !poll_readable(&efd, 200),
        "signalled while masked",
    );
    dev.irq_action(IrqAction::Unmask, 0, 0, 1)?;
    dev.irq_action(IrqAction::Trigger, 0, 0, 1)?;
    let again = poll_readable(&efd, 500);
    check("irq-intx-after-unmask", again, "no signal after unmask");
    if again {
        efd.read()?;
    }
    dev.disable_irq(0)?;
    let mfd = nix::sys::eventfd::EventFd::new()?;
    dev.set_irq_eventfds(1, 0, &[Some(mfd.as_fd())])?;
    dev.irq_action(IrqAction::Trigger, 1, 0, 1)?;
    let msi_ok = poll_readable(&mfd, 500);
    check("irq-msi-loopback", msi_ok, "no signal");
    if msi_ok {
        mfd.read()?;
    }
    // The device raises it itself: IER = THRI (transmit holding register empty) at BAR0 + 1.
    dev.write_region(0, 1, &[0x02])?;
    check(
        "irq-device-raised-thri",
        poll_readable(&mfd, 1000),
        "no interrupt after IER=THRI",
    );
    dev.disable_irq(1)?;
    Ok(())
}

/// Host side: asserts the results one VM run wrote.
fn verify(args: &[String]) -> Result<()> {
    let dir = PathBuf::from(&args[0]);
    let mut passed = 0;
    let mut failed = 0;
    let mut note = |name: &str, ok: bool, why: String| {
        if ok {
            passed += 1;
            println!("  pass {name}");
        } else {
            failed += 1;
            println!("  FAIL {name}: {why}");
        }
    };
    let expectations = std::fs::read_to_string(dir.join("expect")).map_err(|e| {
        format!("no expectations in {} ({e}): the guest script did not run; see its log and serial.log there", dir.display())
    })?;
    for line in expectations.lines().filter(|l| !l.trim().is_empty()) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (kind, name) = (words[0], words[1]);
        let read = |ext: &str| {
            std::fs::read_to_string(dir.join(format!("{name}.{ext}"))).unwrap_or_default()
        };
        let rc = read("rc").trim().parse::<i32>().unwrap_or(-999);
        let err = read("err");
        match kind {
            // rc NAME CODE [TEXT...]: exit code and, optionally, a phrase on stderr.
            "rc" => {
                let want: i32 = words[2].parse()?;
                let text = words[3..].join(" ");
                note(
                    name,
                    rc == want && err.contains(&text),
                    format!("exit {rc} (want {want}), stderr: {}", err.trim()),
                );
            }
            // absent NAME TEXT...: stderr does not contain the phrase.
            "absent" => {
                let text = words[2..].join(" ");
                note(
                    &format!("{name}-without-{}", words[2]),
                    !err.contains(&text),
                    format!("stderr has {text:?}: {}", err.trim()),
                );
            }
            // png NAME W H FRAME: the capture equals the desktop of FRAME.
            // gray NAME W H: mdpy's initial gradient, row y = y * 255 / H.
            "png" | "gray" => {
                let (w, h): (u32, u32) = (words[2].parse()?, words[3].parse()?);
                let path = dir.join(format!("{name}.png"));
                let why = if kind == "png" {
                    let expected = desktop::render(w, h, words[4].parse()?);
                    compare_png(&path, |x, y, c| c == &expected.pixel(x, y)[..3], w, h)
                } else {
                    compare_png(
                        &path,
                        |_, y, c| c.iter().all(|&v| u32::from(v) == y * 255 / h),
                        w,
                        h,
                    )
                };
                note(
                    name,
                    rc == 0 && why.is_none(),
                    format!(
                        "exit {rc}, {}, stderr: {}",
                        why.unwrap_or_default(),
                        err.trim()
                    ),
                );
            }
            // checks NAME: every line of NAME.out is "ok ..."; at least N of them.
            "checks" => {
                let out = read("out");
                let min: usize = words.get(2).and_then(|n| n.parse().ok()).unwrap_or(1);
                let oks = out.lines().filter(|l| l.starts_with("ok ")).count();
                let fails: Vec<&str> = out.lines().filter(|l| l.starts_with("FAIL")).collect();
                note(
                    name,
                    rc == 0 && fails.is_empty() && oks >= min,
                    format!("exit {rc}, {oks} ok, {fails:?}, stderr: {}", err.trim()),
                );
            }
            // json NAME KEY=VALUE...: fields of NAME.out (a JSON document), by JSON pointer,
            // and exit 0; jsonrc NAME CODE KEY=VALUE...: the same with exit CODE.
            "json" | "jsonrc" => {
                let v: serde_json::Value = serde_json::from_str(&read("out")).unwrap_or_default();
                let (want_rc, pairs) = if kind == "jsonrc" {
                    (
                        words.get(2).and_then(|c| c.parse().ok()).unwrap_or(-1),
                        &words[3..],
                    )
                } else {
                    (0, &words[2..])
                };
                let mut bad = Vec::new();
                for kv in pairs {
                    let (k, want) = kv.split_once('=').unwrap_or((kv, ""));
                    let got = v
                        .pointer(k)
                        .map(|g| g.to_string().trim_matches('"').to_string())
                        .unwrap_or_default();
                    if got != want {
                        bad.push(format!("{k} = {got:?}, want {want:?}"));
                    }
                }
                note(
                    name,
                    rc == want_rc && bad.is_empty(),
                    format!(
                        "exit {rc} (want {want_rc}), {bad:?}, stderr: {}",
                        err.trim()
                    ),
                );
            }
            // kms NAME W H: the capture shows the nested guest's KMS pattern (tests/vm/nested/kms.c).
            // kms-any PREFIX W H: some capture PREFIX*.png of a series does.
            "kms" | "kms-any" => {
                let (w, h): (u32, u32) = (words[2].parse()?, words[3].parse()?);
                let want = |x: u32, y: u32, c: &[u8]| {
                    c == [
                        (x * 255 / (w - 1)) as u8,
                        (y * 255 / (h - 1)) as u8,
                        ((x ^ y) & 0xff) as u8,
                    ]
                };
                let files: Vec<PathBuf> = if kind == "kms" {
                    vec![dir.join(format!("{name}.png"))]
                } else {
                    matching_pngs(&dir, name)
                };
                let matched = files.iter().any(|f| compare_png(f, want, w, h).is_none());
                note(
                    &format!("{name}* (KMS pattern {w}x{h})"),
                    matched,
                    format!(
                        "none of {} capture(s) shows the {w}x{h} pattern",
                        files.len()
                    ),
                );
            }
            // rawfb NAME RAW W H STRIDE: the capture equals a raw XRGB8888 dump (a guest's
            // /dev/fb0) of W x H pixels, STRIDE bytes a row, and the command succeeded.
            // rawfb-any PREFIX RAW W H STRIDE: some capture PREFIX*.png of a series does.
            "rawfb" | "rawfb-any" => {
                let raw = std::fs::read(dir.join(words[2])).unwrap_or_default();
                let (w, h, stride): (u32, u32, usize) =
                    (words[3].parse()?, words[4].parse()?, words[5].parse()?);
                let files: Vec<PathBuf> = if kind == "rawfb" {
                    vec![dir.join(format!("{name}.png"))]
                } else {
                    matching_pngs(&dir, name)
                };
                let equal = |f: &PathBuf| {
                    compare_png(
                        f,
                        |x, y, c| {
                            let i = y as usize * stride + x as usize * 4;
                            c == [raw[i + 2], raw[i + 1], raw[i]]
                        },
                        w,
                        h,
                    )
                    .is_none()
                };
                let matched = raw.len() >= stride * h as usize
                    && (kind == "rawfb-any" || rc == 0)
                    && files.iter().any(equal);
                note(
                    &format!(
                        "{name}{} (equals {})",
                        if kind == "rawfb" { "" } else { "*" },
                        words[2]
                    ),
                    matched,
                    format!(
                        "exit {rc}, none of {} capture(s) equals the {}-byte dump {}, stderr: {}",
                        files.len(),
                        raw.len(),
                        words[2],
                        err.trim()
                    ),
                );
            }
            // section NAME FILE TAG EXPECTED: the lines between TAG-BEGIN and TAG-END of FILE,
            // hex bytes, equal the bytes of file EXPECTED (a guest's EDID against ours).
            "hexsection" => {
                let text = std::fs::read_to_string(dir.join(words[2])).unwrap_or_default();
                let got: Vec<u8> = section(&text, words[3])
                    .iter()
                    .flat_map(|l| l.split_whitespace())
                    .filter_map(|b| u8::from_str_radix(b, 16).ok())
                    .collect();
                let want = std::fs::read(dir.join(words[4])).unwrap_or_default();
                note(
                    name,
                    !want.is_empty() && got == want,
                    format!(
                        "{} bytes from the guest, {} expected; differ",
                        got.len(),
                        want.len()
                    ),
                );
            }
            // linuxmodes NAME FILE TAG EDID VRAM: section TAG of FILE (a Linux guest's
            // /sys/class/drm/*/modes for EDID) lists exactly the modes `edid decode --modes`
            // gives for EDID, in the same order, less those bochs-drm prunes for a VRAM of VRAM
            // bytes (it needs room for two frames of 4 bytes a pixel).
            "linuxmodes" => {
                let text = std::fs::read_to_string(dir.join(words[2])).unwrap_or_default();
                let kernel: Vec<String> = section(&text, words[3])
                    .iter()
                    .map(|l| l.trim().to_string())
                    .filter(|l| !l.is_empty())
                    .collect();
                let blob = std::fs::read(dir.join(words[4])).unwrap_or_default();
                let vram: u64 = words[5].parse()?;
                let ours: Vec<String> = vfio_display::edid::decode(&blob)
                    .map(|d| d.linux_modes())
                    .unwrap_or_default()
                    .iter()
                    .filter(|m| u64::from(m.mode.width) * u64::from(m.mode.height) * 8 <= vram)
                    .map(|m| {
                        format!(
                            "{}x{}{}",
                            m.mode.width,
                            m.mode.height,
                            if m.interlaced { "i" } else { "" }
                        )
                    })
                    .collect();
                note(
                    name,
                    !kernel.is_empty() && ours == kernel,
                    format!("ours {ours:?}, the guest kernel's {kernel:?}"),
                );
            }
            // linuxcorpus NAME FILE: for each EDID of the corpus, the guest kernel's mode list
            // in FILE equals `edid decode --modes`'s (see edid_corpus::check).
            "linuxcorpus" => {
                let text = std::fs::read_to_string(dir.join(words[2])).unwrap_or_default();
                for (check, ok, why) in edid_corpus::check(|tag| section(&text, tag)) {
                    note(&format!("{name}-{check}"), ok, why);
                }
            }
            // linuxddc NAME FILE: for each damaged EDID, what the guest kernel kept of it and
            // its mode list equal linux_read's and `edid decode --modes`'s (edid_ddc::check).
            "linuxddc" => {
                let text = std::fs::read_to_string(dir.join(words[2])).unwrap_or_default();
                for (check, ok, why) in edid_ddc::check(|tag| section(&text, tag)) {
                    note(&format!("{name}-{check}"), ok, why);
                }
            }
            // firstline NAME FILE TAG TEXT: the first line of section TAG is TEXT.
            "firstline" => {
                let text = std::fs::read_to_string(dir.join(words[2])).unwrap_or_default();
                let lines = section(&text, words[3]);
                let first = lines.first().map(|l| l.trim()).unwrap_or("");
                note(
                    name,
                    first == words[4],
                    format!("section {} starts with {first:?}: {lines:?}", words[3]),
                );
            }
            // samepng NAME OTHER: NAME.png and OTHER.png have the same size and pixels.
            "samepng" => {
                let other = read_rgb(&dir.join(format!("{}.png", words[2])));
                let why = match other {
                    Err(e) => Some(e),
                    Ok((w, h, pixels)) => compare_png(
                        &dir.join(format!("{name}.png")),
                        |x, y, c| {
                            let i = (y as usize * w as usize + x as usize) * 3;
                            c == &pixels[i..i + 3]
                        },
                        w,
                        h,
                    ),
                };
                note(
                    &format!("{name} (equals {})", words[2]),
                    rc == 0 && why.is_none(),
                    format!(
                        "exit {rc}, {}, stderr: {}",
                        why.unwrap_or_default(),
                        err.trim()
                    ),
                );
            }
            // apnglast NAME FILE RAW W H STRIDE: NAME succeeded, and the last picture of the
            // animated PNG FILE (its frames composed as APNG says) equals the raw XRGB8888 dump
            // RAW of W x H pixels, STRIDE bytes a row.
            "apnglast" => {
                let raw = std::fs::read(dir.join(words[3])).unwrap_or_default();
                let (w, h, stride): (u32, u32, usize) =
                    (words[4].parse()?, words[5].parse()?, words[6].parse()?);
                let why = match apng_last_frame(&dir.join(words[2])) {
                    Err(e) => Some(e),
                    Ok((frames, fw, fh, _)) if (fw, fh) != (w, h) => {
                        Some(format!("{frames} frames of {fw}x{fh}, want {w}x{h}"))
                    }
                    Ok(_) if raw.len() < stride * h as usize => {
                        Some(format!("the dump {} has {} bytes", words[3], raw.len()))
                    }
                    Ok((frames, _, _, rgb)) => (0..h)
                        .flat_map(|y| (0..w).map(move |x| (x, y)))
                        .find(|&(x, y)| {
                            let i = y as usize * stride + x as usize * 4;
                            let j = (y as usize * w as usize + x as usize) * 3;
                            rgb[j..j + 3] != [raw[i + 2], raw[i + 1], raw[i]]
                        })
                        .map(|(x, y)| format!("of {frames} frames, the last differs at ({x},{y})")),
                };
                note(
                    &format!("{name} (last frame of {} equals {})", words[2], words[3]),
                    rc == 0 && why.is_none(),
                    format!(
                        "exit {rc}, {}, stderr: {}",
                        why.unwrap_or_default(),
                        err.trim()
                    ),
                );
            }
            // rounds NAME FILE N TEXT...: FILE has the lines "ROUND i TEXT" for i in 1..=N,
            // each once, in order.
            "rounds" => {
                let text = std::fs::read_to_string(dir.join(words[2])).unwrap_or_default();
                let n: usize = words[3].parse()?;
                let want: Vec<String> = (1..=n)
                    .map(|i| format!("ROUND {i} {}", words[4..].join(" ")))
                    .collect();
                let got: Vec<String> = text
                    .lines()
                    .filter(|l| l.starts_with("ROUND "))
                    .map(|l| l.trim().to_string())
                    .collect();
                note(name, got == want, format!("rounds {got:?}, want {want:?}"));
            }
            // evidence NAME DIR NEEDLE: NAME failed with exit status 1 and left in DIR a JSON
            // whose best candidate is NEEDLE, beside the picture it names.
            "evidence" => {
                let found = std::fs::read_dir(dir.join(words[2]))
                    .map(|entries| {
                        entries
                            .filter_map(|e| e.ok().map(|e| e.path()))
                            .filter(|p| p.extension().is_some_and(|e| e == "json"))
                            .filter_map(|p| std::fs::read(&p).ok())
                            .filter_map(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                            .any(|j| {
                                j["candidates"][0]["needle"] == words[3]
                                    && j["frame"]
                                        .as_str()
                                        .is_some_and(|f| dir.join(words[2]).join(f).is_file())
                            })
                    })
                    .unwrap_or(false);
                note(
                    name,
                    rc == 1 && found,
                    format!(
                        "exit {rc} (want 1), evidence for {} found: {found}, stderr: {}",
                        words[3],
                        err.trim()
                    ),
                );
            }
            other => note(name, false, format!("unknown expectation kind {other}")),
        }
    }
    println!("vm: {passed} passed, {failed} failed");
    if failed > 0 || passed == 0 {
        std::process::exit(1);
    }
    Ok(())
}

/// An animated PNG's frame count, size and the RGB pixels of its last picture: every frame
/// composed onto the canvas at its offset, as the APNG rules say (dispose and blend ops).
fn apng_last_frame(path: &Path) -> std::result::Result<(u32, u32, u32, Vec<u8>), String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::ALPHA);
    let mut reader = decoder
        .read_info()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let (w, h) = (reader.info().width, reader.info().height);
    let frames = reader
        .info()
        .animation_control()
        .map_or(1, |a| a.num_frames);
    let mut canvas = vec![0u8; w as usize * h as usize * 4];
    let mut buf = vec![0; reader.output_buffer_size().ok_or("no buffer size")?];
    // What the previous frame asked to be done with its area once shown.
    let mut dispose: Option<(png::FrameControl, Vec<u8>)> = None;
    for _ in 0..frames {
        let info = reader
            .next_frame(&mut buf)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if let Some((fc, saved)) = dispose.take() {
            for y in 0..fc.height as usize {
                for x in 0..fc.width as usize {
                    let c =
                        ((fc.y_offset as usize + y) * w as usize + fc.x_offset as usize + x) * 4;
                    let px: [u8; 4] = match fc.dispose_op {
                        png::DisposeOp::Background => [0; 4],
                        png::DisposeOp::Previous => {
                            let i = (y * fc.width as usize + x) * 4;
                            [saved[i], saved[i + 1], saved[i + 2], saved[i + 3]]
                        }
                        png::DisposeOp::None => continue,
                    };
                    canvas[c..c + 4].copy_from_slice(&px);
                }
            }
        }
        let fc = reader
            .info()
            .frame_control()
            .copied()
            .unwrap_or(png::FrameControl {
                width: w,
                height: h,
                ..Default::default()
            });
        if fc.x_offset + info.width > w || fc.y_offset + info.height > h {
            return Err(format!("a frame leaves the {w}x{h} canvas"));
        }
        let mut saved = Vec::new();
        for y in 0..info.height as usize {
            for x in 0..info.width as usize {
                let c = ((fc.y_offset as usize + y) * w as usize + fc.x_offset as usize + x) * 4;
                let i = (y * info.width as usize + x) * 4;
                let src = [buf[i], buf[i + 1], buf[i + 2], buf[i + 3]];
                saved.extend_from_slice(&canvas[c..c + 4]);
                match fc.blend_op {
                    png::BlendOp::Source => canvas[c..c + 4].copy_from_slice(&src),
                    png::BlendOp::Over => {
                        let a = u32::from(src[3]);
                        for k in 0..3 {
                            canvas[c + k] = ((u32::from(src[k]) * a
                                + u32::from(canvas[c + k]) * (255 - a)
                                + 127)
                                / 255) as u8;
                        }
                        canvas[c + 3] = canvas[c + 3].max(src[3]);
                    }
                }
            }
        }
        dispose = Some((fc, saved));
    }
    let rgb = canvas
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    Ok((frames, w, h, rgb))
}

/// A PNG's size and RGB pixels.
fn read_rgb(path: &Path) -> std::result::Result<(u32, u32, Vec<u8>), String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut buf = vec![0; reader.output_buffer_size().ok_or("no buffer size")?];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let channels = info.color_type.samples();
    if info.bit_depth != png::BitDepth::Eight || channels < 3 {
        return Err(format!("{}: not 8-bit RGB", path.display()));
    }
    let rgb = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    Ok((info.width, info.height, rgb))
}

/// The PNGs of a series: `PREFIX-0001.png`, ... (and `PREFIX.png`), in `dir`.
fn matching_pngs(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".png"))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// The lines between `TAG-BEGIN` and `TAG-END` (carriage returns from the serial line removed).
fn section<'t>(text: &'t str, tag: &str) -> Vec<&'t str> {
    let begin = format!("{tag}-BEGIN");
    let end = format!("{tag}-END");
    text.lines()
        .map(|l| l.trim_end_matches('\r'))
        .skip_while(|l| *l != begin)
        .skip(1)
        .take_while(|l| *l != end)
        .collect()
}

/// Compares a PNG pixel by pixel; returns what is wrong, or None.
fn compare_png(
    path: &Path,
    want: impl Fn(u32, u32, &[u8]) -> bool,
    w: u32,
    h: u32,
) -> Option<String> {
    let decoded = (|| {
        let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        let mut reader = png::Decoder::new(std::io::BufReader::new(file))
            .read_info()
            .map_err(|e| e.to_string())?;
        let mut buf = vec![0; reader.output_buffer_size().ok_or("no buffer size")?];
        let info = reader.next_frame(&mut buf).map_err(|e| e.to_string())?;
        Ok::<_, String>((buf, info))
    })();
    let (buf, info) = match decoded {
        Ok(d) => d,
        Err(e) => return Some(format!("{}: {e}", path.display())),
    };
    if (info.width, info.height) != (w, h) {
        return Some(format!("size {}x{}, want {w}x{h}", info.width, info.height));
    }
    let channels = info.color_type.samples();
    for y in 0..h {
        for x in 0..w {
            let i = (y as usize * w as usize + x as usize) * channels;
            if !want(x, y, &buf[i..i + 3]) {
                return Some(format!("pixel ({x},{y}) is {:?}", &buf[i..i + 3]));
            }
        }
    }
    None
}

/// `edid-corpus DIR`: one NAME.bin per corpus EDID.
fn write_edid_corpus(args: &[String]) -> Result<()> {
    let dir = PathBuf::from(args.first().ok_or("usage: vm_helper edid-corpus DIR")?);
    std::fs::create_dir_all(&dir)?;
    for (name, blob) in edid_corpus::corpus() {
        std::fs::write(dir.join(format!("{name}.bin")), blob)?;
    }
    Ok(())
}

/// `edid-ddc DIR`: one NAME.bin per damaged EDID.
fn write_edid_ddc(args: &[String]) -> Result<()> {
    let dir = PathBuf::from(args.first().ok_or("usage: vm_helper edid-ddc DIR")?);
    std::fs::create_dir_all(&dir)?;
    for (name, blob) in edid_ddc::damaged() {
        std::fs::write(dir.join(format!("{name}.bin")), blob)?;
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default().to_vec();
    let result = match args.first().map(String::as_str) {
        Some("bochs") => bochs(&rest),
        Some("mdpy-draw") => mdpy_draw(&rest),
        Some("edid") => edid(&rest),
        Some("edid-guest") => edid_guest(&rest),
        Some("irq") => irq(&rest),
        Some("verify") => verify(&rest),
        Some("edid-corpus") => write_edid_corpus(&rest),
        Some("edid-ddc") => write_edid_ddc(&rest),
        Some("qmp") => qmp(&rest),
        Some("vnc") => vnc(&rest),
        _ => Err(
            "usage: vm_helper bochs|mdpy-draw|edid|edid-guest|edid-corpus|edid-ddc|irq|qmp|vnc|verify ..."
                .into(),
        ),
    };
    if let Err(err) = result {
        eprintln!("vm_helper: {err}");
        std::process::exit(1);
    }
}
