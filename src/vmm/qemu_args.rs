//! QEMU's command line as far as a shared display needs it: the vfio-pci devices and their
//! `display` property, and the arguments `run` adds to share a device with QEMU.

/// A `-device vfio-pci,...` of a QEMU command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VfioPciArg {
    /// `sysfsdev=`: the mdev's sysfs path.
    pub sysfsdev: Option<String>,
    /// `fd=`: the device fd QEMU was given.
    pub fd: Option<String>,
    /// `display=`: on, off or auto (QEMU's default is off).
    pub display: Option<String>,
}

impl VfioPciArg {
    /// QEMU shows this device itself (and so exports its dma-bufs): `display=on` or `auto`.
    pub fn qemu_displays(&self) -> bool {
        matches!(self.display.as_deref(), Some("on" | "auto"))
    }
}

/// Splits QEMU's `key=value,key=value` option syntax, where `,,` is a literal comma.
fn split_options(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ',' {
            if chars.peek() == Some(&',') {
                chars.next();
                current.push(',');
            } else {
                parts.push(std::mem::take(&mut current));
            }
        } else {
            current.push(c);
        }
    }
    parts.push(current);
    parts
}

/// The value of `"key":` in libvirt's JSON device syntax (`-device {"driver":"vfio-pci",...}`),
/// for string, number and boolean values; enough for the keys read here.
fn json_value(text: &str, key: &str) -> Option<String> {
    let at = text.find(&format!("\"{key}\""))? + key.len() + 2;
    let rest = text[at..].trim_start().strip_prefix(':')?.trim_start();
    if let Some(quoted) = rest.strip_prefix('"') {
        return Some(quoted[..quoted.find('"')?].to_string());
    }
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim().to_string())
}

fn parse_device(value: &str) -> Option<VfioPciArg> {
    if value.trim_start().starts_with('{') {
        if json_value(value, "driver").as_deref() != Some("vfio-pci") {
            return None;
        }
        return Some(VfioPciArg {
            sysfsdev: json_value(value, "sysfsdev"),
            fd: json_value(value, "fd"),
            display: json_value(value, "display"),
        });
    }
    let parts = split_options(value);
    let driver = parts.first()?;
    if driver != "vfio-pci" && driver != "driver=vfio-pci" {
        return None;
    }
    let mut arg = VfioPciArg::default();
    for part in &parts[1..] {
        let (key, val) = part.split_once('=').unwrap_or((part, "on"));
        match key {
            "sysfsdev" => arg.sysfsdev = Some(val.to_string()),
            "fd" => arg.fd = Some(val.to_string()),
            "display" => arg.display = Some(val.to_string()),
            _ => {}
        }
    }
    Some(arg)
}

/// Every vfio-pci device on a QEMU command line (`-device X`, `--device X`, `-device=X`).
pub fn vfio_pci_devices(args: &[String]) -> Vec<VfioPciArg> {
    let mut devices = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let value = match arg.as_str() {
            "-device" | "--device" => iter.next().map(String::as_str),
            other => other
                .strip_prefix("-device=")
                .or_else(|| other.strip_prefix("--device=")),
        };
        if let Some(device) = value.and_then(parse_device) {
            devices.push(device);
        }
    }
    devices
}

/// The values of option `name` (`-name X`, `--name X`, `-name=X`) on a command line, in order.
fn option_values<'a>(args: &'a [String], name: &str) -> Vec<&'a str> {
    let (short, long) = (format!("-{name}"), format!("--{name}"));
    let (short_eq, long_eq) = (format!("-{name}="), format!("--{name}="));
    let mut values = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if *arg == short || *arg == long {
            if let Some(value) = iter.next() {
                values.push(value.as_str());
            }
        } else if let Some(value) = arg
            .strip_prefix(short_eq.as_str())
            .or_else(|| arg.strip_prefix(long_eq.as_str()))
        {
            values.push(value);
        }
    }
    values
}

/// The unix socket of a QMP monitor on QEMU's command line, if it has one a client can
/// connect to by path: `-qmp unix:PATH,server=on,...` (or `-qmp-pretty`), or a `-chardev
/// socket,id=ID,path=PATH,server=on` that a `-mon chardev=ID,mode=control` makes a QMP
/// monitor. libvirt passes its monitor as an fd (`fd=N`), which has no path: `None`.
pub fn qmp_socket(args: &[String]) -> Option<std::path::PathBuf> {
    let server = |parts: &[String]| {
        parts.iter().any(|p| {
            matches!(
                p.as_str(),
                "server" | "server=on" | "server=yes" | "server=true"
            )
        })
    };
    for value in option_values(args, "qmp")
        .into_iter()
        .chain(option_values(args, "qmp-pretty"))
    {
        let parts = split_options(value);
        let path = parts.first().and_then(|p| p.strip_prefix("unix:"));
        if let Some(path) = path.filter(|p| !p.is_empty())
            && server(&parts)
        {
            return Some(path.into());
        }
    }
    let controls: Vec<String> = option_values(args, "mon")
        .into_iter()
        .filter_map(|value| {
            let parts = split_options(value);
            let control = parts.iter().any(|p| p == "mode=control");
            let chardev = parts.iter().find_map(|p| p.strip_prefix("chardev="));
            chardev.filter(|_| control).map(str::to_string)
        })
        .collect();
    option_values(args, "chardev")
        .into_iter()
        .find_map(|value| {
            let parts = split_options(value);
            let socket = parts.first().is_some_and(|p| p == "socket");
            let id = parts.iter().find_map(|p| p.strip_prefix("id="))?;
            let path = parts.iter().find_map(|p| p.strip_prefix("path="))?;
            (socket && server(&parts) && controls.iter().any(|c| c == id)).then(|| path.into())
        })
}

