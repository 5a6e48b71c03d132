//! `corral schema`: print the App JSON Schema (editors and CI validate manifests with it).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;

/// Arguments of `corral schema`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `corral schema`: writes the schema to stdout.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    std::io::stdout()
        .write_all(crate::manifest::schema_json().as_bytes())
        .context("cannot write the schema to stdout")?;
    Ok(ExitCode::SUCCESS)
}
