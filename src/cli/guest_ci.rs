//! The guest-CI commands (`wait`, `click`, `key`, `type`, `wait-still`, `wait-change`,
//! `script`): their options, and a script's lines parsed with the same definitions, so a step
//! reads the same on the command line and in a file.

use super::args::{parse_hz, parse_irq, parse_seconds};
use super::exit::Usage;
use super::target::{BackendArg, DeviceArgs, SimArgs};
use crate::app::guest_ci::{self, BadTest, CiOptions, Step, StepKind, words};
use crate::app::input::read_bounded;
use crate::app::watch::WatchOptions;
use anyhow::Result;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::time::Duration;
use vfio_display::frame::IrqChoice;
use vfio_display::input::Button;
use vfio_display::input::openqa::key_combo;

/// The largest script read: thousands of steps.
const MAX_SCRIPT_BYTES: u64 = 1 << 20;

/// The most characters one `type` step types.
const MAX_TYPED_CHARS: usize = 10_000;

/// How much of a bad line an error message quotes.
const QUOTED_LINE: usize = 120;

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Guest CI")]
pub struct CiArgs {
    /// The needles: a directory of openQA needles (NAME.json beside NAME.png), walked
    /// recursively.
    #[arg(
        long,
        value_name = "DIR",
        env = "VFIO_DISPLAY_NEEDLES",
        default_value = "needles"
    )]
    needles: PathBuf,
    /// Leave out the needles with this tag (repeat for more), as a distribution unregisters
    /// tags.
    #[arg(long, value_name = "TAG")]
    exclude_tag: Vec<String>,
    /// Match with the cursor plane drawn in (by default only the primary plane, so the pointer
    /// never spoils a match).
    #[arg(long)]
    with_cursor: bool,
    /// One JSON object per step on stdout (JSON lines) instead of a line of text.
    #[arg(long)]
    json: bool,
    /// Where a failed wait writes its evidence: the last picture and a JSON of every candidate.
    #[arg(long, value_name = "DIR", default_value = ".")]
    evidence: PathBuf,
    /// Record the changed pictures of the run, with their timing, into an animated PNG.
    #[arg(long, value_name = "FILE.apng")]
    record: Option<PathBuf>,
    /// QEMU's QMP socket, for keys and pointer (run and attach --qmp give it).
    #[arg(long, value_name = "SOCKET")]
    qmp: Option<PathBuf>,
    /// Keys per second when typing and pressing keys (os-autoinst's TYPING_LIMIT).
    #[arg(long, value_name = "N", default_value_t = 30.0, value_parser = parse_rate)]
    typing_limit: f64,
    /// Refresh source: auto (a display IRQ the device declares, else the timer), none (the
    /// timer), or an IRQ index.
    #[arg(long, value_name = "auto|none|INDEX", default_value = "auto", value_parser = parse_irq)]
    irq: IrqChoice,
    /// The timer's rate when there is no IRQ: how often a picture is read and compared.
    #[arg(long, value_name = "HZ", default_value = "60", value_parser = parse_hz)]
    refresh_hz: f64,
}

/// A PSNR level in dB: 0 (nothing counts as different) to tinycv's 1 000 000 (identical).
fn parse_db(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1_000_000.0).contains(&v) => Ok(v),
        _ => Err(format!("{s}: give a PSNR from 0 to 1000000 dB")),
    }
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (1.0..=1000.0).contains(&v) => Ok(v),
        _ => Err(format!("{s}: give 1 to 1000 keys per second")),
    }
}

/// The device of a guest-CI command. The steps' own words are positional (tags, text), so
/// the mdev is named with --device here.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Device")]
pub struct CiDeviceArgs {
    /// The mdev: its UUID or its sysfs path.
    #[arg(long, value_name = "DEVICE", required_unless_present_any = ["sim", "device_fd"], conflicts_with_all = ["sim", "device_fd"])]
    device: Option<String>,
    /// Adopt an open VFIO device fd inherited from the parent process (a VMM).
    #[arg(long, value_name = "N", conflicts_with = "sim")]
    device_fd: Option<i32>,
    /// Use the built-in simulated vGPU.
    #[arg(long)]
    sim: bool,
    /// How to open an mdev: through its VFIO device cdev and /dev/iommu, through its VFIO
    /// group, or the cdev where the kernel has one, else the group.
    #[arg(long, value_enum, default_value_t = BackendArg::Auto, env = "VFIO_DISPLAY_BACKEND")]
    backend: BackendArg,
    #[command(flatten)]
    pub sim_opts: SimArgs,
}

