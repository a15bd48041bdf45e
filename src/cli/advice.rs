//! What to do about an error, in this program's own options. The library's errors say what
//! happened and keep their cause; only the command line knows its flags, so the advice for an
//! error is added here, at the end of its one line.

use nix::errno::Errno;
use std::error::Error;
use vfio_display::device::DeviceError;
use vfio_display::frame::FrameError;
use vfio_display::render::RenderError;
use vfio_display::vfio::VfioError;

/// The VFIO error inside `err`, through the layers that wrap it transparently (a transparent
/// wrapper does not show up as a link of its own in the error chain).
fn vfio_error<'a>(err: &'a (dyn Error + 'static)) -> Option<&'a VfioError> {
    if let Some(e) = err.downcast_ref::<VfioError>() {
        return Some(e);
    }
    let device = err
        .downcast_ref::<DeviceError>()
        .or_else(|| match err.downcast_ref::<FrameError>() {
            Some(FrameError::Device(d)) => Some(d),
            _ => None,
        })
        .or_else(|| match err.downcast_ref::<RenderError>() {
            Some(RenderError::Frame(FrameError::Device(d))) => Some(d),
            _ => None,
        });
    match device {
        Some(DeviceError::Vfio(e)) => Some(e),
        _ => None,
    }
}

fn for_vfio(err: &VfioError) -> Option<&'static str> {
    match err {
        VfioError::Open { path, errno, .. }
            if *errno == Errno::ENOENT && path.ends_with("iommu") =>
        {
            Some("use --backend group")
        }
        VfioError::Open { errno, .. } if *errno == Errno::EBUSY => {
            Some("stop that process, or have it hand the device over with --device-fd N")
        }
        VfioError::Bind { errno, .. } if *errno == Errno::EBUSY => Some(
            "close that, or use --backend group, or have the owner hand the device over with \
             --device-fd N",
        ),
        VfioError::Bind { errno, .. } if *errno == Errno::EINVAL => {
            Some("close that, or have the owner hand the device over with --device-fd N")
        }
        VfioError::NoCdev { .. } => Some("use --backend group"),
        VfioError::NotADeviceName { .. } => Some(
            "give an mdev UUID (see `vfio-display list`), an mdev's sysfs path, --device-fd N, \
             or --sim",
        ),
        VfioError::NoSuchMdev { .. } => {
            Some("`vfio-display list` shows the existing ones and the types you can create")
        }
        _ => None,
    }
}

/// The advice for `err`, if this program has one.
pub fn advice(err: &anyhow::Error) -> Option<&'static str> {
    err.chain().find_map(|link| {
        if let Some(RenderError::NoAdapter) = link.downcast_ref::<RenderError>() {
            return Some("--render cpu needs no GPU");
        }
        let cpu_map = |e: Option<&FrameError>| matches!(e, Some(FrameError::CpuMap { .. }));
        if cpu_map(link.downcast_ref::<FrameError>())
            || matches!(link.downcast_ref::<RenderError>(), Some(RenderError::Frame(e)) if cpu_map(Some(e)))
        {
            return Some(
                "--render auto (the default) or --render gpu reads such frames through the GPU",
            );
        }
        vfio_error(link).and_then(for_vfio)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn open_error(path: &str, errno: Errno) -> VfioError {
        VfioError::Open {
            path: PathBuf::from(path),
            errno,
            hint: String::new(),
        }
    }

    #[test]
    fn advice_is_found_through_every_layer_and_context() {
        let missing_iommu = open_error("/dev/iommu", Errno::ENOENT);
        let wrapped = FrameError::Device(DeviceError::Vfio(missing_iommu));
        let err = anyhow::Error::new(wrapped).context("cannot open 1234");
        assert_eq!(advice(&err), Some("use --backend group"));
        let busy = DeviceError::Vfio(open_error("/dev/vfio/7", Errno::EBUSY));
        let err = anyhow::Error::new(busy).context("cannot open 1234");
        assert!(advice(&err).unwrap().contains("--device-fd N"));
        let render = RenderError::Frame(FrameError::Device(DeviceError::Vfio(VfioError::NoCdev {
            device: "x".into(),
            reason: "y".into(),
        })));
        assert_eq!(
            advice(&anyhow::Error::new(render)),
            Some("use --backend group")
        );
        assert_eq!(
            advice(&anyhow::Error::new(RenderError::NoAdapter)),
            Some("--render cpu needs no GPU")
        );
        let typo = VfioError::NotADeviceName { spec: "sim".into() };
        assert!(advice(&anyhow::Error::new(typo)).unwrap().contains("--sim"));
        let gone = VfioError::NoSuchMdev {
            path: PathBuf::from("/sys/bus/mdev/devices/x"),
            uuid: "x".into(),
        };
        assert!(
            advice(&anyhow::Error::new(gone))
                .unwrap()
                .contains("vfio-display list")
        );
        let plain = open_error("/dev/vfio/7", Errno::EACCES);
        assert_eq!(advice(&anyhow::Error::new(plain)), None);
    }
}
