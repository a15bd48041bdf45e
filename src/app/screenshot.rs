//! Screenshots: the guest screen to PNG files (or a device, FIFO or stdout), on the CPU path
//! without a GPU or rendered on the GPU, one picture or a series.

use crate::app::output::apng::ApngRecorder;
use crate::app::output::{OutputPath, WriteMode, encode_png, numbered};
use crate::app::signals::{self, Interrupted, Interrupts};
use crate::app::target::Target;
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use vfio_display::fourcc;
use vfio_display::frame::{CpuFrame, FrameReader, Session, Status, WaitOutcome, cursor_origin};
use vfio_display::geometry::Point;
use vfio_display::render::{
    FrameRenderer, ImportChoice, ImportPath, LazyGpu, ReadChoice, needs_gpu,
};
use vfio_display::vfio::{PlaneInfo, PlaneType};

/// What to capture, where to, and how.
#[derive(Debug, Clone)]
pub struct ScreenshotOptions {
    /// The file, device, FIFO or "-" for stdout.
    pub output: PathBuf,
    /// Composite the cursor plane.
    pub cursor: bool,
    /// Pictures in the series.
    pub count: u32,
    /// Milliseconds between them.
    pub interval: u64,
    /// An animated PNG that also gets the series' changed pictures.
    pub record: Option<PathBuf>,
    /// How long to wait for the display to come on.
    pub timeout: Duration,
    /// Where pictures are made: the CPU, the GPU, or the CPU where the frame maps.
    pub render: ReadChoice,
    /// How frames reach the GPU.
    pub import: ImportChoice,
    /// The device.
    pub target: Target,
}

/// The primary plane is off (or stayed off until the timeout): exit status 3, not an error.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct NoPlane {
    /// What the user reads.
    pub message: String,
}

/// Makes pictures on the CPU, or on the GPU once it is chosen or a frame needs it.
struct Capturer<'d> {
    cpu: FrameReader<'d>,
    gpu: Option<Box<FrameRenderer<'d>>>,
    /// Why the CPU could not read the frames, when that is why the GPU makes the pictures.
    cpu_cause: Option<String>,
    lazy: &'d LazyGpu,
    import: ImportChoice,
    render: ReadChoice,
}

impl<'d> Capturer<'d> {
    fn new(
        dev: &'d dyn vfio_display::device::DisplayDevice,
        lazy: &'d LazyGpu,
        render: ReadChoice,
        import: ImportChoice,
    ) -> Result<Self> {
        let mut capturer = Capturer {
            cpu: FrameReader::new(dev)?,
            gpu: None,
            cpu_cause: None,
            lazy,
            import,
            render,
        };
        match render {
            ReadChoice::Gpu => capturer.open_gpu()?,
            ReadChoice::Cpu => tracing::info!("making pictures on the CPU (--render cpu)"),
            ReadChoice::Auto => {
                tracing::info!("making pictures on the CPU while the frames map (--render auto)")
            }
        }
        Ok(capturer)
    }

    fn reader(&self) -> &FrameReader<'d> {
        &self.cpu
    }

    fn open_gpu(&mut self) -> Result<()> {
        let ctx = self.lazy.get().context("rendering on the GPU")?;
        tracing::info!("making pictures on the GPU ({})", ctx.adapter_name());
        let mut renderer = FrameRenderer::new(ctx, self.cpu.device(), self.import)?;
        renderer.set_cpu_readable(self.cpu_cause.is_none());
        self.gpu = Some(Box::new(renderer));
        Ok(())
    }
}

/// Waits until the primary plane is on or `timeout` passes; a device error ends the wait at
/// once (waiting does not mend a hostile plane or a removed device).
fn wait_for_plane(
    reader: &FrameReader<'_>,
    timeout: Duration,
    interrupts: &Interrupts,
) -> Result<PlaneInfo> {
    let mut session = Session::with_source(reader.device(), reader.source());
    let outcome = session.wait_for(
        |s| {
            s.showing().is_some()
                || matches!(s.status(), Status::Lost { .. } | Status::Error { .. })
        },
        Instant::now() + timeout,
        Duration::from_millis(20),
        |d| interrupts.sleep(d).is_ok(),
    );
    signals::check()?;
    match (session.status(), session.showing()) {
        (_, Some(plane)) => Ok(*plane),
        (Status::Lost { cause, .. } | Status::Error { cause }, _) => {
            bail!("querying the primary plane: {cause}")
        }
        _ => {
            let waited = if timeout.is_zero() {
                " (use --timeout S to wait for it)".to_string()
            } else {
                format!(" after waiting {:.1} s", timeout.as_secs_f64())
            };
            debug_assert!(!matches!(outcome, WaitOutcome::Met(_)));
            Err(NoPlane {
                message: format!(
                    "no plane: the primary plane of {} is off (display disabled, or a mode the device \
                     cannot describe){waited}",
                    reader.device().name()
                ),
            }
            .into())
        }
    }
}