impl CiDeviceArgs {
    fn device_args(&self) -> DeviceArgs {
        DeviceArgs {
            device: self.device.clone(),
            device_fd: self.device_fd,
            sim: self.sim,
            backend: self.backend,
            sim_opts: self.sim_opts.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ClickButton {
    Left,
    Right,
    Middle,
}

impl From<ClickButton> for Button {
    fn from(b: ClickButton) -> Self {
        match b {
            ClickButton::Left => Button::Left,
            ClickButton::Right => Button::Right,
            ClickButton::Middle => Button::Middle,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct WaitArgs {
    /// Wait until a needle with one of these tags matches.
    #[arg(value_name = "TAG", required = true)]
    tags: Vec<String>,
    /// Seconds to wait (exit status 1 when no needle matched by then).
    #[arg(long, value_name = "S", default_value = "30", value_parser = parse_seconds)]
    timeout: f64,
}

#[derive(Debug, Clone, Args)]
pub struct ClickArgs {
    /// Wait for a needle with one of these tags, then click its click point (the centre of
    /// its last area if it has none).
    #[arg(value_name = "TAG", required = true)]
    tags: Vec<String>,
    /// Seconds to wait for the needle.
    #[arg(long, value_name = "S", default_value = "30", value_parser = parse_seconds)]
    timeout: f64,
    /// The button.
    #[arg(long, value_enum, default_value_t = ClickButton::Left)]
    button: ClickButton,
    /// Click twice.
    #[arg(long)]
    double: bool,
}

#[derive(Debug, Clone, Args)]
pub struct KeyArgs {
    /// openQA's key names: ret, esc, spc, tab, f2, a character, or a combination such as
    /// ctrl-alt-delete or alt-f2; several are pressed one after another.
    #[arg(value_name = "KEY", required = true)]
    keys: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct TypeArgs {
    /// The text; "\n" in a script's double quotes (or a real newline) types Return.
    #[arg(value_name = "TEXT")]
    text: String,
    /// os-autoinst's max_interval (1-250): below 250 typing slows down, for a guest that drops
    /// keys (a boot loader).
    #[arg(long, value_name = "N", default_value_t = 250, value_parser = clap::value_parser!(u32).range(1..=250))]
    max_interval: u32,
}

#[derive(Debug, Clone, Args)]
pub struct WaitStillArgs {
    /// Seconds the screen must hold still.
    #[arg(long, value_name = "S", default_value = "7", value_parser = parse_seconds)]
    stilltime: f64,
    /// Seconds to try.
    #[arg(long, value_name = "S", default_value = "30", value_parser = parse_seconds)]
    timeout: f64,
    /// PSNR in dB below which two pictures differ (os-autoinst's similarity_level).
    #[arg(long, value_name = "DB", default_value_t = 47.0, value_parser = parse_db)]
    similarity_level: f64,
}

#[derive(Debug, Clone, Args)]
pub struct WaitChangeArgs {
    /// Seconds to wait for the screen to change.
    #[arg(long, value_name = "S", default_value = "10", value_parser = parse_seconds)]
    timeout: f64,
    /// PSNR in dB below which the screen counts as changed (os-autoinst's similarity_level).
    #[arg(long, value_name = "DB", default_value_t = 50.0, value_parser = parse_db)]
    similarity_level: f64,
}

#[derive(Debug, Clone, Args)]
pub struct ShotArgs {
    /// The PNG to write (replaced if it exists).
    #[arg(value_name = "FILE.png")]
    output: PathBuf,
}

/// A step as one command: its own options, the guest-CI options and the device.
macro_rules! ci_command {
    ($name:ident, $step:ty) => {
        #[derive(Debug, Clone, Args)]
        pub struct $name {
            #[command(flatten)]
            step: $step,
            #[command(flatten)]
            ci: CiArgs,
            #[command(flatten)]
            pub target: CiDeviceArgs,
        }
    };
}

ci_command!(WaitCommand, WaitArgs);
ci_command!(ClickCommand, ClickArgs);
ci_command!(KeyCommand, KeyArgs);
ci_command!(TypeCommand, TypeArgs);
ci_command!(WaitStillCommand, WaitStillArgs);
ci_command!(WaitChangeCommand, WaitChangeArgs);

#[derive(Debug, Clone, Args)]
pub struct ScriptCommand {
    /// The script: one step per line (wait, click, key, type, wait-still, wait-change,
    /// screenshot, with the options those commands take), # comments; "-" reads stdin.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Check the script and the needles it uses, then stop without touching a device.
    #[arg(long)]
    check: bool,
    #[command(flatten)]
    ci: CiArgs,
    #[command(flatten)]
    pub target: CiDeviceArgs,
}

/// One line of a script, parsed with the commands' own definitions.
#[derive(Debug, Parser)]
#[command(
    name = "step",
    no_binary_name = true,
    disable_help_flag = true,
    disable_help_subcommand = true
)]
struct ScriptLine {
    #[command(subcommand)]
    step: StepCommand,
}

#[derive(Debug, Subcommand)]
enum StepCommand {
    Wait(WaitArgs),
    Click(ClickArgs),
    Key(KeyArgs),
    Type(TypeArgs),
    WaitStill(WaitStillArgs),
    WaitChange(WaitChangeArgs),
    Screenshot(ShotArgs),
}

/// A guest-CI command as parsed from the top-level command line.
#[derive(Debug, Clone, Copy)]
pub enum CiCommand<'a> {
    /// `wait`.
    Wait(&'a WaitCommand),
    /// `click`.
    Click(&'a ClickCommand),
    /// `key`.
    Key(&'a KeyCommand),
    /// `type`.
    Type(&'a TypeCommand),
    /// `wait-still`.
    WaitStill(&'a WaitStillCommand),
    /// `wait-change`.
    WaitChange(&'a WaitChangeCommand),
    /// `script`.
    Script(&'a ScriptCommand),
}

impl<'a> CiCommand<'a> {
    /// The device options.
    pub fn target(self) -> &'a CiDeviceArgs {
        match self {
            CiCommand::Wait(c) => &c.target,
            CiCommand::Click(c) => &c.target,
            CiCommand::Key(c) => &c.target,
            CiCommand::Type(c) => &c.target,
            CiCommand::WaitStill(c) => &c.target,
            CiCommand::WaitChange(c) => &c.target,
            CiCommand::Script(c) => &c.target,
        }
    }

    fn ci(self) -> &'a CiArgs {
        match self {
            CiCommand::Wait(c) => &c.ci,
            CiCommand::Click(c) => &c.ci,
            CiCommand::Key(c) => &c.ci,
            CiCommand::Type(c) => &c.ci,
            CiCommand::WaitStill(c) => &c.ci,
            CiCommand::WaitChange(c) => &c.ci,
            CiCommand::Script(c) => &c.ci,
        }
    }

    /// The command's words as the user wrote them, for progress (`wait login`).
    fn steps(&self) -> Result<Vec<Step>> {
        let one = |kind: StepKind, text: String| {
            Ok(vec![Step {
                kind,
                line: None,
                text,
            }])
        };
        match self {
            CiCommand::Wait(c) => one(
                wait_step(&c.step),
                format!("wait {}", c.step.tags.join(" ")),
            ),
            CiCommand::Click(c) => one(
                click_step(&c.step),
                format!("click {}", c.step.tags.join(" ")),
            ),
            CiCommand::Key(c) => one(key_step(&c.step)?, format!("key {}", c.step.keys.join(" "))),
            CiCommand::Type(c) => one(type_step(&c.step)?, format!("type {:?}", c.step.text)),
            CiCommand::WaitStill(c) => one(wait_still_step(&c.step)?, "wait-still".into()),
            CiCommand::WaitChange(c) => one(wait_change_step(&c.step), "wait-change".into()),
            CiCommand::Script(c) => read_script(&c.file),
        }
    }
}

fn seconds(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn wait_step(a: &WaitArgs) -> StepKind {
    StepKind::Wait {
        tags: a.tags.clone(),
        timeout: seconds(a.timeout),
    }
}

fn click_step(a: &ClickArgs) -> StepKind {
    StepKind::Click {
        tags: a.tags.clone(),
        timeout: seconds(a.timeout),
        button: a.button.into(),
        double: a.double,
    }
}

fn key_step(a: &KeyArgs) -> Result<StepKind> {
    let combos = a
        .keys
        .iter()
        .map(|combo| {
            key_combo(combo)
                .map(|keys| (combo.clone(), keys))
                .map_err(|e| BadTest {
                    message: e.to_string(),
                })
        })
        .collect::<Result<_, _>>()?;
    Ok(StepKind::Key { combos })
}

fn type_step(a: &TypeArgs) -> Result<StepKind> {
    let count = a.text.chars().count();
    if count > MAX_TYPED_CHARS {
        return Err(BadTest {
            message: format!(
                "{count} characters to type in one step: at most {MAX_TYPED_CHARS} (at 30 keys a \
                 second that is already {} minutes)",
                MAX_TYPED_CHARS / 30 / 60
            ),
        }
        .into());
    }
    crate::app::guest_ci::check_typeable(&a.text).map_err(|e| BadTest {
        message: e.to_string(),
    })?;
    Ok(StepKind::Type {
        text: a.text.clone(),
        max_interval: a.max_interval,
    })
}

fn wait_still_step(a: &WaitStillArgs) -> Result<StepKind> {
    if a.timeout < a.stilltime {
        return Err(Usage(format!(
            "--timeout {} is shorter than --stilltime {}: the screen could never hold still \
             long enough",
            a.timeout, a.stilltime
        ))
        .into());
    }
    Ok(StepKind::WaitStill {
        still: seconds(a.stilltime),
        timeout: seconds(a.timeout),
        similarity: a.similarity_level,
    })
}

fn wait_change_step(a: &WaitChangeArgs) -> StepKind {
    StepKind::WaitChange {
        timeout: seconds(a.timeout),
        similarity: a.similarity_level,
    }
}

/// The steps of a script file ("-": stdin), every line checked before any runs.
fn read_script(path: &Path) -> Result<Vec<Step>> {
    let bytes = if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(std::io::stdin(), MAX_SCRIPT_BYTES + 1),
            &mut buf,
        )?;
        if buf.len() as u64 > MAX_SCRIPT_BYTES {
            anyhow::bail!("the script on stdin is over {MAX_SCRIPT_BYTES} bytes");
        }
        buf
    } else {
        read_bounded(path, MAX_SCRIPT_BYTES).map_err(|e| BadTest {
            message: format!("{e:#}"),
        })?
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        let line = e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        BadTest {
            message: format!("{}:{line}: not UTF-8 text", path.display()),
        }
    })?;
    let name = path.display().to_string();
    let steps = parse_script(&text).map_err(|e| BadTest {
        message: format!("{name}:{e}"),
    })?;
    if steps.is_empty() {
        return Err(BadTest {
            message: format!("{name}: no steps (only blank lines and comments)"),
        }
        .into());
    }
    Ok(steps)
}

/// `line`, cut to a length an error message can quote.
fn quoted(line: &str) -> String {
    match line.char_indices().nth(QUOTED_LINE) {
        Some((at, _)) => format!("{}...", &line[..at]),
        None => line.to_string(),
    }
}

/// The steps of a script's text; an error reads "LINE: why".
fn parse_script(text: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let number = n + 1;
        let words = words::split(line).map_err(|e| format!("{number}: {e}"))?;
        if words.is_empty() {
            continue;
        }
        let parsed = ScriptLine::try_parse_from(&words).map_err(|e| {
            let message = e.to_string();
            let first = message
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ")
                .to_string();
            format!("{number}: {first} (in: {})", quoted(line.trim()))
        })?;
        let text = line.trim().to_string();
        let one = |kind: StepKind| {
            vec![Step {
                kind,
                line: Some(number),
                text: text.clone(),
            }]
        };
        let bad = |e: anyhow::Error| format!("{number}: {e}");
        steps.extend(match parsed.step {
            StepCommand::Wait(a) => one(wait_step(&a)),
            StepCommand::Click(a) => one(click_step(&a)),
            StepCommand::Key(a) => one(key_step(&a).map_err(bad)?),
            StepCommand::Type(a) => one(type_step(&a).map_err(bad)?),
            StepCommand::WaitStill(a) => one(wait_still_step(&a).map_err(bad)?),
            StepCommand::WaitChange(a) => one(wait_change_step(&a)),
            StepCommand::Screenshot(a) => one(StepKind::Screenshot { output: a.output }),
        });
    }
    Ok(steps)
}

/// Runs a guest-CI command.
pub fn run(command: CiCommand<'_>) -> Result<()> {
    let steps = command.steps()?;
    let ci = command.ci();
    let opts = CiOptions {
        needles: ci.needles.clone(),
        exclude_tags: ci.exclude_tag.clone(),
        with_cursor: ci.with_cursor,
        json: ci.json,
        evidence: ci.evidence.clone(),
        watch: WatchOptions {
            irq: ci.irq,
            refresh_hz: ci.refresh_hz,
            ..WatchOptions::default()
        },
        qmp: ci.qmp.clone(),
        typing_limit: ci.typing_limit,
        record: ci.record.clone(),
        target: command.target().device_args().target()?,
    };
    if let CiCommand::Script(script) = command
        && script.check
    {
        guest_ci::check(&opts, &steps)?;
        outln!(
            "{}: {} steps, all usable",
            script.file.display(),
            steps.len()
        );
        return Ok(());
    }
    guest_ci::run(&opts, &steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_reads_as_the_commands_do() {
        let steps = parse_script(
            "# boot and log in\n\
             wait login-prompt --timeout 120\n\
             type \"root\\n\"\n\
             key ctrl-alt-f2 ret\n\
             click ok-button --button right --double\n\
             wait-still --stilltime 2 --timeout 10\n\
             wait-change\n\
             screenshot after.png\n",
        )
        .unwrap();
        let verbs: Vec<&str> = steps.iter().map(|s| s.kind.verb()).collect();
        assert_eq!(
            verbs,
            [
                "wait",
                "type",
                "key",
                "click",
                "wait-still",
                "wait-change",
                "screenshot"
            ]
        );
        assert_eq!(steps[0].line, Some(2));
        assert!(
            matches!(&steps[0].kind, StepKind::Wait { tags, timeout } if tags == &["login-prompt"] && *timeout == Duration::from_secs(120))
        );
        assert!(
            matches!(&steps[1].kind, StepKind::Type { text, max_interval: 250 } if text == "root\n")
        );
        assert!(
            matches!(&steps[2].kind, StepKind::Key { combos } if combos.len() == 2 && combos[1].0 == "ret")
        );
        assert!(matches!(
            &steps[3].kind,
            StepKind::Click {
                button: Button::Right,
                double: true,
                ..
            }
        ));
        assert!(
            matches!(&steps[5].kind, StepKind::WaitChange { timeout, similarity } if *timeout == Duration::from_secs(10) && *similarity == 50.0)
        );
    }

    #[test]
    fn bad_lines_name_their_line() {
        let err = parse_script("wait a\nfrobnicate\n").unwrap_err();
        assert!(err.starts_with("2: "), "{err}");
        assert!(err.contains("frobnicate"), "{err}");
        let err = parse_script("key ctrl-foo").unwrap_err();
        assert!(err.starts_with("1: ") && err.contains("\"foo\""), "{err}");
        let err = parse_script("wait").unwrap_err();
        assert!(err.starts_with("1: "), "{err}");
        let err = parse_script("type \"unclosed").unwrap_err();
        assert!(err.contains("not closed"), "{err}");
        let err = parse_script("wait-still --stilltime 9 --timeout 3").unwrap_err();
        assert!(err.contains("shorter"), "{err}");
        let err = parse_script("type 'grüß'").unwrap_err();
        assert!(err.contains("US layout"), "{err}");
    }
}
