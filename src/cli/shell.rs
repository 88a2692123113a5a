//! `scratchnet completions SHELL` and `scratchnet man`: shell completions and a man page,
//! generated from the same clap definitions as `--help`, so they never fall behind the flags.

use clap::{Args, CommandFactory, ValueEnum};

use crate::cli::Cli;
use crate::error::{Error, Result};

/// A shell clap can complete for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
    Elvish,
}

#[derive(Debug, Args)]
pub struct CompletionsCmd {
    /// The shell to complete for. Bash: `source <(scratchnet completions bash)`, or write it to
    /// ~/.local/share/bash-completion/completions/scratchnet; zsh: a file `_scratchnet` in a
    /// folder on $fpath; fish: ~/.config/fish/completions/scratchnet.fish.
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Args)]
pub struct ManCmd {
    /// A subcommand's page (`scratchnet man train`, the page scratchnet-train(1)) instead of
    /// the command's, which lists them.
    pub command: Option<String>,
}

/// Writes the completion script for `cmd.shell` to standard output.
pub fn completions(cmd: CompletionsCmd) -> Result<()> {
    use clap_complete::Shell as S;
    let shell = match cmd.shell {
        Shell::Bash => S::Bash,
        Shell::Zsh => S::Zsh,
        Shell::Fish => S::Fish,
        Shell::Powershell => S::PowerShell,
        Shell::Elvish => S::Elvish,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "scratchnet", &mut script);
    crate::output::write_stdout(&script);
    Ok(())
}

/// Writes a man page (roff: `scratchnet man | man -l -`) to standard output: the command's,
/// or with a name that subcommand's, as scratchnet-NAME(1).
pub fn man(cmd: ManCmd) -> Result<()> {
    let mut top = Cli::command();
    top.build();
    let page = match &cmd.command {
        None => top,
        Some(name) => {
            let sub = top.find_subcommand(name).cloned().ok_or_else(|| {
                let names: Vec<&str> = top
                    .get_subcommands()
                    .map(|s| s.get_name())
                    .filter(|n| *n != "help")
                    .collect();
                Error::Config(format!(
                    "no subcommand '{name}': one of {}",
                    names.join(", ")
                ))
            })?;
            let bin = format!("scratchnet {}", sub.get_name());
            let full = format!("scratchnet-{}", sub.get_name());
            sub.name(full).bin_name(bin)
        }
    };
    let mut roff = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut roff)
        .map_err(|e| Error::Config(format!("cannot render the man page: {e}")))?;
    crate::output::write_stdout(&roff);
    Ok(())
}
