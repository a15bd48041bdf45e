//! `vfio-display completions SHELL` and `vfio-display man`: shell completions and a man page,
//! generated from the same clap definitions as `--help`, so they never drift from it.

use crate::app::output::{OutputPath, WriteMode};
use anyhow::Result;
use clap::{Args, CommandFactory, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
#[command(after_help = "Install, for example:
  vfio-display completions bash > /etc/bash_completion.d/vfio-display
  vfio-display completions zsh > /usr/local/share/zsh/site-functions/_vfio-display
  vfio-display completions fish > ~/.config/fish/completions/vfio-display.fish")]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: Shell,
}

#[derive(Debug, Args)]
#[command(after_help = "Read one with: vfio-display man edid set | man -l -
Install them all with: vfio-display man --dir /usr/local/share/man/man1")]
pub struct ManArgs {
    /// The command whose page to print (e.g. `screenshot`, or `edid set`); none: the main page.
    #[arg(value_name = "COMMAND")]
    command: Vec<String>,
    /// Write every page (vfio-display.1, vfio-display-screenshot.1, ...) into DIR instead.
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    dir: Option<PathBuf>,
}

pub fn completions(args: &CompletionsArgs) -> Result<()> {
    let mut cmd = super::Cli::command();
    let mut out = Vec::new();
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, &mut cmd, "vfio-display", &mut out);
    out!("{}", String::from_utf8_lossy(&out));
    Ok(())
}

/// Every command with its page name: ("vfio-display", top), ("vfio-display-edid-set", ...).
fn pages(cmd: &clap::Command, prefix: &str, out: &mut Vec<(String, clap::Command)>) {
    let name = if prefix.is_empty() {
        cmd.get_name().to_string()
    } else {
        format!("{prefix}-{}", cmd.get_name())
    };
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        pages(sub, &name, out);
    }
    out.push((name.clone(), cmd.clone().name(name)));
}

fn render(cmd: clap::Command) -> Result<Vec<u8>> {
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut page)?;
    Ok(page)
}

/// The command tree without clap's `help` subcommands: they have no page of their own, so no
/// page may list one.
fn without_help(cmd: clap::Command) -> clap::Command {
    cmd.disable_help_subcommand(true)
        .mut_subcommands(without_help)
}

pub fn man(args: &ManArgs) -> Result<()> {
    let mut top = without_help(super::Cli::command());
    top.build();
    let mut all = Vec::new();
    pages(&top, "", &mut all);
    if let Some(dir) = &args.dir {
        for (name, cmd) in all {
            let path = dir.join(format!("{name}.1"));
            OutputPath::resolve(&path)?.write(&render(cmd)?, WriteMode::Replace)?;
            outln!("wrote {}", path.display());
        }
        return Ok(());
    }
    let wanted = std::iter::once("vfio-display")
        .chain(args.command.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join("-");
    let Some((_, cmd)) = all.into_iter().find(|(name, _)| *name == wanted) else {
        return Err(super::exit::Usage(format!(
            "no command '{}'; see vfio-display --help",
            args.command.join(" ")
        ))
        .into());
    };
    OutputPath::resolve(std::path::Path::new("-"))?.write(&render(cmd)?, WriteMode::Replace)
}