fn describe(frame: &CpuFrame) -> String {
    let p = &frame.plane;
    let buffer = p.buffer_label();
    format!(
        "{}x{} {} from {buffer}",
        p.width,
        p.height,
        fourcc::describe(p.drm_format)
    )
}

fn capture_one(
    capturer: &mut Capturer<'_>,
    args: &ScreenshotOptions,
    timeout: Duration,
    interrupts: &Interrupts,
) -> Result<(CpuFrame, bool, Option<ImportPath>)> {
    let plane = wait_for_plane(capturer.reader(), timeout, interrupts)?;
    if capturer.gpu.is_none() {
        match capturer.cpu.read(&plane) {
            Ok(frame) => return Ok(with_cpu_cursor(&capturer.cpu, frame, args.cursor)),
            // The first frame tells whether the CPU can map this device's buffers at all.
            Err(err) if capturer.render == ReadChoice::Auto && needs_gpu(&err) => {
                let cause = vfio_display::frame::session::error_chain(&err);
                tracing::info!("{cause}; rendering on the GPU instead");
                capturer.cpu_cause = Some(cause.clone());
                capturer
                    .open_gpu()
                    .with_context(|| format!("the CPU cannot read this frame ({cause})"))?;
            }
            Err(err) => return Err(err).context("reading the primary plane"),
        }
    }
    let renderer = capturer.gpu.as_mut().context("no GPU renderer")?;
    let (image, frame) = renderer
        .render_offscreen(args.cursor)
        .with_context(|| match &capturer.cpu_cause {
            Some(cause) => format!(
                "rendering the primary plane on the GPU, which reads it because the CPU cannot \
                 ({cause})"
            ),
            None => "rendering the primary plane on the GPU".to_string(),
        })?
        .ok_or_else(|| NoPlane {
            message: "no plane: the primary plane went off during the capture".into(),
        })?;
    let keep_alpha = frame.format.has_alpha;
    let cpu_frame = CpuFrame {
        plane: frame.plane,
        format: frame.format,
        image,
    };
    Ok((cpu_frame, keep_alpha, Some(frame.path)))
}

/// Composites the cursor plane (read on the CPU) over a frame read on the CPU.
fn with_cpu_cursor(
    reader: &FrameReader<'_>,
    mut frame: CpuFrame,
    cursor: bool,
) -> (CpuFrame, bool, Option<ImportPath>) {
    let mut keep_alpha = frame.format.has_alpha;
    if cursor {
        match reader.capture(PlaneType::Cursor) {
            Ok(Some(cursor)) if cursor.plane.plane_type == PlaneType::Cursor => {
                let Point { x, y } = cursor_origin(&cursor.plane);
                frame.image.composite(&cursor.image, x, y);
            }
            Ok(_) => tracing::info!("no cursor plane to composite"),
            // A broken cursor should not cost the user the screenshot.
            Err(err) => tracing::warn!("cursor not composited: {err:#}"),
        }
        keep_alpha = keep_alpha && frame.format.has_alpha;
    }
    (frame, keep_alpha, None)
}

/// Where picture `n` of the series goes: numbered files, or the one device, FIFO or stdout.
fn destination(args: &ScreenshotOptions, first: &OutputPath, n: u32) -> Result<OutputPath> {
    if args.count > 1 && first.is_file() {
        OutputPath::resolve(&numbered(&args.output, n))
    } else {
        Ok(first.clone())
    }
}