/// The arguments that hand QEMU an open device cdev: an iommufd object (QEMU opens
/// /dev/iommu itself) and the vfio-pci device on fd `fd`, with QEMU's own display off (a
/// dma-buf display there needs OpenGL, and two exporters of one buffer crash mbochs).
/// `sysfsdev` is required with `fd=`: without it QEMU cannot read the device's hardware info.
pub fn share_device_args(fd: i32, sysfsdev: &str, id: &str) -> Vec<String> {
    let sysfsdev = sysfsdev.replace(',', ",,");
    vec![
        "-object".into(),
        format!("iommufd,id={id}-iommufd"),
        "-device".into(),
        format!("vfio-pci,id={id},fd={fd},sysfsdev={sysfsdev},iommufd={id}-iommufd,display=off"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qmp_sockets_are_found_by_path_and_fd_monitors_are_not() {
        let path = |list: &[&str]| qmp_socket(&args(list)).map(|p| p.display().to_string());
        assert_eq!(
            path(&["-qmp", "unix:/run/q.sock,server=on,wait=off"]).as_deref(),
            Some("/run/q.sock")
        );
        assert_eq!(
            path(&["-qmp=unix:/run/a,,b,server,nowait"]).as_deref(),
            Some("/run/a,b")
        );
        // A client socket (QEMU dials out) and a TCP monitor are not ours to connect to.
        assert_eq!(path(&["-qmp", "unix:/run/q.sock"]), None);
        assert_eq!(path(&["-qmp", "tcp:127.0.0.1:4444,server=on"]), None);
        assert_eq!(
            path(&[
                "-chardev",
                "socket,id=mon0,path=/run/m.sock,server=on,wait=off",
                "-mon",
                "chardev=mon0,mode=control",
            ])
            .as_deref(),
            Some("/run/m.sock")
        );
        // A human monitor (readline) is not QMP; libvirt's fd-passed monitor has no path.
        assert_eq!(
            path(&[
                "-chardev",
                "socket,id=mon0,path=/run/m.sock,server=on",
                "-mon",
                "chardev=mon0",
            ]),
            None
        );
        assert_eq!(
            path(&[
                "-chardev",
                "socket,id=charmonitor,fd=27,server=on,wait=off",
                "-mon",
                "chardev=charmonitor,id=monitor,mode=control",
            ]),
            None
        );
        assert_eq!(path(&["-qmp"]), None);
    }

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn finds_vfio_pci_devices_in_both_syntaxes() {
        let cmd = args(&[
            "qemu-system-x86_64",
            "-device",
            "virtio-net,netdev=n",
            "-device",
            "vfio-pci,sysfsdev=/sys/bus/mdev/devices/u,,1,display=on",
            "--device=vfio-pci,fd=4,x-igd-opregion=on",
            "-device",
            r#"{"driver":"vfio-pci","sysfsdev":"/sys/bus/mdev/devices/v","display":"auto","id":"hostdev0"}"#,
        ]);
        let found = vfio_pci_devices(&cmd);
        assert_eq!(found.len(), 3);
        assert_eq!(
            found[0].sysfsdev.as_deref(),
            Some("/sys/bus/mdev/devices/u,1")
        );
        assert!(found[0].qemu_displays());
        assert_eq!(found[1].fd.as_deref(), Some("4"));
        assert!(!found[1].qemu_displays());
        assert_eq!(
            found[2].sysfsdev.as_deref(),
            Some("/sys/bus/mdev/devices/v")
        );
        assert!(found[2].qemu_displays());
    }

    #[test]
    fn share_args_name_the_fd_the_mdev_and_turn_qemus_display_off() {
        let a = share_device_args(7, "/sys/bus/mdev/devices/abc", "vd");
        assert_eq!(a[1], "iommufd,id=vd-iommufd");
        assert_eq!(
            a[3],
            "vfio-pci,id=vd,fd=7,sysfsdev=/sys/bus/mdev/devices/abc,iommufd=vd-iommufd,display=off"
        );
        let parsed = vfio_pci_devices(&a);
        assert_eq!(parsed[0].fd.as_deref(), Some("7"));
        assert!(!parsed[0].qemu_displays());
    }
}
