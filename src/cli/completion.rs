//! `corral completion bash|zsh|fish`: the shell's completion script (kubectl's habit), and the
//! completions themselves: the script calls `COMPLETE=SHELL corral -- WORDS…`, answered from
//! the same clap definitions, with app names asked of the running controller.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};
use clap_complete::env::{Bash, EnvCompleter, Fish, Zsh};
use clap_complete::CompleteEnv;

use super::client::{block_on, client};

/// The environment variable that turns a `corral` run into a completion request.
const VAR: &str = "COMPLETE";

/// How long completing an app name waits for the controller (a shell must not hang on Tab).
const ASK_TIMEOUT: Duration = Duration::from_secs(2);

/// Arguments of `corral completion`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Load it in the current shell:
  bash: source <(corral completion bash)
  zsh:  source <(corral completion zsh)
  fish: corral completion fish | source
or install it: the Debian package puts it where each shell looks (make deb).")]
pub struct Args {
    /// The shell.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Shells with a completion script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    /// GNU bash (with or without the bash-completion package).
    Bash,
    /// Z shell.
    Zsh,
    /// fish.
    Fish,
}

/// Runs `corral completion SHELL`: writes the script to stdout. It calls `corral` by name, so
/// completions come from whichever corral is first on `PATH`, like the command itself.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    std::io::stdout()
        .write_all(&script(args.shell)?)
        .context("cannot write the completion script to stdout")?;
    Ok(ExitCode::SUCCESS)
}

/// The completion script of `shell`.
pub fn script(shell: Shell) -> anyhow::Result<Vec<u8>> {
    let completer: &dyn EnvCompleter = match shell {
        Shell::Bash => &Bash,
        Shell::Zsh => &Zsh,
        Shell::Fish => &Fish,
    };
    let mut script = Vec::new();
    completer
        .write_registration(VAR, "corral", "corral", "corral", &mut script)
        .context("cannot write the completion script")?;
    Ok(script)
}

/// When the shell asks for completions (`COMPLETE=SHELL corral -- WORDS…`), prints them and
/// exits; otherwise returns at once.
pub fn answer_if_asked() {
    CompleteEnv::with_factory(super::Cli::command)
        .var(VAR)
        .complete();
}

/// Completes an argument that names an app with the running controller's apps (none when no
/// controller answers).
pub fn app_names() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        let ask = async { tokio::time::timeout(ASK_TIMEOUT, client().list()).await };
        let Ok(Ok(Ok(list))) = block_on(ask) else {
            return Vec::new();
        };
        list.apps
            .into_iter()
            .map(|app| {
                let help = format!("{} {}/{}", app.status, app.ready, app.desired);
                CompletionCandidate::new(app.name).help(Some(help.into()))
            })
            .collect()
    })
}