pub fn run(args: &ScreenshotOptions) -> Result<()> {
    // Checked before the device is opened, so that a long capture does not fail at its end
    // for a bad output path; each picture's path is looked at again when it is written.
    let first = OutputPath::resolve(&args.output)?;
    if args.count > 1 && first.is_file() {
        OutputPath::resolve(&numbered(&args.output, 1))?;
    }
    let mut recording = args
        .record
        .as_deref()
        .map(|path| -> Result<Recording> {
            Ok(Recording {
                recorder: ApngRecorder::create(path)?,
                last: None,
            })
        })
        .transpose()?;
    let interrupts = Interrupts::install()?;
    let dev = args.target.open()?;
    let _removal = crate::app::removal::watch(dev.as_ref());
    let lazy = LazyGpu::new();
    let mut capturer = Capturer::new(dev.as_ref(), &lazy, args.render, args.import)?;
    let timeout = args.timeout;
    let progress = (args.count > 1).then(|| {
        let bar = indicatif::ProgressBar::new(u64::from(args.count));
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut written = 0;
    let series = Series {
        args,
        first: &first,
        timeout,
        interrupts: &interrupts,
    };
    let result = capture_series(&series, &mut capturer, recording.as_mut(), |line| {
        written += 1;
        // The file list goes to stdout (scripts read it), or to stderr when the pictures do;
        // the bar is on stderr, terminal only.
        let print = || -> Result<()> {
            if first.is_stdout() {
                errln!("{line}");
            } else {
                outln!("{line}");
            }
            Ok(())
        };
        match &progress {
            Some(bar) => {
                bar.suspend(print)?;
                bar.inc(1);
                Ok(())
            }
            None => print(),
        }
    });
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let result = finish_recording(recording, args, &first, result);
    if let Err(err) = &result
        && err.downcast_ref::<Interrupted>().is_some()
    {
        errln!(
            "vfio-display: {}: stopped after {written} of {} picture{}",
            crate::app::signals::stop_cause(),
            args.count,
            if args.count == 1 { "" } else { "s" }
        );
    }
    result
}

/// What every picture of a series shares.
struct Series<'a> {
    args: &'a ScreenshotOptions,
    first: &'a OutputPath,
    timeout: Duration,
    interrupts: &'a Interrupts,
}

/// `--record`'s file, and when its last picture was taken.
struct Recording {
    recorder: ApngRecorder,
    last: Option<Instant>,
}

/// Ends `--record`'s file, the last picture lasting one interval (as each before it lasts until
/// the next), also after a signal: what was recorded is kept. The series' own error, if any,
/// is the answer.
fn finish_recording(
    recording: Option<Recording>,
    args: &ScreenshotOptions,
    first: &OutputPath,
    result: Result<()>,
) -> Result<()> {
    let Some(recording) = recording else {
        return result;
    };
    if result.is_err() {
        // Dropped, the recorder finishes what it has (or removes an empty temporary).
        drop(recording);
        return result;
    }
    let last = recording.last.unwrap_or_else(Instant::now);
    let end = last + Duration::from_millis(args.interval);
    let s = recording.recorder.finish(end)?;
    let files: Vec<String> = s.files.iter().map(|f| f.display().to_string()).collect();
    let line = format!(
        "recorded {}: {} frame{}, {} bytes",
        files.join(", "),
        s.frames,
        if s.frames == 1 { "" } else { "s" },
        s.bytes
    );
    if first.is_stdout() {
        errln!("{line}");
    } else {
        outln!("{line}");
    }
    Ok(())
}

/// Captures and writes the pictures (and adds each to `recording`), calling `report` with a
/// line for each one written.
fn capture_series(
    series: &Series<'_>,
    capturer: &mut Capturer<'_>,
    mut recording: Option<&mut Recording>,
    mut report: impl FnMut(String) -> Result<()>,
) -> Result<()> {
    let Series {
        args,
        first,
        timeout,
        interrupts,
    } = *series;
    let mut next = Instant::now();
    for n in 1..=args.count {
        signals::check()?;
        let path = destination(args, first, n)?;
        let (frame, keep_alpha, path_used) = capture_one(capturer, args, timeout, interrupts)?;
        let seen = Instant::now();
        let png = encode_png(&frame.image, keep_alpha)?;
        // A stop that came during the capture (the VM ended under `run` or `attach`): the
        // picture is of a guest that is gone, and none is written after the VM's end.
        signals::check()?;
        path.write(&png, WriteMode::Replace)?;
        if let Some(recording) = recording.as_deref_mut() {
            recording.recorder.push(&frame.image, seen)?;
            recording.last = Some(seen);
        }
        let how = path_used.map_or(String::new(), |p| format!(", GPU {p} import"));
        report(format!(
            "wrote {} ({}{how})",
            path.display(),
            describe(&frame)
        ))?;
        if n < args.count {
            next += Duration::from_millis(args.interval);
            interrupts.sleep(next.saturating_duration_since(Instant::now()))?;
        }
    }
    Ok(())
}
