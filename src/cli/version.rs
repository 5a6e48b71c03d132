//! `corral version [-o json|yaml]`: this corral's version and the running controller's
//! (kubectl's habit: the client's is printed even when no controller answers, which is an error).

use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;

use super::client::{block_on, client};
use crate::api::version::{newer, VersionInfo, VERSION};

/// Arguments of `corral version`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format: json or yaml (`clientVersion`, `controllerVersion`).
    #[arg(short = 'o', long = "output", value_enum)]
    pub output: Option<Output>,
    /// Print only the client's version; do not ask the controller.
    #[arg(long)]
    pub client: bool,
}

/// Output formats of `version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// JSON.
    Json,
    /// YAML.
    Yaml,
}

/// What `-o json|yaml` prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Versions {
    client_version: VersionInfo,
    /// Absent when no controller answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    controller_version: Option<ControllerVersion>,
}

/// The controller's side.
#[derive(Debug, Serialize)]
struct ControllerVersion {
    #[serde(flatten)]
    info: VersionInfo,
    pid: Option<u32>,
}

/// Runs `corral version`: exit 0 when both versions are known (or `--client`), 1 when the
/// controller could not be asked (its reason on stderr, after the client's version).
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let asked = match args.client {
        true => None,
        false => Some(block_on(client().controller_version())?),
    };
    let (controller, failure) = match asked {
        None => (None, None),
        Some(Ok((version, pid))) => {
            let info = VersionInfo::of(&version);
            (Some(ControllerVersion { info, pid }), None)
        }
        Some(Err(e)) => (None, Some(e)),
    };
    let versions = Versions {
        client_version: VersionInfo::this(),
        controller_version: controller,
    };
    print!("{}", render(&versions, args.output)?);
    if let Some(c) = &versions.controller_version {
        if let Some(warning) = skew(&c.info.version) {
            eprintln!("warning: {warning}");
        }
    }
    match failure {
        Some(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::FAILURE)
        }
        None => Ok(ExitCode::SUCCESS),
    }
}

/// What a difference between this corral and the controller's means, if they differ.
fn skew(controller: &str) -> Option<String> {
    if controller == VERSION {
        return None;
    }
    Some(if newer(controller, VERSION) {
        format!(
            "the controller runs a newer corral ({controller}) than this one ({VERSION});              commands work or say which corral to use: install corral {controller} here too"
        )
    } else {
        format!(
            "the controller runs an older corral ({controller}) than this one ({VERSION});              commands it cannot serve say so: install corral {VERSION} where it runs from,              then `corral upgrade`"
        )
    })
}

/// The text for people (kubectl's `Client Version:` lines), or JSON/YAML.
fn render(v: &Versions, output: Option<Output>) -> anyhow::Result<String> {
    Ok(match output {
        Some(Output::Json) => serde_json::to_string_pretty(v).context("cannot render JSON")? + "\n",
        Some(Output::Yaml) => serde_yaml::to_string(v).context("cannot render YAML")?,
        None => {
            let mut text = format!("Client Version: {}\n", v.client_version.version);
            if let Some(c) = &v.controller_version {
                let pid = c.pid.map_or(String::new(), |p| format!(" (pid {p})"));
                text.push_str(&format!("Controller Version: {}{pid}\n", c.info.version));
            }
            text
        }
    })
}
