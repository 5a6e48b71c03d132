//! `corral upgrade`: the running controller hands everything over to the corral binary now at
//! the path it was started from (nginx's binary upgrade): no app restarted, no connection lost.

use std::process::ExitCode;

use super::client::{block_on, client};

/// Arguments of `corral upgrade`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `corral upgrade`: waits until the new controller took over, or says why it did not.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    match block_on(client().upgrade())? {
        Ok(done) => {
            println!(
                "upgraded: corral {} (pid {}) → corral {} (pid {}), ready in {} ms; the old controller finishes what is in flight and exits, every app keeps running",
                done.old_version, done.old_pid, done.new_version, done.new_pid, done.took_ms
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: upgrade failed, nothing changed: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
