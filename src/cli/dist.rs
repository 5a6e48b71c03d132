//! `corral dist DIR` (hidden): the files a package installs beside the binary, written from the
//! binary's own definitions so they never drift from it: the manual pages (`man/corral.1`, one
//! per command), the completion scripts (`completions/`) and the systemd unit `corral startup`
//! writes for root (`corral.service`). `make deb` packages them (Cargo.toml's
//! `[package.metadata.deb]`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::CommandFactory;

use super::completion::{script, Shell};
use crate::startup::unit::{render, UnitSpec};

/// Where the package puts the binary; the completion scripts and the unit call it there.
const BINARY: &str = "/usr/bin/corral";
/// The manifests directory of the packaged unit (the package's postinst creates it).
pub const MANIFESTS: &str = "/etc/corral/manifests";
/// `$CORRAL_HOME` of the packaged unit: root's default, so that `sudo corral get` finds it.
pub const HOME: &str = "/root/.corral";

/// Arguments of `corral dist`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The directory to write into (created if missing).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// Runs `corral dist DIR`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let man = args.dir.join("man");
    create(&man)?;
    clap_mangen::generate_to(super::Cli::command(), &man)
        .with_context(|| format!("cannot write the manual pages into {}", man.display()))?;
    let completions = args.dir.join("completions");
    create(&completions)?;
    for (shell, file) in [
        (Shell::Bash, "corral.bash"),
        (Shell::Zsh, "_corral"),
        (Shell::Fish, "corral.fish"),
    ] {
        write(&completions.join(file), &script(shell)?)?;
    }
    let unit = render(&UnitSpec {
        binary: BINARY.into(),
        manifests: MANIFESTS.into(),
        home: HOME.into(),
        profile: None,
        socket_group: None,
        console: Vec::new(),
        user: false,
        // Unknown where the package lands: the lines every systemd understands (a unit for
        // systemd >= 254 comes from `corral startup` on that host).
        systemd: None,
    });
    write(&args.dir.join("corral.service"), unit.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn create(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}
