//! `corral startup --manifests DIR [--install]`: the systemd unit that runs the controller at
//! boot (PM2's `pm2 startup`), printed, or written and enabled.

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::{bail, Context};

use crate::startup::unit::{render, UnitSpec};

/// Arguments of `corral startup`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The manifests directory the controller runs on.
    #[arg(long, value_name = "DIR")]
    pub manifests: PathBuf,
    /// The profile the controller runs with.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Let the members of GROUP (a name or a gid) use the controller's socket: passed on as
    /// `corral controller --socket-group GROUP` (its CORRAL_HOME's parents must let them through).
    #[arg(long, value_name = "GROUP")]
    pub socket_group: Option<String>,
    /// Write the unit and enable it now (`systemctl daemon-reload`, `enable --now`).
    #[arg(long)]
    pub install: bool,
    /// A user unit (`systemctl --user`); the default for every user but root.
    #[arg(long)]
    pub user: bool,
    /// The unit's name, without `.service`.
    #[arg(long, value_name = "NAME", default_value = "corral")]
    pub name: String,
    /// Where --install writes the unit; default /etc/systemd/system, or
    /// ~/.config/systemd/user for a user unit.
    #[arg(long, value_name = "DIR")]
    pub unit_dir: Option<PathBuf>,
    /// The web console, passed on to `corral controller` as given (checked the same way).
    #[command(flatten)]
    pub console: crate::console::Flags,
}

/// Runs `corral startup`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.name.is_empty()
        || !args
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
    {
        bail!(
            "--name {:?} is not a unit name: use letters, digits, '-', '_' or '.'",
            args.name
        );
    }
    if let Some(group) = &args.socket_group {
        crate::api::SocketGroup::resolve(group).map_err(anyhow::Error::msg)?;
    }
    // The controller would refuse what the unit asks (a public address without TLS): say so now.
    let mut console = args.console.clone();
    console.plan()?;
    for file in [&mut console.console_tls_cert, &mut console.console_tls_key]
        .into_iter()
        .flatten()
    {
        *file = std::path::absolute(&*file)
            .with_context(|| format!("cannot resolve {}", file.display()))?;
    }
    let manifests = std::fs::canonicalize(&args.manifests).with_context(|| {
        format!(
            "the manifests directory {} cannot be opened; create it first",
            args.manifests.display()
        )
    })?;
    let binary = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .context("cannot find the corral binary's own path")?;
    let user = args.user || !nix::unistd::Uid::effective().is_root();
    let home = crate::home::Home::from_env();
    let home = std::path::absolute(home.root()).context("cannot resolve $CORRAL_HOME")?;
    let text = render(&UnitSpec {
        binary,
        manifests,
        home,
        profile: args.profile,
        socket_group: args.socket_group,
        console: console.to_args(),
        user,
        systemd: local_systemd(),
    });
    let unit = format!("{}.service", args.name);
    let systemctl = if user {
        "systemctl --user"
    } else {
        "systemctl"
    };
    if !args.install {
        print!("{text}");
        std::io::Write::flush(&mut std::io::stdout())?;
        eprintln!(
            "save it as {}/{unit} and run `{systemctl} daemon-reload && {systemctl} enable --now {unit}`, or run corral startup again with --install",
            default_unit_dir(user)?.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let dir = match args.unit_dir {
        Some(dir) => dir,
        None => default_unit_dir(user)?,
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(&unit);
    super::atomic_write::write_atomic(&path, &text)?;
    println!("wrote {}", path.display());
    let scope: &[&str] = if user { &["--user"] } else { &[] };
    for step in [&["daemon-reload"][..], &["enable", "--now", &unit][..]] {
        let status = Command::new("systemctl")
            .args(scope)
            .args(step)
            .status()
            .with_context(|| {
                format!("cannot run systemctl: enable {unit} by hand once systemd runs")
            })?;
        if !status.success() {
            bail!(
                "`{systemctl} {}` failed ({status}); the unit is in {}: run it again once systemd runs",
                step.join(" "),
                path.display()
            );
        }
    }
    println!("enabled and started {unit}; `{systemctl} status {unit}` shows it");
    if user {
        println!(
            "to start it at boot without a login, run `loginctl enable-linger {}` once",
            std::env::var("USER").unwrap_or_else(|_| "$USER".into())
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `/etc/systemd/system`, or `$XDG_CONFIG_HOME/systemd/user` (default `~/.config`).
fn default_unit_dir(user: bool) -> anyhow::Result<PathBuf> {
    if !user {
        return Ok(PathBuf::from("/etc/systemd/system"));
    }
    let config = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            PathBuf::from(std::env::var_os("HOME").context("$HOME is not set: pass --unit-dir")?)
                .join(".config")
        }
    };
    Ok(config.join("systemd/user"))
}

/// This host's systemd major version (`systemctl --version`), if systemctl runs.
fn local_systemd() -> Option<u32> {
    let out = std::process::Command::new("systemctl")
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    crate::startup::unit::systemd_version(&String::from_utf8_lossy(&out.stdout))
}
